// The Hugging Face tokenizer loader without the oracle: refusals by name, speed on a 128k
// vocabulary, offsets, the pattern translation and strftime. (Identity with transformers is held
// by test/oracle/tokenizers.test.ts.)
import { describe, expect, it } from "vitest";
import { ChatTemplateError, HfTokenizerError, gpt2ByteToUnicode, loadHfTokenizer, strftime, translateRegex } from "../../gpu/tokenizer";

const BYTE_CHARS = gpt2ByteToUnicode();

function byteLevelJson(vocab: Record<string, number>, merges: Array<[string, string]>, over: Record<string, unknown> = {}) {
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

function tinyVocab() {
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
function bigVocab(size: number, text: string) {
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

const PAGE = Array.from({ length: 40 }, (_, i) => `Line ${i}: the quick brown fox jumps over the lazy dog, then reads ${i * 37} pages of "Moby-Dick" — naïve café.`).join("\n");

describe("loadHfTokenizer", () => {
  it("merges by rank and decodes back", () => {
    const { vocab, merges } = tinyVocab();
    const tok = loadHfTokenizer({ tokenizerJson: byteLevelJson(vocab, merges) });
    const ids = tok.encode("hello world<|eot|>");
    expect(ids[0]).toBe(vocab.hello);
    expect(ids[1]).toBe(vocab["Ġw"]);
    expect(ids[ids.length - 1]).toBe(tok.tokenToId("<|eot|>"));
    expect(tok.decode(ids)).toBe("hello world<|eot|>");
    expect(tok.decode(ids, { skipSpecialTokens: true })).toBe("hello world");
  });

  it("adds the post-processor's tokens around a long document", () => {
    const { vocab, merges } = tinyVocab();
    const eot = Object.keys(vocab).length;
    const post = { type: "TemplateProcessing", single: [{ SpecialToken: { id: "<|eot|>", type_id: 0 } }, { Sequence: { id: "A", type_id: 0 } }, { SpecialToken: { id: "<|eot|>", type_id: 0 } }], pair: [], special_tokens: { "<|eot|>": { id: "<|eot|>", ids: [eot], tokens: ["<|eot|>"] } } };
    const tok = loadHfTokenizer({ tokenizerJson: byteLevelJson(vocab, merges, { post_processor: post }) });
    const text = "hello world, ".repeat(40_000);
    const ids = tok.encode(text);
    expect(ids[0]).toBe(eot);
    expect(ids[ids.length - 1]).toBe(eot);
    expect(ids.length).toBe(tok.encode(text, { addSpecialTokens: false }).length + 2);
    expect(tok.encodeWithOffsets(text).offsets).toHaveLength(ids.length);
  });

  it("gives each token its span of the input", () => {
    const { vocab, merges } = tinyVocab();
    const tok = loadHfTokenizer({ tokenizerJson: byteLevelJson(vocab, merges) });
    const text = "hello é👍 world<|eot|>";
    const { ids, offsets } = tok.encodeWithOffsets(text);
    expect(ids).toEqual(tok.encode(text));
    expect(offsets[0]).toEqual([0, 5]);
    // every byte token of "é" and "👍" points at the whole character
    const eIdx = offsets.findIndex(([s]) => s === 6);
    expect(offsets[eIdx]).toEqual([6, 7]);
    expect(offsets.filter(([s, e]) => s === 7 && e === 9)).toHaveLength(4);
    expect(offsets[offsets.length - 1]).toEqual([text.length - 7, text.length]);
  });

  it("encodes a page with a 128k vocabulary in milliseconds", () => {
    const { vocab, merges } = bigVocab(128_000, PAGE);
    let t0 = performance.now();
    const tok = loadHfTokenizer({ tokenizerJson: byteLevelJson(vocab, merges) });
    const loadMs = performance.now() - t0;
    t0 = performance.now();
    const ids = tok.encode(PAGE);
    const coldMs = performance.now() - t0;
    t0 = performance.now();
    tok.encode(PAGE.toUpperCase() + PAGE);
    const secondMs = performance.now() - t0;
    console.log(`128k vocab: load ${loadMs.toFixed(0)} ms, a page (${PAGE.length} chars, ${ids.length} tokens) ${coldMs.toFixed(1)} ms cold, two pages ${secondMs.toFixed(1)} ms`);
    expect(tok.decode(ids)).toBe(PAGE);
    expect(ids.length).toBeLessThan(PAGE.length / 2);
    expect(coldMs).toBeLessThan(250); // typically a few ms; generous for a shared CI machine
  });

  it("refuses what it does not implement, by name", () => {
    const { vocab, merges } = tinyVocab();
    const base = byteLevelJson(vocab, merges);
    const refusals: Array<[Record<string, unknown>, RegExp]> = [
      [{ model: { type: "Unigram", vocab: [] } }, /model "Unigram" is not supported/],
      [{ model: { ...base.model, type: "WordPiece" } }, /model "WordPiece"/],
      [{ model: { ...base.model, dropout: 0.1 } }, /BPE dropout/],
      [{ model: { ...base.model, continuing_subword_prefix: "##" } }, /continuing_subword_prefix/],
      [{ normalizer: { type: "Precompiled", precompiled_charsmap: "" } }, /normalizer "Precompiled"/],
      [{ normalizer: { type: "Sequence", normalizers: [{ type: "NFC" }, { type: "BertNormalizer" }] } }, /normalizer\.normalizers\[1\] "BertNormalizer"/],
      [{ pre_tokenizer: { type: "BertPreTokenizer" } }, /pre_tokenizer "BertPreTokenizer"/],
      [{ pre_tokenizer: { type: "Split", pattern: { Regex: "\\p{L}++" }, behavior: "Isolated", invert: false } }, /possessive quantifier/],
      [{ decoder: { type: "WordPiece", prefix: "##" } }, /decoder "WordPiece"/],
      [{ post_processor: { type: "BertLikeThing" } }, /post_processor "BertLikeThing"/],
      [{ truncation: { max_length: 8 } }, /truncation/],
    ];
    for (const [over, msg] of refusals) {
      expect(() => loadHfTokenizer({ tokenizerJson: { ...base, ...over } }), msg.source).toThrow(HfTokenizerError);
      expect(() => loadHfTokenizer({ tokenizerJson: { ...base, ...over } }), msg.source).toThrow(msg);
    }
  });

  it("takes every eos_token_id of generation_config.json as a stop token", () => {
    const { vocab, merges } = tinyVocab();
    const json = byteLevelJson(vocab, merges);
    expect(loadHfTokenizer({ tokenizerJson: json, generationConfig: { eos_token_id: [7, 9] } }).stopTokenIds).toEqual([7, 9]);
    expect(loadHfTokenizer({ tokenizerJson: json, generationConfig: '{"eos_token_id": 3}' }).stopTokenIds).toEqual([3]);
    expect(loadHfTokenizer({ tokenizerJson: json, tokenizerConfig: { eos_token: { content: "<|eot|>" } } }).stopTokenIds).toEqual([json.added_tokens[0].id]);
  });

  it("says when a chat template is missing or cannot mark assistant tokens", () => {
    const { vocab, merges } = tinyVocab();
    const json = byteLevelJson(vocab, merges);
    expect(() => loadHfTokenizer({ tokenizerJson: json }).applyChatTemplate([{ role: "user", content: "hi" }])).toThrow(/no chat template/);
    const tok = loadHfTokenizer({ tokenizerJson: json, chatTemplate: "{% for m in messages %}{{ m.content }}{% endfor %}" });
    expect(tok.applyChatTemplate([{ role: "user", content: "hi" }])).toBe("hi");
    expect(() => tok.renderSftExample([{ role: "user", content: "hi" }])).toThrow(ChatTemplateError);
    expect(() => tok.renderSftExample([{ role: "user", content: "hi" }])).toThrow(/\{% generation %\}/);
  });
});

describe("chat templates from tokenizer_config.json", () => {
  const { vocab, merges } = tinyVocab();
  const json = byteLevelJson(vocab, merges);
  const msgs = [{ role: "user", content: "hi" }];

  it("reads chat_template and the special tokens, and chat_template.jinja wins over it", () => {
    const tokenizerConfig = { bos_token: { content: "<|eot|>" }, eos_token: "<|eot|>", chat_template: "{{ bos_token }}{% for m in messages %}[{{ m.role }}] {{ m.content }}{{ eos_token }}{% endfor %}" };
    expect(loadHfTokenizer({ tokenizerJson: json, tokenizerConfig }).applyChatTemplate(msgs)).toBe("<|eot|>[user] hi<|eot|>");
    expect(loadHfTokenizer({ tokenizerJson: json, tokenizerConfig, chatTemplate: "J:{{ messages[0].content }}" }).applyChatTemplate(msgs)).toBe("J:hi");
  });

  it("picks among named templates as transformers does", () => {
    const tokenizerConfig = {
      chat_template: [
        { name: "default", template: "D{{ messages | length }}" },
        { name: "tool_use", template: "T{{ tools | length }}" },
        { name: "rag", template: "R" },
      ],
    };
    const tok = loadHfTokenizer({ tokenizerJson: json, tokenizerConfig });
    expect(tok.applyChatTemplate(msgs)).toBe("D1");
    expect(tok.applyChatTemplate(msgs, { tools: [{ type: "function" }] })).toBe("T1");
    expect(tok.applyChatTemplate(msgs, { templateName: "rag" })).toBe("R");
    expect(() => tok.applyChatTemplate(msgs, { templateName: "nope" })).toThrow(/"nope" not found; this tokenizer has default, tool_use, rag/);
  });

  it("raises the template's own message and reports template errors as ChatTemplateError", () => {
    const tok = loadHfTokenizer({ tokenizerJson: json, chatTemplate: "{% if messages[0].role != 'system' %}{{ raise_exception('System message first, please.') }}{% endif %}" });
    expect(() => tok.applyChatTemplate(msgs)).toThrow(new ChatTemplateError("System message first, please."));
    const broken = loadHfTokenizer({ tokenizerJson: json, chatTemplate: "{% for m in messages %}" });
    expect(() => broken.applyChatTemplate(msgs)).toThrow(ChatTemplateError);
  });
});

describe("translateRegex", () => {
  it("keeps Oniguruma's case-insensitive groups and white space", () => {
    const re = translateRegex("(?i:'s|'t)|\\s+(?!\\S)|\\s+", "test");
    expect("IT'S it's".match(re)).toEqual(["'S", " ", "'s"]);
    expect("a\uFEFFb".match(translateRegex("\\s", "test"))).toBeNull(); // U+FEFF is no white space to Oniguruma
    expect("a\u0085b".match(translateRegex("\\s", "test"))).toEqual(["\u0085"]);
  });
});

describe("strftime", () => {
  it("formats as Python's datetime.strftime in the C locale", () => {
    const d = new Date(2026, 6, 26, 9, 5, 3);
    expect(strftime(d, "%d %b %Y|%A %a %-d %e|%H:%M:%S %I %p|%j %y %m %B %F %w")).toBe("26 Jul 2026|Sunday Sun 26 26|09:05:03 09 AM|207 26 07 July 2026-07-26 0");
  });
});
