// A light node for the queue benchmark: registers with a node token, then leases EVAL jobs and
// completes each at once (no GPU), until the queue stays empty. Prints one JSON line of timings.
// Usage: tsx test/bench/queue-worker.ts <server URL> <node token> <name>
import { NodeApiClient } from "@/node-agent/client";
import type { LeasedJob } from "@/contracts/node-protocol";
import { registration } from "../support/nodes";

const [serverUrl, token, name] = process.argv.slice(2);
const api = new NodeApiClient(serverUrl, token);
api.nodeId = (await api.call<{ nodeId: string }>("POST", "register", { json: registration(name) })).nodeId;
console.log("ready");
// Wait for the go signal on stdin, so all workers start together.
await new Promise<void>((resolve) => process.stdin.once("data", () => resolve()));
const leaseMs: number[] = [];
const completeMs: number[] = [];
let empty = 0;
while (empty < 3) {
  const t0 = performance.now();
  const { job } = await api.call<{ job: LeasedJob | null }>("POST", "lease", { json: { kinds: ["EVAL"] } });
  if (!job) {
    empty++;
    await new Promise((r) => setTimeout(r, 100));
    continue;
  }
  empty = 0;
  const t1 = performance.now();
  leaseMs.push(t1 - t0);
  await api.call("POST", `runs/${job.runId}/complete`, { json: {} });
  completeMs.push(performance.now() - t1);
}
console.log(JSON.stringify({ leaseMs, completeMs }));
process.exit(0);
