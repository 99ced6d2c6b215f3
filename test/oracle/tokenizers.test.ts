// Hugging Face tokenizers and chat templates against the oracle: tokenizers trained with the
// `tokenizers` library in the pipelines of GPT-2, Llama 3, Qwen2, SmolLM and SentencePiece-style BPE
// (Llama 2 / Mistral v0.1, and the Metaspace form), saved with save_pretrained; transformers'
// ids, decodes and apply_chat_template; TRL 1.13's assistant-only SFT masks. One Python run
// (tokenizers_fixture.py) makes every fixture.
import { beforeAll, describe, expect, it } from "vitest";
import { ChatTemplateError, type HfTokenizer, loadHfTokenizer } from "../../gpu/tokenizer";
import { buildDecoder, buildNormalizer, buildPreTokenizer, pieceOf } from "../../gpu/tokenizer/hf-components";
import { oracleOrSkip, runOracle } from "../support/oracle";

interface Entry {
  files: Record<string, string>;
  generation_config: Record<string, unknown>;
  encode: Record<string, { ids: number[]; with_special: number[]; offsets: Array<[number, number]> }>;
  decode: Record<string, { text: string; skip_special: string; with_special: string }>;
  chat: Record<string, string | null>;
  sft?: {
    conversations: Array<Array<Record<string, unknown>>>;
    trl: Array<{ input_ids: number[]; mask: number[] }>;
    prompt_completion: Array<{ prompt: Array<Record<string, unknown>>; completion: Array<Record<string, unknown>> }>;
    trl_prompt_completion: Array<{ input_ids: number[]; mask: number[] }>;
  };
}
interface Fixture {
  components: {
    pre_tokenizers: Array<{ json: Record<string, unknown>; text: string; want: Array<[string, [number, number]]> }>;
    normalizers: Array<{ json: Record<string, unknown>; text: string; want: string }>;
    decoders: Array<{ json: Record<string, unknown>; tokens: string[]; want: string }>;
  };
  texts: Record<string, string>;
  chat_inputs: Record<string, Array<Record<string, unknown>>>;
  tokenizers: Record<string, Entry>;
}

const KINDS = ["gpt2", "neox", "llama3", "qwen2", "smollm", "llama2", "metaspace"] as const;
const FIXED_NOW = new Date(2026, 6, 26, 9, 5, 3); // the oracle's datetime.now()
const TOOLS_KEY = /\|tools=True$/;

describe.skipIf(!oracleOrSkip())("Hugging Face tokenizers and chat templates, against transformers", () => {
  let fx: Fixture;
  const toks = new Map<string, HfTokenizer>();
  let tools: object[];

  beforeAll(() => {
    const t0 = performance.now();
    fx = JSON.parse(runOracle("tokenizers_fixture.py").stdout);
    console.log(`oracle fixtures: ${((performance.now() - t0) / 1000).toFixed(1)} s`);
    for (const kind of KINDS) {
      const e = fx.tokenizers[kind];
      toks.set(
        kind,
        loadHfTokenizer({
          tokenizerJson: e.files["tokenizer.json"],
          tokenizerConfig: e.files["tokenizer_config.json"],
          chatTemplate: e.files["chat_template.jinja"],
          generationConfig: e.generation_config,
        }),
      );
    }
    tools = fx.chat_inputs.tools;
  }, 120_000);

  describe("each component alone", () => {
    it("pre-tokenizers split where tokenizers splits, with the same offsets", () => {
      for (const c of fx.components.pre_tokenizers) {
        const pieces = buildPreTokenizer(c.json)!([pieceOf(c.text, 0, true, true)]);
        const got = pieces.map((p) => [p.text, [Math.min(...p.s!), Math.max(...p.e!)]]);
        // tokenizers reports offsets in code points; these texts keep to the BMP, so they are UTF-16 units too
        expect(got, `${JSON.stringify(c.json)} on ${JSON.stringify(c.text)}`).toEqual(c.want);
      }
    });

    it("normalizers give tokenizers' text", () => {
      for (const c of fx.components.normalizers) {
        expect(buildNormalizer(c.json)!(pieceOf(c.text, 0, true, true)).text, `${JSON.stringify(c.json)} on ${JSON.stringify(c.text)}`).toBe(c.want);
        expect(buildNormalizer(c.json)!(pieceOf(c.text, 0, false, true)).text).toBe(c.want);
      }
    });

    it("decoders give tokenizers' text", () => {
      for (const c of fx.components.decoders) {
        expect(buildDecoder(c.json)!(c.tokens).join(""), `${JSON.stringify(c.json)} on ${JSON.stringify(c.tokens)}`).toBe(c.want);
      }
    });
  });

  for (const kind of KINDS) {
    describe(kind, () => {
      it("encodes every text to transformers' ids, with and without special tokens", () => {
        const tok = toks.get(kind)!;
        for (const [name, text] of Object.entries(fx.texts)) {
          const want = fx.tokenizers[kind].encode[name];
          expect(tok.encode(text, { addSpecialTokens: false }), `${kind} ${name}`).toEqual(want.ids);
          expect(tok.encode(text), `${kind} ${name} with special tokens`).toEqual(want.with_special);
        }
      });

      it("gives each token the offsets transformers gives", () => {
        const tok = toks.get(kind)!;
        for (const [name, text] of Object.entries(fx.texts)) {
          // UTF-16 units to Python's code points
          const cp: number[] = [];
          let n = 0;
          for (let i = 0; i <= text.length; i++) {
            cp.push(n);
            if (!(i + 1 < text.length && /[\uD800-\uDBFF]/.test(text[i]) && /[\uDC00-\uDFFF]/.test(text[i + 1]))) n++;
          }
          const got = tok.encodeWithOffsets(text, { addSpecialTokens: false }).offsets.map(([s, e]) => [cp[s], cp[e]]);
          expect(got, `${kind} ${name}`).toEqual(fx.tokenizers[kind].encode[name].offsets);
        }
      });

      it("decodes as transformers does, skipping special tokens on request", () => {
        const tok = toks.get(kind)!;
        for (const name of Object.keys(fx.texts)) {
          const want = fx.tokenizers[kind].decode[name];
          const enc = fx.tokenizers[kind].encode[name];
          expect(tok.decode(enc.ids), `${kind} ${name}`).toBe(want.text);
          expect(tok.decode(enc.with_special), `${kind} ${name} with special`).toBe(want.with_special);
          expect(tok.decode(enc.with_special, { skipSpecialTokens: true }), `${kind} ${name} skip`).toBe(want.skip_special);
        }
      });

      it("round-trips text through encode and decode", () => {
        const tok = toks.get(kind)!;
        const spm = kind === "llama2" || kind === "metaspace";
        // (spaces: SentencePiece-style decoding drops the first leading space, as transformers does)
        for (const name of spm ? ["prose", "mixed"] : ["prose", "mixed", "spaces"]) {
          // "Café" is an added token of these fixtures: the byte-level decoder reads its "é" as a byte
          const text = fx.texts[name].replace(/Cafe\u0301|Café/g, "Kaffee");
          // NFC (Qwen2) composes the decomposed accents
          const expected = kind === "qwen2" ? text.normalize("NFC") : text;
          expect(tok.decode(tok.encode(text, { addSpecialTokens: false })), `${kind} ${name}`).toBe(expected);
        }
      });

      it("stops on every eos_token_id of generation_config.json", () => {
        const eos = fx.tokenizers[kind].generation_config.eos_token_id;
        expect(toks.get(kind)!.stopTokenIds).toEqual(Array.isArray(eos) ? eos : [eos]);
      });
    });
  }

  for (const kind of ["llama3", "qwen2", "llama2", "smollm"] as const) {
    describe(`${kind} chat template`, () => {
      it("renders as apply_chat_template, with and without a system message, tools and a generation prompt", () => {
        const tok = toks.get(kind)!;
        const chat = fx.tokenizers[kind].chat;
        const conversations = fx.chat_inputs;
        let n = 0;
        for (const [key, want] of Object.entries(chat)) {
          if (key === "bad_order_error") continue;
          const [variant, agp] = key.split("|");
          const got = tok.applyChatTemplate(conversations[variant] as never, {
            addGenerationPrompt: agp === "agp=True",
            tools: TOOLS_KEY.test(key) ? tools : undefined,
            now: FIXED_NOW,
          });
          expect(got, `${kind} ${key}`).toBe(want);
          n++;
        }
        expect(n).toBeGreaterThanOrEqual(4);
      });

      it("reports the template's own error on a bad role order", () => {
        const tok = toks.get(kind)!;
        const want = fx.tokenizers[kind].chat.bad_order_error;
        const bad = fx.chat_inputs.bad_order as never;
        if (want === null) expect(() => tok.applyChatTemplate(bad)).not.toThrow();
        else expect(() => tok.applyChatTemplate(bad)).toThrow(new ChatTemplateError(want));
      });

      it("masks the assistant tokens as TRL 1.13's assistant_only_loss does", () => {
        const tok = toks.get(kind)!;
        const sft = fx.tokenizers[kind].sft!;
        sft.conversations.forEach((conv, i) => {
          const ex = tok.renderSftExample(conv as never, { now: FIXED_NOW });
          expect(ex.ids, `${kind} conversation ${i} ids`).toEqual(sft.trl[i].input_ids);
          expect(ex.lossMask, `${kind} conversation ${i} mask`).toEqual(sft.trl[i].mask);
        });
      });

      it("masks the completion of prompt-completion data as TRL 1.13's completion_only_loss does", () => {
        const tok = toks.get(kind)!;
        const sft = fx.tokenizers[kind].sft!;
        sft.prompt_completion.forEach(({ prompt, completion }, i) => {
          const ex = tok.renderSftPromptCompletion(prompt as never, completion as never, { now: FIXED_NOW });
          expect(ex.ids, `${kind} example ${i} ids`).toEqual(sft.trl_prompt_completion[i].input_ids);
          expect(ex.lossMask, `${kind} example ${i} mask`).toEqual(sft.trl_prompt_completion[i].mask);
        });
      });
    });
  }
});

