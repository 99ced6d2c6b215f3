// The GPU check: the LoRA fine-tuning step of test/bench/lora-finetune.bench.ts (SmolLM2-135M-
// shaped llama, random weights, bf16 base frozen, LoRA r=8 alpha=16 on q,k,v,o,gate,up,down, batch
// 1 x 256 tokens, AdamW, clipping) by Hearth in Node on Dawn (Vulkan) on the machine's GPU, and by
// transformers + peft with PyTorch on CUDA; tokens/s of each and the ratio, printed and written
// to $OUT/gpu-check.json when OUT is set.
//
// Run it through scripts/gpu-check.sh, which sets up the Vulkan loader and driver and picks Node
// and this file (with tsx) or its carried bundle; that script's header says how to run it on a
// machine without this repo's node_modules. It fails, saying why, when there is no Vulkan GPU
// adapter or no CUDA, unless GPU_CHECK_ALLOW_CPU=1 (for trying it out without a GPU: Dawn on a CPU
// driver such as SwiftShader, torch on the CPU).
//
//   GPU_CHECK_LAYERS=30  GPU_CHECK_SEQ=256  GPU_CHECK_WARM=2  GPU_CHECK_STEPS=10  GPU_CHECK_PROFILE=1  GPU_CHECK_TUNE=1
//   GPU_CHECK_PEER_WARM=3  GPU_CHECK_PEER_STEPS=20  GPU_CHECK_PYTHON=python3  GPU_CHECK_ALLOW_CPU=0
//   GPU_CHECK_ENGINE_STEPS=12 (0 leaves it out)
//
// Then the torch engine of `hearth node` itself (node-agent/torch/train.py, as a torch node starts it on
// one GPU) on a LoRA job over a folder of the same shape (test/bench/engines_folder.py), with the same
// rank, alpha, targets and batch: its tokens/s over the steps after the first, beside the peer's.
import { spawnSync } from "node:child_process";
import { cpus, tmpdir } from "node:os";
import fs from "node:fs";
import path from "node:path";
import { openNodeGpu } from "../../gpu/device-node";
import type { GpuContext } from "../../gpu/device";
import { DEFAULT_LORA_SPEC, describeFigures, loraFinetuneFigures, mib, type LoraBenchFigures, type LoraBenchSpec } from "./lora-finetune-figures";
import { runLoraPeer, type PeerFigures } from "./lora-peer";
import { enginesDataset, enginesSpec, makeEnginesFolder, runTorchEngineJob, type EngineFigures } from "./torch-engine";

const env = process.env;
const num = (name: string, fallback: number) => (env[name] === undefined || env[name] === "" ? fallback : Number(env[name]));
const allowCpu = env.GPU_CHECK_ALLOW_CPU === "1";
const python = env.GPU_CHECK_PYTHON || "python3";
const repo = process.cwd();
const peerScript = path.join(repo, "test/bench/lora_finetune_peer.py");

function fail(msg: string): never {
  console.error(`\nGPU CHECK FAILED: ${msg}`);
  writeJson({ ok: false, error: msg });
  process.exit(2);
}

function writeJson(o: object): void {
  if (!env.OUT) return;
  fs.mkdirSync(env.OUT, { recursive: true });
  fs.writeFileSync(path.join(env.OUT, "gpu-check.json"), JSON.stringify({ date: new Date().toISOString(), build: env.GPU_CHECK_BUILD ?? "source", ...o }, null, 2));
}

/** torch's view of CUDA, asked before anything long runs. */
function probeTorch(): { ok: boolean; cuda: boolean; gpus: number; line: string } {
  const code = "import torch, transformers, peft; c = torch.cuda.is_available(); print(c, torch.__version__, transformers.__version__, peft.__version__, torch.cuda.get_device_name() if c else '-', torch.cuda.device_count())";
  const r = spawnSync(python, ["-c", code], { encoding: "utf8", timeout: 120_000 });
  if (r.status !== 0) return { ok: false, cuda: false, gpus: 0, line: (r.error?.message ?? r.stderr).trim().split("\n").slice(-3).join(" ") };
  return { ok: true, cuda: r.stdout.startsWith("True"), gpus: Number(r.stdout.trim().split(/\s+/).at(-1)) || 0, line: r.stdout.trim() };
}

async function main(): Promise<void> {
  const spec: LoraBenchSpec = {
    ...DEFAULT_LORA_SPEC,
    layers: num("GPU_CHECK_LAYERS", 30),
    seqLen: num("GPU_CHECK_SEQ", DEFAULT_LORA_SPEC.seqLen),
    warmSteps: num("GPU_CHECK_WARM", 2),
    timedSteps: num("GPU_CHECK_STEPS", 10),
    profile: env.GPU_CHECK_PROFILE !== "0",
    tune: env.GPU_CHECK_TUNE !== "0",
  };
  console.log(
    `GPU check: LoRA fine-tuning of a SmolLM2-135M-shaped llama (${spec.layers} layers, random weights, bf16 base frozen, LoRA r=${spec.rank} alpha=${spec.alpha} ` +
      `on q,k,v,o,gate,up,down, batch ${spec.batchSize} x ${spec.seqLen} tokens), Hearth (Node, Dawn) vs transformers + peft (PyTorch)`,
  );

  // Both sides' devices first, so a machine without them fails in seconds.
  const torch = probeTorch();
  if (!torch.ok) fail(`${python} cannot import torch, transformers and peft (${torch.line}); set GPU_CHECK_PYTHON to a python that has them`);
  console.log(`python: ${python} (CUDA available, torch, transformers, peft, device): ${torch.line}`);
  if (!torch.cuda && !allowCpu) fail(`torch sees no CUDA GPU (torch.cuda.is_available() is False: no NVIDIA driver, no GPU, or a CPU-only torch build)`);
  const peerDevice = torch.cuda ? "cuda" : "cpu";

  let ctx: GpuContext;
  try {
    ctx = await openNodeGpu({ autotune: false, powerPreference: "high-performance" });
  } catch (e) {
    fail(`Dawn found no Vulkan GPU adapter: ${(e as Error).message}`);
  }
  const a = ctx.report.adapter;
  const adapterText = [a.vendor, a.architecture, a.device, a.description].filter(Boolean).join(" ");
  console.log(`Dawn adapter: ${adapterText}; features: ${JSON.stringify(ctx.report.features)}`);
  if (/swiftshader|llvmpipe|lavapipe|software|cpu/i.test(adapterText) && !allowCpu) {
    ctx.destroy();
    fail(
      `Dawn's only adapter is a CPU driver (${adapterText}): no Vulkan driver for the GPU was found. Install the Vulkan loader (libvulkan1) ` +
        `and point VK_DRIVER_FILES at the NVIDIA ICD (e.g. /usr/local/nvidia/share/vulkan/icd.d/nvidia_icd.json); scripts/gpu-check.sh does both when it can`,
    );
  }

  console.log(`\n## Hearth in Node (Dawn): ${spec.warmSteps} warm-up step(s), ${spec.timedSteps} timed`);
  let hearth: LoraBenchFigures;
  try {
    hearth = await loraFinetuneFigures(ctx, spec, (line) => console.log(`  ${line}`));
  } catch (e) {
    fail(`Hearth's run failed: ${(e as Error).stack ?? e}`);
  } finally {
    ctx.destroy();
  }
  console.log(describeFigures(hearth));

  const cpuPeer = peerDevice === "cpu";
  console.log(`\n## transformers + peft, PyTorch on ${peerDevice}`);
  let peer: PeerFigures;
  try {
    peer = await runLoraPeer({
      python,
      script: peerScript,
      device: peerDevice,
      threads: num("GPU_CHECK_PEER_THREADS", cpuPeer ? Math.min(16, cpus().length) : 4),
      layers: spec.layers,
      seqLen: spec.seqLen,
      rank: spec.rank,
      alpha: spec.alpha,
      warm: num("GPU_CHECK_PEER_WARM", cpuPeer ? 1 : 3),
      steps: num("GPU_CHECK_PEER_STEPS", cpuPeer ? 2 : 20),
      log: (l) => console.log(`  ${l}`),
    });
  } catch (e) {
    fail(`the PyTorch peer failed: ${(e as Error).message}`);
  }
  console.log(
    `${peer.library} on ${peer.device}: ${peer.tokensPerSec.toFixed(1)} tokens/s (${peer.msPerStep.toFixed(1)} ms/step over ${peer.timedSteps} steps), ` +
      `${peer.peakKind} ${mib(peer.peakBytes)}`,
  );

  let engine: (EngineFigures & { loadSeconds: number }) | null = null;
  const scaling: Array<{ processes: number; nodes?: number; tokensPerSec: number; efficiency: number }> = [];
  const engineSteps = num("GPU_CHECK_ENGINE_STEPS", cpuPeer ? 3 : 12);
  if (engineSteps > 1) {
    console.log(`\n## the torch engine of hearth node (node-agent/torch/train.py), ${engineSteps} steps of a LoRA job`);
    const dir = fs.mkdtempSync(path.join(tmpdir(), "gpu-check-folder-"));
    try {
      makeEnginesFolder(python, path.join(repo, "test/bench/engines_folder.py"), dir, spec.layers);
      engine = await runTorchEngineJob({
        python,
        script: path.join(repo, "node-agent/torch/train.py"),
        parentDir: dir,
        spec: enginesSpec(spec.seqLen, engineSteps),
        dataset: enginesDataset(),
        threads: cpuPeer ? Math.min(16, cpus().length) : 4,
        log: (l) => console.log(`  ${l}`),
      });
      console.log(`torch engine on ${engine.device}: ${engine.tokensPerSec.toFixed(1)} tokens/s (${engine.msPerStep.toFixed(1)} ms/step over ${engine.steps - 1} steps after the first; loaded in ${engine.loadSeconds.toFixed(1)} s)`);
      // Several GPUs: the same job per GPU (batch 1 each, so the global batch grows with them), 2, 4, 8...
      const gpuCount = torch.gpus;
      if (gpuCount < 2) console.log(`one GPU here: no scaling figure (a machine with several GPUs prints 1, 2, ... processes and the efficiency)`);
      for (let n = 2; n <= gpuCount; n *= 2) {
        const wide = await runTorchEngineJob({
          python,
          script: path.join(repo, "node-agent/torch/train.py"),
          parentDir: dir,
          spec: { ...enginesSpec(spec.seqLen, engineSteps), batchSize: n },
          dataset: enginesDataset(),
          processes: n,
          threads: 4,
          log: (l) => console.log(`  ${l}`),
        });
        const efficiency = wide.tokensPerSec / (n * engine.tokensPerSec);
        scaling.push({ processes: n, tokensPerSec: wide.tokensPerSec, efficiency });
        console.log(`torch engine on ${n} GPUs (DDP): ${wide.tokensPerSec.toFixed(1)} tokens/s, scaling efficiency ${(100 * efficiency).toFixed(0)}%`);
      }
      // The multi-node path on one machine: 2 torchrun launchers of 1 GPU each, joined by the static rendezvous.
      if (gpuCount >= 2) {
        const gang = await runTorchEngineJob({
          python,
          script: path.join(repo, "node-agent/torch/train.py"),
          parentDir: dir,
          spec: { ...enginesSpec(spec.seqLen, engineSteps), batchSize: 2 },
          dataset: enginesDataset(),
          nodes: 2,
          gpus: gpuCount,
          threads: 4,
          log: (l) => console.log(`  ${l}`),
        });
        const efficiency = gang.tokensPerSec / (2 * engine.tokensPerSec);
        scaling.push({ processes: 2, nodes: 2, tokensPerSec: gang.tokensPerSec, efficiency });
        console.log(`torch engine on 2 nodes x 1 GPU (rendezvous on 127.0.0.1): ${gang.tokensPerSec.toFixed(1)} tokens/s, scaling efficiency ${(100 * efficiency).toFixed(0)}%`);
      }
    } catch (e) {
      console.log(`the torch engine's job failed: ${(e as Error).message}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }

  const ratio = hearth.tokensPerSec / peer.tokensPerSec;
  console.log(`\n## result`);
  console.log(`Hearth (Node, Dawn on ${adapterText}): ${hearth.tokensPerSec.toFixed(1)} tokens/s, ${hearth.msPerStep.toFixed(1)} ms/step, peak pool ${mib(hearth.peakBytesInUse)}`);
  console.log(`transformers + peft (PyTorch on ${peer.device}): ${peer.tokensPerSec.toFixed(1)} tokens/s, ${peer.msPerStep.toFixed(1)} ms/step, peak ${mib(peer.peakBytes)}`);
  console.log(`ratio Hearth / PyTorch: ${ratio.toFixed(3)}x${allowCpu && (cpuPeer || /swiftshader|llvmpipe|lavapipe/i.test(adapterText)) ? "  (GPU_CHECK_ALLOW_CPU: not a GPU figure)" : ""}`);
  if (engine) console.log(`torch engine of hearth node (${engine.device}): ${engine.tokensPerSec.toFixed(1)} tokens/s, ${engine.msPerStep.toFixed(1)} ms/step (batch 1 x ${spec.seqLen}, its data's examples padded to the window)`);
  for (const s of scaling) console.log(`torch engine on ${s.processes} GPUs${s.nodes ? ` as ${s.nodes} nodes` : ""}: ${s.tokensPerSec.toFixed(1)} tokens/s, scaling efficiency ${(100 * s.efficiency).toFixed(0)}%`);
  writeJson({ ok: true, spec, adapter: adapterText, hearth, peer, ratio, torchEngine: engine, scaling });
  if (env.OUT) console.log(`written: ${path.join(env.OUT, "gpu-check.json")}`);
}

await main();
process.exit(0);
