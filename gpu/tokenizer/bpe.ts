// Byte-level BPE: one encoder for GPT-2's ranks and for vocabularies Hearth trains on a corpus.
// A vocabulary is a list of byte strings (token id = index = merge rank, as in tiktoken); a word
// is split into bytes and the adjacent pair whose concatenation has the lowest id merges first.

/** GPT-2's pre-tokenization: contractions, letters, numbers, other symbols, whitespace runs. */
export const GPT2_SPLIT_REGEX = /'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+/gu;

export class TokenizerError extends Error {}

export interface TokenizerJSON {
  type: "byte-bpe";
  version: 1;
  /** Token bytes as hex, id = index. */
  tokens: string[];
  special?: Record<string, number>;
}

const utf8 = new TextEncoder();
const utf8Decoder = new TextDecoder("utf-8", { fatal: false, ignoreBOM: true });

function keyOf(bytes: Uint8Array, start = 0, end = bytes.length): string {
  let s = "";
  for (let i = start; i < end; i++) s += String.fromCharCode(bytes[i]);
  return s;
}

function toHex(b: Uint8Array): string {
  let s = "";
  for (const x of b) s += x.toString(16).padStart(2, "0");
  return s;
}

function fromHex(h: string): Uint8Array {
  if (h.length % 2 !== 0 || /[^0-9a-f]/i.test(h)) throw new TokenizerError(`tokenizer JSON: "${h.slice(0, 20)}" is not a hex byte string`);
  const out = new Uint8Array(h.length / 2);
  for (let i = 0; i < out.length; i++) out[i] = parseInt(h.slice(2 * i, 2 * i + 2), 16);
  return out;
}

export class BytePairTokenizer {
  private readonly rank = new Map<string, number>();
  private readonly cache = new Map<string, number[]>();
  private readonly specialById = new Map<number, string>();

  constructor(
    /** Token bytes, id = index; every single byte must be present. */
    readonly tokens: Uint8Array[],
    readonly special: Record<string, number> = {},
    private readonly split: RegExp = GPT2_SPLIT_REGEX,
  ) {
    tokens.forEach((t, id) => {
      const k = keyOf(t);
      if (!this.rank.has(k)) this.rank.set(k, id);
    });
    for (let b = 0; b < 256; b++) {
      if (!this.rank.has(String.fromCharCode(b))) throw new TokenizerError(`tokenizer: byte ${b} has no token; a byte-level vocabulary needs all 256`);
    }
    for (const [s, id] of Object.entries(special)) this.specialById.set(id, s);
  }

  get vocabSize(): number {
    let n = this.tokens.length;
    for (const id of Object.values(this.special)) n = Math.max(n, id + 1);
    return n;
  }

  /** GPT-2/tiktoken rank data: entry i is token i as a string (its UTF-8 bytes) or a byte array. */
  static fromRanks(ranks: ReadonlyArray<string | readonly number[]>, special: Record<string, number> = {}): BytePairTokenizer {
    return new BytePairTokenizer(
      ranks.map((r) => (typeof r === "string" ? utf8.encode(r) : Uint8Array.from(r))),
      special,
    );
  }

  static fromJSON(json: TokenizerJSON): BytePairTokenizer {
    if (!json || json.type !== "byte-bpe" || !Array.isArray(json.tokens)) throw new TokenizerError('tokenizer JSON: expected {type: "byte-bpe", tokens: [...]}');
    return new BytePairTokenizer(json.tokens.map(fromHex), json.special ?? {});
  }

  toJSON(): TokenizerJSON {
    return { type: "byte-bpe", version: 1, tokens: this.tokens.map(toHex), special: { ...this.special } };
  }

  encode(text: string): number[] {
    const out: number[] = [];
    for (const m of text.matchAll(this.split)) {
      const piece = m[0];
      let ids = this.cache.get(piece);
      if (!ids) {
        ids = this.encodeWord(utf8.encode(piece));
        if (this.cache.size < 50_000) this.cache.set(piece, ids);
      }
      for (const id of ids) out.push(id);
    }
    return out;
  }

  /** Merges the lowest-ranked adjacent pair until none is in the vocabulary. */
  encodeWord(bytes: Uint8Array): number[] {
    const whole = this.rank.get(keyOf(bytes));
    if (whole !== undefined) return [whole];
    // part boundaries: part i spans bytes[starts[i] .. starts[i+1])
    const starts = Array.from({ length: bytes.length + 1 }, (_, i) => i);
    for (;;) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 2 < starts.length; i++) {
        const r = this.rank.get(keyOf(bytes, starts[i], starts[i + 2]));
        if (r !== undefined && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) break;
      starts.splice(best + 1, 1);
    }
    const ids: number[] = [];
    for (let i = 0; i + 1 < starts.length; i++) ids.push(this.rank.get(keyOf(bytes, starts[i], starts[i + 1]))!);
    return ids;
  }

  decodeBytes(ids: ArrayLike<number>): Uint8Array {
    const parts: Uint8Array[] = [];
    let n = 0;
    for (let i = 0; i < ids.length; i++) {
      const id = ids[i];
      const sp = this.specialById.get(id);
      const b = sp !== undefined ? utf8.encode(sp) : this.tokens[id];
      if (!b) throw new TokenizerError(`decode: token id ${id} is outside the vocabulary (size ${this.vocabSize})`);
      parts.push(b);
      n += b.length;
    }
    const out = new Uint8Array(n);
    let o = 0;
    for (const p of parts) {
      out.set(p, o);
      o += p.length;
    }
    return out;
  }

  decode(ids: ArrayLike<number>): string {
    return utf8Decoder.decode(this.decodeBytes(ids));
  }
}

// ---------- GPT-2's byte <-> unicode map (the form of its encoder.json and merges.txt) ----------

/** GPT-2's bytes_to_unicode: printable bytes map to themselves, the rest to code points from 256. */
export function gpt2ByteToUnicode(): string[] {
  const bs: number[] = [];
  for (let b = 33; b <= 126; b++) bs.push(b);
  for (let b = 161; b <= 172; b++) bs.push(b);
  for (let b = 174; b <= 255; b++) bs.push(b);
  const map: string[] = new Array(256);
  for (const b of bs) map[b] = String.fromCharCode(b);
  let n = 0;
  for (let b = 0; b < 256; b++) if (map[b] === undefined) map[b] = String.fromCharCode(256 + n++);
  return map;
}

/** A tokenizer from GPT-2's encoder.json ({token-in-byte-unicode-form: id}). */
export function gpt2FromEncoderJson(encoder: Record<string, number>): BytePairTokenizer {
  const inv = new Map(gpt2ByteToUnicode().map((ch, b) => [ch, b]));
  const tokens: Uint8Array[] = [];
  const special: Record<string, number> = {};
  for (const [s, id] of Object.entries(encoder)) {
    const chars = [...s];
    if (chars.every((c) => inv.has(c))) tokens[id] = Uint8Array.from(chars, (c) => inv.get(c)!);
    else special[s] = id;
  }
  if (tokens.some((t) => t === undefined) || tokens.length === 0) throw new TokenizerError("gpt2FromEncoderJson: token ids are not contiguous");
  return new BytePairTokenizer(tokens, special);
}

/** GPT-2's end-of-text id. */
export const GPT2_EOT = 50256;

// ---------- training ----------

/**
 * Trains a byte-level BPE on `text` until `vocabSize` tokens (256 bytes + merges). Deterministic:
 * the most frequent pair wins, ties go to the smallest (left, right) ids. Merges never cross
 * GPT-2 pre-tokenization boundaries.
 */
export function trainBpe(text: string, vocabSize: number): BytePairTokenizer {
  if (!Number.isInteger(vocabSize) || vocabSize < 256) throw new TokenizerError(`trainBpe: vocabSize must be an integer >= 256, got ${vocabSize}`);
  const tokens: Uint8Array[] = Array.from({ length: 256 }, (_, b) => Uint8Array.of(b));
  const counts = new Map<string, number>();
  for (const m of text.matchAll(GPT2_SPLIT_REGEX)) counts.set(m[0], (counts.get(m[0]) ?? 0) + 1);
  const words: Array<{ ids: number[]; n: number }> = [];
  for (const [w, n] of counts) words.push({ ids: Array.from(utf8.encode(w)), n });
  const known = new Map<string, number>(tokens.map((t, i) => [keyOf(t), i]));
  // Pair counts kept incrementally: a merge only revisits the words that contain its pair.
  const K = 1 << 20; // pair key = left * K + right (ids stay below 2^20)
  const pairCount = new Map<number, number>();
  const pairWords = new Map<number, Set<number>>();
  const heap = new PairHeap();
  const addWord = (wi: number, sign: 1 | -1) => {
    const { ids, n } = words[wi];
    for (let i = 0; i + 1 < ids.length; i++) {
      const k = ids[i] * K + ids[i + 1];
      const c = (pairCount.get(k) ?? 0) + sign * n;
      pairCount.set(k, c);
      if (sign > 0) {
        let set = pairWords.get(k);
        if (!set) pairWords.set(k, (set = new Set()));
        set.add(wi);
      }
      if (c > 0) heap.push(c, k);
    }
  };
  words.forEach((_, wi) => addWord(wi, 1));
  while (tokens.length < vocabSize) {
    let best = -1;
    for (;;) {
      const top = heap.pop();
      if (!top) break;
      if (pairCount.get(top.key) === top.count && top.count > 0) {
        best = top.key;
        break;
      }
    }
    if (best < 0) break;
    const a = Math.floor(best / K);
    const b = best % K;
    const bytes = new Uint8Array(tokens[a].length + tokens[b].length);
    bytes.set(tokens[a]);
    bytes.set(tokens[b], tokens[a].length);
    let id = known.get(keyOf(bytes));
    if (id === undefined) {
      id = tokens.length;
      tokens.push(bytes);
      known.set(keyOf(bytes), id);
    }
    for (const wi of [...(pairWords.get(best) ?? [])].sort((x, y) => x - y)) {
      const ids = words[wi].ids;
      addWord(wi, -1);
      const next: number[] = [];
      for (let i = 0; i < ids.length; i++) {
        if (i + 1 < ids.length && ids[i] === a && ids[i + 1] === b) {
          next.push(id);
          i++;
        } else next.push(ids[i]);
      }
      words[wi].ids = next;
      addWord(wi, 1);
    }
    pairWords.delete(best);
  }
  return new BytePairTokenizer(tokens);
}

/** Max-heap of (count, pair key): higher count first, then the smaller key (deterministic ties). */
class PairHeap {
  private c: number[] = [];
  private k: number[] = [];
  private before(i: number, j: number): boolean {
    return this.c[i] > this.c[j] || (this.c[i] === this.c[j] && this.k[i] < this.k[j]);
  }
  private swap(i: number, j: number): void {
    [this.c[i], this.c[j]] = [this.c[j], this.c[i]];
    [this.k[i], this.k[j]] = [this.k[j], this.k[i]];
  }
  push(count: number, key: number): void {
    this.c.push(count);
    this.k.push(key);
    let i = this.c.length - 1;
    while (i > 0) {
      const parent = (i - 1) >> 1;
      if (!this.before(i, parent)) break;
      this.swap(i, parent);
      i = parent;
    }
  }
  pop(): { count: number; key: number } | undefined {
    if (this.c.length === 0) return undefined;
    const out = { count: this.c[0], key: this.k[0] };
    const lastC = this.c.pop()!;
    const lastK = this.k.pop()!;
    if (this.c.length) {
      this.c[0] = lastC;
      this.k[0] = lastK;
      let i = 0;
      for (;;) {
        const l = 2 * i + 1;
        const r = l + 1;
        let m = i;
        if (l < this.c.length && this.before(l, m)) m = l;
        if (r < this.c.length && this.before(r, m)) m = r;
        if (m === i) break;
        this.swap(i, m);
        i = m;
      }
    }
    return out;
  }
}
