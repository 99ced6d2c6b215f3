// A byte-level BPE that Hearth trained (gpu/tokenizer/bpe.ts trainBpe) written as a Hugging Face
// tokenizer: tokenizer.json (BPE model with GPT-2's byte-to-unicode vocabulary and its merges in
// rank order, ByteLevel pre-tokenizer and decoder), tokenizer_config.json and the end-of-text token,
// so a model pre-trained from random weights leaves Hearth as a folder transformers loads.

import { BytePairTokenizer, gpt2ByteToUnicode } from "./bpe";

/** The end-of-text token added after the vocabulary: documents are separated with it, generation stops at it. */
export const HF_EXPORT_EOS = "<|endoftext|>";

const keyOf = (b: Uint8Array, s = 0, e = b.length) => String.fromCharCode(...b.subarray(s, e));

/**
 * The two tokens each merged token is made of: BPE on its bytes with only the tokens ranked below it,
 * which is the pair trainBpe merged (every token it learns is reachable this way).
 */
function mergePairs(tokens: readonly Uint8Array[]): Array<[number, number]> {
  const rank = new Map<string, number>();
  tokens.forEach((t, id) => rank.has(keyOf(t)) || rank.set(keyOf(t), id));
  const pairs: Array<[number, number]> = [];
  for (let id = 256; id < tokens.length; id++) {
    const bytes = tokens[id];
    const starts = Array.from({ length: bytes.length + 1 }, (_, i) => i);
    while (starts.length > 3) {
      let best = -1;
      let bestRank = Infinity;
      for (let i = 0; i + 2 < starts.length; i++) {
        const r = rank.get(keyOf(bytes, starts[i], starts[i + 2]));
        if (r !== undefined && r < id && r < bestRank) {
          bestRank = r;
          best = i;
        }
      }
      if (best < 0) throw new Error(`hfTokenizerFiles: token ${id} cannot be built from lower-ranked tokens; not a trained BPE vocabulary`);
      starts.splice(best + 1, 1);
    }
    if (starts.length !== 3) throw new Error(`hfTokenizerFiles: token ${id} is a single byte after byte 255`);
    pairs.push([rank.get(keyOf(bytes, starts[0], starts[1]))!, rank.get(keyOf(bytes, starts[1], starts[2]))!]);
  }
  return pairs;
}

/** tokenizer.json, tokenizer_config.json and the end-of-text id for a Hearth-trained byte-level BPE. */
export function hfTokenizerFiles(tok: BytePairTokenizer): { tokenizerJson: Record<string, unknown>; tokenizerConfig: Record<string, unknown>; eosId: number } {
  const tokens = tok.tokens;
  for (let b = 0; b < 256; b++) if (tokens[b].length !== 1 || tokens[b][0] !== b) throw new Error("hfTokenizerFiles: ids 0-255 must be the single bytes, in order (as trainBpe makes them)");
  const u = gpt2ByteToUnicode();
  const str = (t: Uint8Array) => Array.from(t, (b) => u[b]).join("");
  const vocab: Record<string, number> = {};
  tokens.forEach((t, id) => {
    if (vocab[str(t)] === undefined) vocab[str(t)] = id;
  });
  const merges = mergePairs(tokens).map(([a, b]) => [str(tokens[a]), str(tokens[b])]);
  const eosId = tokens.length;
  const byteLevel = { type: "ByteLevel", add_prefix_space: false, trim_offsets: true, use_regex: true };
  return {
    eosId,
    tokenizerJson: {
      version: "1.0",
      truncation: null,
      padding: null,
      added_tokens: [{ id: eosId, content: HF_EXPORT_EOS, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true }],
      normalizer: null,
      pre_tokenizer: byteLevel,
      post_processor: byteLevel,
      decoder: byteLevel,
      // ignore_merges: a whole word in the vocabulary is one token, as Hearth's (tiktoken-style) encoder does
      model: { type: "BPE", dropout: null, unk_token: null, continuing_subword_prefix: null, end_of_word_suffix: null, fuse_unk: false, byte_fallback: false, ignore_merges: true, vocab, merges },
    },
    tokenizerConfig: { tokenizer_class: "PreTrainedTokenizerFast", bos_token: null, eos_token: HF_EXPORT_EOS, pad_token: HF_EXPORT_EOS, unk_token: null, model_max_length: 1_000_000, clean_up_tokenization_spaces: false, add_prefix_space: false },
  };
}
