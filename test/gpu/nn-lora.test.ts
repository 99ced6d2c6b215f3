// LoRA: an attached adapter changes nothing until it trains, its gradients match finite
// differences of the merged reference, only adapters train, and merge/save/load keep the logits.

import { describe, expect, it } from "vitest";
import { GPT } from "../../gpu/nn/gpt";
import { gptPreset, initParameters, type GPTConfig } from "../../gpu/nn/config";
import { attachLora, mergeLora, mergedWeightsRef, type LoraConfig } from "../../gpu/nn/lora";
import { gptLossRef } from "../../gpu/nn/reference";
import { loadGPT, saveGPT } from "../../gpu/io";
import { train } from "../../gpu/train";
import { expectClose, gpuContext, rng } from "./helpers";

const cfg: GPTConfig = { vocabSize: 16, blockSize: 8, nLayer: 2, nHead: 2, nEmbd: 8 };
const lora: LoraConfig = { rank: 2, alpha: 4, targets: ["attn.c_attn", "attn.c_proj", "mlp.c_fc", "mlp.c_proj"] };
const [B, T] = [2, 6];

describe("LoRA", () => {
  const r = rng(5);
  const tokens = Int32Array.from({ length: B * T }, () => Math.floor(r() * cfg.vocabSize));
  const targets = Int32Array.from({ length: B * T }, () => Math.floor(r() * cfg.vocabSize));

  it("starts as the identity, and its gradients match finite differences of the merged reference", async () => {
    const ctx = await gpuContext();
    const model = GPT.create(ctx, cfg, { seed: 3 });
    const x = ctx.tensor(tokens, [B, T], "i32");
    const y = ctx.tensor(targets, [B * T], "i32");
    const [before] = await ctx.readMany([model.logits(x)]);
    attachLora(model, lora, { seed: 1 });
    const [after] = await ctx.readMany([model.logits(x)]);
    expect(Array.from(after)).toEqual(Array.from(before));
    // give B non-zero values so every adapter gradient is exercised
    const pr = rng(8);
    for (const [name, t] of model.params) if (name.endsWith("lora_B")) ctx.write(t, Float32Array.from({ length: t.size }, () => (pr() * 2 - 1) * 0.5));
    model.enableTraining();
    expect([...model.grads.keys()].every((n) => /lora_[AB]$/.test(n))).toBe(true);
    expect(model.grads.size).toBe(2 * 4 * cfg.nLayer);
    model.zeroGrads();
    const loss = model.trainBatch(x, y, 1 / (B * T));
    const [l] = await ctx.readMany([loss]);
    const w = await model.readParameters();
    const w64 = new Map([...w].map(([k, v]) => [k, Float64Array.from(v)]));
    const lossAt = () => gptLossRef(cfg, mergedWeightsRef(w64, lora, cfg.nLayer), tokens, targets, B, T);
    expect(Math.abs(l[0] - lossAt())).toBeLessThan(1e-4);
    const grads = await model.readGradients();
    const pick = rng(17);
    const h = 1e-5;
    for (const [name, g] of grads) {
      const p = w64.get(name)!;
      for (let s = 0; s < 2; s++) {
        const i = Math.floor(pick() * p.length);
        const keep = p[i];
        p[i] = keep + h;
        const up = lossAt();
        p[i] = keep - h;
        const down = lossAt();
        p[i] = keep;
        const fd = (up - down) / (2 * h);
        expect(Math.abs(g[i] - fd), `${name}[${i}]: gpu ${g[i]} vs finite difference ${fd}`).toBeLessThan(2e-4 + 2e-2 * Math.abs(fd));
      }
    }
    model.release();
  });

  it("trains only the adapters, and survives save/load and merging", async () => {
    const ctx = await gpuContext();
    // A frozen base needs embeddings large enough for the tied head to express confident logits
    // (as a pre-trained base has); GPT-2's 0.02 init caps them near +-0.6.
    const tiny = gptPreset("tiny", { vocabSize: 32, blockSize: 8 });
    const init = initParameters(tiny, 4);
    init.get("wte.weight")!.forEach((v, i, a) => (a[i] = v * 25));
    const model = GPT.fromWeights(ctx, tiny, init);
    const base = await model.readParameters();
    attachLora(model, { rank: 4, alpha: 8, targets: ["attn.c_attn", "mlp.c_fc"] });
    const seq = Array.from({ length: 9 }, (_, i) => (i * 7 + 3) % 32);
    const res = await train(model, { train: seq }, { steps: 40, batchSize: 2, lr: 3e-2, minLr: 3e-2, weightDecay: 0, logEvery: 40 });
    console.log(`LoRA: loss ${res.losses[0].loss.toFixed(3)} -> ${res.losses.at(-1)!.loss.toFixed(3)} in ${res.steps} steps`);
    expect(res.losses.at(-1)!.loss).toBeLessThan(res.losses[0].loss * 0.6);
    const now = await model.readParameters();
    for (const [k, v] of base) expect(Array.from(now.get(k)!), k).toEqual(Array.from(v));
    const x = ctx.tensor(Int32Array.from(seq.slice(0, 8)), [1, 8], "i32");
    const [trained] = await ctx.readMany([model.logits(x)]);
    const loaded = loadGPT(ctx, await saveGPT(model));
    expect(loaded.model.lora.size).toBe(2 * 2);
    const [reloaded] = await ctx.readMany([loaded.model.logits(x)]);
    expect(Array.from(reloaded)).toEqual(Array.from(trained));
    mergeLora(model);
    expect([...model.params.keys()].some((k) => k.includes("lora"))).toBe(false);
    const [merged] = await ctx.readMany([model.logits(x)]);
    expectClose(merged, trained, "merged logits", 1e-4, 1e-3);
    model.release();
    loaded.model.release();
  });
});
