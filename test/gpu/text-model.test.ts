// TextModel (gpu/nn/text-model.ts) on both kinds of model: a Hearth GPT checkpoint answers exactly as
// before (generateText, the old serving path), and a llama folder archive chats through its template,
// streams, stops at every eos id and at stop strings, is cancelled, and scores continuations as its
// own logits say. The node's streamCompletion counts usage on top of it.
import { beforeAll, describe, expect, it } from "vitest";
import type { GpuContext } from "../../gpu/device";
import { saveGPT } from "../../gpu/io/checkpoint";
import { memoryFolderReader, writeTar } from "../../gpu/io/tar";
import { Decoder } from "../../gpu/nn/decoder";
import { GPT } from "../../gpu/nn/gpt";
import { gptPreset } from "../../gpu/nn/config";
import { generateText } from "../../gpu/nn/generate";
import { completeText, loadTextModel, NoTokenizerError, plainChatPrompt, type TextModel } from "../../gpu/nn/text-model";
import { trainBpe } from "../../gpu/tokenizer";
import { streamCompletion } from "../../node-agent/generate";
import { ANSWER, CONVERSATION, tokenizerOf, trainedChatFolder } from "../support/tiny-chat-folder";
import { gpuContext } from "./helpers";

let ctx: GpuContext;
let folder: Map<string, Uint8Array>;
const request = { prompt: "", maxTokens: 16, temperature: 0, stop: [] as string[] };

beforeAll(async () => {
  ctx = await gpuContext();
  folder = await trainedChatFolder(ctx);
});

async function withModel<T>(files: Map<string, Uint8Array>, fn: (m: TextModel) => Promise<T>): Promise<T> {
  const m = await loadTextModel(ctx, writeTar(files));
  try {
    return await fn(m);
  } finally {
    m.release();
  }
}

describe("a Hearth GPT checkpoint as a TextModel", () => {
  it("generates what generateText does, plain chat format and all, and refuses a checkpoint without a tokenizer", async () => {
    const text = "user: hi\nassistant: hello there.\n".repeat(30);
    const tok = trainBpe(text, 280);
    const gpt = GPT.create(ctx, gptPreset("tiny", { vocabSize: 300, blockSize: 32 }), { seed: 5 });
    const bytes = await saveGPT(gpt, { tokenizer: tok });
    const m = await loadTextModel(ctx, bytes);
    try {
      expect([m.kind, m.contextLength, m.hasChatTemplate, m.stopTokenIds, m.chatStops]).toEqual(["gpt", 32, false, [], ["\nuser:", "\nsystem:"]]);
      const messages = [{ role: "user", content: "hi" }];
      expect(m.chatPromptIds(messages)).toEqual(tok.encode("user: hi\nassistant:"));
      for (const [prompt, stop] of [["user: hi\nassistant:", []], [plainChatPrompt(messages), ["\n"]]] as const) {
        const want = await generateText(gpt, tok, prompt, { maxNewTokens: 40, temperature: 0.8, seed: 3, stop: [...stop] });
        const got = await completeText(m, m.promptIds(prompt), { maxNewTokens: 40, temperature: 0.8, seed: 3, stop });
        expect(got.text).toBe(want.text);
        expect(got.tokens).toEqual(want.tokens);
      }
      // an empty prompt starts from token 0 and counts no prompt tokens, as the node always did
      const empty = await streamCompletion(m, { ...request, maxTokens: 3 });
      expect([empty.promptTokens, empty.completionTokens]).toEqual([0, 3]);
    } finally {
      m.release();
      gpt.release();
    }
    const bare = GPT.create(ctx, gptPreset("tiny", { vocabSize: 300, blockSize: 32 }), { seed: 5 });
    await expect(loadTextModel(ctx, await saveGPT(bare))).rejects.toBeInstanceOf(NoTokenizerError);
    bare.release();
  });
});

describe("a llama folder archive as a TextModel", () => {
  it("renders chats with the template, tokenized without adding special tokens again, and answers up to eos", async () => {
    const tok = tokenizerOf(folder);
    await withModel(folder, async (m) => {
      expect([m.kind, m.contextLength, m.hasChatTemplate, m.stopTokenIds, m.chatStops]).toEqual(["decoder", 64, true, [tok.tokenToId("</s>")], []]);
      const ids = m.chatPromptIds(CONVERSATION);
      expect(ids).toEqual(tok.encode(tok.applyChatTemplate(CONVERSATION, { addGenerationPrompt: true }), { addSpecialTokens: false }));
      expect(ids[0]).toBe(tok.tokenToId("<s>")); // the template's own <s>, not the post-processor's
      const pieces: string[] = [];
      const r = await completeText(m, ids, { maxNewTokens: 16, temperature: 0, onText: (d) => pieces.push(d) });
      expect(r).toEqual({ text: ANSWER, tokens: [...m.encode(ANSWER), tok.tokenToId("</s>")], finishReason: "stop" });
      expect(pieces.join("")).toBe(ANSWER);
      expect(pieces.length).toBeGreaterThan(1);
      // without stop tokens it runs on past </s> (decoded without special tokens) to maxNewTokens
      const on = await completeText(m, ids, { maxNewTokens: 8, temperature: 0, stopTokenIds: [] });
      expect([on.tokens.length, on.finishReason, on.text.startsWith(ANSWER)]).toEqual([8, "length", true]);
    });
  });

  it("stops at every eos_token_id of generation_config.json, at stop strings, when cancelled, and at the end of its context", async () => {
    const tok = tokenizerOf(folder);
    const eos = tok.tokenToId("</s>")!;
    const dot = tok.encode(".", { addSpecialTokens: false })[0];
    const files = new Map(folder);
    files.set("generation_config.json", new TextEncoder().encode(JSON.stringify({ eos_token_id: [eos, dot] })));
    await withModel(files, async (m) => {
      expect(m.stopTokenIds).toEqual([eos, dot]);
      const r = await completeText(m, m.chatPromptIds(CONVERSATION), { maxNewTokens: 16, temperature: 0 });
      expect(r).toEqual({ text: "42", tokens: m.encode("42."), finishReason: "stop" });
      const cut = await completeText(m, m.chatPromptIds(CONVERSATION), { maxNewTokens: 16, temperature: 0, stop: ["2"] });
      expect([cut.text, cut.finishReason]).toEqual(["4", "stop"]);
      let calls = 0;
      const cancelled = await completeText(m, m.chatPromptIds(CONVERSATION), { maxNewTokens: 16, temperature: 0, cancelled: () => ++calls >= 1 });
      expect([cancelled.text, cancelled.tokens.length, cancelled.finishReason]).toEqual(["4", 1, "length"]);
      // 60 prompt tokens in a context of 64: at most 5 new ones, then "length"
      const long = Array.from({ length: 60 }, (_, i) => 70 + (i % 20));
      const end = await m.generate(long, { maxNewTokens: 50, temperature: 0, stopTokenIds: [] });
      expect([end.tokens.length, end.stopReason]).toEqual([5, "length"]);
      await expect(m.generate([...long, ...long], { maxNewTokens: 1 })).rejects.toThrow(/context is 64/);
    });
  });

  it("scores a continuation with the log-softmax of its own logits, and knows the greedy one", async () => {
    await withModel(folder, async (m) => {
      const context = m.chatPromptIds(CONVERSATION);
      const right = await m.logLikelihood(context, m.encode("42."));
      const wrong = await m.logLikelihood(context, m.encode("17."));
      expect(right.greedy).toBe(true);
      expect(wrong.greedy).toBe(false);
      expect(right.logprob).toBeGreaterThan(wrong.logprob);
      // the same sum from the whole logits matrix of one forward
      const cont = m.encode("17.");
      const seq = [...context, ...cont];
      const decoder = await Decoder.fromHF(ctx, memoryFolderReader(folder));
      const x = ctx.tensor(Int32Array.from(seq.slice(0, -1)), [1, seq.length - 1], "i32");
      const logits = decoder.logits(x);
      const all = (await ctx.read(logits)) as Float32Array;
      logits.release();
      x.release();
      decoder.release();
      const V = all.length / (seq.length - 1);
      let sum = 0;
      cont.forEach((t, j) => {
        const row = Array.from(all.subarray((context.length - 1 + j) * V, (context.length + j) * V));
        const mx = Math.max(...row);
        sum += row[t] - mx - Math.log(row.reduce((s, v) => s + Math.exp(v - mx), 0));
      });
      expect(wrong.logprob).toBeCloseTo(sum, 5);
    });
  });

  it("serves a chat through the template and a raw completion, counting usage as the model saw it", async () => {
    await withModel(folder, async (m) => {
      const prompt = m.chatPromptIds(CONVERSATION);
      const pieces: string[] = [];
      const chat = await streamCompletion(m, { ...request, prompt: "user: ignored by a templated model\nassistant:", messages: CONVERSATION }, { onText: (d) => pieces.push(d) });
      expect(chat).toEqual({ text: ANSWER, promptTokens: prompt.length, completionTokens: m.encode(ANSWER).length + 1, finishReason: "stop" });
      expect(pieces.join("")).toBe(ANSWER);
      // /completions: the same text as a raw prompt (its <s> matched as the special token) answers the same
      const raw = "<s>user: what is the answer?</s><s>assistant: ";
      const completion = await streamCompletion(m, { ...request, prompt: raw, stop: ["."] });
      expect(completion).toEqual({ text: "42", promptTokens: prompt.length, completionTokens: 3, finishReason: "stop" });
    });
  });

  it("unwraps an archive of the folder's own directory", async () => {
    const nested = new Map([...folder].map(([n, b]) => [`tiny-chat/${n}`, b]));
    await withModel(nested, async (m) => {
      expect((await completeText(m, m.chatPromptIds(CONVERSATION), { maxNewTokens: 8, temperature: 0 })).text).toBe(ANSWER);
    });
  });
});
