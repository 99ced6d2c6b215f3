// Training jobs as browsers and nodes run them: a run interrupted at a checkpoint and resumed
// continues exactly as if never stopped; supervised fine-tuning takes its loss on responses only;
// LoRA jobs export merged weights; bad specs and files fail clearly.

import { describe, expect, it } from "vitest";
import { loadGPT, loadTrainingState, saveGPT } from "../../gpu/io";
import { generateText } from "../../gpu/nn/generate";
import { GPT } from "../../gpu/nn/gpt";
import { gptPreset } from "../../gpu/nn/config";
import { trainBpe } from "../../gpu/tokenizer";
import { estimateTrainJob, parsePairs, runTrainJob, SftSampler, TrainControl, validateTrainJobSpec, type TrainJobSpec } from "../../gpu/train";
import { gpuContext } from "./helpers";

const enc = new TextEncoder();

function corpus(): string {
  const words = ["the cat", "a dog", "my friend", "the old man", "a small bird", "sees", "likes", "finds", "the river", "the moon"];
  let s = "";
  let k = 11;
  for (let i = 0; i < 400; i++) {
    k = (k * 1103515245 + 12345) % 2147483648;
    s += `${words[k % 5]} ${words[5 + ((k >> 8) % 3)]} ${words[8 + ((k >> 16) % 2)]}.\n`;
  }
  return s;
}

const pretrain: TrainJobSpec = { kind: "PRETRAIN", preset: "tiny", steps: 12, batchSize: 4, seqLen: 16, lr: 1e-2, warmupSteps: 2, vocabSize: 280, seed: 5, checkpointEvery: 4 };

describe("runTrainJob", () => {
  it("resumes from a checkpoint exactly where an uninterrupted run would be", async () => {
    const ctx = await gpuContext();
    const dataset = enc.encode(corpus());
    const whole = await runTrainJob(ctx, pretrain, { dataset });
    expect(whole.status).toBe("completed");
    expect(whole.steps).toBe(12);

    // Same job, cancelled just after the checkpoint at step 8 ...
    const control = new TrainControl();
    const checkpoints = new Map<number, Uint8Array>();
    const first = await runTrainJob(ctx, pretrain, { dataset }, {
      control,
      onCheckpoint: (step, bytes) => void checkpoints.set(step, bytes),
      onStep: (m) => {
        if (m.step === 8) control.cancel();
      },
    });
    expect(first.status).toBe("cancelled");
    expect(first.artifact).toBeUndefined();
    expect([...checkpoints.keys()]).toEqual([4, 8]);
    expect(loadTrainingState(ctx, checkpoints.get(8)!).step).toBe(8);

    // ... then resumed: the remaining steps and the final weights match the uninterrupted run.
    const steps: number[] = [];
    const resumed = await runTrainJob(ctx, pretrain, { dataset, resume: checkpoints.get(8)! }, { onStep: (m) => void steps.push(m.step) });
    expect(steps).toEqual([9, 10, 11, 12]);
    expect(resumed.steps).toBe(12);
    const wholeLast = whole.losses.at(-1)!;
    const resumedLast = resumed.losses.at(-1)!;
    expect(resumedLast.step).toBe(12);
    expect(resumedLast.loss).toBeCloseTo(wholeLast.loss, 5);
    const a = loadGPT(ctx, whole.artifact!);
    const b = loadGPT(ctx, resumed.artifact!);
    const [wa, wb] = [await a.model.readParameters(), await b.model.readParameters()];
    for (const [name, values] of wa) {
      const other = wb.get(name)!;
      let worst = 0;
      for (let i = 0; i < values.length; i++) worst = Math.max(worst, Math.abs(values[i] - other[i]));
      expect(worst, name).toBeLessThan(1e-5);
    }
    expect(b.tokenizer!.encode("the cat sees the moon.")).toEqual(a.tokenizer!.encode("the cat sees the moon."));
    a.model.release();
    b.model.release();
    console.log(`pretrain job: loss ${whole.losses[0].loss.toFixed(3)} -> ${wholeLast.loss.toFixed(3)} in 12 steps; resumed at 8 -> ${resumedLast.loss.toFixed(3)}`);

    // A checkpoint from another configuration is refused rather than silently mixed.
    await expect(runTrainJob(ctx, { ...pretrain, lr: 2e-2 }, { dataset, resume: checkpoints.get(8)! })).rejects.toThrow(/different training configuration/);
  });

  it("fine-tunes on responses only and learns to answer", async () => {
    const ctx = await gpuContext();
    const tokenizer = trainBpe(corpus() + "Q: capital? A: Paris\n\n", 300);
    const base = GPT.create(ctx, gptPreset("tiny", { vocabSize: tokenizer.vocabSize }), { seed: 9 });
    const parent = await saveGPT(base, { tokenizer });
    base.release();

    const pairs = [
      { prompt: "Q: capital of France? A:", response: " Paris" },
      { prompt: "Q: colour of the sky? A:", response: " blue" },
    ];
    // The sampler marks prompt positions and padding with -1: only response tokens (and the end marker) count.
    const sampler = new SftSampler(pairs.map((p) => ({ prompt: tokenizer.encode(p.prompt), response: tokenizer.encode(p.response + "\n\n") })), 2, 48, 1);
    const batch = sampler.next();
    const counted = Array.from(batch.y).filter((t) => t >= 0).length;
    expect(counted).toBe(batch.targets);
    const expectTargets = [0, 1].map((b) => {
      const row = Array.from(batch.x.slice(b * 48, b * 48 + 48));
      return pairs.findIndex((p) => tokenizer.encode(p.prompt).every((t, i) => row[i] === t));
    });
    expect(batch.targets).toBe(expectTargets.reduce((n, i) => n + tokenizer.encode(pairs[i].response + "\n\n").length, 0));

    const dataset = enc.encode(pairs.map((p) => JSON.stringify(p)).join("\n") + "\n");
    const spec: TrainJobSpec = { kind: "SFT", preset: "tiny", steps: 120, batchSize: 2, seqLen: 32, lr: 2e-2, seed: 3, checkpointEvery: 60 };
    const res = await runTrainJob(ctx, spec, { dataset, parent });
    expect(res.status).toBe("completed");
    expect(res.losses.at(-1)!.loss).toBeLessThan(0.05);
    const tuned = loadGPT(ctx, res.artifact!);
    const out = await generateText(tuned.model, tuned.tokenizer!, pairs[0].prompt, { maxNewTokens: 8, temperature: 0, stop: ["\n\n"] });
    expect(out.text).toBe(" Paris");
    tuned.model.release();
    console.log(`sft job: response loss ${res.losses[0].loss.toFixed(3)} -> ${res.losses.at(-1)!.loss.toFixed(4)}; answers ${JSON.stringify(out.text)}`);

    // SFT needs a parent; LoRA trains adapters and exports them merged.
    await expect(runTrainJob(ctx, spec, { dataset })).rejects.toThrow(/parent model version/);
    const lora = await runTrainJob(ctx, { ...spec, kind: "LORA", steps: 5, lora: { rank: 2, alpha: 4 } }, { dataset, parent });
    const merged = loadGPT(ctx, lora.artifact!);
    expect(merged.model.loraConfig).toBeUndefined();
    expect([...merged.model.params.keys()].some((n) => n.includes("lora"))).toBe(false);
    const before = loadGPT(ctx, parent);
    const [wb, wm] = [await before.model.readParameters(), await merged.model.readParameters()];
    const changed = [...wb].filter(([n, v]) => v.some((x, i) => x !== wm.get(n)![i])).map(([n]) => n);
    // Adapters sat on the attention projections only: merged changes are confined to those weights.
    expect(changed.length).toBeGreaterThan(0);
    expect(changed.every((n) => /attn\.c_(attn|proj)\.weight$/.test(n))).toBe(true);
    before.model.release();
    merged.model.release();
  });

  it("rejects bad specs, data and checkpoints with clear messages", async () => {
    const ctx = await gpuContext();
    expect(() => validateTrainJobSpec({ ...pretrain, preset: "huge" })).toThrow(/preset must be one of/);
    expect(() => validateTrainJobSpec({ ...pretrain, steps: 0 })).toThrow(/steps must be an integer/);
    expect(() => validateTrainJobSpec({ ...pretrain, lr: "fast" })).toThrow(/lr must be a number/);
    expect(validateTrainJobSpec({ ...pretrain, kind: "LORA", extra: 1 })).toMatchObject({ kind: "LORA", lora: { rank: 8 } });
    expect(() => parsePairs('{"prompt": "a", "response": "b"}\nnot json\n')).toThrow(/line 2: not valid JSON/);
    await expect(runTrainJob(ctx, pretrain, { dataset: new Uint8Array([0xff, 0xfe, 0x00]) })).rejects.toThrow(/not valid UTF-8/);
    await expect(runTrainJob(ctx, pretrain, { dataset: enc.encode("too short") })).rejects.toThrow(/fewer than one sequence/);
    const model = GPT.create(ctx, gptPreset("tiny"), { seed: 1 });
    const plain = await saveGPT(model);
    model.release();
    expect(() => loadTrainingState(ctx, plain)).toThrow(/not a Hearth training state/);
    expect(() => loadTrainingState(ctx, plain.slice(0, 50))).toThrow(/truncated|header/i);

    const small = estimateTrainJob({ ...pretrain, preset: "tiny" });
    const large = estimateTrainJob({ ...pretrain, preset: "large", seqLen: undefined, batchSize: 8 });
    expect(small.parameters).toBeGreaterThan(10_000);
    expect(large.parameters).toBeGreaterThan(20_000_000);
    expect(large.bufferBytes).toBeGreaterThan(16 * large.parameters);
    expect(large.flopsPerStep).toBeGreaterThan(small.flopsPerStep * 1000);
  });
});
