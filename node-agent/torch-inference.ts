// The torch engine's side of evals and serving: a Hugging Face folder run by transformers in a Python
// process of its own (node-agent/torch/infer.py), behind the same TextModel the WebGPU engine gives
// (gpu/nn/text-model.ts). The text side stays here in TypeScript: the folder's tokenizer, its chat
// template, stop strings and the graders are Hearth's, so both engines grade the same way; Python
// receives token ids and returns tokens and log-likelihoods. Requests made while Python is busy (an
// eval's cases, concurrent API calls) are sent at once and Python runs them as one batch.
//
//   const model = await loadTorchTextModel(torch, archiveBytes);
//   const r = await completeText(model, model.chatPromptIds(messages), { maxNewTokens: 64, temperature: 0 });
//   model.release();   // ends the process
import { spawn, type ChildProcess } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { writeFolderFiles } from "@/gpu/io/folder-node";
import { memoryFolderReader } from "@/gpu/io/tar";
import type { LogLikelihood } from "@/gpu/nn/generate";
import { loadFolderTokenizer } from "@/gpu/nn/hf-load";
import { archiveFolderFiles, networkTextModel, TextModelError, type TextGenerateOptions, type TextGenerateResult, type TextModel, type TextNetwork } from "@/gpu/nn/text-model";
import { stderrTail, type TorchEnv } from "./torch-engine";
import type { EvalEngine } from "./run-job";

const SCRIPT = path.join(import.meta.dirname, "torch", "infer.py");

type Reply =
  | { type: "ready"; device: string; dtype: string; contextLength: number; vocabSize: number }
  | { type: "tokens"; tokens: Record<string, number> }
  | { type: "done"; id: string; reason: "stop" | "length" | "cancelled" }
  | { type: "loglik"; id: string; logprob: number; tokens: number; greedy: boolean }
  | { type: "error"; id?: string; message: string };

interface Pending {
  onToken?: (token: number) => void;
  resolve: (reply: Reply) => void;
  reject: (error: Error) => void;
}

/** The Python process holding one model: requests by id, replies routed back, every waiter failed if it dies. */
class InferenceProcess {
  private readonly pending = new Map<string, Pending>();
  private readonly stderr: string[];
  private nextId = 1;
  private dead: Error | null = null;
  readonly ready: Promise<Extract<Reply, { type: "ready" }>>;

  constructor(
    private readonly child: ChildProcess,
    what: string,
  ) {
    let onReady!: (r: Extract<Reply, { type: "ready" }>) => void;
    let onFail!: (e: Error) => void;
    this.ready = new Promise((resolve, reject) => ((onReady = resolve), (onFail = reject)));
    this.stderr = stderrTail(child.stderr!);
    readline.createInterface({ input: child.stdout! }).on("line", (line) => {
      let reply: Reply;
      try {
        reply = JSON.parse(line) as Reply;
      } catch {
        return;
      }
      if (reply.type === "ready") onReady(reply);
      else if (reply.type === "tokens") for (const [id, token] of Object.entries(reply.tokens)) this.pending.get(id)?.onToken?.(token);
      else if (reply.type === "error" && reply.id === undefined) this.fail(new TextModelError(`the torch engine failed: ${reply.message}`));
      else if ("id" in reply && reply.id !== undefined) {
        const p = this.pending.get(reply.id);
        if (!p) return;
        this.pending.delete(reply.id);
        if (reply.type === "error") p.reject(new TextModelError(`the torch engine could not run the model: ${reply.message}`));
        else p.resolve(reply);
      }
    });
    child.once("error", (error) => {
      this.fail(new TextModelError(`cannot start the torch engine's Python: ${error.message}`));
      onFail(this.dead!);
    });
    child.once("close", (code, signal) => {
      const how = signal ? `was killed by ${signal}` : `exited with status ${code}`;
      this.fail(new TextModelError(`the torch process for ${what} ${how}.${this.stderr.length ? ` Its last output:\n${this.stderr.slice(-8).join("\n")}` : ""}`));
      onFail(this.dead!);
    });
  }

  private fail(error: Error): void {
    this.dead ??= error;
    for (const p of this.pending.values()) p.reject(this.dead);
    this.pending.clear();
  }

  request(body: Record<string, unknown>, onToken?: (token: number) => void): { id: string; reply: Promise<Reply> } {
    const id = String(this.nextId++);
    if (this.dead) return { id, reply: Promise.reject(this.dead) };
    const reply = new Promise<Reply>((resolve, reject) => this.pending.set(id, { onToken, resolve, reject }));
    this.child.stdin!.write(`${JSON.stringify({ ...body, id })}\n`);
    return { id, reply };
  }

  /** Ends a generation at its next token; its waiter is answered now. */
  cancel(id: string): void {
    const p = this.pending.get(id);
    this.pending.delete(id);
    p?.resolve({ type: "done", id, reason: "cancelled" });
    if (!this.dead) this.child.stdin!.write(`${JSON.stringify({ op: "cancel", id })}\n`);
  }

  kill(): void {
    this.fail(new TextModelError("the model was released"));
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill("SIGKILL");
  }
}

function torchNetwork(proc: InferenceProcess, contextLength: number): TextNetwork {
  const n = contextLength;
  return {
    kind: "decoder",
    contextLength: n,
    async generate(prompt, o: TextGenerateOptions & { stopTokenIds: readonly number[] }): Promise<TextGenerateResult> {
      if (prompt.length > n) throw new TextModelError(`the prompt holds ${prompt.length} tokens; the model's context is ${n}`);
      const maxNewTokens = Math.min(o.maxNewTokens, n - prompt.length + 1);
      const tokens: number[] = [];
      const stops = new Set(o.stopTokenIds);
      let reason: TextGenerateResult["stopReason"] = "length";
      let ended = false;
      const { id, reply } = proc.request(
        { op: "generate", prompt, maxNewTokens, temperature: o.temperature ?? 1, topK: o.topK ?? 0, seed: o.seed ?? 0, stop: [...stops] },
        (token) => {
          if (ended) return;
          tokens.push(token);
          if (o.onToken?.(token) === false) {
            reason = "callback";
            ended = true;
            proc.cancel(id);
          } else if (stops.has(token)) reason = "stop";
        },
      );
      await reply;
      return { tokens, stopReason: reason };
    },
    async logLikelihood(context, continuation): Promise<LogLikelihood> {
      if (continuation.length === 0) return { logprob: 0, tokens: 0, greedy: true };
      if (continuation.length >= n) throw new TextModelError(`logLikelihood: a continuation of ${continuation.length} tokens does not fit the context of ${n}`);
      if (context.length === 0) throw new TextModelError("logLikelihood: needs at least one context token");
      // as the WebGPU engine: the context cropped from the left so that n positions predict the continuation
      const all = [...context, ...continuation].slice(-(n + 1));
      const r = (await proc.request({ op: "loglik", context: all.slice(0, all.length - continuation.length), continuation }).reply) as Extract<Reply, { type: "loglik" }>;
      return { logprob: r.logprob, tokens: r.tokens, greedy: r.greedy };
    },
    release: () => proc.kill(),
  };
}

/**
 * A model version's folder archive as a TextModel run by transformers on the torch engine's Python
 * (a CUDA GPU when it has one, in the folder's dtype; else the CPU in float32). The folder is written
 * to a temporary directory only while Python loads it.
 */
export async function loadTorchTextModel(torch: TorchEnv, archive: Uint8Array, o: { log?: (line: string) => void } = {}): Promise<TextModel> {
  const files = archiveFolderFiles(archive);
  if (!files.has("config.json")) throw new TextModelError("the torch engine runs Hugging Face folders; this model version is a Hearth GPT checkpoint (the webgpu engine runs it)");
  const tokenizer = await loadFolderTokenizer(memoryFolderReader(files));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-torch-model-"));
  let proc: InferenceProcess | null = null;
  try {
    writeFolderFiles(files, dir);
    const child = spawn(torch.python, [SCRIPT, "--model", dir], {
      stdio: ["pipe", "pipe", "pipe"],
      env: { ...process.env, PYTHONUNBUFFERED: "1", HF_HUB_OFFLINE: "1", TRANSFORMERS_VERBOSITY: "error", TOKENIZERS_PARALLELISM: "false" },
    });
    proc = new InferenceProcess(child, "inference");
    const ready = await proc.ready;
    o.log?.(`torch engine loaded the model on ${ready.device} (${ready.dtype}, context ${ready.contextLength})`);
    return networkTextModel(torchNetwork(proc, ready.contextLength), tokenizer);
  } catch (error) {
    proc?.kill();
    throw error;
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

/** Cases an eval keeps in flight on the torch engine: Python runs those that arrive together as one batch. */
export const TORCH_EVAL_CONCURRENCY = 8;

/** The torch engine for eval jobs. */
export function torchEvalEngine(torch: TorchEnv, log: (line: string) => void): EvalEngine {
  return { name: "torch", load: (bytes) => loadTorchTextModel(torch, bytes, { log }), concurrency: TORCH_EVAL_CONCURRENCY };
}
