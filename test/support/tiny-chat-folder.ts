// A tiny llama folder that chats: a byte-level tokenizer with <s> and </s>, a chat template, a
// generation config naming </s> as eos, and weights over-fitted with gpu/ on one conversation, so an
// eval or a served chat has a known right answer (and ends at eos only if stop tokens work). The
// files stay in memory; writeTar(files) is the model version's artifact. Node only.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { GpuContext } from "../../gpu/device";
import { Decoder } from "../../gpu/nn/decoder";
import { nodeFolderReader } from "../../gpu/io/folder-node";
import { loadHfTokenizer, type HfTokenizer } from "../../gpu/tokenizer/hf-tokenizer";
import { writeTinyLlamaFolder } from "./tiny-hf-folder";
import { byteLevelJson, tinyVocab } from "./tokenizer-fixtures";

export const CHAT_TEMPLATE = "{% for m in messages %}<s>{{ m['role'] }}: {{ m['content'] }}</s>{% endfor %}{% if add_generation_prompt %}<s>assistant: {% endif %}";
export const QUESTION = "what is the answer?";
export const ANSWER = "42.";
export const CONVERSATION = [{ role: "user" as const, content: QUESTION }];

const utf8 = new TextEncoder();

/** tokenizer.json, tokenizer_config.json, chat_template.jinja and generation_config.json; eos defaults to </s>. */
export function chatTokenizerFiles(o: { eos?: number[] } = {}): Map<string, Uint8Array> {
  const { vocab, merges } = tinyVocab();
  const n = Object.keys(vocab).length;
  const special = (id: number, content: string) => ({ id, content, special: true, lstrip: false, rstrip: false, normalized: false, single_word: false });
  const tokenizerJson = byteLevelJson(vocab, merges, { added_tokens: [special(n, "<s>"), special(n + 1, "</s>")] });
  return new Map([
    ["tokenizer.json", utf8.encode(JSON.stringify(tokenizerJson))],
    ["tokenizer_config.json", utf8.encode(JSON.stringify({ bos_token: "<s>", eos_token: "</s>" }))],
    ["chat_template.jinja", utf8.encode(CHAT_TEMPLATE)],
    ["generation_config.json", utf8.encode(JSON.stringify({ bos_token_id: n, eos_token_id: o.eos ?? [n + 1] }))],
  ]);
}

export function tokenizerOf(files: ReadonlyMap<string, Uint8Array>): HfTokenizer {
  const text = (name: string) => (files.has(name) ? new TextDecoder().decode(files.get(name)) : null);
  return loadHfTokenizer({ tokenizerJson: text("tokenizer.json")!, tokenizerConfig: text("tokenizer_config.json"), chatTemplate: text("chat_template.jinja"), generationConfig: text("generation_config.json") });
}

/**
 * The folder's files with weights trained until greedy decoding after the chat prompt for
 * CONVERSATION gives ANSWER then </s>. Weights are bf16 (as the random folder's).
 */
export async function trainedChatFolder(ctx: GpuContext, o: { steps?: number } = {}): Promise<Map<string, Uint8Array>> {
  const files = chatTokenizerFiles();
  const tokenizer = tokenizerOf(files);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-chat-folder-"));
  try {
    writeTinyLlamaFolder(dir, { config: { vocab_size: tokenizer.vocabSize + 2, max_position_embeddings: 64 } });
    const model = await Decoder.fromHF(ctx, nodeFolderReader(dir), { precision: "f32" });
    try {
      const text = tokenizer.applyChatTemplate([...CONVERSATION, { role: "assistant", content: ANSWER }]);
      const ids = tokenizer.encode(text, { addSpecialTokens: false });
      const x = ctx.tensor(Int32Array.from(ids.slice(0, -1)), [1, ids.length - 1], "i32");
      const y = ctx.tensor(Int32Array.from(ids.slice(1)), [ids.length - 1], "i32");
      model.enableTraining();
      for (let step = 1; step <= (o.steps ?? 80); step++) {
        model.zeroGrads();
        model.trainBatch(x, y, 1 / (ids.length - 1)).release();
        model.adamwStep(step, { lr: 1e-2, weightDecay: 0 });
      }
      x.release();
      y.release();
      files.set("config.json", fs.readFileSync(path.join(dir, "config.json")));
      files.set("model.safetensors", await model.exportSafetensors());
    } finally {
      model.release();
    }
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
  return files;
}
