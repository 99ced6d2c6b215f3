// For tests and benchmarks of serving: the server side that GPU nodes and OpenAI clients talk to (the
// node API, the nodes' inference socket and /v1, mounted as server/main.ts mounts them, without Next).
// The nodes themselves: startNodeProcess in ./nodes.ts.
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { PrismaClient } from "@/server/db/generated/client";
import { isNodeApiPath, serveNodeApi, upgradeNodeSocket } from "@/server/node-registry/http";
import type { InferenceHub } from "@/server/node-registry/hub";
import { startInferenceHub, stopInferenceHub } from "@/server/node-registry/inference";
import { routeCompletion } from "@/server/node-registry/inference";
import { isServingPath, serveOpenAiApi } from "@/server/serving/http";

export interface ServingServer {
  origin: string;
  /** The OpenAI base URL. */
  baseUrl: string;
  hub: InferenceHub;
  close(): Promise<void>;
}

export async function startServingServer(db: PrismaClient): Promise<ServingServer> {
  const hub = startInferenceHub(() => db);
  const server = http.createServer((req, res) => {
    const pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    const served = isNodeApiPath(pathname)
      ? serveNodeApi(db, req, res)
      : isServingPath(pathname)
        ? serveOpenAiApi(req, res, { db, routeCompletion })
        : Promise.resolve(void res.writeHead(404).end());
    served.catch(() => res.destroy());
  });
  server.on("upgrade", (req, socket, head) => {
    if (!upgradeNodeSocket(hub, req, socket, head)) socket.destroy();
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const origin = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  return {
    origin,
    baseUrl: `${origin}/v1`,
    hub,
    async close() {
      await stopInferenceHub();
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** Polls `check` until it holds; fails with `what` (and `detail()`, e.g. a process's output) after `timeoutMs` (two minutes). */
export async function until(check: () => Promise<boolean> | boolean, what: string, detail: () => string = () => "", timeoutMs = 120_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`${what} did not happen in time. ${detail()}`);
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
}
