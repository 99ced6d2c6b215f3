// Runs test/bench/lora_finetune_peer.py (transformers + peft, the same LoRA step as
// lora-finetune-figures.ts) and returns its figures. Node-only; shared by the LoRA fine-tuning
// bench (CPU, the oracle venv) and the GPU check (CUDA, the machine's python3).
import { spawn } from "node:child_process";
import path from "node:path";

export interface PeerFigures {
  library: string;
  device: string;
  dtype: string;
  adapterDtype: string;
  layers: number;
  tokensPerStep: number;
  warmSteps: number;
  timedSteps: number;
  warmSeconds: number;
  loadSeconds: number;
  stepMs: number[];
  msPerStep: number;
  tokensPerSec: number;
  trainableParams: number;
  losses: number[];
  peakBytes: number;
  peakKind: string;
}

export interface PeerOptions {
  python: string;
  /** The script; default test/bench/lora_finetune_peer.py beside this file. */
  script?: string;
  device: "cpu" | "cuda";
  threads: number;
  layers: number;
  seqLen: number;
  rank: number;
  alpha: number;
  warm: number;
  steps: number;
  /** Progress lines (the script's stderr). */
  log?: (line: string) => void;
  timeoutMs?: number;
}

export function runLoraPeer(o: PeerOptions): Promise<PeerFigures> {
  const script = o.script ?? path.join(import.meta.dirname, "lora_finetune_peer.py");
  const args = [script, "--device", o.device, "--threads", String(o.threads), "--layers", String(o.layers), "--seq", String(o.seqLen)];
  args.push("--rank", String(o.rank), "--alpha", String(o.alpha), "--warm", String(o.warm), "--steps", String(o.steps));
  const threads = String(o.threads);
  const env = { ...process.env, OMP_NUM_THREADS: threads, MKL_NUM_THREADS: threads, TOKENIZERS_PARALLELISM: "false", HF_HUB_OFFLINE: "1", PYTHONUNBUFFERED: "1" };
  return new Promise((resolve, reject) => {
    const child = spawn(o.python, args, { env, stdio: ["ignore", "pipe", "pipe"] });
    let out = "";
    let err = "";
    let partial = "";
    const timer = setTimeout(() => child.kill("SIGKILL"), o.timeoutMs ?? 20 * 60_000);
    child.stdout.on("data", (d: Buffer) => (out += d.toString()));
    child.stderr.on("data", (d: Buffer) => {
      err += d.toString();
      partial += d.toString();
      const lines = partial.split("\n");
      partial = lines.pop() ?? "";
      for (const l of lines) if (l.startsWith("peer:")) o.log?.(l);
    });
    child.on("error", (e) => {
      clearTimeout(timer);
      reject(new Error(`cannot run ${o.python}: ${e.message}`));
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      if (code !== 0) return reject(new Error(`${o.python} ${args.join(" ")} failed (${signal ?? `exit ${code}`}):\n${err.split("\n").slice(-15).join("\n")}`));
      try {
        resolve(JSON.parse(out.trim().split("\n").pop() ?? "") as PeerFigures);
      } catch {
        reject(new Error(`the peer printed no figures:\n${out}\n${err}`));
      }
    });
  });
}
