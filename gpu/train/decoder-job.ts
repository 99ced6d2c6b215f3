// A training job on a Hugging Face decoder (llama, mistral, qwen2 families): the parent model
// version arrives as a folder archive (gpu/io/tar.ts), the model trains with its own tokenizer
// and chat template, and the result goes back as a folder archive that transformers loads:
// config, tokenizer files and generation config copied from the parent, the trained weights in the
// parent's dtype (LoRA merged into them, as peft's merge_and_unload), and for LoRA runs the adapter
// itself in adapter/ as a peft folder on the parent. Resumable bit for bit from a training state.

import type { GpuContext } from "../device";
import { decodeSafetensors, encodeSafetensors, sha256Hex, SafetensorsError, toFloat32 } from "../io/safetensors";
import { memoryFolderReader, readTar, writeTar } from "../io/tar";
import { Decoder, type DecoderLoraConfig, type LoraModule } from "../nn/decoder";
import { decoderTensorShapes, parseHFConfig, type DecoderConfig } from "../nn/hf-config";
import type { StreamedTensor } from "../io/hf-folder";
import { trainBpe } from "../tokenizer/bpe";
import { hfTokenizerFiles } from "../tokenizer/hf-export";
import { exportPeftAdapter, loadFolderTokenizer } from "../nn/hf-load";
import type { HfTokenizer } from "../tokenizer/hf-tokenizer";
import type { ChatMessage } from "../tokenizer/chat-template";
import { hasGenerationBlocks } from "../tokenizer/chat-template";
import { mulberry32 } from "../nn/config";
import { ExampleSampler } from "./train";
import { corpusData, exampleData, TOKENIZER_SAMPLE_CHARS, trainForJob } from "./job-run";
import { DECODER_SHAPES, planDecoderTraining, type DecoderMemoryPlan } from "./memory-plan";
import type { TrainJobHooks, TrainJobInput, TrainJobResult, TrainJobSpec } from "./job-types";

export const DECODER_STATE_FORMAT = "hearth-decoder-train/1";

/** LoRA targets when a spec names none: every projection, as QLoRA's recipe (peft's own default is q and v). */
export const DECODER_LORA_TARGETS: LoraModule[] = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"];

/** Files of the parent folder that travel unchanged into the result (besides config.json). */
const COPIED = ["tokenizer.json", "tokenizer_config.json", "special_tokens_map.json", "chat_template.jinja", "generation_config.json", "README.md", "LICENSE", "NOTICE"];

export class DecoderJobError extends Error {}

/** One supervised example: token ids and 1 where the loss applies (the assistant's tokens). */
export interface MaskedExample {
  ids: number[];
  mask: number[];
}

/**
 * Batches of masked examples, each left-aligned in its row: x = ids[0 .. T), y[t] = ids[t + 1]
 * where mask[t + 1] is 1, else -1. An example longer than T + 1 keeps the window that ends at its
 * last masked token (the end of the final answer). Seeded, like SftSampler.
 */
export class MaskedSampler extends ExampleSampler<MaskedExample> {
  constructor(examples: readonly MaskedExample[], batchSize: number, seqLen: number, seed: number, padToken = 0) {
    if (!examples.some((e) => e.mask.includes(1))) throw new DecoderJobError("no example has tokens to learn (assistant tokens)");
    super(examples, batchSize, seqLen, seed, padToken);
  }
  protected fillRow(e: MaskedExample, x: Int32Array, y: Int32Array, at: number): number {
    const T = this.seqLen;
    const end = e.mask.lastIndexOf(1) + 1;
    const start = Math.max(0, end - (T + 1));
    const ids = e.ids.slice(start, Math.max(end, Math.min(e.ids.length, start + T + 1)));
    const mask = e.mask.slice(start, start + ids.length);
    let targets = 0;
    for (let t = 0; t + 1 < ids.length && t < T; t++) {
      x[at + t] = ids[t];
      if (mask[t + 1]) {
        y[at + t] = ids[t + 1];
        targets++;
      }
    }
    return targets;
  }
}

/**
 * Supervised examples from JSON Lines: {"prompt", "response"} pairs or {"messages": [...]}
 * conversations, rendered through the model's chat template (TRL's conventions: the loss on the
 * completion, or on the template's {% generation %} blocks when it has them). Without a chat
 * template: prompt, then response and the end-of-sequence token.
 */
export function decoderSftExamples(text: string, tok: HfTokenizer): MaskedExample[] {
  const out: MaskedExample[] = [];
  const template = tok.chatTemplate === null ? null : tok.template();
  const eos = tok.stopTokenIds[0];
  text.split("\n").forEach((line, i) => {
    if (!line.trim()) return;
    let v: { prompt?: unknown; response?: unknown; messages?: unknown };
    try {
      v = JSON.parse(line);
    } catch {
      throw new DecoderJobError(`dataset line ${i + 1}: not valid JSON`);
    }
    const where = `dataset line ${i + 1}`;
    let prompt: ChatMessage[];
    let completion: ChatMessage[];
    if (Array.isArray(v?.messages)) {
      const msgs = v.messages as ChatMessage[];
      if (!msgs.every((m) => m && typeof m.role === "string" && typeof m.content === "string")) throw new DecoderJobError(`${where}: every message needs a "role" and a text "content"`);
      if (msgs.at(-1)?.role !== "assistant") throw new DecoderJobError(`${where}: the conversation must end with the assistant's message`);
      if (template && hasGenerationBlocks(template)) {
        const e = tok.renderSftExample(msgs);
        out.push({ ids: e.ids, mask: e.lossMask });
        return;
      }
      prompt = msgs.slice(0, -1);
      completion = msgs.slice(-1);
    } else if (typeof v?.prompt === "string" && typeof v.response === "string") {
      prompt = [{ role: "user", content: v.prompt }];
      completion = [{ role: "assistant", content: v.response }];
    } else throw new DecoderJobError(`${where}: expected {"prompt": "...", "response": "..."} or {"messages": [...]}`);
    if (template) {
      const e = tok.renderSftPromptCompletion(prompt, completion);
      out.push({ ids: e.ids, mask: e.lossMask });
    } else {
      const p = tok.encode(prompt.map((m) => String(m.content)).join("\n"));
      const r = [...tok.encode(String(completion[0].content), { addSpecialTokens: false }), ...(eos === undefined ? [] : [eos])];
      out.push({ ids: [...p, ...r], mask: [...p.map(() => 0), ...r.map(() => 1)] });
    }
  });
  if (!out.length) throw new DecoderJobError("dataset holds no examples");
  return out;
}

/** The LoRA configuration a spec asks for on a decoder. */
export function decoderLoraConfig(spec: TrainJobSpec): DecoderLoraConfig {
  const l = spec.lora ?? { rank: 8, alpha: 16 };
  const targets = (l.targets ?? DECODER_LORA_TARGETS) as LoraModule[];
  for (const t of targets) if (!DECODER_LORA_TARGETS.includes(t)) throw new DecoderJobError(`lora.targets: "${t}" is not a projection of this model (${DECODER_LORA_TARGETS.join(", ")})`);
  return { r: l.rank, alpha: l.alpha, targets: [...targets], ...(l.dropout ? { dropout: l.dropout } : {}) };
}

/** The sequence length a decoder job trains at: the spec's (default 512), at most the model's context. */
export function decoderSeqLen(spec: TrainJobSpec, config: DecoderConfig): number {
  return Math.min(spec.seqLen ?? 512, config.maxPositions);
}

/**
 * A decoder job's memory plan from its spec: what the job computes before it trains, what the server
 * sizes a node job by and what the Train page draws. `validates`: whether validation batches are held
 * (the job knows once it has split its data; before that, whether the spec asks for validation).
 */
export function planForSpec(config: DecoderConfig, spec: TrainJobSpec, o: { sourceBytes: 2 | 4; validates?: boolean; generateTokens?: number }): DecoderMemoryPlan {
  const lora = spec.kind === "LORA" ? decoderLoraConfig(spec) : undefined;
  return planDecoderTraining(config, {
    kind: spec.kind,
    batchSize: spec.batchSize,
    seqLen: decoderSeqLen(spec, config),
    gradAccum: spec.gradAccum,
    lora,
    recompute: spec.recompute,
    sourceBytes: o.sourceBytes,
    valBatches: (o.validates ?? (spec.evalEvery ?? 0) > 0) ? 4 : 0,
    generateTokens: o.generateTokens,
  });
}

async function saveDecoderState(model: Decoder, step: number, metadata: Record<string, string>): Promise<Uint8Array> {
  const names = model.trainableNames();
  const tensors = new Map<string, { shape: readonly number[]; data: Float32Array }>();
  const data = await model.ctx.readMany(names.flatMap((n) => [model.params.get(n) as never, model.m.get(n)!, model.v.get(n)!]));
  names.forEach((n, i) => {
    const shape = model.params.get(n)!.shape;
    tensors.set(`param.${n}`, { shape, data: data[3 * i] as Float32Array });
    tensors.set(`adamw.m.${n}`, { shape, data: data[3 * i + 1] as Float32Array });
    tensors.set(`adamw.v.${n}`, { shape, data: data[3 * i + 2] as Float32Array });
  });
  return encodeSafetensors(tensors, { ...metadata, format: DECODER_STATE_FORMAT, step: String(step), lora: JSON.stringify(model.loraConfig ?? null) });
}

function restoreDecoderState(model: Decoder, bytes: Uint8Array, fingerprint: string): number {
  const file = decodeSafetensors(bytes);
  if (file.metadata.format !== DECODER_STATE_FORMAT) throw new DecoderJobError("the checkpoint is not a decoder training state; it cannot resume this job");
  if (file.metadata.spec !== fingerprint) throw new DecoderJobError("the checkpoint was written by a different training configuration; it cannot be resumed with this one");
  const step = Number(file.metadata.step);
  if (!Number.isInteger(step) || step < 0) throw new SafetensorsError(`checkpoint: invalid step ${JSON.stringify(file.metadata.step)}`);
  for (const n of model.trainableNames()) {
    for (const [key, target] of [[`param.${n}`, model.params.get(n)], [`adamw.m.${n}`, model.m.get(n)], [`adamw.v.${n}`, model.v.get(n)]] as const) {
      const t = file.tensors.get(key);
      if (!t) throw new SafetensorsError(`checkpoint: "${key}" is missing`);
      const values = toFloat32(key, t);
      if (!target || values.length !== target.size) throw new SafetensorsError(`checkpoint: "${key}" has ${values.length} values, the model needs ${target?.size}`);
      model.ctx.write(target as never, values);
    }
  }
  return step;
}

export interface DecoderJobOptions {
  fingerprint: string;
  decodeText(bytes: Uint8Array): string;
}

/** What a decoder job starts from: the folder's files (config, tokenizer; weights only when imported), its model and tokenizer. */
interface DecoderStart {
  files: Map<string, Uint8Array>;
  hfConfig: DecoderConfig;
  tok: HfTokenizer;
  model: Decoder;
}

/** The imported parent folder: LoRA keeps its 16-bit base frozen; full fine-tuning and pre-training need f32 master weights. */
async function startFromFolder(ctx: GpuContext, spec: TrainJobSpec, archive: Uint8Array): Promise<DecoderStart> {
  const files = readTar(archive);
  const reader = memoryFolderReader(files);
  if (!files.has("config.json")) throw new DecoderJobError("the parent folder has no config.json");
  const hfConfig = parseHFConfig((await reader.readJson("config.json")) as Record<string, unknown>);
  if (hfConfig.modelType === "gpt2") throw new DecoderJobError("fine-tuning a GPT-2 folder is not supported; import it as a Hearth checkpoint, or choose a llama, mistral or qwen2 model");
  const tok = await loadFolderTokenizer(reader);
  const model = await Decoder.fromHF(ctx, reader, { precision: spec.kind === "LORA" ? "16bit" : "f32" });
  return { files, hfConfig, tok, model };
}


/**
 * Pre-training from random weights in a known model's shape (SmolLM2, Qwen2.5): a byte-level BPE
 * trained on the corpus becomes the model's Hugging Face tokenizer, the vocabulary sizes the
 * embeddings, and the weights start as transformers initializes them (normal, std 0.02; norms 1).
 */
async function startFromScratch(ctx: GpuContext, spec: TrainJobSpec, text: string, hooks: TrainJobHooks): Promise<DecoderStart> {
  hooks.onPhase?.("tokenizing");
  const { files, hfConfig } = scratchFolderFiles(spec, text);
  const tok = await loadFolderTokenizer(memoryFolderReader(files));
  const model = await Decoder.fromTensors(ctx, hfConfig, randomDecoderTensors(hfConfig, spec.seed ?? 1), { precision: "f32" });
  return { files, hfConfig, tok, model };
}

/**
 * The folder a from-scratch job starts from, without its weights: config.json in the architecture's
 * shape, and the tokenizer trained on the corpus (tokenizer.json, tokenizer_config.json,
 * generation_config.json). The weights are randomDecoderTensors(hfConfig, seed). The torch engine
 * starts from the same folder, with those weights written out (node-agent/torch-engine.ts).
 */
export function scratchFolderFiles(spec: TrainJobSpec, text: string): { files: Map<string, Uint8Array>; hfConfig: DecoderConfig } {
  const shape = DECODER_SHAPES[spec.architecture!];
  if (!shape) throw new DecoderJobError(`unknown architecture "${spec.architecture}" (${Object.keys(DECODER_SHAPES).join(", ")})`);
  const bpe = trainBpe(text.slice(0, TOKENIZER_SAMPLE_CHARS), spec.vocabSize ?? 4096);
  const tokFiles = hfTokenizerFiles(bpe);
  const json = { ...shape.config, architectures: [shape.architecture], vocab_size: tokFiles.eosId + 1, bos_token_id: null, eos_token_id: tokFiles.eosId, torch_dtype: "float32" };
  const utf8 = new TextEncoder();
  const files = new Map<string, Uint8Array>([
    ["config.json", utf8.encode(JSON.stringify(json, null, 2) + "\n")],
    ["tokenizer.json", utf8.encode(JSON.stringify(tokFiles.tokenizerJson))],
    ["tokenizer_config.json", utf8.encode(JSON.stringify(tokFiles.tokenizerConfig, null, 2) + "\n")],
    ["generation_config.json", utf8.encode(JSON.stringify({ eos_token_id: tokFiles.eosId, pad_token_id: tokFiles.eosId }, null, 2) + "\n")],
  ]);
  return { files, hfConfig: parseHFConfig(json) as DecoderConfig };
}

/** Weights as transformers initializes a llama-family model: normal(0, 0.02) matrices, zero biases, unit norms. */
export function* randomDecoderTensors(c: DecoderConfig, seed: number, std = 0.02): Generator<StreamedTensor> {
  const rand = mulberry32(seed);
  const normal = () => Math.sqrt(-2 * Math.log(1 - rand())) * Math.cos(2 * Math.PI * rand());
  for (const [name, shape] of decoderTensorShapes(c)) {
    const n = shape.reduce((a, b) => a * b, 1);
    const v = new Float32Array(n);
    if (name.endsWith("norm.weight")) v.fill(1);
    else if (!name.endsWith(".bias")) for (let i = 0; i < n; i++) v[i] = std * normal();
    yield { name, dtype: "F32", shape, bytes: new Uint8Array(v.buffer), file: "random" };
  }
}

/** runTrainJob for a Hugging Face decoder: a parent folder archive, or pre-training a known shape from scratch. */
export async function runDecoderTrainJob(ctx: GpuContext, spec: TrainJobSpec, input: TrainJobInput, hooks: TrainJobHooks, o: DecoderJobOptions): Promise<TrainJobResult> {
  hooks.onPhase?.("preparing");
  const text = o.decodeText(input.dataset);
  if (!input.parent && !spec.architecture) throw new DecoderJobError("a decoder job needs a parent folder or an architecture to pre-train");
  if (!input.parent && spec.kind !== "PRETRAIN") throw new DecoderJobError(`${spec.kind} fine-tunes a parent model version: choose one`);
  const { files, hfConfig, tok, model } = input.parent ? await startFromFolder(ctx, spec, input.parent) : await startFromScratch(ctx, spec, text, hooks);
  try {
    if (spec.kind === "LORA") model.attachLora(decoderLoraConfig(spec), { seed: spec.seed ?? 1 });
    model.enableTraining();
    const startStep = input.resume ? restoreDecoderState(model, input.resume, o.fingerprint) : 0;
    const seqLen = decoderSeqLen(spec, hfConfig);
    hooks.onPhase?.("tokenizing");
    const pad = tok.tokenToId(tok.specialTokens.pad_token ?? "") ?? tok.stopTokenIds[0] ?? 0;
    const data =
      spec.kind === "PRETRAIN"
        ? // continued pre-training on a corpus, with the model's own tokenizer (no BOS inserted mid-text)
          corpusData(tok.encode(text, { addSpecialTokens: false }), seqLen, spec)
        : exampleData(decoderSftExamples(text, tok), spec, (examples, seed) => new MaskedSampler(examples, spec.batchSize, seqLen, seed, pad));
    model.recompute = !!spec.recompute;
    const sourceBytes = [...model.sourceDtypes.values()].some((d) => d !== "F32") ? 2 : 4;
    const plan = planForSpec(hfConfig, spec, { sourceBytes, validates: !!data.val });
    await model.tune(spec.batchSize, seqLen);
    // the plan counts what training holds: measure from here (tuning's trial buffers are gone)
    ctx.pool.resetPeak();
    hooks.onPhase?.("training");
    const metadata = { spec: o.fingerprint };
    const result = await trainForJob(model, data, spec, { seqLen, startStep, hooks, save: (step) => saveDecoderState(model, step, metadata) });
    const memory = { plannedBytes: plan.total, peakBytes: ctx.pool.getStats().peakBytesInUse };
    const out: TrainJobResult = { status: result.status, steps: result.steps, losses: result.losses, valLosses: result.valLosses, config: hfConfig as DecoderConfig, parameters: model.parameterCount, memory };
    if (result.status === "completed") {
      hooks.onPhase?.("saving");
      out.artifact = await exportDecoderFolder(model, files, { dtype: spec.exportDtype === "float32" ? "f32" : "source", metadata: { kind: spec.kind, steps: String(result.steps) } });
      out.sha256 = await sha256Hex(out.artifact);
    }
    return out;
  } finally {
    model.release();
  }
}

/**
 * The trained model as a folder archive: the parent's config and tokenizer files, the weights
 * (adapters merged) in model.safetensors, and for a LoRA model the peft adapter in adapter/.
 */
export async function exportDecoderFolder(model: Decoder, parent: ReadonlyMap<string, Uint8Array>, o: { dtype?: "source" | "f32"; metadata?: Record<string, string> } = {}): Promise<Uint8Array> {
  const out: Array<[string, Uint8Array]> = [];
  const config = JSON.parse(new TextDecoder().decode(parent.get("config.json")!)) as Record<string, unknown>;
  if (o.dtype === "f32") {
    config.dtype = "float32";
    delete config.torch_dtype;
  }
  out.push(["config.json", new TextEncoder().encode(JSON.stringify(config, null, 2) + "\n")]);
  for (const name of COPIED) {
    const f = parent.get(name);
    if (f) out.push([name, f]);
  }
  out.push(["model.safetensors", await model.exportSafetensors({ format: "pt", ...o.metadata }, { dtype: o.dtype, mergeLora: true })]);
  if (model.loraConfig) {
    const adapter = await exportPeftAdapter(model);
    out.push(["adapter/adapter_config.json", new TextEncoder().encode(adapter["adapter_config.json"])], ["adapter/adapter_model.safetensors", adapter["adapter_model.safetensors"]]);
  }
  return writeTar(out);
}
