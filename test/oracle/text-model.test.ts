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
import { copyTinyLlamaFolder, oracleOrSkip, oraclePython, runOracle } from "../support/oracle";
import { loadTorchTextModel } from "../../node-agent/torch-inference";
import { loadCpuTextModel } from "../../gpu/nn/cpu-network";
import { nodeFolderReader } from "../../gpu/io/folder-node";

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

// The server's CPU engine (gpu/nn/cpu-network.ts, which evaluates the demo's models): the float64
// reference forward behind the same text side, held to the same oracle; too large a model is refused.
describe.skipIf(!oracle)("the CPU engine's TextModel vs transformers", () => {
  let root = "";
  let dir = "";
  let model: TextModel;
  let want: OracleOut;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-cpu-text-model-"));
    dir = path.join(root, "tiny-llama");
    copyTinyLlamaFolder(dir);
    want = transformers(dir);
    model = await loadCpuTextModel(nodeFolderReader(dir));
  }, 300_000);

  afterAll(() => {
    model?.release();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("generates greedily token for token and scores within 1e-3; refuses a model past its size bound before reading weights", async () => {
    expect(model.chatPromptIds(MESSAGES)).toEqual(want.prompt);
    const got = await completeText(model, model.chatPromptIds(MESSAGES), { maxNewTokens: MAX_NEW_TOKENS, temperature: 0 });
    expect(got.tokens).toEqual(want.generated);
    for (const [i, s] of SCORES.entries()) {
      const score = await model.logLikelihood("messages" in s ? model.chatPromptIds(s.messages!) : model.promptIds(s.text!), model.encode(s.continuation));
      expect(Math.abs(score.logprob - want.scores[i].logprob), JSON.stringify(s)).toBeLessThan(1e-3);
    }
    await expect(loadCpuTextModel(nodeFolderReader(dir), { maxParameters: 1000 })).rejects.toThrow(/parameters; the server's CPU engine takes at most 0.0M \(run it on a GPU node or in the browser\)/);
  });
});

// The torch engine's TextModel (node-agent/torch-inference.ts): the same text side over transformers in a
// Python process, batching what arrives together. Held to the same oracle, and to its failures.
describe.skipIf(!oracle)("the torch engine's TextModel vs transformers", () => {
  let root = "";
  let dir = "";
  let model: TextModel;
  let want: OracleOut;

  beforeAll(async () => {
    root = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-torch-text-model-"));
    dir = path.join(root, "tiny-llama");
    copyTinyLlamaFolder(dir);
    want = transformers(dir);
    model = await loadTorchTextModel({ python: oraclePython(), gpus: [] }, archive(dir));
  }, 300_000);

  afterAll(() => {
    model?.release();
    if (root) fs.rmSync(root, { recursive: true, force: true });
  });

  it("generates greedily token for token and scores within 1e-3, with requests sent together run as one batch", async () => {
    const prompt = model.chatPromptIds(MESSAGES);
    expect(prompt).toEqual(want.prompt);
    const [got, ...scores] = await Promise.all([
      completeText(model, prompt, { maxNewTokens: MAX_NEW_TOKENS, temperature: 0 }),
      ...SCORES.map((s) => model.logLikelihood("messages" in s ? model.chatPromptIds(s.messages!) : model.promptIds(s.text!), model.encode(s.continuation))),
    ]);
    expect(got.tokens).toEqual(want.generated);
    for (const [i, score] of scores.entries()) expect(Math.abs(score.logprob - want.scores[i].logprob), JSON.stringify(SCORES[i])).toBeLessThan(1e-3);
    // a shorter prompt beside a longer one (left padding) generates what it generates alone
    const short = model.promptIds("Shipping");
    const [alone] = [await completeText(model, short, { maxNewTokens: 8, temperature: 0 })];
    const [together] = await Promise.all([completeText(model, short, { maxNewTokens: 8, temperature: 0 }), completeText(model, prompt, { maxNewTokens: 8, temperature: 0 })]);
    expect(together.tokens).toEqual(alone.tokens);
  });

  it("fails a request with Python's message and goes on; releasing the model fails what waits on it (never a hang); a Python without torch says so", async () => {
    await expect(model.logLikelihood([1, 2, 3], [999_999])).rejects.toThrow(/the torch engine could not run the model: RuntimeError: index 999999 is out of bounds/);
    expect((await completeText(model, model.promptIds("Shipping"), { maxNewTokens: 4, temperature: 0 })).tokens).toHaveLength(4);

    const doomed = await loadTorchTextModel({ python: oraclePython(), gpus: [] }, archive(dir));
    const waiting = completeText(doomed, doomed.promptIds("Shipping"), { maxNewTokens: 100, temperature: 0, onText: () => doomed.release() });
    await expect(waiting).rejects.toThrow(/the model was released/);

    await expect(loadTorchTextModel({ python: "/usr/bin/python3", gpus: [] }, archive(dir))).rejects.toThrow("the torch engine failed: ModuleNotFoundError: No module named 'torch'");
  });
});
