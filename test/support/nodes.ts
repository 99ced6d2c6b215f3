// GPU node helpers for tests: `hearth node` as a real child process (SwiftShader), and nodes
// registered directly through the service for tests of the queue itself.
import { spawn, type ChildProcess } from "node:child_process";
import path from "node:path";
import type { PrismaClient } from "@/server/db/generated/client";
import type { NodeActor } from "@/server/audit/service";
import { createNodeToken } from "@/server/node-registry/tokens";
import { authenticateNode, registerNode, type NodeRegistration } from "@/server/node-registry/service";
import { CHECKPOINT_FORMAT } from "@/gpu/io/checkpoint";
import { encodeSafetensors, type TensorToWrite } from "@/gpu/io/safetensors";
import { gptPreset, initParameters, parameterShapes, type GPTPresetName } from "@/gpu/nn/config";
import { trainBpe } from "@/gpu/tokenizer";
import { rootDir } from "../../scripts/build";
import type { OrgFixture } from "./fixtures";

/** A tiny pre-training job: a few seconds on SwiftShader. */
export const TINY_SPEC = { kind: "PRETRAIN", preset: "tiny", steps: 4, batchSize: 2, lr: 0.01, checkpointEvery: 2, seqLen: 16 };

/** A tiny Hearth GPT checkpoint (or another preset's) with its tokenizer (seeded weights), built without a GPU. */
export function tinyCheckpoint(seed = 1, preset: GPTPresetName = "tiny"): Uint8Array {
  const tokenizer = trainBpe("the refund window is thirty days; a refund after forty days is refused. ".repeat(20), 300);
  const config = gptPreset(preset, { vocabSize: tokenizer.vocabSize });
  const weights = initParameters(config, seed);
  const tensors = new Map<string, TensorToWrite>(parameterShapes(config).map(([name, shape]) => [name, { shape, data: weights.get(name)! }]));
  return encodeSafetensors(tensors, { format: CHECKPOINT_FORMAT, config: JSON.stringify(config), tokenizer: JSON.stringify(tokenizer.toJSON()) });
}

export function registration(name: string, memoryBytes: number | null = 8 * 1024 ** 3): NodeRegistration {
  return {
    name,
    adapter: { vendor: "google", architecture: "swiftshader", device: "", description: "SwiftShader" },
    features: ["subgroups"],
    limits: { maxBufferSize: 1 << 30 },
    memoryBytes,
    version: "1",
  };
}

/** Registers a node under a new token of the fixture's organization and returns its actor. */
export async function registerTestNode(db: PrismaClient, f: OrgFixture, name: string, memoryBytes?: number | null): Promise<NodeActor & { secret: string; memoryBytes: bigint | null }> {
  const { secret } = await createNodeToken(db, f.users.ADMIN, f.orgId, `${name} token`);
  const { nodeId } = await registerNode(db, `Bearer ${secret}`, registration(name, memoryBytes));
  const actor = await authenticateNode(db, new Headers({ authorization: `Bearer ${secret}`, "x-hearth-node": nodeId }));
  return { ...actor, secret };
}

export interface NodeProcess {
  name: string;
  pid: number;
  output(): string;
  /** Resolves when the output matches (or rejects with the output after timeoutMs). */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Resolves with the exit code (or the signal's name) once the process ended. */
  exited: Promise<number | string>;
  kill(signal: NodeJS.Signals): Promise<number | string>;
}

/** Starts `node bin/hearth.mjs node` (the same process `npx hearth node` runs). */
export function startNodeProcess(options: { serverUrl: string; token: string; name: string; args?: string[]; env?: Record<string, string> }): NodeProcess {
  const child: ChildProcess = spawn(process.execPath, [path.join(rootDir, "bin", "hearth.mjs"), "node", "--server", options.serverUrl, "--name", options.name, ...(options.args ?? [])], {
    cwd: rootDir,
    env: { ...process.env, VK_ICD_FILENAMES: "/usr/lib/chromium/vk_swiftshader_icd.json", HEARTH_NODE_TOKEN: options.token, ...options.env },
    stdio: ["ignore", "pipe", "pipe"],
  });
  let output = "";
  child.stdout!.on("data", (chunk) => (output += chunk));
  child.stderr!.on("data", (chunk) => (output += chunk));
  const exited = new Promise<number | string>((resolve) => child.once("exit", (code, signal) => resolve(code ?? signal ?? "unknown")));
  return {
    name: options.name,
    pid: child.pid!,
    output: () => output,
    exited,
    async waitFor(pattern, timeoutMs = 120_000) {
      const deadline = Date.now() + timeoutMs;
      for (;;) {
        const match = pattern.exec(output);
        if (match) return match;
        if (child.exitCode !== null || child.signalCode !== null) throw new Error(`node ${options.name} exited (${child.exitCode ?? child.signalCode}) before ${pattern}:\n${output}`);
        if (Date.now() > deadline) throw new Error(`node ${options.name} did not print ${pattern} in time:\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    },
    async kill(signal) {
      if (child.exitCode === null && child.signalCode === null) child.kill(signal);
      return exited;
    },
  };
}
