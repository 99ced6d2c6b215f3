// The memory plan of a decoder training job (gpu/train/memory-plan.ts) against what the job then
// allocates: runDecoderTrainJob measures the pool's peak while training, and the plan must be within
// 20% of it for LoRA (with and without dropout and activation recomputation) and full fine-tuning.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GpuContext } from "../../gpu/device";
import { writeTar } from "../../gpu/io/tar";
import { parseHFConfig, type DecoderConfig } from "../../gpu/nn/hf-config";
import { runTrainJob, type TrainJobSpec } from "../../gpu/train/job";
import { DECODER_SHAPES, planDecoderTraining } from "../../gpu/train/memory-plan";
import { chatTokenizerFiles, tokenizerOf } from "../support/tiny-chat-folder";
import { writeTinyLlamaFolder } from "../support/tiny-hf-folder";
import { gpuContext } from "./helpers";

let ctx: GpuContext;
let parent: Uint8Array;
const PAIRS = ["what is the answer?", "say hello", "where is it?", "who are you?"].map((q, i) => JSON.stringify({ prompt: q, response: `answer number ${i}, ${"more words ".repeat(i + 2)}` })).join("\n");

beforeAll(async () => {
  ctx = await gpuContext();
  const files = chatTokenizerFiles();
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-plan-"));
  try {
    writeTinyLlamaFolder(dir, { config: { vocab_size: tokenizerOf(files).vocabSize + 2, hidden_size: 64, intermediate_size: 160, num_hidden_layers: 3, head_dim: 16, max_position_embeddings: 128 } });
    for (const f of fs.readdirSync(dir)) files.set(f, new Uint8Array(fs.readFileSync(path.join(dir, f))));
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  parent = writeTar(files);
});

afterAll(() => ctx?.destroy());

const base: TrainJobSpec = { kind: "LORA", preset: "tiny", steps: 2, batchSize: 2, seqLen: 64, lr: 1e-3, checkpointEvery: 10, lora: { rank: 8, alpha: 16 } };

describe("the memory plan of a decoder job", () => {
  it.each([
    { name: "LoRA", spec: base },
    { name: "LoRA with dropout and recomputation", spec: { ...base, lora: { rank: 8, alpha: 16, dropout: 0.1 }, recompute: true } },
    { name: "full fine-tuning", spec: { ...base, kind: "SFT", lora: undefined } },
    { name: "full fine-tuning with recomputation, batch 4", spec: { ...base, kind: "SFT", lora: undefined, batchSize: 4, recompute: true } },
  ] as Array<{ name: string; spec: TrainJobSpec }>)("is within 20% of what the job allocates: $name", async ({ spec }) => {
    const r = await runTrainJob(ctx, spec, { dataset: new TextEncoder().encode(PAIRS), parent });
    const { plannedBytes, peakBytes } = r.memory!;
    expect(Math.abs(plannedBytes - peakBytes) / peakBytes, `planned ${plannedBytes}, measured ${peakBytes}`).toBeLessThan(0.2);
  });

  it("recomputation shrinks the activations of a long context; full fine-tuning needs f32 weights and three copies more", () => {
    const c = parseHFConfig(DECODER_SHAPES["smollm2-135m"].config as never) as DecoderConfig;
    const lora = { r: 8, targets: ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const };
    const plain = planDecoderTraining(c, { kind: "LORA", batchSize: 1, seqLen: 2048, lora });
    const re = planDecoderTraining(c, { kind: "LORA", batchSize: 1, seqLen: 2048, lora, recompute: true });
    expect(re.activations).toBeLessThan(plain.activations / 5);
    expect(plain.parameters).toBeGreaterThan(134e6);
    expect(plain.parameters).toBeLessThan(135e6);
    const full = planDecoderTraining(c, { kind: "SFT", batchSize: 1, seqLen: 2048 });
    expect(full.weights + full.gradients + full.optimizer).toBeGreaterThan(4 * 4 * 134e6);
    expect(plain.trainableParameters).toBeLessThan(plain.parameters / 50);
  });
});
