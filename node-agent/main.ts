// `npx hearth node --server URL --token TOKEN`: a GPU node process (see node-agent/worker.ts).
import os from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";
import { openNodeGpu } from "@/gpu/device-node";
import { NodeWorker } from "./worker";
import { defaultTuningFile, fileTuningStore } from "./tuning-store";

export const NODE_USAGE = `Usage: hearth node --server <Hearth URL> --token <node token> [--name <name>] [--memory-gb <GiB>] [--no-serve]

  --server     the Hearth server (or HEARTH_URL)
  --token      a node token from the Nodes page (or HEARTH_NODE_TOKEN, which keeps it out of 'ps')
  --name       how the node appears on the Nodes page (default: the host name)
  --memory-gb  memory offered to jobs (default: the machine's RAM on a CPU adapter; unknown on a GPU)
  --no-serve   run jobs only, do not serve models to the OpenAI-compatible API

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
  const tuningStore = fileTuningStore(defaultTuningFile());
  const worker = new NodeWorker({ serverUrl, token, name: values.name ?? os.hostname(), memoryBytes, serve: !values["no-serve"], openGpu: () => openNodeGpu({ tuningStore }) });
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
