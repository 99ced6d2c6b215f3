// The one Node process that serves Hearth: Next pages, the tRPC API, and WebSocket upgrades.
import { withSecurityHeaders } from "@/server/http/security-headers";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import next from "next";
import { startDatabase } from "@/server/db";
import { getDb } from "@/server/db/client";
import { ensureAuthSecret } from "@/server/settings";
import { demoBanner, seedDemoOnce } from "@/server/seed";
import { CollabServer } from "@/server/collab";
import { serverKey } from "@/server/endpoints/crypto";
import { allowlistFromEnvironment } from "@/server/endpoints/ssrf";
import { startEndpointRunWorker } from "@/server/runs/eval-runner";
import { startDriftWatch } from "@/server/schedules/scheduler";
import { isNodeApiPath, serveNodeApi, upgradeNodeSocket } from "@/server/node-registry/http";
import { startInferenceHub, stopInferenceHub } from "@/server/node-registry/inference";
import { startJobSweeper } from "@/server/job-queue/sweeper";
import { startServedLogSweeper } from "@/server/serving/request-log";
import { startLiveEventSweeper } from "@/server/live/bus";
import { routeCompletion } from "@/server/node-registry/inference";
import { RELAY_PATH, serveRelay } from "@/server/node-registry/relay";
import { RelayVerifier } from "@/server/instances/relay-auth";
import { registerInstance, relayUrlFor } from "@/server/instances/registry";
import { isServingPath, serveOpenAiApi } from "@/server/serving/http";
import { isMcpPath, serveMcp } from "@/server/mcp/http";
import { checkMcpSettings } from "@/server/mcp/limits";
import { addressOfSocket, checkRateLimitSettings, CLIENT_ADDRESS_HEADER } from "@/server/auth/rate-limit";

/** Who is connecting, for the limits on failed attempts: set here only, whatever the client sent. */
function stampClientAddress(req: http.IncomingMessage): void {
  req.headers[CLIENT_ADDRESS_HEADER] = addressOfSocket(req.socket.remoteAddress, req.headers["x-forwarded-for"]);
}

export interface HearthOptions {
  port: number;
  hostname: string;
  dev: boolean;
  dataDir: string;
  seedDemo: boolean;
}

export interface RunningHearth {
  url: string;
  close(): Promise<void>;
}

const rootDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "..");

export async function startHearth(options: HearthOptions): Promise<RunningHearth> {
  process.env.NEXT_TELEMETRY_DISABLED = "1"; // nothing leaves the machine
  process.env.HEARTH_MIGRATIONS_DIR ??= path.join(rootDir, "prisma", "migrations");
  process.env.HEARTH_DATA_DIR = path.resolve(options.dataDir); // artifacts live beside the embedded database
  const database = await startDatabase({ dataDir: path.join(options.dataDir, "pglite") });
  const db = getDb();
  await ensureAuthSecret(db);
  // Misconfiguration of secrets or the outbound allowlist stops the start, not the first request.
  serverKey();
  allowlistFromEnvironment();
  checkRateLimitSettings();
  checkMcpSettings();
  const demo = options.seedDemo ? await seedDemoOnce(db, options.dataDir) : null;

  const publicUrl = process.env.NEXTAUTH_URL ?? `http://localhost:${options.port}`;
  process.env.NEXTAUTH_URL = publicUrl;

  const app = next({ dev: options.dev, dir: rootDir, hostname: options.hostname, port: options.port });
  await app.prepare();
  const handle = app.getRequestHandler();
  const nextUpgrade = app.getUpgradeHandler();
  const collab = new CollabServer(); // live co-editing: /yjs/<document> (server/collab/README.md)
  const endpointRuns = startEndpointRunWorker({ db }); // eval runs with target ENDPOINT (server/endpoints)
  // This instance among the others on the database (server/instances): where they relay /v1 requests for
  // the GPU nodes connected here, and where this one relays requests for theirs.
  const instance = await registerInstance(getDb, relayUrlFor(options.port, options.hostname));
  const relayVerifier = new RelayVerifier();
  const inference = startInferenceHub(getDb, instance); // GPU nodes' inference sockets (server/node-registry/inference.ts)
  const sweeper = startJobSweeper(getDb); // expired node job leases back to the queue
  const servedLogSweeper = startServedLogSweeper(getDb); // served requests past their project's retention
  const liveEventSweeper = startLiveEventSweeper(getDb); // live-view events past their retention (server/live)
  const driftWatch = startDriftWatch({ db, publicUrl }); // schedules, their alerts and webhooks (server/schedules)

  // Requests in flight, for a stop that drains them (close, below).
  let inFlight = 0;
  let drained: (() => void) | null = null;
  // Security headers (and HSTS over https) on every response, the APIs served before Next included.
  const server = http.createServer(withSecurityHeaders((req, res) => {
    stampClientAddress(req);
    inFlight++;
    res.once("close", () => {
      inFlight--;
      if (inFlight === 0) drained?.();
    });
    // The GPU nodes' API (token-authenticated, raw artifact bodies) and the OpenAI-compatible API
    // (streamed straight to the socket) are served before Next, as is the MCP server for agents.
    const pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    const served = isNodeApiPath(pathname)
      ? serveNodeApi(getDb(), req, res)
      : pathname === RELAY_PATH
        ? serveRelay(getDb(), inference, relayVerifier, req, res) // another instance's /v1 request for a node connected here
      : isServingPath(pathname)
        ? serveOpenAiApi(req, res, { db: getDb(), routeCompletion })
        : isMcpPath(pathname)
          ? serveMcp(req, res, { db: getDb() }) // agents' MCP clients, with API keys (server/mcp)
          : handle(req, res);
    served.catch((err) => {
      console.error("[hearth] request failed:", err);
      if (!res.headersSent) res.statusCode = 500;
      res.end();
    });
  }, { publicUrl }));
  server.on("upgrade", (req, socket, head) => {
    stampClientAddress(req);
    const pathname = new URL(req.url ?? "/", "http://localhost").pathname;
    if (options.dev && pathname.startsWith("/_next/")) {
      void nextUpgrade(req, socket, head);
      return;
    }
    if (pathname.startsWith("/yjs/")) {
      collab.handleUpgrade(req, socket, head);
      return;
    }
    if (upgradeNodeSocket(inference, req, socket, head)) return;
    // Unknown upgrades are closed, not left hanging.
    socket.end("HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n");
  });

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(options.port, options.hostname, () => resolve());
  });

  // One write, so whoever waits for "Hearth is running" also has the sign-in line.
  const banner = [
    `\nHearth is running at ${publicUrl}`,
    `Database: ${database.embedded ? `embedded PostgreSQL (PGlite) in ${path.resolve(options.dataDir)}` : "DATABASE_URL"}`,
    ...(demo ? demoBanner(demo) : []),
    "",
  ];
  console.log(banner.join("\n"));

  let closing: Promise<void> | undefined;
  return {
    url: publicUrl,
    close() {
      closing ??= (async () => {
        // Drain: take no new connections, let open requests and streams (a /v1 completion, an upload)
        // finish for up to HEARTH_DRAIN_SECONDS (default 10), then cut what is left: a load balancer
        // sends new requests to the other instances meanwhile.
        server.close();
        server.closeIdleConnections();
        const graceMs = 1000 * Number(process.env.HEARTH_DRAIN_SECONDS ?? 10);
        if (inFlight > 0) {
          console.log(`[hearth] draining ${inFlight} open request(s) for up to ${graceMs / 1000} s`);
          await new Promise<void>((resolve) => {
            drained = resolve;
            setTimeout(resolve, graceMs).unref();
          });
        }
        await collab.close();
        await endpointRuns.close();
        await driftWatch.close();
        await sweeper.stop();
        await servedLogSweeper.stop();
        await liveEventSweeper.stop();
        await stopInferenceHub();
        await instance.stop();
        server.closeAllConnections();
        await app.close?.();
        await database.stop();
      })();
      return closing;
    },
  };
}

export function optionsFromEnvironment(argv: string[]): HearthOptions {
  const dev = argv.includes("--dev");
  if (!process.env.NODE_ENV) (process.env as Record<string, string>).NODE_ENV = dev ? "development" : "production";
  return {
    dev,
    port: Number(process.env.PORT ?? 3000),
    hostname: process.env.HOST ?? "0.0.0.0",
    dataDir: process.env.HEARTH_DATA_DIR ?? path.join(rootDir, "data"),
    seedDemo: process.env.HEARTH_SEED_DEMO !== "0",
  };
}

/** Starts Hearth from the command line and stops it cleanly on SIGINT/SIGTERM (the embedded database needs it). */
export async function runFromCommandLine(argv: string[]): Promise<void> {
  const hearth = await startHearth(optionsFromEnvironment(argv));
  for (const signal of ["SIGINT", "SIGTERM"] as const) {
    process.once(signal, () => {
      console.log(`\nStopping Hearth (${signal})...`);
      hearth.close().then(
        () => process.exit(0),
        (err) => {
          console.error(err);
          process.exit(1);
        },
      );
    });
  }
}

if (process.argv[1] && path.resolve(process.argv[1]) === fileURLToPath(import.meta.url)) {
  await runFromCommandLine(process.argv);
}
