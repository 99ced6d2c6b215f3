// The GPT on the GPU against its float64 CPU reference: forward logits, and every parameter's
// gradient against central finite differences of the reference loss.

import { describe, expect, it } from "vitest";
import { GPT } from "../../gpu/nn/gpt";
import { gptForwardRef, gptLossRef } from "../../gpu/nn/reference";
import { gptPreset, initParameters, parameterCount, parameterShapes, type GPTConfig } from "../../gpu/nn/config";
import { expectClose, gpuContext, rng } from "./helpers";

const cfg: GPTConfig = { vocabSize: 16, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8 };
const [B, T] = [2, 6];

/** Larger-than-GPT-2 random weights so every gradient is well above float32 noise. */
function randomWeights(c: GPTConfig, seed: number): Map<string, Float32Array> {
  const r = rng(seed);
  const w = new Map<string, Float32Array>();
  for (const [name, shape] of parameterShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const base = /ln_\w+\.weight$/.test(name) ? 1 : 0;
    w.set(name, Float32Array.from({ length: n }, () => base + (r() * 2 - 1) * 0.4));
  }
  return w;
}

describe("GPT", () => {
  const r = rng(3);
  const tokens = Int32Array.from({ length: B * T }, () => Math.floor(r() * cfg.vocabSize));
  const targets = Int32Array.from({ length: B * T }, () => Math.floor(r() * cfg.vocabSize));

  it("has named presets from tiny to about 30M parameters with GPT-2 init", () => {
    expect(parameterCount(gptPreset("tiny"))).toBeLessThan(100_000);
    const large = parameterCount(gptPreset("large"));
    expect(large).toBeGreaterThan(25e6);
    expect(large).toBeLessThan(35e6);
    const a = initParameters(cfg, 5);
    expect(initParameters(cfg, 5).get("h.0.attn.c_attn.weight")).toEqual(a.get("h.0.attn.c_attn.weight"));
    expect(initParameters(cfg, 6).get("h.0.attn.c_attn.weight")).not.toEqual(a.get("h.0.attn.c_attn.weight"));
    const wte = a.get("wte.weight")!;
    const std = Math.sqrt(wte.reduce((s, x) => s + x * x, 0) / wte.length);
    expect(std).toBeGreaterThan(0.012);
    expect(std).toBeLessThan(0.03);
  });

  it("forward logits match the float64 CPU reference", async () => {
    const ctx = await gpuContext();
    const weights = randomWeights(cfg, 11);
    const model = GPT.fromWeights(ctx, cfg, weights);
    const tok = ctx.tensor(tokens, [B, T], "i32");
    const logits = model.logits(tok);
    const [got] = await ctx.readMany([logits]);
    expectClose(got, gptForwardRef(cfg, weights, tokens, B, T), "logits", 1e-4, 1e-3);
    logits.release();
    tok.release();
    model.release();
  });

  it("every parameter's gradient matches finite differences of the reference loss", async () => {
    const ctx = await gpuContext();
    const weights = randomWeights(cfg, 12);
    const model = GPT.fromWeights(ctx, cfg, weights);
    model.enableTraining();
    const tok = ctx.tensor(tokens, [B, T], "i32");
    const tgt = ctx.tensor(targets, [B * T], "i32");
    model.zeroGrads();
    const loss = model.trainBatch(tok, tgt, 1 / (B * T));
    const [l] = await ctx.readMany([loss]);
    const w64 = new Map([...weights].map(([k, v]) => [k, Float64Array.from(v)]));
    const refLoss = gptLossRef(cfg, w64, tokens, targets, B, T);
    expect(Math.abs(l[0] - refLoss)).toBeLessThan(1e-4);
    const grads = await model.readGradients();
    const pick = rng(99);
    const h = 1e-5;
    for (const [name, g] of grads) {
      const p = w64.get(name)!;
      for (let s = 0; s < 3; s++) {
        const i = Math.floor(pick() * p.length);
        const keep = p[i];
        p[i] = keep + h;
        const up = gptLossRef(cfg, w64, tokens, targets, B, T);
        p[i] = keep - h;
        const down = gptLossRef(cfg, w64, tokens, targets, B, T);
        p[i] = keep;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(g[i] - fd), `${name}[${i}]: gpu ${g[i]} vs finite difference ${fd}`).toBeLessThan(2e-4 + 2e-2 * Math.abs(fd));
      }
    }
    for (const t of [loss, tok, tgt]) t.release();
    model.release();
  });
});
