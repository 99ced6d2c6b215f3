// The two engines of `hearth node` on the same LoRA job, on this machine, in one run:
//  - webgpu: runTrainJob (gpu/train/decoder-job.ts, what a webgpu node runs) in Node on Dawn
//    (SwiftShader on a machine without a GPU), the parent as the folder archive a node downloads;
//  - torch: node-agent/torch/train.py (transformers + peft, what a torch node runs) in the oracle venv,
//    on the CPU here (test/bench/torch-engine.ts).
// The parent: a SmolLM2-135M-shaped llama (hidden 576, intermediate 1536, 9/3 heads of 64, vocabulary
// 49152 tied, bf16) with BENCH_ENGINES_LAYERS layers (default 2: SwiftShader takes minutes per step at
// 30), made once by test/bench/engines_folder.py under test-results/bench-cache/. The job: LoRA r 8 alpha
// 16 on the seven projections, no dropout, batch 1 x BENCH_ENGINES_SEQ (128) tokens, BENCH_ENGINES_STEPS
// steps (4), seed 1 — the same spec for both, so both draw the same batches and the same initial
// adapter, and their losses are printed side by side. Tokens/s are over the steps after the first.
//
//   BENCH_ONLY=engines npm run bench       (or npx tsx test/bench/engines.bench.ts)
// With BENCH_ENGINES_PROCESSES=2 the torch engine also runs the job as 2 processes (torchrun, DDP, gloo on
// the CPU here: they share the cores, so this shows the overhead, not a speed-up) and prints the scaling
// efficiency, tokens/s of N processes / (N x tokens/s of one); the GPU check does it across GPUs.
// With BENCH_ENGINES_NODES=2 it also runs the job as 2 nodes of 1 process each (two torchrun launchers
// joined by the static rendezvous on 127.0.0.1, as `hearth node` runs a job with nodes: 2), beside it.
//
//   BENCH_ENGINES_LAYERS=2  BENCH_ENGINES_SEQ=128  BENCH_ENGINES_STEPS=4  BENCH_ENGINES_THREADS=2  BENCH_ENGINES_PROCESSES=1
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { openNodeGpu } from "../../gpu/device-node";
import { readFolderFiles } from "../../gpu/io/folder-node";
import { writeTar } from "../../gpu/io/tar";
import { runTrainJob, type TrainJobSpec } from "../../gpu/train";
import { oraclePython, oracleReady } from "../support/oracle";
import { enginesDataset, enginesSpec, figuresFromSteps, makeEnginesFolder, runTorchEngineJob, type EngineFigures, type StepPoint } from "./torch-engine";

const env = process.env;
const num = (name: string, fallback: number) => (env[name] === undefined || env[name] === "" ? fallback : Number(env[name]));
const root = path.resolve(import.meta.dirname, "../..");

/** The SmolLM2-shaped folder with `layers` layers, made once (transformers, random bf16 weights). */
function cachedEnginesFolder(python: string, layers: number): string {
  const dir = path.join(root, "test-results", "bench-cache", `smollm2-shape-${layers}-layers`);
  if (!fs.existsSync(path.join(dir, "model.safetensors"))) makeEnginesFolder(python, path.join(root, "test/bench/engines_folder.py"), dir, layers);
  return dir;
}

async function webgpuEngine(parentDir: string, spec: TrainJobSpec, dataset: string): Promise<EngineFigures> {
  const ctx = await openNodeGpu();
  try {
    const adapter = [ctx.report.adapter.vendor, ctx.report.adapter.architecture, ctx.report.adapter.description].filter(Boolean).join(" / ");
    const points: StepPoint[] = [];
    await runTrainJob(ctx, spec, { dataset: new TextEncoder().encode(dataset), parent: writeTar(readFolderFiles(parentDir)) }, {
      onPhase: (phase) => console.log(`  webgpu: ${phase}`),
      onStep: (m) => {
        points.push({ step: m.step, tokens: m.tokens, elapsedMs: m.elapsedMs, loss: m.loss });
        console.log(`  webgpu: step ${m.step}${m.loss === undefined ? "" : ` loss ${m.loss.toFixed(4)}`} at ${(m.elapsedMs / 1000).toFixed(1)} s`);
      },
    });
    return figuresFromSteps("webgpu", `Dawn: ${adapter}`, points);
  } finally {
    ctx.destroy();
  }
}

export async function runEnginesBench(): Promise<void> {
  if (!oracleReady()) {
    console.log("skipped: the oracle venv (.venv-oracle, npm run oracle:setup) is the torch engine's Python here");
    return;
  }
  const layers = num("BENCH_ENGINES_LAYERS", 2);
  const seqLen = num("BENCH_ENGINES_SEQ", 128);
  const steps = num("BENCH_ENGINES_STEPS", 4);
  const threads = num("BENCH_ENGINES_THREADS", os.cpus().length);
  const python = oraclePython();
  const parentDir = cachedEnginesFolder(python, layers);
  const spec = enginesSpec(seqLen, steps);
  const dataset = enginesDataset();
  console.log(`SmolLM2-135M shape with ${layers} layers (bf16), LoRA r 8 alpha 16 on 7 projections, batch 1 x ${seqLen}, ${steps} steps; load ${os.loadavg()[0].toFixed(1)} on ${os.cpus().length} CPUs`);

  const torch = await runTorchEngineJob({ python, parentDir, spec: { ...spec }, dataset, threads, log: (l) => console.log(`  ${l}`) });
  const webgpu = await webgpuEngine(parentDir, spec, dataset);
  const processes = num("BENCH_ENGINES_PROCESSES", 1);
  const wide =
    processes > 1
      ? await runTorchEngineJob({ python, parentDir, spec: { ...spec, batchSize: processes }, dataset, processes, threads: Math.max(1, Math.floor(threads / processes)), log: (l) => console.log(`  ${l}`) })
      : null;

  const row = (f: EngineFigures) => `| ${f.engine} | ${f.device} | ${f.tokensPerSec.toFixed(1)} | ${f.msPerStep.toFixed(0)} | ${f.firstStepSeconds.toFixed(1)} | ${f.losses.map((l) => l.toFixed(4)).join(", ")} |`;
  console.log("\n| engine | device | tokens/s | ms/step | first step s | losses |\n| --- | --- | --- | --- | --- | --- |");
  console.log(row(torch));
  console.log(row(webgpu));
  console.log(`torch engine loaded in ${torch.loadSeconds.toFixed(1)} s (imports, folder, peft) with ${threads} threads`);
  console.log(`ratio torch / webgpu: ${(torch.tokensPerSec / webgpu.tokensPerSec).toFixed(1)}x; first-step loss ${torch.losses[0]?.toFixed(5)} vs ${webgpu.losses[0]?.toFixed(5)} (the same job: same batches, same initial adapter)`);
  const nodes = num("BENCH_ENGINES_NODES", 1);
  if (nodes > 1) {
    const gang = await runTorchEngineJob({ python, parentDir, spec: { ...spec, batchSize: nodes }, dataset, nodes, threads: Math.max(1, Math.floor(threads / nodes)), log: (l) => console.log(`  ${l}`) });
    const single = await runTorchEngineJob({ python, parentDir, spec: { ...spec, batchSize: nodes }, dataset, threads, log: (l) => console.log(`  ${l}`) });
    console.log(`torch engine, batch ${nodes} x ${seqLen}: 1 process ${single.tokensPerSec.toFixed(1)} tokens/s, ${nodes} nodes x 1 process (rendezvous on 127.0.0.1, on the same CPU) ${gang.tokensPerSec.toFixed(1)} tokens/s; scaling efficiency ${((100 * gang.tokensPerSec) / (nodes * single.tokensPerSec)).toFixed(0)}%; losses ${gang.losses.map((l) => l.toFixed(5)).join(", ")} vs ${single.losses.map((l) => l.toFixed(5)).join(", ")}`);
  }
  if (wide) {
    const single = await runTorchEngineJob({ python, parentDir, spec: { ...spec, batchSize: processes }, dataset, threads, log: (l) => console.log(`  ${l}`) });
    console.log(`torch engine, batch ${processes} x ${seqLen}: 1 process ${single.tokensPerSec.toFixed(1)} tokens/s, ${processes} processes (DDP, on the same CPU) ${wide.tokensPerSec.toFixed(1)} tokens/s; scaling efficiency ${((100 * wide.tokensPerSec) / (processes * single.tokensPerSec)).toFixed(0)}% (the processes share this machine's cores)`);
  }
  console.log(`load after: ${os.loadavg()[0].toFixed(1)}`);
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runEnginesBench();
  process.exit(0);
}
