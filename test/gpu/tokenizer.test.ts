// Byte-level BPE: GPT-2 parity against gpt-tokenizer's r50k_base, round trips, and training.

import { describe, expect, it } from "vitest";
import ranks from "gpt-tokenizer/esm/bpeRanks/r50k_base";
import { encode as refEncode } from "gpt-tokenizer/encoding/r50k_base";
import { BytePairTokenizer, GPT2_EOT, gpt2ByteToUnicode, gpt2FromEncoderJson, trainBpe, TokenizerError } from "../../gpu/tokenizer";

const SAMPLES = [
  "Hello, world! It's a test: we're sure they'll say I'd've done it.",
  "Unicode: naïve café, Größe, 東京タワー, Привет мир, مرحبا, 한국어 텍스트.",
  "Emoji 🚀🔥👩‍👩‍👧‍👦 and flags 🇫🇷 mixed with text😀.",
  "Numbers 3.14159, 1,000,000 and 2026-11-22 plus 0x7fff and 1e-9.",
  "function add(a, b) {\n\treturn a + b; // sum\n}\n\nconst x = [1, 2, 3].map((v) => v ** 2);",
  "   leading spaces,\t\ttabs,\n\n\nnewlines   and trailing    ",
  "DON'T SHOUT'S 'quoted' ''double'' can't won't isn't",
  "def f(x):\n    if x:\n        return {'k': x}\n    return None\n",
  "",
  " ",
  "a",
  "\u0000\u0001 control \u007f bytes and \ufffd replacement",
];

describe("GPT-2 BPE", () => {
  const gpt2 = BytePairTokenizer.fromRanks(ranks, { "<|endoftext|>": GPT2_EOT });

  it("matches gpt-tokenizer's r50k_base encoding on a varied sample", () => {
    expect(gpt2.vocabSize).toBe(50257);
    for (const text of SAMPLES) expect(gpt2.encode(text), JSON.stringify(text)).toEqual(refEncode(text));
    const all = SAMPLES.join("\n");
    expect(gpt2.encode(all)).toEqual(refEncode(all));
  });

  it("round-trips text through encode and decode", () => {
    for (const text of SAMPLES) expect(gpt2.decode(gpt2.encode(text))).toBe(text);
    expect(gpt2.decode([GPT2_EOT])).toBe("<|endoftext|>");
  });

  it("loads the encoder.json form through GPT-2's byte-to-unicode map", () => {
    const map = gpt2ByteToUnicode();
    expect(map[32]).toBe("\u0120");
    expect(new Set(map).size).toBe(256);
    const encoder: Record<string, number> = {};
    gpt2.tokens.forEach((t, id) => (encoder[Array.from(t, (b) => map[b]).join("")] = id));
    encoder["<|endoftext|>"] = GPT2_EOT;
    const fromJson = gpt2FromEncoderJson(encoder);
    expect(fromJson.encode(SAMPLES[4])).toEqual(refEncode(SAMPLES[4]));
  });

  it("rejects ids outside the vocabulary with a clear error", () => {
    expect(() => gpt2.decode([60000])).toThrow(/outside the vocabulary/);
  });
});

describe("trained byte-level BPE", () => {
  const corpus = Array.from({ length: 40 }, (_, i) => `the quick brown fox ${i} jumps over the lazy dog; the dog sleeps.\n`).join("");

  it("compresses its training text and round-trips it", () => {
    const tok = trainBpe(corpus, 320);
    expect(tok.vocabSize).toBe(320);
    const ids = tok.encode(corpus);
    expect(ids.length).toBeLessThan(new TextEncoder().encode(corpus).length / 2.5);
    expect(tok.decode(ids)).toBe(corpus);
    const other = "unseen text: émoji 🚀 and\ttabs";
    expect(tok.decode(tok.encode(other))).toBe(other);
  });

  it("is deterministic and survives JSON", () => {
    const a = trainBpe(corpus, 300);
    const b = trainBpe(corpus, 300);
    expect(a.toJSON()).toEqual(b.toJSON());
    const c = BytePairTokenizer.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    expect(c.encode(corpus)).toEqual(a.encode(corpus));
    expect(() => BytePairTokenizer.fromJSON({ type: "nope" } as never)).toThrow(TokenizerError);
  });
});
