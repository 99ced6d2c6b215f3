// A byte-level BPE trained by Hearth, written as a Hugging Face tokenizer (gpu/tokenizer/hf-export.ts):
// transformers' AutoTokenizer loads it and gives the ids Hearth's own encoder gives, decodes them back
// to the text, and names the end-of-text token; Hearth's HfTokenizer reads the same files alike.
import { describe, expect, it } from "vitest";
import { trainBpe } from "../../gpu/tokenizer/bpe";
import { hfTokenizerFiles, HF_EXPORT_EOS } from "../../gpu/tokenizer/hf-export";
import { loadHfTokenizer } from "../../gpu/tokenizer/hf-tokenizer";
import { oracleOrSkip, runOracle } from "../support/oracle";

const CORPUS = [
  "The refund window is thirty days from delivery; after that, store credit only.",
  "Shipping takes five working days, or two with express (it's 4.99 extra).",
  "Hello! How can I help you today?   Tabs\tand\nnew lines, émojis 🙂 and ünïcode too.",
].join("\n").repeat(30);
const TEXTS = ["The refund window is thirty days.", "  leading spaces, 12345 digits, don't stop", "émojis 🙂 mid-word: abc🙂def", "unseen words: zyxwvut qqq", ""];

describe.skipIf(!oracleOrSkip())("a Hearth-trained tokenizer as a Hugging Face tokenizer", () => {
  it("encodes and decodes in transformers as Hearth does", () => {
    const bpe = trainBpe(CORPUS, 600);
    const files = hfTokenizerFiles(bpe);
    const out = JSON.parse(runOracle("tokenizer_export.py", [], { input: JSON.stringify({ tokenizer_json: files.tokenizerJson, tokenizer_config: files.tokenizerConfig, texts: TEXTS }) }).stdout);
    expect(out.ids).toEqual(TEXTS.map((t) => bpe.encode(t)));
    expect(out.decoded).toEqual(TEXTS);
    expect(out.eos).toBe(files.eosId);
    const hf = loadHfTokenizer({ tokenizerJson: files.tokenizerJson as never, tokenizerConfig: files.tokenizerConfig as never });
    expect(TEXTS.map((t) => hf.encode(t))).toEqual(out.ids);
    expect(hf.tokenToId(HF_EXPORT_EOS)).toBe(files.eosId);
    expect(hf.stopTokenIds).toEqual([files.eosId]);
  });
});
