// TextModel (gpu/nn/text-model.ts) held to transformers on the tiny llama folder of hf_folder.py
// (grouped-query attention, bf16 shards, a byte-level BPE with a chat template), loaded from its
// archive as a model version travels: the chat prompt is apply_chat_template(tokenize=True), greedy
// generation is generate()'s token for token (ending at the generation config's eos ids), and
// log-likelihoods of continuations agree within 1e-3 with transformers' log-softmax sums.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { GpuContext } from "../../gpu/device";
import { writeTar } from "../../gpu/io/tar";
import { completeText, loadTextModel, type TextModel } from "../../gpu/nn/text-model";
import { gpuContext } from "../gpu/helpers";
import { copyTinyLlamaFolder, oracleOrSkip, runOracle } from "../support/oracle";

const oracle = oracleOrSkip();
const MESSAGES = [
  { role: "system", content: "Answer briefly." },
  { role: "user", content: "Can I get a refund after 40 days?" },
];
const MAX_NEW_TOKENS = 20;
const SCORES = [
  { messages: MESSAGES, continuation: "Refunds are possible within thirty days of delivery." },
  { messages: MESSAGES, continuation: "Shipping takes five working days." },
  { messages: [{ role: "user", content: "Hello!" }], continuation: "How can I help you today?" },
  { text: "Shipping takes", continuation: " five working days." },
];

interface OracleOut {
  prompt: number[];
  generated: number[];
  eos: number | number[];
  scores: Array<{ context: number[]; continuation: number[]; logprob: number }>;
}

function transformers(dir: string): OracleOut {
  return JSON.parse(runOracle("text_model.py", [dir], { input: JSON.stringify({ messages: MESSAGES, max_new_tokens: MAX_NEW_TOKENS, scores: SCORES }) }).stdout);
}

function archive(dir: string): Uint8Array {
  return writeTar(fs.readdirSync(dir).sort().map((name) => [name, new Uint8Array(fs.readFileSync(path.join(dir, name)))] as const));
}

describe.skipIf(!oracle)("TextModel vs transformers on a llama folder", () => {
  let ctx: GpuContext;
  let root = "";
  let dir = "";
  let model: TextModel;
  let want: OracleOut;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-text-model-oracle-"));
    dir = path.join(root, "tiny-llama");
    copyTinyLlamaFolder(dir);
    want = transformers(dir);
    ctx = await gpuContext();
    model = await loadTextModel(ctx, archive(dir));
  }, 300_000);

  afterAll(() => {
    model?.release();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("renders the chat prompt as apply_chat_template(tokenize=True) and generates greedily token for token", async () => {
    expect(model.kind).toBe("decoder");
    expect(model.stopTokenIds).toEqual([want.eos].flat());
    expect(model.chatPromptIds(MESSAGES)).toEqual(want.prompt);
    const got = await completeText(model, model.chatPromptIds(MESSAGES), { maxNewTokens: MAX_NEW_TOKENS, temperature: 0 });
    expect(got.tokens).toEqual(want.generated);
    expect(got.finishReason).toBe(want.generated.length < MAX_NEW_TOKENS ? "stop" : "length");
  });

  it("ends where transformers does when a generated token is one of generation_config.json's eos ids", async () => {
    // a copy of the folder whose eos list also names the 4th token the model generates
    const stopAt = want.generated[3];
    const copy = path.join(root, "eos");
    fs.cpSync(dir, copy, { recursive: true });
    const gen = JSON.parse(fs.readFileSync(path.join(copy, "generation_config.json"), "utf8"));
    gen.eos_token_id = [gen.eos_token_id, stopAt].flat();
    fs.writeFileSync(path.join(copy, "generation_config.json"), JSON.stringify(gen));
    const expected = transformers(copy);
    expect(expected.generated.length).toBeLessThan(MAX_NEW_TOKENS);
    expect(expected.generated.at(-1)).toBe(stopAt);
    const m = await loadTextModel(ctx, archive(copy));
    try {
      const got = await completeText(m, m.chatPromptIds(MESSAGES), { maxNewTokens: MAX_NEW_TOKENS, temperature: 0 });
      expect(got.tokens).toEqual(expected.generated);
      expect(got.finishReason).toBe("stop");
      expect(got.text).toBe(m.decode(expected.generated.slice(0, -1)));
    } finally {
      m.release();
    }
  });

  it("scores continuations within 1e-3 of transformers' log-softmax sums, on the same ids", async () => {
    for (const [i, s] of SCORES.entries()) {
      const context = "messages" in s ? model.chatPromptIds(s.messages!) : model.promptIds(s.text!);
      const continuation = model.encode(s.continuation);
      expect([context, continuation], JSON.stringify(s)).toEqual([want.scores[i].context, want.scores[i].continuation]);
      const got = await model.logLikelihood(context, continuation);
      expect(Math.abs(got.logprob - want.scores[i].logprob), `${JSON.stringify(s)}: ${got.logprob} vs ${want.scores[i].logprob}`).toBeLessThan(1e-3);
    }
  });
});
