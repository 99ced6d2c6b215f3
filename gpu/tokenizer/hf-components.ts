// The components of a Hugging Face tokenizer.json (normalizers, pre-tokenizers, the BPE model,
// decoders), each built from its JSON and following the `tokenizers` library's semantics.
// Text moves through them as pieces that remember, per UTF-16 unit, which span of the original
// text it came from (only when offsets are asked for: plain encoding carries none).

import { gpt2ByteToUnicode } from "./bpe";

export class HfTokenizerError extends Error {}

type Json = Record<string, any>;

/** Refuses a component by its name and where it sits in tokenizer.json. */
export function unsupported(where: string, what: string, detail = ""): never {
  throw new HfTokenizerError(`tokenizer.json: ${where} "${what}" is not supported${detail ? ` (${detail})` : ""}`);
}

// ---------------------------------------------------------------- pieces

/** A piece of text; `s[k]`/`e[k]` are the original span of unit k (null when offsets are off). */
export interface Piece {
  text: string;
  s: number[] | null;
  e: number[] | null;
  /** Whether the piece begins at the start of the input (Metaspace's prepend_scheme "first"). */
  first: boolean;
}

class PieceBuilder {
  text = "";
  s: number[] | null;
  e: number[] | null;
  constructor(track: boolean) {
    this.s = track ? [] : null;
    this.e = track ? [] : null;
  }
  push(str: string, start: number, end: number): void {
    this.text += str;
    if (this.s) for (let k = 0; k < str.length; k++) (this.s.push(start), this.e!.push(end));
  }
  /** Appends units [i, j) of `p` with their own spans. */
  copy(p: Piece, i: number, j: number): void {
    this.text += p.text.slice(i, j);
    if (this.s) for (let k = i; k < j; k++) (this.s.push(p.s![k]), this.e!.push(p.e![k]));
  }
  build(first: boolean): Piece {
    return { text: this.text, s: this.s, e: this.e, first };
  }
}

export function pieceOf(text: string, offset: number, track: boolean, first: boolean): Piece {
  if (!track) return { text, s: null, e: null, first };
  const s: number[] = new Array(text.length);
  const e: number[] = new Array(text.length);
  for (let k = 0; k < text.length; k++) {
    // a surrogate pair maps both units to the whole character
    const hi = k + 1 < text.length && isHigh(text.charCodeAt(k)) && isLow(text.charCodeAt(k + 1));
    const lo = k > 0 && isLow(text.charCodeAt(k)) && isHigh(text.charCodeAt(k - 1));
    s[k] = offset + (lo ? k - 1 : k);
    e[k] = offset + (hi ? k + 2 : lo ? k + 1 : k + 1);
  }
  return { text, s, e, first };
}

const isHigh = (c: number) => c >= 0xd800 && c <= 0xdbff;
const isLow = (c: number) => c >= 0xdc00 && c <= 0xdfff;

export function slicePiece(p: Piece, i: number, j: number, first: boolean): Piece {
  return { text: p.text.slice(i, j), s: p.s ? p.s.slice(i, j) : null, e: p.e ? p.e.slice(i, j) : null, first };
}

function span(p: Piece, i: number, j: number): [number, number] {
  if (!p.s || p.text.length === 0) return [0, 0];
  if (i >= p.text.length) return [p.e![p.text.length - 1], p.e![p.text.length - 1]];
  let s = Infinity;
  let e = -Infinity;
  for (let k = i; k < Math.max(j, i + 1); k++) (s = Math.min(s, p.s[k]), (e = Math.max(e, p.e![k])));
  return [s, e];
}

// ---------------------------------------------------------------- patterns

// Oniguruma's \s (Unicode White_Space) differs from JavaScript's (which adds U+FEFF, lacks U+0085).
const WS = "\\t\\n\\v\\f\\r \\u0085\\u00a0\\u1680\\u2000-\\u200a\\u2028\\u2029\\u202f\\u205f\\u3000";

/** Translates an Oniguruma pattern of tokenizer.json (as real pre-tokenizers use) to a JS RegExp. */
export function translateRegex(src: string, where: string): RegExp {
  let out = "";
  let inClass = false;
  const caseless: number[] = []; // group depths inside (?i: ... )
  let depth = 0;
  for (let i = 0; i < src.length; i++) {
    const c = src[i];
    if (c === "\\") {
      const n = src[i + 1];
      if (n === "s") out += inClass ? WS : `[${WS}]`;
      else if (n === "S") {
        if (inClass) unsupported(where, "\\S inside a character class");
        out += `[^${WS}]`;
      } else if (n === "A") out += "^";
      else if (n === "z" || n === "Z") out += "$";
      else if (n === "p" || n === "P") {
        const close = src.indexOf("}", i);
        out += src.slice(i, close + 1);
        i = close;
        continue;
      } else if (/[0-9a-zA-Z]/.test(n)) out += c + n;
      else out += c + n; // an escaped punctuation character
      i++;
      continue;
    }
    if (inClass) {
      if (c === "]") inClass = false;
      out += c;
      continue;
    }
    if (c === "[") {
      inClass = true;
      out += c;
      if (src[i + 1] === "^") (out += "^"), i++;
      if (src[i + 1] === "]") (out += "\\]"), i++;
      continue;
    }
    if (c === "(") {
      depth++;
      if (src.startsWith("(?i:", i)) {
        caseless.push(depth);
        out += "(?:";
        i += 3;
        continue;
      }
      out += c;
      continue;
    }
    if (c === ")") {
      if (caseless.length && caseless[caseless.length - 1] === depth) caseless.pop();
      depth--;
      out += c;
      continue;
    }
    if ((c === "+" || c === "*" || c === "?" || c === "}") && src[i + 1] === "+") {
      // a possessive quantifier: JavaScript has none
      unsupported(where, "possessive quantifier", src);
    }
    if (caseless.length && /[a-zA-Z]/.test(c)) {
      out += `[${c.toLowerCase()}${c.toUpperCase()}]`;
      continue;
    }
    out += c;
  }
  try {
    return new RegExp(out, "gu");
  } catch (err) {
    unsupported(where, "pattern", `${src}: ${(err as Error).message}`);
  }
}

function escapeRegex(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&"); // no more: the u flag refuses needless escapes
}

/** {String: s} or {Regex: r} of a Split or Replace. */
function patternOf(p: Json, where: string): RegExp {
  if (p && typeof p.String === "string") return new RegExp(escapeRegex(p.String), "gu");
  if (p && typeof p.Regex === "string") return translateRegex(p.Regex, where);
  unsupported(where, "pattern", JSON.stringify(p));
}

/** [start, end) of every non-empty match. */
function matchRanges(re: RegExp, text: string): Array<[number, number]> {
  const out: Array<[number, number]> = [];
  re.lastIndex = 0;
  for (const m of text.matchAll(re)) if (m[0].length > 0) out.push([m.index!, m.index! + m[0].length]);
  return out;
}

// ---------------------------------------------------------------- normalizers

export type Normalizer = (p: Piece) => Piece;

function unicodeNormalizer(form: "NFC" | "NFD" | "NFKC" | "NFKD"): Normalizer {
  return (p) => {
    const whole = p.text.normalize(form);
    if (!p.s) return { ...p, text: whole };
    if (whole === p.text) return p;
    // Normalize a base character with its combining marks at a time. As tokenizers aligns them, the
    // k-th output character keeps the k-th input character's span (composition drops the marks'
    // spans, decomposition repeats the last one).
    const b = new PieceBuilder(true);
    const re = /\P{M}\p{M}*|\p{M}+/gsu;
    for (const m of p.text.matchAll(re)) {
      const starts: number[] = [];
      for (let k = 0; k < m[0].length; k += m[0].codePointAt(k)! > 0xffff ? 2 : 1) starts.push(m.index! + k);
      let k = 0;
      for (const ch of m[0].normalize(form)) {
        const at = starts[Math.min(k++, starts.length - 1)];
        const [s, e] = span(p, at, at + 1);
        b.push(ch, s, e);
      }
    }
    if (b.text !== whole) {
      // composition across clusters (Hangul jamo): spread the whole piece's span
      const [s, e] = span(p, 0, p.text.length);
      const c = new PieceBuilder(true);
      c.push(whole, s, e);
      return c.build(p.first);
    }
    return b.build(p.first);
  };
}

function replaceNormalizer(re: RegExp, content: string): Normalizer {
  return (p) => {
    const ranges = matchRanges(re, p.text);
    if (!ranges.length) return p;
    const b = new PieceBuilder(!!p.s);
    let last = 0;
    for (const [i, j] of ranges) {
      b.copy(p, last, i);
      const [s, e] = span(p, i, j);
      b.push(content, s, e);
      last = j;
    }
    b.copy(p, last, p.text.length);
    return b.build(p.first);
  };
}

export function buildNormalizer(j: Json | null | undefined, where = "normalizer"): Normalizer | null {
  if (!j) return null;
  switch (j.type) {
    case "Sequence": {
      const parts = (j.normalizers as Json[]).map((n, i) => buildNormalizer(n, `${where}.normalizers[${i}]`)).filter((n): n is Normalizer => !!n);
      return (p) => parts.reduce((q, n) => n(q), p);
    }
    case "NFC":
    case "NFD":
    case "NFKC":
    case "NFKD":
      return unicodeNormalizer(j.type);
    case "Lowercase":
      return (p) => {
        // character by character, as tokenizers: no final sigma
        if (!p.s) {
          let t = "";
          for (const ch of p.text) t += ch.toLowerCase();
          return { ...p, text: t };
        }
        const b = new PieceBuilder(true);
        let k = 0;
        for (const ch of p.text) {
          const [s, e] = span(p, k, k + ch.length);
          b.push(ch.toLowerCase(), s, e);
          k += ch.length;
        }
        return b.build(p.first);
      };
    case "Prepend":
      return (p) => {
        if (p.text.length === 0) return p;
        const b = new PieceBuilder(!!p.s);
        const [s, e] = span(p, 0, 1);
        b.push(j.prepend, s, e);
        b.copy(p, 0, p.text.length);
        return b.build(p.first);
      };
    case "Replace":
      return replaceNormalizer(patternOf(j.pattern, `${where} Replace`), j.content);
    case "Strip":
      return (p) => {
        let i = 0;
        let k = p.text.length;
        if (j.strip_left) while (i < k && /\s/u.test(p.text[i])) i++;
        if (j.strip_right) while (k > i && /\s/u.test(p.text[k - 1])) k--;
        return slicePiece(p, i, k, p.first);
      };
    default:
      unsupported(where, j.type ?? "(no type)");
  }
}

// ---------------------------------------------------------------- pre-tokenizers

export type PreTokenizer = (pieces: Piece[]) => Piece[];
type Behavior = "Removed" | "Isolated" | "MergedWithPrevious" | "MergedWithNext" | "Contiguous";

/** tokenizers' NormalizedString::split: cut a piece at the matches with the given behavior. */
function splitPiece(p: Piece, ranges: Array<[number, number]>, behavior: Behavior, invert = false): Piece[] {
  // segments covering the text, each flagged as a match or not
  const segs: Array<[number, number, boolean]> = [];
  let last = 0;
  for (const [i, j] of ranges) {
    if (i > last) segs.push([last, i, invert]);
    segs.push([i, j, !invert]);
    last = j;
  }
  if (last < p.text.length) segs.push([last, p.text.length, invert]);
  const cuts: Array<[number, number]> = [];
  switch (behavior) {
    case "Removed":
      for (const [i, j, m] of segs) if (!m) cuts.push([i, j]);
      break;
    case "Isolated":
      for (const [i, j] of segs) cuts.push([i, j]);
      break;
    case "Contiguous": {
      // neighbours with the same flag join (with invert, runs of non-matches too), as tokenizers
      let prevMatch = false;
      for (const [i, j, m] of segs) {
        if (m === prevMatch && cuts.length) cuts[cuts.length - 1][1] = j;
        else cuts.push([i, j]);
        prevMatch = m;
      }
      break;
    }
    case "MergedWithPrevious": {
      let prevMatch = false;
      for (const [i, j, m] of segs) {
        if (m && cuts.length && !prevMatch) cuts[cuts.length - 1][1] = j;
        else cuts.push([i, j]);
        prevMatch = m;
      }
      break;
    }
    case "MergedWithNext": {
      let pending: number | null = null;
      for (const [i, j, m] of segs) {
        if (m) {
          if (pending === null) pending = i;
          else {
            cuts.push([pending, i]);
            pending = i;
          }
        } else {
          cuts.push([pending ?? i, j]);
          pending = null;
        }
      }
      if (pending !== null) cuts.push([pending, p.text.length]);
      break;
    }
    default:
      unsupported("pre_tokenizer Split", `behavior ${behavior}`);
  }
  return cuts.filter(([i, j]) => j > i).map(([i, j]) => slicePiece(p, i, j, p.first && i === 0));
}

/** ByteLevel's use_regex split: GPT-2's pattern, read as tokenizers' Oniguruma reads it. */
const BYTE_LEVEL_REGEX = translateRegex("'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)|\\s+", "pre_tokenizer ByteLevel");

const BYTE_CHARS = gpt2ByteToUnicode();
const CHAR_BYTE = new Map<string, number>(BYTE_CHARS.map((ch, b) => [ch, b]));
const utf8 = new TextEncoder();

/** Each UTF-8 byte of the piece becomes GPT-2's printable stand-in character. */
function byteLevelMap(p: Piece): Piece {
  let ascii = true;
  for (let k = 0; k < p.text.length; k++) if (p.text.charCodeAt(k) >= 0x80) ascii = false;
  if (ascii && !p.s) {
    let t = "";
    for (let k = 0; k < p.text.length; k++) t += BYTE_CHARS[p.text.charCodeAt(k)];
    return { ...p, text: t };
  }
  const b = new PieceBuilder(!!p.s);
  let k = 0;
  for (const ch of p.text) {
    const [s, e] = p.s ? span(p, k, k + ch.length) : [0, 0];
    for (const byte of utf8.encode(ch)) b.push(BYTE_CHARS[byte], s, e);
    k += ch.length;
  }
  return b.build(p.first);
}

export function buildPreTokenizer(j: Json | null | undefined, where = "pre_tokenizer"): PreTokenizer | null {
  if (!j) return null;
  const each = (f: (p: Piece) => Piece[]): PreTokenizer => (pieces) => pieces.flatMap(f);
  switch (j.type) {
    case "Sequence": {
      const parts = (j.pretokenizers as Json[]).map((n, i) => buildPreTokenizer(n, `${where}.pretokenizers[${i}]`)).filter((n): n is PreTokenizer => !!n);
      return (pieces) => parts.reduce((q, f) => f(q), pieces);
    }
    case "ByteLevel": {
      const addPrefix = !!j.add_prefix_space;
      const useRegex = j.use_regex !== false;
      return each((p) => {
        let q = p;
        if (addPrefix && !q.text.startsWith(" ")) {
          const b = new PieceBuilder(!!q.s);
          const [s, e] = span(q, 0, 1); // prepended text takes the first character's span, as tokenizers
          b.push(" ", s, e);
          b.copy(q, 0, q.text.length);
          q = b.build(q.first);
        }
        const parts = useRegex ? splitPiece(q, matchRanges(BYTE_LEVEL_REGEX, q.text), "Isolated") : [q];
        return parts.map(byteLevelMap);
      });
    }
    case "Split": {
      const re = patternOf(j.pattern, `${where} Split`);
      const behavior = j.behavior as Behavior;
      if (!["Removed", "Isolated", "MergedWithPrevious", "MergedWithNext", "Contiguous"].includes(behavior)) unsupported(`${where} Split`, `behavior ${behavior}`);
      return each((p) => splitPiece(p, matchRanges(re, p.text), behavior, !!j.invert));
    }
    case "Digits": {
      const re = j.individual_digits ? /\p{N}/gu : /\p{N}+/gu;
      return each((p) => splitPiece(p, matchRanges(re, p.text), "Isolated"));
    }
    case "Metaspace": {
      const rep: string = j.replacement ?? "▁";
      const scheme: string = j.prepend_scheme ?? (j.add_prefix_space === false ? "never" : "always");
      if (!["always", "first", "never"].includes(scheme)) unsupported(where, `Metaspace prepend_scheme ${scheme}`);
      const split = j.split !== false;
      const spaces = / /g;
      return each((p) => {
        let q = replaceNormalizer(spaces, rep)(p);
        if ((scheme === "always" || (scheme === "first" && q.first)) && !q.text.startsWith(rep) && q.text.length > 0) {
          const b = new PieceBuilder(!!q.s);
          const [s, e] = span(q, 0, 1);
          b.push(rep, s, e);
          b.copy(q, 0, q.text.length);
          q = b.build(q.first);
        }
        return split ? splitPiece(q, matchRanges(new RegExp(escapeRegex(rep), "gu"), q.text), "MergedWithNext") : [q];
      });
    }
    case "WhitespaceSplit":
      return each((p) => splitPiece(p, matchRanges(new RegExp(`[${WS}]+`, "gu"), p.text), "Removed"));
    case "Whitespace":
      return each((p) => splitPiece(p, matchRanges(/[\p{L}\p{N}\p{M}\p{Pc}]+|[^\p{L}\p{N}\p{M}\p{Pc}\s]+/gu, p.text), "Isolated", true).filter((q) => !/^\s+$/u.test(q.text)));
    default:
      unsupported(where, j.type ?? "(no type)");
  }
}

// ---------------------------------------------------------------- BPE model

/** A token of a piece: id and the units [start, end) of the piece it covers. */
export interface ModelToken {
  id: number;
  start: number;
  end: number;
}

export class BpeModel {
  readonly vocab = new Map<string, number>();
  readonly vocabR: string[] = [];
  /** (left id, right id) -> rank and merged id; key = left * stride + right. */
  private readonly merges = new Map<number, { rank: number; id: number }>();
  private readonly stride: number;
  private readonly cache = new Map<string, ModelToken[]>();
  private readonly byteIds: Int32Array | null = null;
  private readonly unkId: number | null;
  readonly fuseUnk: boolean;
  readonly ignoreMerges: boolean;

  constructor(j: Json) {
    const where = "model";
    if (j.type !== undefined && j.type !== "BPE") unsupported(where, j.type, "only BPE models are supported");
    if (j.dropout != null && j.dropout !== 0) unsupported(where, "BPE dropout", String(j.dropout));
    if (j.continuing_subword_prefix) unsupported(where, "BPE continuing_subword_prefix", j.continuing_subword_prefix);
    if (j.end_of_word_suffix) unsupported(where, "BPE end_of_word_suffix", j.end_of_word_suffix);
    let max = 0;
    for (const [tok, id] of Object.entries(j.vocab as Record<string, number>)) {
      this.vocab.set(tok, id);
      this.vocabR[id] = tok;
      max = Math.max(max, id);
    }
    this.stride = max + 1;
    (j.merges as Array<string | [string, string]>).forEach((m, rank) => {
      let a: string, b: string;
      if (typeof m === "string") {
        const sp = m.indexOf(" ", 1);
        a = m.slice(0, sp);
        b = m.slice(sp + 1);
      } else [a, b] = m;
      const ia = this.vocab.get(a);
      const ib = this.vocab.get(b);
      const id = this.vocab.get(a + b);
      if (ia === undefined || ib === undefined || id === undefined) throw new HfTokenizerError(`tokenizer.json: model.merges[${rank}] "${a} ${b}" names a token outside the vocabulary`);
      const key = ia * this.stride + ib;
      if (!this.merges.has(key)) this.merges.set(key, { rank, id });
    });
    this.unkId = j.unk_token != null ? (this.vocab.get(j.unk_token) ?? null) : null;
    this.fuseUnk = !!j.fuse_unk;
    this.ignoreMerges = !!j.ignore_merges;
    if (j.byte_fallback) {
      const ids = new Int32Array(256);
      for (let b = 0; b < 256; b++) ids[b] = this.vocab.get(`<0x${b.toString(16).toUpperCase().padStart(2, "0")}>`) ?? -1;
      this.byteIds = ids;
    }
  }

  get size(): number {
    return this.stride;
  }

  tokenize(word: string): ModelToken[] {
    const hit = this.cache.get(word);
    if (hit) return hit;
    const out = this.tokenizeUncached(word);
    if (word.length > 256) return out; // a whole text (no pre-tokenizer) would only crowd the cache
    if (this.cache.size >= 10_000) this.cache.clear();
    this.cache.set(word, out);
    return out;
  }

  private tokenizeUncached(word: string): ModelToken[] {
    if (this.ignoreMerges) {
      const id = this.vocab.get(word);
      if (id !== undefined) return [{ id, start: 0, end: word.length }];
    }
    // initial symbols: characters, byte-fallback tokens or the unknown token
    const ids: number[] = [];
    const st: number[] = [];
    const en: number[] = [];
    let k = 0;
    let prevUnk = false;
    for (const ch of word) {
      const id = this.vocab.get(ch);
      const s = k;
      k += ch.length;
      if (id !== undefined) {
        ids.push(id), st.push(s), en.push(k);
        prevUnk = false;
        continue;
      }
      if (this.byteIds) {
        const bytes = utf8.encode(ch);
        if (Array.from(bytes).every((b) => this.byteIds![b] >= 0)) {
          for (const b of bytes) ids.push(this.byteIds[b]), st.push(s), en.push(k);
          prevUnk = false;
          continue;
        }
      }
      if (this.unkId !== null) {
        if (this.fuseUnk && prevUnk) en[en.length - 1] = k;
        else ids.push(this.unkId), st.push(s), en.push(k);
        prevUnk = true;
      }
    }
    const n = ids.length;
    if (n < 2) return ids.map((id, i) => ({ id, start: st[i], end: en[i] }));
    // merges, lowest rank first and leftmost among equals (tokenizers' Word::merge_all)
    const prev = new Int32Array(n);
    const next = new Int32Array(n);
    const alive = new Uint8Array(n).fill(1);
    for (let i = 0; i < n; i++) (prev[i] = i - 1), (next[i] = i + 1 < n ? i + 1 : -1);
    const heap = new MergeHeap();
    const consider = (i: number) => {
      const jn = next[i];
      if (jn < 0) return;
      const m = this.merges.get(ids[i] * this.stride + ids[jn]);
      if (m) heap.push(m.rank, i, m.id);
    };
    for (let i = 0; i + 1 < n; i++) consider(i);
    for (;;) {
      const top = heap.pop();
      if (!top) break;
      const i = top.pos;
      if (!alive[i]) continue;
      const jn = next[i];
      if (jn < 0) continue;
      const m = this.merges.get(ids[i] * this.stride + ids[jn]);
      if (!m || m.id !== top.id) continue;
      ids[i] = m.id;
      en[i] = en[jn];
      alive[jn] = 0;
      next[i] = next[jn];
      if (next[jn] >= 0) prev[next[jn]] = i;
      if (prev[i] >= 0) consider(prev[i]);
      consider(i);
    }
    const out: ModelToken[] = [];
    for (let i = 0; i >= 0; i = next[i]) out.push({ id: ids[i], start: st[i], end: en[i] });
    return out;
  }
}

/** Min-heap of (rank, position): the lowest rank, then the leftmost, merges first. */
class MergeHeap {
  private r: number[] = [];
  private p: number[] = [];
  private id: number[] = [];
  private less(a: number, b: number): boolean {
    return this.r[a] < this.r[b] || (this.r[a] === this.r[b] && this.p[a] < this.p[b]);
  }
  private swap(a: number, b: number): void {
    [this.r[a], this.r[b]] = [this.r[b], this.r[a]];
    [this.p[a], this.p[b]] = [this.p[b], this.p[a]];
    [this.id[a], this.id[b]] = [this.id[b], this.id[a]];
  }
  push(rank: number, pos: number, id: number): void {
    this.r.push(rank), this.p.push(pos), this.id.push(id);
    let i = this.r.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.less(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): { rank: number; pos: number; id: number } | undefined {
    if (!this.r.length) return undefined;
    const out = { rank: this.r[0], pos: this.p[0], id: this.id[0] };
    const r = this.r.pop()!;
    const p = this.p.pop()!;
    const id = this.id.pop()!;
    if (this.r.length) {
      this.r[0] = r;
      this.p[0] = p;
      this.id[0] = id;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        let m = i;
        if (l < this.r.length && this.less(l, m)) m = l;
        if (l + 1 < this.r.length && this.less(l + 1, m)) m = l + 1;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return out;
  }
}

// ---------------------------------------------------------------- decoders

/** A decoder maps the list of token strings to a new list (tokenizers' decode_chain). */
export type Decoder = (tokens: string[]) => string[];

const utf8Lossy = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });
const utf8Strict = new TextDecoder("utf-8", { fatal: true, ignoreBOM: true });

export function buildDecoder(j: Json | null | undefined, where = "decoder"): Decoder | null {
  if (!j) return null;
  switch (j.type) {
    case "Sequence": {
      const parts = (j.decoders as Json[]).map((d, i) => buildDecoder(d, `${where}.decoders[${i}]`)).filter((d): d is Decoder => !!d);
      return (tokens) => parts.reduce((t, d) => d(t), tokens);
    }
    case "ByteLevel":
      return (tokens) => {
        const bytes: number[] = [];
        for (const t of tokens) {
          const mapped: number[] = [];
          let ok = true;
          for (const ch of t) {
            const b = CHAR_BYTE.get(ch);
            if (b === undefined) {
              ok = false;
              break;
            }
            mapped.push(b);
          }
          if (ok) for (const b of mapped) bytes.push(b);
          else for (const b of utf8.encode(t)) bytes.push(b);
        }
        return [utf8Lossy.decode(Uint8Array.from(bytes))];
      };
    case "Replace": {
      const re = patternOf(j.pattern, `${where} Replace`);
      return (tokens) => tokens.map((t) => t.replace(re, () => j.content));
    }
    case "ByteFallback":
      return (tokens) => {
        const out: string[] = [];
        let pending: number[] = [];
        const flush = () => {
          if (!pending.length) return;
          try {
            out.push(utf8Strict.decode(Uint8Array.from(pending)));
          } catch {
            for (let i = 0; i < pending.length; i++) out.push("\uFFFD");
          }
          pending = [];
        };
        for (const t of tokens) {
          const m = /^<0x([0-9A-Fa-f]{2})>$/.exec(t);
          if (m) pending.push(parseInt(m[1], 16));
          else (flush(), out.push(t));
        }
        flush();
        return out;
      };
    case "Fuse":
      return (tokens) => [tokens.join("")];
    case "Strip": {
      const content: string = j.content;
      return (tokens) =>
        tokens.map((t) => {
          const chars = [...t];
          let a = 0;
          while (a < j.start && a < chars.length && chars[a] === content) a++;
          let b = chars.length;
          while (chars.length - b < j.stop && b > a && chars[b - 1] === content) b--;
          return chars.slice(a, b).join("");
        });
    }
    case "Metaspace": {
      const rep: string = j.replacement ?? "▁";
      const scheme: string = j.prepend_scheme ?? (j.add_prefix_space === false ? "never" : "always");
      // as tokenizers: in the first token every replacement character goes (not only a leading one)
      return (tokens) => tokens.map((t, i) => t.split(rep).join(i === 0 && scheme !== "never" ? "" : " "));
    }
    default:
      unsupported(where, j.type ?? "(no type)");
  }
}
