// Generation is reproducible under a seed, honours stop sequences, and log-likelihoods agree
// with the float64 reference.

import { describe, expect, it } from "vitest";
import { GPT } from "../../gpu/nn/gpt";
import { gptPreset } from "../../gpu/nn/config";
import { generate, generateText, logLikelihood, nextTokenLogits, sampleToken } from "../../gpu/nn/generate";
import { KVCache } from "../../gpu/nn/kv-cache";
import { gptForwardRef } from "../../gpu/nn/reference";
import { trainBpe } from "../../gpu/tokenizer";
import { expectClose, gpuContext } from "./helpers";

describe("generation", () => {
  const cfg = gptPreset("tiny", { vocabSize: 64, blockSize: 16 });

  it("is reproducible with a fixed seed, greedy is deterministic, and different seeds differ", async () => {
    const ctx = await gpuContext();
    const model = GPT.create(ctx, cfg, { seed: 4 });
    const prompt = [1, 2, 3];
    const a = await generate(model, prompt, { maxNewTokens: 20, temperature: 1.5, topK: 20, seed: 7 });
    const b = await generate(model, prompt, { maxNewTokens: 20, temperature: 1.5, topK: 20, seed: 7 });
    const c = await generate(model, prompt, { maxNewTokens: 20, temperature: 1.5, topK: 20, seed: 8 });
    expect(a.tokens).toHaveLength(20);
    expect(a.tokens).toEqual(b.tokens);
    expect(c.tokens).not.toEqual(a.tokens);
    const g1 = await generate(model, prompt, { maxNewTokens: 5, temperature: 0 });
    const g2 = await generate(model, prompt, { maxNewTokens: 5, temperature: 0, seed: 99 });
    expect(g1.tokens).toEqual(g2.tokens);
    const stop = await generate(model, prompt, { maxNewTokens: 20, temperature: 1.5, topK: 20, seed: 7, stopTokens: [a.tokens.slice(3, 5)] });
    expect(stop).toEqual({ tokens: a.tokens.slice(0, 5), stopReason: "stop" });
    model.release();
  });

  it("samples only among the top k", () => {
    const logits = [0, 5, 4, -1, 3];
    let r = 0;
    const rand = () => (r = (r + 0.37) % 1);
    for (let i = 0; i < 50; i++) expect([1, 2]).toContain(sampleToken(logits, rand, 10, 2));
    expect(sampleToken(logits, rand, 0)).toBe(1);
  });

  it("cuts text at the first stop string", async () => {
    const ctx = await gpuContext();
    const tok = trainBpe("ab ab ab", 256);
    const model = GPT.create(ctx, gptPreset("tiny", { vocabSize: 256, blockSize: 16 }), { seed: 5 });
    const full = await generateText(model, tok, "ab", { maxNewTokens: 8, temperature: 1, seed: 3 });
    const stopAt = full.text.slice(2, 4);
    const cut = await generateText(model, tok, "ab", { maxNewTokens: 8, temperature: 1, seed: 3, stop: [stopAt] });
    expect(cut.stopReason).toBe("stop");
    expect(cut.text).toBe(full.text.slice(0, full.text.indexOf(stopAt)));
    model.release();
  });

  it("never produces an id beyond the tokenizer when the model's vocabulary is larger", async () => {
    const ctx = await gpuContext();
    const tok = trainBpe("ab ab ab", 256); // bytes only: 256 ids
    const model = GPT.create(ctx, gptPreset("tiny", { vocabSize: 320, blockSize: 16 }), { seed: 5 });
    // Without the limit, sampling over 320 ids at a high temperature reaches the 64 unknown ones.
    const unlimited = await generate(model, tok.encode("ab"), { maxNewTokens: 40, temperature: 50, seed: 3 });
    expect(unlimited.tokens.some((t) => t >= 256)).toBe(true);
    const limited = await generate(model, tok.encode("ab"), { maxNewTokens: 40, temperature: 50, seed: 3, vocabLimit: 256 });
    expect(limited.tokens.every((t) => t < 256)).toBe(true);
    // generateText limits to the tokenizer by itself, so decoding never fails.
    const text = await generateText(model, tok, "ab", { maxNewTokens: 40, temperature: 50, seed: 3 });
    expect(text.tokens.every((t) => t < 256)).toBe(true);
    model.release();
  });

  it("on a tuned context, measures kernels for the prompt's and decoding's products too, and decodes the same tokens", async () => {
    const ctx = await gpuContext();
    const model = GPT.create(ctx, cfg, { seed: 9 });
    const prompt = [4, 8, 15, 16];
    const before = new Map(ctx.choices);
    try {
      const plain = await generate(model, prompt, { maxNewTokens: 12, temperature: 0 });
      expect([...ctx.choices.keys()].some((k) => k.startsWith("matmul:0."))).toBe(before.has("matmul"));
      // As a tuned context looks: an adapter-wide choice measured on a large square product.
      ctx.choices.set("matmul", "tiled");
      const tuned = await generate(model, prompt, { maxNewTokens: 12, temperature: 0 });
      const decodeClasses = [...ctx.choices.keys()].filter((k) => k.startsWith("matmul:0."));
      // One class per projection, the logits, and both attention products per cache-length class.
      expect(decodeClasses.length).toBeGreaterThanOrEqual(5);
      // And the prompt's forward products (4 tokens: the M = 4 class).
      expect([...ctx.choices.keys()].filter((k) => k.startsWith("matmul:2.")).length).toBeGreaterThanOrEqual(4);
      expect(tuned.tokens).toEqual(plain.tokens);
    } finally {
      ctx.choices.clear();
      for (const [k, v] of before) ctx.choices.set(k, v);
      model.release();
    }
  });

  it("scores a continuation's log-likelihood like the reference", async () => {
    const ctx = await gpuContext();
    const model = GPT.create(ctx, cfg, { seed: 6 });
    const context = [5, 9, 12];
    const cont = [3, 40];
    const ll = await logLikelihood(model, context, cont);
    const w = await model.readParameters();
    const seq = [...context, ...cont];
    const logits = gptForwardRef(cfg, w, seq.slice(0, -1), 1, seq.length - 1);
    let ref = 0;
    for (let j = 0; j < cont.length; j++) {
      const row = logits.subarray((context.length - 1 + j) * 64, (context.length + j) * 64);
      const mx = Math.max(...row);
      ref += row[cont[j]] - mx - Math.log(row.reduce((s, x) => s + Math.exp(x - mx), 0));
    }
    expect(ll.tokens).toBe(2);
    expect(ll.logprob).toBeCloseTo(ref, 4);
    model.release();
  });
});

describe("KV cache", () => {
  it("gives the full recompute's logits token by token, and the same greedy text past a full window", async () => {
    const ctx = await gpuContext();
    const cfg = gptPreset("tiny", { vocabSize: 64, blockSize: 12 });
    const model = GPT.create(ctx, cfg, { seed: 12 });
    // larger weights than GPT-2 init, so the logits differ clearly between positions
    for (const [name, t] of model.params) {
      if (!/ln_/.test(name)) ctx.write(t, (await ctx.read(t)).map((v) => v * 10));
    }
    const cache = new KVCache(model);
    const seq = [3, 1, 4, 1, 5, 9, 2, 6, 5, 3];
    let logits = await cache.prefill(seq.slice(0, 3));
    for (let i = 3; i <= seq.length; i++) {
      expectClose(logits, await nextTokenLogits(model, seq.slice(0, i)), `logits after ${i} tokens`, 1e-4, 1e-3);
      if (i < seq.length) logits = await cache.step(seq[i]);
    }
    cache.release();
    const a = await generate(model, [7, 8], { maxNewTokens: 16, temperature: 0 });
    const b = await generate(model, [7, 8], { maxNewTokens: 16, temperature: 0, kvCache: false });
    expect(a.tokens).toEqual(b.tokens);
    const c = await generate(model, [7, 8], { maxNewTokens: 16, temperature: 1, seed: 4 });
    const d = await generate(model, [7, 8], { maxNewTokens: 16, temperature: 1, seed: 4, kvCache: false });
    expect(c.tokens).toEqual(d.tokens);
    model.release();
  });
});
