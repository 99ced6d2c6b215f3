// One interface over the text models Hearth runs, for evals and serving: a Hearth GPT checkpoint
// (its own byte-level BPE in the metadata) or a Hugging Face folder travelling as one ustar archive
// (gpu/io/tar.ts): a llama/mistral/qwen2 Decoder or a GPT-2, with the folder's own tokenizer, chat
// template and stop tokens.
//
//   const m = await loadTextModel(ctx, bytes);            // sniffs the archive or the checkpoint
//   const ids = m.chatPromptIds(messages);                // the chat template, or "role: content" lines
//   const r = await completeText(m, ids, { maxNewTokens: 64, temperature: 0, stop: m.chatStops, onText });
//   await m.logLikelihood(m.promptIds("Q: 2+2? A:"), m.encode(" 4"));
//   m.release();
//
// Text in, tokens out: a raw prompt gets the tokenizer's special tokens (its post-processor's BOS,
// as transformers' tokenizer(text)); a chat is rendered by the template and tokenized without adding
// them again (apply_chat_template(tokenize=True)); a continuation is a piece of text (no specials).

import type { GpuContext } from "../device";
import { loadGPT } from "../io/checkpoint";
import { memoryFolderReader, readTar, isTar } from "../io/tar";
import type { FolderReader } from "../io/hf-folder";
import type { HfTokenizer } from "../tokenizer/hf-tokenizer";
import type { Decoder, DecoderLoadOptions } from "./decoder";
import type { GPT } from "./gpt";
import { continuationLogprob, generate as gptGenerate, logLikelihood as gptLogLikelihood, type LogLikelihood } from "./generate";
import { loadFolderTokenizer, loadHFFolder } from "./hf-load";

export class TextModelError extends Error {}

/** A Hearth GPT checkpoint saved without its tokenizer: its ids cannot be turned into text. */
export class NoTokenizerError extends TextModelError {
  constructor() {
    super("This model version's checkpoint has no tokenizer, so Hearth cannot turn text into its tokens and back.");
  }
}

export interface TextChatMessage {
  role: string;
  content: string;
}

/**
 * Hearth's plain chat format, for models without a chat template: one line per message,
 * `role: content`, then `assistant:` where the reply starts (server/serving/README.md).
 */
export function plainChatPrompt(messages: readonly TextChatMessage[]): string {
  return messages.map((m) => `${m.role}: ${m.content}\n`).join("") + "assistant:";
}

/** Where a reply in the plain format ends: the model starting a new user or system turn. */
export const PLAIN_CHAT_STOPS: readonly string[] = ["\nuser:", "\nsystem:"];

export interface TextGenerateOptions {
  maxNewTokens: number;
  /** 0 = greedy; default 1. */
  temperature?: number;
  topK?: number;
  seed?: number;
  /** Generation ends after any of these ids (included in the tokens); default: the model's stopTokenIds. */
  stopTokenIds?: readonly number[];
  /** Called per new token; return false to stop. */
  onToken?: (token: number) => boolean | void;
}

export interface TextGenerateResult {
  tokens: number[];
  /** "stop": a stop token ended it (the last token); "callback": onToken did; "length": maxNewTokens or the context. */
  stopReason: "length" | "stop" | "callback";
}

export interface TextModel {
  /** The network: Hearth's GPT (also a GPT-2 folder) or the llama-family Decoder. */
  readonly kind: "gpt" | "decoder";
  /** Positions the model attends over (GPT: blockSize, generation slides past it; decoder: max_position_embeddings). */
  readonly contextLength: number;
  /** Whether chat prompts go through the folder's chat template (else the plain format). */
  readonly hasChatTemplate: boolean;
  /** Ids that end a reply: every eos_token_id of generation_config.json (none for a Hearth GPT). */
  readonly stopTokenIds: readonly number[];
  /** Strings that end a chat reply: the plain format's turn starts; none with a template (its stop tokens do). */
  readonly chatStops: readonly string[];
  /** A piece of text (no special tokens). */
  encode(text: string): number[];
  /** Raw text as a prompt, with the tokenizer's special tokens (BOS and the like). */
  promptIds(text: string): number[];
  /** A conversation up to where the assistant's reply starts. */
  chatPromptIds(messages: readonly TextChatMessage[]): number[];
  /** Text of ids (special tokens left out). */
  decode(ids: readonly number[]): string;
  /** New tokens after `prompt` (an empty prompt starts from the beginning-of-text token), with the key/value cache. */
  generate(prompt: readonly number[], o: TextGenerateOptions): Promise<TextGenerateResult>;
  /** log p(continuation | context) in one forward; the context is cropped from the left to fit. */
  logLikelihood(context: readonly number[], continuation: readonly number[]): Promise<LogLikelihood>;
  release(): void;
}

/** What the text side needs from a tokenizer; a Hearth BytePairTokenizer is one. */
interface PlainTokenizer {
  encode(text: string): number[];
  decode(ids: number[]): string;
  vocabSize?: number;
}

interface Tokens {
  encode(text: string): number[];
  promptIds(text: string): number[];
  chatPromptIds(messages: readonly TextChatMessage[]): number[];
  decode(ids: readonly number[]): string;
  hasChatTemplate: boolean;
  stopTokenIds: number[];
  chatStops: readonly string[];
  /** What stands in for an empty context. */
  start: number[];
  /** Only ids below this are generated (a Hearth BPE can know fewer tokens than the model has rows). */
  vocabLimit?: number;
}

function plainTokens(tok: PlainTokenizer): Tokens {
  return {
    encode: (text) => tok.encode(text),
    promptIds: (text) => tok.encode(text),
    chatPromptIds: (messages) => tok.encode(plainChatPrompt(messages)),
    decode: (ids) => tok.decode([...ids]),
    hasChatTemplate: false,
    stopTokenIds: [],
    chatStops: PLAIN_CHAT_STOPS,
    start: [0],
    vocabLimit: tok.vocabSize,
  };
}

function hfTokens(tok: HfTokenizer): Tokens {
  const hasChatTemplate = tok.chatTemplate != null;
  const promptIds = (text: string) => tok.encode(text, { addSpecialTokens: true });
  const bos = tok.specialTokens.bos_token !== undefined ? tok.tokenToId(tok.specialTokens.bos_token) : undefined;
  const start = bos ?? tok.stopTokenIds[0];
  return {
    encode: (text) => tok.encode(text, { addSpecialTokens: false }),
    promptIds,
    // transformers' apply_chat_template(tokenize=True): the rendered text, no special tokens added again
    chatPromptIds: (messages) =>
      hasChatTemplate ? tok.encode(tok.applyChatTemplate(messages.map((m) => ({ ...m })), { addGenerationPrompt: true }), { addSpecialTokens: false }) : promptIds(plainChatPrompt(messages)),
    decode: (ids) => tok.decode(ids, { skipSpecialTokens: true }),
    hasChatTemplate,
    stopTokenIds: [...tok.stopTokenIds],
    chatStops: hasChatTemplate ? [] : PLAIN_CHAT_STOPS,
    start: start !== undefined ? [start] : [],
  };
}

/** The network side of a TextModel: what runs the model on token ids (Hearth's engine here; the torch engine in node-agent/torch-engine.ts). */
export interface TextNetwork {
  kind: TextModel["kind"];
  contextLength: number;
  generate(prompt: number[], o: TextGenerateOptions & { stopTokenIds: readonly number[]; vocabLimit?: number }): Promise<TextGenerateResult>;
  logLikelihood(context: number[], continuation: number[]): Promise<LogLikelihood>;
  release(): void;
}

function gptNetwork(model: GPT): TextNetwork {
  return {
    kind: "gpt",
    contextLength: model.config.blockSize,
    async generate(prompt, o) {
      const r = await gptGenerate(model, prompt, {
        maxNewTokens: o.maxNewTokens,
        temperature: o.temperature,
        topK: o.topK,
        seed: o.seed,
        vocabLimit: o.vocabLimit,
        stopTokens: o.stopTokenIds.map((t) => [t]),
        onToken: o.onToken,
      });
      return { tokens: r.tokens, stopReason: r.stopReason };
    },
    logLikelihood: (context, continuation) => gptLogLikelihood(model, context, continuation),
    release: () => model.release(),
  };
}

function decoderNetwork(model: Decoder): TextNetwork {
  const { ctx, config } = model;
  const n = config.maxPositions;
  return {
    kind: "decoder",
    contextLength: n,
    async generate(prompt, o) {
      if (prompt.length > n) throw new TextModelError(`the prompt holds ${prompt.length} tokens; the model's context is ${n}`);
      // the last new token needs no position of its own: prompt + maxNewTokens - 1 positions at most
      const maxNewTokens = Math.min(o.maxNewTokens, n - prompt.length + 1);
      const stops = new Set(o.stopTokenIds);
      let reason: TextGenerateResult["stopReason"] = "length";
      const tokens = await model.generate(prompt, {
        maxNewTokens,
        temperature: o.temperature,
        topK: o.topK,
        seed: o.seed,
        onToken: (t) => {
          if (o.onToken?.(t) === false) reason = "callback";
          else if (stops.has(t)) reason = "stop";
          else return true;
          return false;
        },
      });
      return { tokens, stopReason: reason };
    },
    async logLikelihood(context, continuation) {
      if (continuation.length === 0) return { logprob: 0, tokens: 0, greedy: true };
      if (continuation.length >= n) throw new TextModelError(`logLikelihood: a continuation of ${continuation.length} tokens does not fit the context of ${n}`);
      if (context.length === 0) throw new TextModelError("logLikelihood: needs at least one context token");
      const input = [...context, ...continuation].slice(-(n + 1)).slice(0, -1);
      const V = config.vocabSize;
      const x = ctx.tensor(Int32Array.from(input), [1, input.length], "i32");
      const logits = model.logits(x);
      x.release();
      // only the rows that predict the continuation come back from the GPU
      const rows = ctx.empty([continuation.length, V]);
      ctx.endPass();
      ctx.getEncoder().copyBufferToBuffer(logits.buffer, (input.length - continuation.length) * V * 4, rows.buffer, 0, continuation.length * V * 4);
      const [out] = await ctx.readMany([rows]);
      logits.release();
      rows.release();
      return continuationLogprob(out as Float32Array, V, 0, continuation);
    },
    release: () => model.release(),
  };
}

function textModel(net: TextNetwork, tok: Tokens): TextModel {
  const orStart = (ids: readonly number[]) => {
    if (ids.length) return [...ids];
    if (!tok.start.length) throw new TextModelError("the prompt is empty and the tokenizer has no beginning-of-text token to start from");
    return [...tok.start];
  };
  return {
    kind: net.kind,
    contextLength: net.contextLength,
    hasChatTemplate: tok.hasChatTemplate,
    stopTokenIds: tok.stopTokenIds,
    chatStops: tok.chatStops,
    encode: tok.encode,
    promptIds: tok.promptIds,
    chatPromptIds: tok.chatPromptIds,
    decode: tok.decode,
    generate: (prompt, o) => net.generate(orStart(prompt), { ...o, stopTokenIds: o.stopTokenIds ?? tok.stopTokenIds, vocabLimit: tok.vocabLimit }),
    logLikelihood: (context, continuation) => net.logLikelihood(orStart(context), [...continuation]),
    release: () => net.release(),
  };
}

/** A GPT and its tokenizer (a Hearth BytePairTokenizer) as a TextModel. */
export function gptTextModel(model: GPT, tokenizer: PlainTokenizer): TextModel {
  return textModel(gptNetwork(model), plainTokens(tokenizer));
}

/** Any network over a folder's token ids, with the folder's tokenizer, as a TextModel. */
export function networkTextModel(net: TextNetwork, tokenizer: HfTokenizer): TextModel {
  return textModel(net, hfTokens(tokenizer));
}

/** A decoder and its folder's tokenizer as a TextModel. */
export function decoderTextModel(model: Decoder, tokenizer: HfTokenizer): TextModel {
  return textModel(decoderNetwork(model), hfTokens(tokenizer));
}

/** The files of a folder archive; a folder archived with its own directory (one top-level folder) is unwrapped. */
export function archiveFolderFiles(bytes: Uint8Array): Map<string, Uint8Array> {
  const files = readTar(bytes);
  const names = [...files.keys()];
  const top = names[0]?.split("/")[0];
  if (!files.has("config.json") && top && names.every((n) => n.startsWith(`${top}/`))) {
    return new Map([...files].map(([n, b]) => [n.slice(top.length + 1), b]));
  }
  return files;
}

/** A folder archive's files as a FolderReader (see archiveFolderFiles). */
export function archiveFolderReader(bytes: Uint8Array): FolderReader {
  return memoryFolderReader(archiveFolderFiles(bytes));
}

/** A Hugging Face folder's model with the folder's tokenizer (read first: a folder without one fails before any weight is uploaded). */
export async function loadFolderTextModel(ctx: GpuContext, reader: FolderReader, o: DecoderLoadOptions = {}): Promise<TextModel> {
  const tokenizer = await loadFolderTokenizer(reader);
  const loaded = await loadHFFolder(ctx, reader, o);
  if (loaded.kind === "decoder") return decoderTextModel(loaded.model, tokenizer);
  return textModel(gptNetwork(loaded.model), hfTokens(tokenizer));
}

/**
 * A model version's artifact as a TextModel: a folder archive (ustar) or a Hearth GPT checkpoint.
 * Folder decoders keep 16-bit weights 16-bit (Decoder.fromHF's default).
 */
export async function loadTextModel(ctx: GpuContext, bytes: Uint8Array, o: DecoderLoadOptions = {}): Promise<TextModel> {
  if (isTar(bytes)) return loadFolderTextModel(ctx, archiveFolderReader(bytes), o);
  const { model, tokenizer } = loadGPT(ctx, bytes);
  if (!tokenizer) {
    model.release();
    throw new NoTokenizerError();
  }
  return gptTextModel(model, tokenizer);
}

// ---------- text out ----------

export interface CompleteTextOptions extends Omit<TextGenerateOptions, "onToken"> {
  /** Generation ends at (and drops) the first of these strings. */
  stop?: readonly string[];
  /** Text as it becomes final: held back while it could still be the start of a stop string or of a UTF-8 character. */
  onText?: (delta: string) => void;
  /** Checked after each token; true ends generation. */
  cancelled?: () => boolean;
}

export interface CompleteTextResult {
  text: string;
  /** Every generated token, a stop token included. */
  tokens: number[];
  /** "stop": a stop string or stop token; "length": maxNewTokens, the context or a cancel. */
  finishReason: "stop" | "length";
}

/** Characters at the end of `text` that could be the start of a stop string (held back until known). */
function pendingStopPrefix(text: string, stops: readonly string[]): number {
  let hold = 0;
  for (const stop of stops) {
    for (let n = Math.min(stop.length - 1, text.length); n > hold; n--) {
      if (text.endsWith(stop.slice(0, n))) {
        hold = n;
        break;
      }
    }
  }
  return hold;
}

/** Generates after `prompt`, decoding as it goes: ends at a stop token (left out of the text) or the first stop string (cut). */
export async function completeText(model: TextModel, prompt: readonly number[], o: CompleteTextOptions): Promise<CompleteTextResult> {
  const stops = (o.stop ?? []).filter((s) => s.length > 0);
  const tokens: number[] = [];
  let emitted = 0;
  let stopAt = -1;
  let text = "";
  const emit = (end: number) => {
    if (end > emitted) o.onText?.(text.slice(emitted, end));
    emitted = Math.max(emitted, end);
  };
  let reason: TextGenerateResult["stopReason"] = "length";
  if (o.maxNewTokens > 0) {
    const stopIds = new Set(o.stopTokenIds ?? model.stopTokenIds);
    const r = await model.generate(prompt, {
      ...o,
      onToken: (t) => {
        tokens.push(t);
        if (stopIds.has(t)) return; // generate ends here; the text stays what it was
        text = model.decode(tokens);
        for (const s of stops) {
          const at = text.indexOf(s);
          if (at >= 0 && (stopAt < 0 || at < stopAt)) stopAt = at;
        }
        if (stopAt >= 0) return false;
        // A byte-level tokenizer decodes a partial UTF-8 sequence as U+FFFD: wait for the rest.
        let end = text.length - pendingStopPrefix(text, stops);
        while (end > emitted && text[end - 1] === "\uFFFD") end--;
        emit(end);
        return !o.cancelled?.();
      },
    });
    reason = r.stopReason;
  }
  if (stopAt >= 0) text = text.slice(0, stopAt);
  emit(text.length);
  return { text, tokens, finishReason: stopAt >= 0 || reason === "stop" ? "stop" : "length" };
}
