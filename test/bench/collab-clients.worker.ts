// One worker thread of the collab benchmark: a share of the y-websocket clients (real WebsocketProvider
// over real sockets), each inserting a marker `<client.seq.sentAt>` every 1/rate seconds, and noting
// for every other client's marker when it arrived. Times are on the main thread's clock: this
// thread's clock (performance.timeOrigin + performance.now()) minus the offset the main thread
// measured for it (see collab.bench.ts). Spreading the clients over threads keeps one event loop from
// queueing 24,000 deliveries a second, so the latencies measure the server, not the clients.
import { monitorEventLoopDelay } from "node:perf_hooks";
import { parentPort, workerData } from "node:worker_threads";
import WebSocket from "ws";
import * as Y from "yjs";
import { WebsocketProvider } from "y-websocket";

export interface WorkerSetup {
  wsUrl: string;
  docName: string;
  headers: Record<string, string>;
  /** Global indices of this worker's clients. */
  clients: number[];
  editsPerSecond: number;
  /** Edits at the full rate before measuring (JIT, caches and the server's first compaction warm up). */
  warmupSeconds: number;
  /** Edits measured after the warm-up. */
  seconds: number;
}

export type ToWorker =
  | { type: "ping"; sentAt: number }
  | { type: "offset"; offsetMs: number }
  | { type: "start"; atMainMs: number }
  | { type: "drain"; editsByClient: Record<number, number>; timeoutMs: number };

export type FromWorker =
  | { type: "pong"; sentAt: number; workerNow: number }
  | { type: "ready" }
  | { type: "edited"; editsByClient: Record<number, number> }
  | { type: "done"; latencies: Float64Array; warmupLatencies: Float64Array; received: number; expected: number; messages: number; loopDelayP99Ms: number; loopDelayMaxMs: number }
  | { type: "error"; message: string };

const setup = workerData as WorkerSetup;
process.setMaxListeners(setup.clients.length + 20); // every y-websocket provider listens for the process's exit
const port = parentPort!;
const now = () => performance.timeOrigin + performance.now();
let offsetMs = 0;
const mainNow = () => now() - offsetMs;

/** `<client.seq.sentAtMicroseconds>`: recognisable inside any inserted text, carries its own send time. */
const MARKER = /<(\d+)\.(\d+)\.(\d+)>/g;

class HeaderWebSocket extends WebSocket {
  constructor(address: string | URL, protocols?: string | string[]) {
    super(address, protocols, { headers: setup.headers });
  }
}

const latencies: number[] = [];
const warmupLatencies: number[] = [];
/** Main-clock time from which edits are measured (before it: warm-up). */
let measureFrom = Infinity;
let received = 0;
/** Remote updates applied by this thread's clients while editing (each is one relayed message). */
let messages = 0;
const clients = setup.clients.map((index) => {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(setup.wsUrl, setup.docName, doc, {
    WebSocketPolyfill: HeaderWebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  const me = String(index);
  // Read the markers from the applied update's bytes: strings are stored in it as UTF-8, and markers are
  // ASCII inserted whole (each client types at its own cursor, so nobody splits another's marker).
  // Decoding the update again, or a Y.Text delta walking the growing text, would cost more than the
  // edit itself and measure the benchmark rather than the server.
  doc.on("update", (update: Uint8Array, origin: unknown) => {
    if (origin === null) return; // this client's own edit
    const at = mainNow();
    if (editing && at >= measureFrom) messages++;
    for (const match of Buffer.from(update.buffer, update.byteOffset, update.byteLength).toString("latin1").matchAll(MARKER)) {
      if (match[1] === me) continue;
      received++;
      const sentAt = Number(match[3]) / 1000;
      (sentAt >= measureFrom ? latencies : warmupLatencies).push(at - sentAt);
    }
  });
  const synced = new Promise<void>((resolve) => provider.once("sync", () => resolve()));
  return { index, doc, provider, synced, edits: 0 };
});

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
let editing = false;
const timers: NodeJS.Timeout[] = [];

function startEditing(atMainMs: number) {
  const startLocal = atMainMs + offsetMs;
  const endLocal = startLocal + (setup.warmupSeconds + setup.seconds) * 1000;
  measureFrom = atMainMs + setup.warmupSeconds * 1000;
  timers.push(setTimeout(() => loopDelay.enable(), Math.max(0, measureFrom + offsetMs - now())));
  editing = true;
  for (const client of clients) {
    const text = client.doc.getText("content");
    // Each client's ticks at its own phase, as independent people would type.
    const phase = Math.random() * (1000 / setup.editsPerSecond);
    // Each person types at their own cursor: a random place in the text as it was before anyone typed
    // (so never inside someone's marker), kept right after what they typed while others type elsewhere,
    // as an editor maps a cursor through remote changes.
    let cursor = Y.createRelativePositionFromTypeIndex(text, Math.floor(Math.random() * (text.length + 1)), -1);
    timers.push(
      setTimeout(() => {
        const tick = () => {
          if (now() >= endLocal) return;
          const marker = `<${client.index}.${client.edits++}.${Math.round(mainNow() * 1000)}>`;
          const at = Y.createAbsolutePositionFromRelativePosition(cursor, client.doc)?.index ?? text.length;
          text.insert(at, marker);
          cursor = Y.createRelativePositionFromTypeIndex(text, at + marker.length, -1);
        };
        tick();
        timers.push(setInterval(tick, 1000 / setup.editsPerSecond));
      }, Math.max(0, startLocal - now()) + phase),
    );
  }
  timers.push(
    setTimeout(() => {
      for (const timer of timers) clearInterval(timer);
      editing = false;
      port.postMessage({ type: "edited", editsByClient: Object.fromEntries(clients.map((c) => [c.index, c.edits])) } satisfies FromWorker);
    }, Math.max(0, endLocal - now()) + 1000 / setup.editsPerSecond + 5),
  );
}

async function drain(editsByClient: Record<number, number>, timeoutMs: number) {
  const total = Object.values(editsByClient).reduce((a, b) => a + b, 0);
  const expected = clients.reduce((sum, c) => sum + total - (editsByClient[c.index] ?? 0), 0);
  const deadline = now() + timeoutMs;
  while (received < expected && now() < deadline) await new Promise((r) => setTimeout(r, 50));
  loopDelay.disable();
  for (const client of clients) {
    client.provider.destroy();
    client.doc.destroy();
  }
  const out = Float64Array.from(latencies);
  const warmup = Float64Array.from(warmupLatencies);
  port.postMessage(
    { type: "done", latencies: out, warmupLatencies: warmup, received, expected, messages, loopDelayP99Ms: loopDelay.percentile(99) / 1e6, loopDelayMaxMs: loopDelay.max / 1e6 } satisfies FromWorker,
    [out.buffer, warmup.buffer],
  );
}

port.on("message", (message: ToWorker) => {
  try {
    if (message.type === "ping") port.postMessage({ type: "pong", sentAt: message.sentAt, workerNow: now() } satisfies FromWorker);
    else if (message.type === "offset") offsetMs = message.offsetMs;
    else if (message.type === "start") startEditing(message.atMainMs);
    else if (message.type === "drain") void drain(message.editsByClient, message.timeoutMs);
  } catch (error) {
    port.postMessage({ type: "error", message: String((error as Error).stack ?? error) } satisfies FromWorker);
  }
});

Promise.all(clients.map((c) => c.synced)).then(() => port.postMessage({ type: "ready" } satisfies FromWorker));
