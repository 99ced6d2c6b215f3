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
  | { type: "done"; latencies: Float64Array; received: number; expected: number; loopDelayP99Ms: number; loopDelayMaxMs: number }
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
let received = 0;
const clients = setup.clients.map((index) => {
  const doc = new Y.Doc();
  const provider = new WebsocketProvider(setup.wsUrl, setup.docName, doc, {
    WebSocketPolyfill: HeaderWebSocket as unknown as typeof globalThis.WebSocket,
    disableBc: true,
  });
  const me = String(index);
  // Read the markers from the update itself: a Y.Text delta would walk the whole growing text.
  doc.on("update", (update: Uint8Array, origin: unknown) => {
    if (origin === null) return; // this client's own edit
    const at = mainNow();
    for (const struct of Y.decodeUpdate(update).structs) {
      if (!(struct instanceof Y.Item) || !(struct.content instanceof Y.ContentString)) continue;
      for (const match of struct.content.str.matchAll(MARKER)) {
        if (match[1] === me) continue;
        received++;
        latencies.push(at - Number(match[3]) / 1000);
      }
    }
  });
  const synced = new Promise<void>((resolve) => provider.once("sync", () => resolve()));
  return { index, doc, provider, synced, edits: 0 };
});

const loopDelay = monitorEventLoopDelay({ resolution: 10 });
const timers: NodeJS.Timeout[] = [];

function startEditing(atMainMs: number) {
  const startLocal = atMainMs + offsetMs;
  const endLocal = startLocal + setup.seconds * 1000;
  loopDelay.enable();
  for (const client of clients) {
    const text = client.doc.getText("content");
    // Each client's ticks at its own phase, as independent people would type.
    const phase = Math.random() * (1000 / setup.editsPerSecond);
    timers.push(
      setTimeout(() => {
        const tick = () => {
          if (now() >= endLocal) return;
          const marker = `<${client.index}.${client.edits++}.${Math.round(mainNow() * 1000)}>`;
          text.insert(Math.floor(Math.random() * (text.length + 1)), marker);
        };
        tick();
        timers.push(setInterval(tick, 1000 / setup.editsPerSecond));
      }, Math.max(0, startLocal - now()) + phase),
    );
  }
  timers.push(
    setTimeout(() => {
      for (const timer of timers) clearInterval(timer);
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
  port.postMessage(
    { type: "done", latencies: out, received, expected, loopDelayP99Ms: loopDelay.percentile(99) / 1e6, loopDelayMaxMs: loopDelay.max / 1e6 } satisfies FromWorker,
    [out.buffer],
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
