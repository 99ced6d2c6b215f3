// Hugging Face tokenizers from their published files: tokenizer.json (added tokens, normalizer,
// pre-tokenizer, BPE model, post-processor, decoder), tokenizer_config.json (special tokens, chat
// template), chat_template.jinja and generation_config.json (stop tokens). Encoding follows the
// `tokenizers` library step by step, so ids equal what transformers gives for the same files.
//
//   const tok = loadHfTokenizer({ tokenizerJson, tokenizerConfig, chatTemplate, generationConfig });
//   tok.encode("Hello", { addSpecialTokens: true });    // ids, with the post-processor's BOS etc.
//   tok.decode(ids, { skipSpecialTokens: true });
//   tok.applyChatTemplate(messages, { addGenerationPrompt: true, tools });
//   tok.renderSftExample(messages);                     // { ids, lossMask }: loss on assistant tokens
//   tok.stopTokenIds;                                   // every eos_token_id of generation_config.json

import { type ChatMessage, type ChatTemplateOptions, renderChatTemplate, selectChatTemplate } from "./chat-template";
import {
  BpeModel,
  type Decoder,
  HfTokenizerError,
  type Normalizer,
  type Piece,
  type PreTokenizer,
  buildDecoder,
  buildNormalizer,
  buildPreTokenizer,
  pieceOf,
  slicePiece,
  unsupported,
} from "./hf-components";
import { type SftExample, type SftOptions, renderSftExample, renderSftPromptCompletion } from "./sft";

export { HfTokenizerError } from "./hf-components";

type Json = Record<string, any>;

export interface HfAddedToken {
  id: number;
  content: string;
  special: boolean;
  lstrip: boolean;
  rstrip: boolean;
  singleWord: boolean;
  normalized: boolean;
}

export interface HfTokenizerFiles {
  /** tokenizer.json, as text or parsed. */
  tokenizerJson: string | Json;
  /** tokenizer_config.json: special token names, chat_template. */
  tokenizerConfig?: string | Json | null;
  /** chat_template.jinja (wins over tokenizer_config.json's chat_template, as in transformers). */
  chatTemplate?: string | null;
  /** generation_config.json: eos_token_id (a number or a list) gives the stop tokens. */
  generationConfig?: string | Json | null;
}

export interface EncodeOptions {
  /** Run the post-processor (BOS and the like); default true, as transformers. */
  addSpecialTokens?: boolean;
}

export interface DecodeOptions {
  skipSpecialTokens?: boolean;
}

/** Ids with each token's [start, end) in the input, in UTF-16 units ([0, 0] for inserted tokens). */
export interface EncodingWithOffsets {
  ids: number[];
  offsets: Array<[number, number]>;
}

const SPECIAL_NAMES = ["bos_token", "eos_token", "unk_token", "sep_token", "pad_token", "cls_token", "mask_token"] as const;

function parse(x: string | Json | null | undefined, name: string): Json | null {
  if (x == null) return null;
  if (typeof x !== "string") return x;
  try {
    return JSON.parse(x);
  } catch (err) {
    throw new HfTokenizerError(`${name} is not valid JSON: ${(err as Error).message}`);
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); // no more: the u flag refuses needless escapes
}

const isWordChar = (c: string | undefined) => c !== undefined && /[\p{L}\p{N}_]/u.test(c);
const isSpace = (c: string) => /\s/u.test(c);

type Split = { piece: Piece; token: HfAddedToken | null };

/** Matches added tokens as tokenizers' AddedVocabulary does: leftmost-longest, then the flags. */
class AddedMatcher {
  private readonly re: RegExp | null;
  private readonly byText = new Map<string, HfAddedToken>();
  constructor(tokens: Array<{ token: HfAddedToken; pattern: string }>) {
    const pats = tokens.filter((t) => t.pattern.length > 0);
    for (const t of pats) if (!this.byText.has(t.pattern)) this.byText.set(t.pattern, t.token);
    const sorted = [...this.byText.keys()].sort((a, b) => b.length - a.length);
    this.re = sorted.length ? new RegExp(sorted.map(escapeRegex).join("|"), "gu") : null;
  }

  split(p: Piece): Split[] {
    if (!this.re || p.text.length === 0) return [{ piece: p, token: null }];
    const text = p.text;
    const out: Split[] = [];
    let from = 0;
    this.re.lastIndex = 0;
    for (const m of text.matchAll(this.re)) {
      let start = m.index!;
      let stop = start + m[0].length;
      const tok = this.byText.get(m[0])!;
      if (tok.singleWord) {
        const before = start === 0 || !isWordChar(text[start - 1]);
        const after = stop === text.length || !isWordChar(String.fromCodePoint(text.codePointAt(stop)!));
        if (!before || !after) continue;
      }
      if (tok.lstrip) {
        let s = start;
        while (s > 0 && isSpace(text[s - 1])) s--;
        start = Math.max(s, from);
      }
      if (tok.rstrip) while (stop < text.length && isSpace(text[stop])) stop++;
      if (start > from) out.push({ piece: slicePiece(p, from, start, p.first && from === 0), token: null });
      out.push({ piece: slicePiece(p, start, stop, p.first && start === 0), token: tok });
      from = stop;
    }
    if (from < text.length) out.push({ piece: slicePiece(p, from, text.length, p.first && from === 0), token: null });
    return out;
  }
}

/**
 * A post-processing step. When offsets are tracked, `offsets` and `values` (each token's text as
 * tokenizers' Encoding holds it: an added token's matched text, spaces it stripped included) run
 * parallel to `ids`; otherwise both are empty.
 */
type PostStep = (ids: number[], offsets: Array<[number, number]>, values: string[], addSpecialTokens: boolean) => void;

const BYTE_SPACE = "\u0120"; // "Ġ", GPT-2's stand-in for the space byte

function buildPostProcessor(j: Json | null | undefined, tokenOf: (id: number) => string | undefined, where = "post_processor"): PostStep | null {
  if (!j) return null;
  switch (j.type) {
    case "Sequence": {
      const steps = (j.processors as Json[]).map((p, i) => buildPostProcessor(p, tokenOf, `${where}.processors[${i}]`)).filter((s): s is PostStep => !!s);
      return (ids, offs, vals, add) => steps.forEach((s) => s(ids, offs, vals, add));
    }
    case "ByteLevel": {
      // ids unchanged; with trim_offsets, a token's offsets leave out its leading and trailing spaces
      if (!j.trim_offsets) return null;
      const addPrefix = j.add_prefix_space !== false;
      const isSpace = (c: string) => c === BYTE_SPACE || /\s/u.test(c);
      return (ids, offs, vals) => {
        if (offs.length !== ids.length) return; // offsets not tracked
        for (let i = 0; i < offs.length; i++) {
          const chars = [...(vals[i] ?? tokenOf(ids[i]) ?? "")];
          let lead = 0;
          while (lead < chars.length && isSpace(chars[lead])) lead++;
          let trail = 0;
          while (trail < chars.length && isSpace(chars[chars.length - 1 - trail])) trail++;
          const o = offs[i];
          if (lead > 0) {
            if ((i === 0 || o[0] === 0) && addPrefix && lead === 1) lead = 0;
            o[0] = Math.min(o[0] + lead, o[1]);
          }
          if (trail > 0 && o[1] >= trail) o[1] = Math.max(o[1] - trail, o[0]);
        }
      };
    }
    case "TemplateProcessing": {
      const specials = (j.special_tokens ?? {}) as Record<string, { ids: number[] }>;
      // before and after $A: the ids of the special tokens around the sequence
      const before: number[] = [];
      const after: number[] = [];
      let seen = false;
      for (const item of j.single as Json[]) {
        if (item.SpecialToken) {
          const sp = specials[item.SpecialToken.id];
          if (!sp) throw new HfTokenizerError(`tokenizer.json: ${where} names special token "${item.SpecialToken.id}" it does not define`);
          (seen ? after : before).push(...sp.ids);
        } else if (item.Sequence) {
          if (item.Sequence.id !== "A" || seen) unsupported(where, `TemplateProcessing single sequence ${item.Sequence.id}`);
          seen = true;
        } else unsupported(where, `TemplateProcessing item ${JSON.stringify(item)}`);
      }
      if (!seen) unsupported(where, "TemplateProcessing without $A");
      return (ids, offs, vals, add) => {
        if (!add) return;
        // in place, without spreading (a long document would overflow the call stack)
        const track = offs.length > 0 || ids.length === 0;
        ids.unshift(...before);
        for (const id of after) ids.push(id);
        if (!track) return;
        offs.unshift(...before.map((): [number, number] => [0, 0]));
        vals.unshift(...before.map((id) => tokenOf(id) ?? ""));
        for (const id of after) offs.push([0, 0]), vals.push(tokenOf(id) ?? "");
      };
    }
    case "RobertaProcessing":
    case "BertProcessing": {
      const [, clsId] = j.cls as [string, number];
      const [, sepId] = j.sep as [string, number];
      return (ids, offs, vals, add) => {
        if (!add) return;
        const track = offs.length > 0 || ids.length === 0;
        ids.unshift(clsId), ids.push(sepId);
        if (!track) return;
        offs.unshift([0, 0]), offs.push([0, 0]);
        vals.unshift(tokenOf(clsId) ?? ""), vals.push(tokenOf(sepId) ?? "");
      };
    }
    default:
      unsupported(where, j.type ?? "(no type)");
  }
}

export class HfTokenizer {
  readonly model: BpeModel;
  readonly addedTokens: HfAddedToken[];
  private readonly addedById = new Map<number, HfAddedToken>();
  /** The string decoding starts from: tokenizers keeps a normalized added token in normalized form. */
  private readonly addedDecodeForm = new Map<number, string>();
  private readonly addedByContent = new Map<string, HfAddedToken>();
  private readonly normalizer: Normalizer | null;
  private readonly preTokenizer: PreTokenizer | null;
  private readonly decoder: Decoder | null;
  private readonly postProcessor: PostStep | null;
  private readonly rawMatcher: AddedMatcher;
  private readonly normalizedMatcher: AddedMatcher;
  /** Named special tokens of tokenizer_config.json (bos_token, eos_token, ...), as strings. */
  readonly specialTokens: Partial<Record<(typeof SPECIAL_NAMES)[number], string>> = {};
  /** The chat template(s): one string, or named templates ("default", "tool_use", ...). */
  readonly chatTemplate: string | Record<string, string> | null;
  /** Ids that end generation: generation_config.json's eos_token_id (all of them), else eos_token. */
  readonly stopTokenIds: number[];

  constructor(files: HfTokenizerFiles) {
    const tj = parse(files.tokenizerJson, "tokenizer.json");
    if (!tj || typeof tj !== "object" || !tj.model) throw new HfTokenizerError("tokenizer.json: no model");
    if (tj.truncation) unsupported("truncation", JSON.stringify(tj.truncation));
    if (tj.padding) unsupported("padding", JSON.stringify(tj.padding));
    this.model = new BpeModel(tj.model);
    this.normalizer = buildNormalizer(tj.normalizer);
    this.preTokenizer = buildPreTokenizer(tj.pre_tokenizer);
    this.decoder = buildDecoder(tj.decoder);
    this.postProcessor = buildPostProcessor(tj.post_processor, (id) => this.idToToken(id));
    this.addedTokens = ((tj.added_tokens ?? []) as Json[]).map((t) => ({
      id: t.id,
      content: t.content,
      special: !!t.special,
      lstrip: !!t.lstrip,
      rstrip: !!t.rstrip,
      singleWord: !!t.single_word,
      normalized: t.normalized ?? !t.special,
    }));
    for (const t of this.addedTokens) {
      this.addedById.set(t.id, t);
      this.addedDecodeForm.set(t.id, t.normalized && this.normalizer ? this.normalizer(pieceOf(t.content, 0, false, true)).text : t.content);
      this.addedByContent.set(t.content, t);
    }
    this.rawMatcher = new AddedMatcher(this.addedTokens.filter((t) => !t.normalized).map((t) => ({ token: t, pattern: t.content })));
    this.normalizedMatcher = new AddedMatcher(
      this.addedTokens.filter((t) => t.normalized).map((t) => ({ token: t, pattern: this.normalizer ? this.normalizer(pieceOf(t.content, 0, false, true)).text : t.content })),
    );

    const cfg = parse(files.tokenizerConfig, "tokenizer_config.json") ?? {};
    for (const name of SPECIAL_NAMES) {
      const v = cfg[name];
      if (typeof v === "string") this.specialTokens[name] = v;
      else if (v && typeof v === "object" && typeof v.content === "string") this.specialTokens[name] = v.content;
    }
    // tokenizer_config.json's add_bos_token / add_eos_token are not read: transformers 5 loading a
    // tokenizer.json (TokenizersBackend) keeps its post-processor (the oracle holds this).
    let template: string | Record<string, string> | null = null;
    const ct = cfg.chat_template;
    if (typeof ct === "string") template = ct;
    else if (Array.isArray(ct)) template = Object.fromEntries(ct.map((t: Json) => [t.name, t.template]));
    if (typeof files.chatTemplate === "string") template = files.chatTemplate;
    this.chatTemplate = template;

    const gen = parse(files.generationConfig, "generation_config.json");
    const eos = gen?.eos_token_id;
    if (Array.isArray(eos)) this.stopTokenIds = eos.map(Number);
    else if (typeof eos === "number") this.stopTokenIds = [eos];
    else {
      const id = this.specialTokens.eos_token !== undefined ? this.tokenToId(this.specialTokens.eos_token) : undefined;
      this.stopTokenIds = id !== undefined ? [id] : [];
    }
  }

  /** Vocabulary size including added tokens (one past the largest id). */
  get vocabSize(): number {
    let n = this.model.size;
    for (const t of this.addedTokens) n = Math.max(n, t.id + 1);
    return n;
  }

  tokenToId(token: string): number | undefined {
    return this.addedByContent.get(token)?.id ?? this.model.vocab.get(token);
  }

  idToToken(id: number): string | undefined {
    return this.addedById.get(id)?.content ?? this.model.vocabR[id];
  }

  isSpecial(id: number): boolean {
    return this.addedById.get(id)?.special ?? false;
  }

  encode(text: string, opts: EncodeOptions = {}): number[] {
    return this.run(text, opts, false).ids;
  }

  encodeWithOffsets(text: string, opts: EncodeOptions = {}): EncodingWithOffsets {
    return this.run(text, opts, true);
  }

  private run(text: string, opts: EncodeOptions, track: boolean): EncodingWithOffsets {
    const ids: number[] = [];
    const offsets: Array<[number, number]> = [];
    const values: string[] = [];
    const emit = (id: number, p: Piece, i: number, j: number, value: string | undefined) => {
      ids.push(id);
      if (track) {
        values.push(value ?? "");
        if (p.text.length === 0) offsets.push([0, 0]);
        else {
          let s = Infinity;
          let e = -Infinity;
          for (let k = i; k < j; k++) (s = Math.min(s, p.s![k]), (e = Math.max(e, p.e![k])));
          offsets.push([s, e]);
        }
      }
    };
    // 1. added tokens that match the raw text; 2. normalize the rest and match the normalized ones
    for (const raw of this.rawMatcher.split(pieceOf(text, 0, track, true))) {
      if (raw.token) {
        emit(raw.token.id, raw.piece, 0, raw.piece.text.length, raw.piece.text);
        continue;
      }
      const normalized = this.normalizer ? this.normalizer(raw.piece) : raw.piece;
      for (const part of this.normalizedMatcher.split(normalized)) {
        if (part.token) {
          emit(part.token.id, part.piece, 0, part.piece.text.length, part.piece.text);
          continue;
        }
        // 3. pre-tokenize, 4. the model
        const words = this.preTokenizer ? this.preTokenizer([part.piece]) : [part.piece];
        for (const w of words) {
          if (w.text.length === 0) continue;
          for (const t of this.model.tokenize(w.text)) emit(t.id, w, t.start, t.end, track ? this.model.vocabR[t.id] : undefined);
        }
      }
    }
    if (this.postProcessor) this.postProcessor(ids, offsets, values, opts.addSpecialTokens ?? true);
    return { ids, offsets: track ? offsets : [] };
  }

  decode(ids: ArrayLike<number>, opts: DecodeOptions = {}): string {
    const tokens: string[] = [];
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const added = this.addedById.get(id);
      if (added) {
        if (!(opts.skipSpecialTokens && added.special)) tokens.push(this.addedDecodeForm.get(id)!);
        continue;
      }
      const t = this.model.vocabR[id];
      if (t !== undefined) tokens.push(t); // tokenizers drops ids it does not know
    }
    if (!this.decoder) return tokens.join(" ");
    return this.decoder(tokens).join("");
  }

  /** The template transformers would use: a named one, "tool_use" when tools are given, else "default". */
  template(name?: string, tools?: unknown): string {
    return selectChatTemplate(this.chatTemplate, name, tools);
  }

  /** Renders a conversation exactly as transformers' apply_chat_template(tokenize=False). */
  applyChatTemplate(messages: ChatMessage[], opts: ChatTemplateOptions = {}): string {
    return renderChatTemplate(this.template(opts.templateName, opts.tools), messages, { ...opts, specialTokens: { ...this.specialTokens, ...opts.specialTokens } });
  }

  /** A supervised fine-tuning example: the template's ids and 1 on assistant tokens (its {% generation %} blocks). */
  renderSftExample(messages: ChatMessage[], opts: SftOptions = {}): SftExample {
    return renderSftExample(this, messages, opts);
  }

  /** A prompt-completion example: loss on the completion's tokens (TRL's completion_only_loss). */
  renderSftPromptCompletion(prompt: ChatMessage[], completion: ChatMessage[], opts: SftOptions = {}): SftExample {
    return renderSftPromptCompletion(this, prompt, completion, opts);
  }
}

export function loadHfTokenizer(files: HfTokenizerFiles): HfTokenizer {
  return new HfTokenizer(files);
}
