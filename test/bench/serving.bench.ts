// Serving overhead: tokens/s and time to first token for the tiny and small presets, through the
// OpenAI-compatible API (the official `openai` client, streamed, Hearth's /v1 on loopback, the
// inference socket, a real `hearth node` process) versus calling the engine directly in Node
// (gpu/nn generate with its KV cache, in this process). Prints the API's cost as ratios.
// Both sides run the same greedy decode of the same checkpoint on the same adapter kind, one after
// the other so they never share the two cores. BENCH_SERVING_TOKENS (default 64) tokens per request.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { Readable } from "node:stream";
import OpenAI from "openai";
import { openNodeGpu } from "../../gpu/device-node";
import { loadGPT, saveGPT } from "../../gpu/io";
import { GPT } from "../../gpu/nn/gpt";
import { generate } from "../../gpu/nn/generate";
import { gptPreset, type GPTPresetName } from "../../gpu/nn/config";
import { trainBpe } from "../../gpu/tokenizer";
import { startEmbeddedDatabase } from "../../server/db/embedded";
import { applyMigrations } from "../../server/db/migrate";
import { createPrismaClient } from "../../server/db/client";
import { createApiKey } from "../../server/apikeys/service";
import { createNodeToken } from "../../server/node-registry/tokens";
import { createModelVersionWithArtifact, storeModelArtifact } from "../../server/models/artifacts";
import { startServingServer, until } from "../support/serving";
import { startNodeProcess, type NodeProcess } from "../support/nodes";

const TOKENS = Number(process.env.BENCH_SERVING_TOKENS ?? 64);
const REPEATS = 5;
const PROMPT = "The customer asked whether a refund is possible after forty days, and the assistant said";
const PRESETS: GPTPresetName[] = ["tiny", "small"];

interface Sample {
  ttftMs: number;
  tokensPerS: number;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const summarize = (samples: Sample[]) => ({ ttftMs: median(samples.map((s) => s.ttftMs)), tokensPerS: median(samples.map((s) => s.tokensPerS)) });

export async function runServingBench(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-serving-"));
  process.env.HEARTH_DATA_DIR = dir;
  const database = await startEmbeddedDatabase({ dataDir: path.join(dir, "pglite") });
  await applyMigrations(database.url);
  const db = createPrismaClient(database.url);
  const serving = await startServingServer(db);
  let node: NodeProcess | undefined;
  try {
    const user = await db.user.create({ data: { email: `bench-${Date.now()}@example.test`, name: "Bench" } });
    const actor = { type: "user" as const, userId: user.id, email: user.email, name: user.name };
    const org = await db.organization.create({ data: { name: "Bench", slug: `bench-${Date.now()}` } });
    await db.membership.create({ data: { orgId: org.id, userId: user.id, role: "OWNER" } });
    const project = await db.project.create({ data: { orgId: org.id, name: "Bench", slug: "bench" } });
    const { secret: apiKey } = await createApiKey(db, actor, { orgId: org.id, name: "bench", scopes: ["models:invoke"], projectId: project.id });

    // Random weights decode as fast as trained ones; the tokenizer is trained on a little text.
    // Opened as a node opens its device (Dawn toggles and the adapter's tuned kernel choices).
    const ctx = await openNodeGpu();
    const words = "refund customer order parcel window days thirty forty assistant policy store return receipt invoice payment card account shipping address delivery late early manager support ticket reply answer question product warranty repair replace exchange credit balance discount coupon price tax total".split(" ");
    let seed = 7;
    const pick = () => words[(seed = (seed * 1103515245 + 12345) % 2147483648) % words.length];
    const tokenizerText = Array.from({ length: 3000 }, () => `${pick()} ${pick()} ${pick()}, ${pick()} ${pick()}.`).join("\n") + PROMPT;
    const checkpoints = new Map<GPTPresetName, Uint8Array>();
    const vocab = new Map<GPTPresetName, number>();
    for (const preset of PRESETS) {
      // A byte-level BPE needs at least 256 tokens (tiny's 128 is for byte-free tests); the model's
      // vocabulary is the tokenizer's, so every token it can pick decodes.
      const tokenizer = trainBpe(tokenizerText, Math.max(300, gptPreset(preset).vocabSize));
      const config = gptPreset(preset, { vocabSize: tokenizer.vocabSize });
      const model = GPT.create(ctx, config, { seed: 1 });
      checkpoints.set(preset, await saveGPT(model, { tokenizer, metadata: { preset } }));
      vocab.set(preset, config.vocabSize);
      model.release();
      const stored = await storeModelArtifact({ db, orgId: org.id }, Readable.from([Buffer.from(checkpoints.get(preset)!)]));
      const created = await db.model.create({ data: { projectId: project.id, name: preset, createdById: user.id } });
      await createModelVersionWithArtifact(db, actor, org.id, created.id, { config: { preset }, sha256: stored.sha256, sizeBytes: stored.sizeBytes });
    }

    // A real node process behind /v1; the engine directly in this process. The two alternate, request
    // by request, so both see the same load from whatever else shares the machine.
    const { secret: nodeToken } = await createNodeToken(db, actor, org.id, "bench node");
    node = startNodeProcess({ serverUrl: serving.origin, token: nodeToken, name: "bench-node" });
    await until(() => serving.hub.connectedNodeIds().length === 1, "the node connecting", () => node!.output());
    const client = new OpenAI({ apiKey, baseURL: serving.baseUrl, maxRetries: 0, timeout: 600_000 });
    const direct = new Map<GPTPresetName, ReturnType<typeof summarize>>();
    const api = new Map<GPTPresetName, ReturnType<typeof summarize>>();
    for (const preset of PRESETS) {
      const { model, tokenizer } = loadGPT(ctx, checkpoints.get(preset)!);
      const prompt = tokenizer!.encode(PROMPT);
      const engineOnce = async (): Promise<Sample> => {
        const t0 = performance.now();
        let first = 0;
        const result = await generate(model, prompt, { maxNewTokens: TOKENS, temperature: 0, onToken: () => void (first ||= performance.now()) });
        return { ttftMs: first - t0, tokensPerS: result.tokens.length / ((performance.now() - t0) / 1000) };
      };
      const apiOnce = async (): Promise<Sample> => {
        const t0 = performance.now();
        let first = 0;
        let completionTokens = 0;
        const stream = await client.completions.create({ model: `bench/${preset}:latest`, prompt: PROMPT, max_tokens: TOKENS, temperature: 0, stream: true, stream_options: { include_usage: true } });
        for await (const chunk of stream) {
          if (chunk.choices[0]?.text) first ||= performance.now();
          if (chunk.usage) completionTokens = chunk.usage.completion_tokens;
        }
        return { ttftMs: first - t0, tokensPerS: completionTokens / ((performance.now() - t0) / 1000) };
      };
      // Warm-up: shader compilation here, loading the model on the node there.
      await engineOnce();
      await apiOnce();
      const engineSamples: Sample[] = [];
      const apiSamples: Sample[] = [];
      for (let i = 0; i < REPEATS; i++) {
        engineSamples.push(await engineOnce());
        apiSamples.push(await apiOnce());
      }
      model.release();
      direct.set(preset, summarize(engineSamples));
      api.set(preset, summarize(apiSamples));
    }
    ctx.destroy();

    console.log(`vocabularies: ${PRESETS.map((p) => `${p} ${vocab.get(p)}`).join(", ")}`);
    console.log(`greedy decode of ${TOKENS} tokens after a ${PROMPT.length}-character prompt; median of ${REPEATS} alternating pairs after a warm-up (SwiftShader, 2 shared cores)`);
    console.log("preset  direct tok/s  API tok/s  API/direct  | direct TTFT ms  API TTFT ms  API-direct ms");
    for (const preset of PRESETS) {
      const d = direct.get(preset)!;
      const a = api.get(preset)!;
      console.log(
        `${preset.padEnd(6)}  ${d.tokensPerS.toFixed(1).padStart(12)}  ${a.tokensPerS.toFixed(1).padStart(9)}  ${(a.tokensPerS / d.tokensPerS).toFixed(2).padStart(10)}  | ${d.ttftMs.toFixed(1).padStart(14)}  ${a.ttftMs.toFixed(1).padStart(11)}  ${(a.ttftMs - d.ttftMs).toFixed(1).padStart(13)}`,
      );
    }
  } finally {
    await node?.kill("SIGTERM");
    await serving.close();
    await db.$disconnect();
    await database.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  }
}
