// Synthetic byte-level tokenizer.json files for tests and benchmarks that need no oracle: a tiny one
// and one with a vocabulary as large as Llama 3's, trained greedily on a page of text.
import { gpt2ByteToUnicode } from "../../gpu/tokenizer";

export const BYTE_CHARS = gpt2ByteToUnicode();

export function byteLevelJson(vocab: Record<string, number>, merges: Array<[string, string]>, over: Record<string, unknown> = {}) {
  return {
    version: "1.0",
    added_tokens: [{ id: Object.keys(vocab).length, content: "<|eot|>", special: true, lstrip: false, rstrip: false, normalized: false, single_word: false }],
    normalizer: null,
    pre_tokenizer: { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true },
    post_processor: null,
    decoder: { type: "ByteLevel", add_prefix_space: true, trim_offsets: true, use_regex: true },
    model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: false, vocab, merges },
    ...over,
  };
}

export function tinyVocab() {
  const vocab: Record<string, number> = {};
  BYTE_CHARS.forEach((c) => (vocab[c] = Object.keys(vocab).length));
  const merges: Array<[string, string]> = [
    ["h", "e"],
    ["l", "l"],
    ["he", "ll"],
    ["hell", "o"],
    ["Ġ", "w"],
  ];
  for (const [a, b] of merges) vocab[a + b] = Object.keys(vocab).length;
  return { vocab, merges };
}

/**
 * A byte-level vocabulary of `size` tokens: first the merges that build every word of `text` left to
 * right (so real merging happens), then random pairs up to the size (a 128k table to search).
 */
export function bigVocab(size: number, text: string) {
  const vocab: Record<string, number> = {};
  const merges: Array<[string, string]> = [];
  const tokens = [...BYTE_CHARS];
  BYTE_CHARS.forEach((c, i) => (vocab[c] = i));
  const add = (a: string, b: string) => {
    if (vocab[a + b] !== undefined) return;
    vocab[a + b] = tokens.length;
    tokens.push(a + b);
    merges.push([a, b]);
  };
  const enc = new TextEncoder();
  for (const w of text.match(/ ?\p{L}+/gu) ?? []) {
    const chars = Array.from(enc.encode(w), (b) => BYTE_CHARS[b]);
    let acc = chars[0];
    for (const c of chars.slice(1)) (add(acc, c), (acc += c));
  }
  let seed = 12345;
  const rand = () => {
    // mulberry32
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
  while (tokens.length < size) {
    const a = tokens[Math.floor(rand() * tokens.length)];
    const b = tokens[Math.floor(rand() * tokens.length)];
    if (a.length + b.length <= 16) add(a, b);
  }
  return { vocab, merges };
}

export const PAGE = Array.from({ length: 40 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog, then reads ${i * 37} pages of "Moby-Dick" — naïve café.`).join("\n");
