// The Hugging Face tokenizer loader without the oracle: refusals by name, speed on a 128k
// vocabulary, offsets, the pattern translation and strftime. (Identity with transformers is held
// by test/oracle/tokenizers.test.ts.)
import { describe, expect, it } from "vitest";
import { ChatTemplateError, HfTokenizerError, loadHfTokenizer, strftime, translateRegex } from "../../gpu/tokenizer";
import { bigVocab, byteLevelJson, PAGE, tinyVocab } from "../support/tokenizer-fixtures";



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

  it("encodes and decodes a page with a 128k vocabulary (its speed is measured by test/bench/tokenizer.bench.ts)", () => {
    const { vocab, merges } = bigVocab(128_000, PAGE);
    const tok = loadHfTokenizer({ tokenizerJson: byteLevelJson(vocab, merges) });
    const ids = tok.encode(PAGE);
    expect(tok.decode(ids)).toBe(PAGE);
    expect(ids.length).toBeLessThan(PAGE.length / 2);
    expect(tok.encode(PAGE.toUpperCase() + PAGE).slice(-ids.length)).toEqual(ids);
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
