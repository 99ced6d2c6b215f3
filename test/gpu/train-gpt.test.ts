// Pre-training the tiny GPT: the loss falls well below ln(vocab) on a small corpus, one batch is
// over-fitted to near zero, and the loop honours its schedule, control object and readback cadence.

import { describe, expect, it } from "vitest";
import { GPT } from "../../gpu/nn/gpt";
import { gptPreset } from "../../gpu/nn/config";
import { trainBpe } from "../../gpu/tokenizer";
import { learningRate, train, TrainControl, type StepMetrics } from "../../gpu/train";
import { gpuContext } from "./helpers";

function corpus(): string {
  const subjects = ["the cat", "a dog", "my friend", "the old man", "a small bird"];
  const verbs = ["sees", "likes", "follows", "finds", "watches"];
  const objects = ["the red ball", "a green tree", "the river", "a quiet house", "the moon"];
  let s = "";
  let k = 7;
  for (let i = 0; i < 300; i++) {
    k = (k * 1103515245 + 12345) % 2147483648;
    s += `${subjects[k % 5]} ${verbs[(k >> 8) % 5]} ${objects[(k >> 16) % 5]}.\n`;
  }
  return s;
}

describe("train", () => {
  it("schedules warm-up then cosine decay", () => {
    const c = { lr: 1e-3, minLr: 1e-4, warmupSteps: 10, steps: 110 };
    expect(learningRate(0, c)).toBeCloseTo(1e-4);
    expect(learningRate(9, c)).toBeCloseTo(1e-3);
    expect(learningRate(60, c)).toBeCloseTo(5.5e-4);
    expect(learningRate(110, c)).toBeCloseTo(1e-4);
  });

  it("drives the tiny preset's loss well below ln(vocab) on a small corpus", async () => {
    const ctx = await gpuContext();
    const text = corpus();
    const tok = trainBpe(text, 320);
    const ids = tok.encode(text);
    const split = Math.floor(ids.length * 0.9);
    const model = GPT.create(ctx, gptPreset("tiny", { vocabSize: tok.vocabSize }), { seed: 1 });
    const seen: StepMetrics[] = [];
    const res = await train(
      model,
      { train: ids.slice(0, split), val: ids.slice(split) },
      { steps: 60, batchSize: 4, lr: 1.5e-2, warmupSteps: 5, logEvery: 20, evalEvery: 30, evalBatches: 2 },
      { onStep: (m) => void seen.push(m) },
    );
    const first = res.losses[0].loss;
    const last = res.losses[res.losses.length - 1].loss;
    console.log(`tiny preset, vocab ${tok.vocabSize}: loss ${first.toFixed(3)} -> ${last.toFixed(3)} in ${res.steps} steps; val ${res.valLosses.map((v) => v.loss.toFixed(3)).join(", ")}; ${(seen.at(-1)!.elapsedMs / 1000).toFixed(1)} s`);
    expect(res.status).toBe("completed");
    expect(first).toBeGreaterThan(Math.log(tok.vocabSize) * 0.9);
    expect(last).toBeLessThan(Math.log(tok.vocabSize) * 0.5);
    expect(res.valLosses.at(-1)!.loss).toBeLessThan(Math.log(tok.vocabSize) * 0.6);
    expect(seen.filter((m) => m.loss !== undefined).map((m) => m.step)).toEqual([1, 20, 40, 60]);
    // a step is recorded into one batch: one submit per step
    expect(new Set(seen.map((m) => m.submits))).toEqual(new Set([1]));
    model.release();
  });

  it("over-fits one batch to near zero with gradient accumulation", async () => {
    const ctx = await gpuContext();
    const cfg = gptPreset("tiny", { vocabSize: 64, blockSize: 16 });
    const model = GPT.create(ctx, cfg, { seed: 2 });
    const seq = Array.from({ length: 17 }, (_, i) => (i * 37 + 11) % 64);
    let created = 0;
    const submits: number[] = [];
    const res = await train(model, { train: seq }, { steps: 60, batchSize: 1, gradAccum: 2, lr: 3e-2, minLr: 3e-2, weightDecay: 0, logEvery: 20 }, {
      onStep: (m) => {
        submits.push(m.submits);
        // steady state: every activation comes back from the pool
        if (m.step === 2) created = ctx.pool.getStats().created;
        if (m.step > 2) expect(ctx.pool.getStats().created).toBe(created);
      },
    });
    expect(Math.max(...submits)).toBeLessThanOrEqual(2);
    console.log(`overfit: submits per step ${Math.min(...submits)}-${Math.max(...submits)}; loss ${res.losses[0].loss.toFixed(3)} -> ${res.losses.at(-1)!.loss.toFixed(4)} in ${res.steps} steps`);
    expect(res.losses.at(-1)!.loss).toBeLessThan(0.1);
    model.release();
  });

  it("pauses, resumes and cancels between steps", async () => {
    const ctx = await gpuContext();
    const model = GPT.create(ctx, gptPreset("tiny", { vocabSize: 64, blockSize: 8 }), { seed: 3 });
    const control = new TrainControl();
    const seq = Array.from({ length: 100 }, (_, i) => i % 64);
    let resumed = false;
    const res = await train(model, { train: seq }, { steps: 50, batchSize: 2, lr: 1e-3 }, {
      control,
      onStep: (m) => {
        if (m.step === 3) {
          control.pause();
          setTimeout(() => {
            resumed = true;
            control.resume();
          }, 50);
        }
        if (m.step === 5) {
          expect(resumed).toBe(true);
          control.cancel();
        }
      },
    });
    expect(res.status).toBe("cancelled");
    expect(res.steps).toBe(5);
    const ac = new AbortController();
    ac.abort();
    const none = await train(model, { train: seq }, { steps: 5, batchSize: 2, lr: 1e-3 }, { control: new TrainControl(ac.signal) });
    expect(none.steps).toBe(0);
    await expect(train(model, { train: [1, 2, 99, 3, 4, 5, 6, 7, 8, 9] }, { steps: 1, batchSize: 1, lr: 1e-3 })).rejects.toThrow(/outside the model's vocabulary/);
    model.release();
  });
});
