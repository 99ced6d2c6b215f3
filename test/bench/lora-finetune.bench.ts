// LoRA fine-tuning throughput of a SmolLM2-135M-shaped llama (hidden 576, intermediate 1536, 30
// layers, 9 heads / 3 kv heads of 64, vocabulary 49152 tied, rope theta 100000; random weights):
// bf16 base kept 16-bit and frozen, LoRA r=8 alpha=16 (no dropout) on q,k,v,o,gate,up,down,
// batch 1 x 256 tokens, AdamW with global-norm clipping, the loss read back every step.
//
//  - Hearth in headless Chromium (navigator.gpu; SwiftShader on a machine without a GPU), through
//    gpu/train's train() (test/bench/lora-finetune-figures.ts): tokens/s over timed steps after
//    warm-up steps, the pool's peak bytes in use while training, GPU time by kernel over one
//    profiled step.
//  - The same step in transformers + peft on this machine's CPU (test/bench/lora_finetune_peer.py in
//    the oracle venv, torch with 2 threads), in the same run; then the ratio Hearth / peer.
//  - Optionally Hearth in Node on Dawn (BENCH_LORA_NODE=1).
//
// If the full model fails in Chromium (memory, limits), the bench says why and runs the largest of
// 16, 8, 4, 2, 1 layers that does, and then also the peer at that depth. Not part of CI.
//
//   BENCH_ONLY=lora-finetune npm run bench        (or npx tsx test/bench/lora-finetune.bench.ts)
//   BENCH_LORA_LAYERS=30  BENCH_LORA_SEQ=256  BENCH_LORA_WARM=1  BENCH_LORA_STEPS=2
//   BENCH_LORA_PEER_WARM=1  BENCH_LORA_PEER_STEPS=5  BENCH_LORA_PEER_THREADS=2
//   BENCH_LORA_SKIP_PEER=1  BENCH_LORA_SKIP_BROWSER=1  BENCH_LORA_NODE=1  BENCH_LORA_PROFILE=0  BENCH_LORA_TUNE=0
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openNodeGpu } from "../../gpu/device-node";
import { openBundleInChromium } from "../gpu/browser/harness";
import { oraclePython, oracleReady } from "../support/oracle";
import { DEFAULT_LORA_SPEC, describeFigures, loraFinetuneFigures, medianMs, table, mib, type LoraBenchFigures, type LoraBenchSpec } from "./lora-finetune-figures";
import { runLoraPeer, type PeerFigures } from "./lora-peer";

const env = process.env;
const num = (name: string, fallback: number) => (env[name] === undefined || env[name] === "" ? fallback : Number(env[name]));

type BrowserRun = Awaited<ReturnType<typeof openBundleInChromium>>;

const openPage = () =>
  openBundleInChromium({ entry: path.join(import.meta.dirname, "browser/lora-finetune.entry.ts"), onConsole: (line) => /Failed to load resource/.test(line) || console.log(line) });

async function hearthInChromium(run: BrowserRun, spec: LoraBenchSpec): Promise<LoraBenchFigures> {
  type Fn = (s: LoraBenchSpec) => Promise<LoraBenchFigures>;
  return run.page.evaluate((s) => (globalThis as unknown as { __loraFinetuneBench: Fn }).__loraFinetuneBench(s), spec);
}

async function hearthInNode(spec: LoraBenchSpec): Promise<LoraBenchFigures> {
  const ctx = await openNodeGpu({ autotune: false });
  try {
    return await loraFinetuneFigures(ctx, spec, (line) => console.log(`  [node] ${line}`));
  } finally {
    ctx.destroy();
  }
}

async function peer(layers: number, spec: LoraBenchSpec): Promise<PeerFigures> {
  return runLoraPeer({
    python: oraclePython(),
    device: "cpu",
    threads: num("BENCH_LORA_PEER_THREADS", 2),
    layers,
    seqLen: spec.seqLen,
    rank: spec.rank,
    alpha: spec.alpha,
    warm: num("BENCH_LORA_PEER_WARM", 1),
    steps: num("BENCH_LORA_PEER_STEPS", 5),
    log: (l) => console.log(`  ${l}`),
  });
}

function describePeer(p: PeerFigures): string {
  return (
    `${p.library} on ${p.device}, ${p.layers} layers, base ${p.dtype}, adapters ${p.adapterDtype}: ` +
    `${p.tokensPerSec.toFixed(1)} tokens/s (by the median step ${((1000 * p.tokensPerStep) / medianMs(p.stepMs)).toFixed(1)}; ${p.msPerStep.toFixed(0)} ms/step over ${p.timedSteps} timed steps after ${p.warmSteps} warm-up in ${p.warmSeconds.toFixed(1)} s; ` +
    `steps ${p.stepMs.map((ms) => (ms / 1000).toFixed(2)).join(", ")} s), ${p.peakKind} ${mib(p.peakBytes)}`
  );
}

export async function runLoraFinetuneBench(): Promise<void> {
  const spec: LoraBenchSpec = {
    ...DEFAULT_LORA_SPEC,
    layers: num("BENCH_LORA_LAYERS", DEFAULT_LORA_SPEC.layers),
    seqLen: num("BENCH_LORA_SEQ", DEFAULT_LORA_SPEC.seqLen),
    warmSteps: num("BENCH_LORA_WARM", DEFAULT_LORA_SPEC.warmSteps),
    timedSteps: num("BENCH_LORA_STEPS", DEFAULT_LORA_SPEC.timedSteps),
    profile: env.BENCH_LORA_PROFILE !== "0",
    tune: env.BENCH_LORA_TUNE !== "0",
  };
  console.log(
    `LoRA fine-tuning, SmolLM2-135M-shaped llama (random weights), bf16 base frozen, LoRA r=${spec.rank} alpha=${spec.alpha} on q,k,v,o,gate,up,down, ` +
      `batch ${spec.batchSize} x ${spec.seqLen} tokens; Hearth: ${spec.warmSteps} warm-up step(s) then ${spec.timedSteps} timed step(s)`,
  );
  const summary: string[][] = [];
  const peers = new Map<number, PeerFigures>();
  const peerAt = async (layers: number): Promise<PeerFigures | null> => {
    if (env.BENCH_LORA_SKIP_PEER === "1") return null;
    if (peers.has(layers)) return peers.get(layers)!;
    if (!oracleReady()) {
      console.log("(peer skipped: the oracle environment .venv-oracle is missing or out of date; make it with `npm run oracle:setup`)");
      return null;
    }
    console.log(`\n## transformers + peft on this machine's CPU, ${layers} layers`);
    try {
      const p = await peer(layers, spec);
      console.log(describePeer(p));
      peers.set(layers, p);
      return p;
    } catch (e) {
      console.log(`peer failed: ${(e as Error).message}`);
      return null;
    }
  };
  const report = (where: string, f: LoraBenchFigures, p: PeerFigures | null) => {
    const ratio = p ? `${(f.tokensPerSec / p.tokensPerSec).toFixed(2)}x` : "-";
    if (p) {
      const byMedian = medianMs(p.stepMs) / medianMs(f.stepMs);
      console.log(`ratio Hearth (${where}) / transformers + peft (CPU, ${p.device}) at ${f.layers} layers: ${ratio} (by median steps ${byMedian.toFixed(2)}x)`);
    }
    summary.push([`Hearth, ${where}`, String(f.layers), f.tokensPerSec.toFixed(1), String(f.stepMs.length), mib(f.peakBytesInUse), p ? p.tokensPerSec.toFixed(1) : "-", ratio]);
  };

  // The peer first at the full depth: the figure the issue compares against.
  await peerAt(spec.layers);

  if (env.BENCH_LORA_SKIP_BROWSER !== "1") {
    console.log("\n## Hearth in headless Chromium (navigator.gpu)");
    // Smaller depths only if the full model fails; in the same page while it lives, so the kernel
    // tuning (kept in the page's memory per adapter) is not paid again.
    const depths = [spec.layers, ...[16, 8, 4, 2, 1].filter((l) => l < spec.layers)];
    let run: BrowserRun | null = null;
    try {
      for (const layers of depths) {
        run ??= await openPage();
        try {
          const f = await hearthInChromium(run, { ...spec, layers });
          console.log(describeFigures(f));
          report("headless Chromium", f, await peerAt(layers));
          break;
        } catch (e) {
          console.log(`${layers} layers do not run in headless Chromium: ${(e as Error).message.split("\n")[0]}`);
          const alive = !run.page.isClosed() && (await run.page.evaluate(() => true).catch(() => false));
          if (!alive) {
            await run.close().catch(() => {});
            run = null;
          }
        }
      }
    } finally {
      await run?.close();
    }
  }

  if (env.BENCH_LORA_NODE === "1") {
    console.log("\n## Hearth in Node (Dawn)");
    try {
      const f = await hearthInNode(spec);
      console.log(describeFigures(f));
      report("Node (Dawn)", f, await peerAt(spec.layers));
    } catch (e) {
      console.log(`${spec.layers} layers do not run in Node on Dawn: ${(e as Error).message.split("\n")[0]}`);
    }
  }

  for (const [layers, p] of peers) summary.push([`transformers + peft, ${p.device}`, String(layers), p.tokensPerSec.toFixed(1), String(p.timedSteps), `${mib(p.peakBytes)} (${p.peakKind})`, "", ""]);
  console.log(`\n## summary\n${table(["run", "layers", "tokens/s", "timed steps", "peak memory", "peer tokens/s", "ratio"], summary)}`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) {
  await runLoraFinetuneBench();
  process.exit(0);
}
