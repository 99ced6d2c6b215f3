// `npx hearth node --server URL --token TOKEN`: a GPU node process (see node-agent/worker.ts).
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openNodeGpu } from "@/gpu/device-node";
import { NodeWorker } from "./worker";
import { defaultTuningFile, fileTuningStore } from "./tuning-store";
import { defaultTorchDir, probeTorch, setupTorch } from "./torch-engine";

export const NODE_USAGE = `Usage: hearth node --server <Hearth URL> --token <node token> [--name <name>] [--memory-gb <GiB>] [--no-serve]
                   [--python <path> | --setup-torch cpu [--torch-dir <dir>]] [--engines webgpu,torch] [--cpu-ranks <n>]
                   [--rendezvous-address <address>]

  --server     the Hearth server (or HEARTH_URL)
  --token      a node token from the Nodes page (or HEARTH_NODE_TOKEN, which keeps it out of 'ps')
  --name       how the node appears on the Nodes page (default: the host name)
  --memory-gb  memory offered to jobs (default: the machine's RAM on a CPU adapter; unknown on a GPU)
  --no-serve   run jobs only, do not serve models to the OpenAI-compatible API
  --python     a Python environment with torch, transformers, peft and safetensors: the node then runs
               the torch engine too (and trains Hugging Face folders with it); without it, webgpu only
  --setup-torch cpu
               create that environment (a venv in --torch-dir, default ~/.local/share/hearth/torch-venv)
               from the hash-pinned node-agent/torch/requirements.txt with pip, then use it
  --cpu-ranks  on a machine without CUDA GPUs, the processes one torch job may run as (gloo; default 1):
               a job asking for gpus: N runs as N processes sharing the CPU. With GPUs, one per GPU
  --rendezvous-address
               take part in jobs on several nodes (torch): the address of this machine its peers
               connect to when it hosts a job's rendezvous (torchrun's c10d store, on a port from the
               server's HEARTH_RENDEZVOUS_PORTS). The store has no authentication and torch listens on
               every interface: firewall that port range to the nodes' private network. Without it,
               the node takes no multi-node jobs
  --engines    the engines to offer (default: every one that runs here); torch-only nodes never lease
               Hearth GPT checkpoints, which run on webgpu only

Exit status: 0 stopped (SIGINT/SIGTERM), 2 bad usage or no GPU, 3 the server refused the token.`;

export async function runNodeCommand(argv: string[]): Promise<number> {
  let values;
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        server: { type: "string" },
        token: { type: "string" },
        name: { type: "string" },
        "memory-gb": { type: "string" },
        "no-serve": { type: "boolean", default: false },
        python: { type: "string" },
        "setup-torch": { type: "string" },
        "torch-dir": { type: "string" },
        engines: { type: "string" },
        "cpu-ranks": { type: "string" },
        "rendezvous-address": { type: "string" },
        help: { type: "boolean", default: false },
      },
      strict: true,
    }));
  } catch (error) {
    console.error(`${(error as Error).message}\n\n${NODE_USAGE}`);
    return 2;
  }
  if (values.help) {
    console.log(NODE_USAGE);
    return 0;
  }
  const serverUrl = values.server ?? process.env.HEARTH_URL;
  const token = values.token ?? process.env.HEARTH_NODE_TOKEN;
  if (!serverUrl || !token) {
    console.error(`Give the server and a node token.\n\n${NODE_USAGE}`);
    return 2;
  }
  let memoryBytes: number | undefined;
  if (values["memory-gb"] !== undefined) {
    const gib = Number(values["memory-gb"]);
    if (!(gib > 0)) {
      console.error(`--memory-gb must be a positive number of GiB, got "${values["memory-gb"]}"`);
      return 2;
    }
    memoryBytes = Math.floor(gib * 1024 ** 3);
  }
  const engines = (values.engines ?? "webgpu,torch").split(",").map((e) => e.trim());
  if (!engines.length || engines.some((e) => e !== "webgpu" && e !== "torch")) {
    console.error(`--engines takes webgpu, torch or both, got "${values.engines}"`);
    return 2;
  }
  if (values.python && values["setup-torch"]) {
    console.error("Give --python or --setup-torch, not both.");
    return 2;
  }
  let python = values.python;
  if (values["setup-torch"] !== undefined) {
    try {
      python = setupTorch(values["setup-torch"], values["torch-dir"] ?? defaultTorchDir(), (line) => console.log(`[hearth node] ${line}`));
    } catch (error) {
      console.error(`[hearth node] ${(error as Error).message}`);
      return 2;
    }
  }
  let cpuRanks: number | undefined;
  if (values["cpu-ranks"] !== undefined) {
    cpuRanks = Number(values["cpu-ranks"]);
    if (!Number.isInteger(cpuRanks) || cpuRanks < 1 || cpuRanks > 64) {
      console.error(`--cpu-ranks must be a whole number from 1 to 64, got "${values["cpu-ranks"]}"`);
      return 2;
    }
  }
  let torch;
  if (!engines.includes("torch")) torch = { env: null, report: { engine: "torch" as const, available: false, reason: "not offered by this node (--engines)" } };
  else if (python) {
    torch = probeTorch(python);
    if (torch.env && cpuRanks) torch.env.cpuRanks = cpuRanks;
  }
  if (engines.includes("torch") && !engines.includes("webgpu") && !torch?.env) {
    console.error(`[hearth node] --engines torch, but the torch engine cannot run: ${torch?.report.reason ?? "give --python or --setup-torch"}`);
    return 2;
  }
  const rendezvousAddress = values["rendezvous-address"];
  if (rendezvousAddress !== undefined && !/^[A-Za-z0-9.:-]{1,253}$/.test(rendezvousAddress)) {
    console.error(`--rendezvous-address must be a host name or IP address, got "${rendezvousAddress}"`);
    return 2;
  }
  const tuningStore = fileTuningStore(defaultTuningFile());
  const worker = new NodeWorker({ serverUrl, token, name: values.name ?? os.hostname(), memoryBytes, serve: !values["no-serve"], openGpu: () => openNodeGpu({ tuningStore }), webgpu: engines.includes("webgpu"), torch, rendezvousAddress });
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.log(`[hearth node] stopping (${signal})...`);
      worker.stop();
    });
  }
  try {
    const ended = await worker.run();
    return ended.reason === "token-refused" ? 3 : 0;
  } catch (error) {
    console.error(`[hearth node] ${(error as Error).message}`);
    return 2;
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  process.exit(await runNodeCommand(process.argv.slice(2)));
}
