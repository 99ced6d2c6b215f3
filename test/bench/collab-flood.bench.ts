// One EDITOR flooding a shared document, as the security probe did: twelve valid Yjs updates of
// 15 MB over 4 sockets, then a burst of small updates from each socket. Reports, not asserts (the
// integration test test/integration/collab-limits.test.ts asserts the behaviour): /api/health
// latency while the flood runs, the process's RSS, the update log stored for the document, how the
// offenders were closed, and how long an honest editor's edit took to reach another client.
// In-process: the CollabServer and the real /api/health handler behind one HTTP server, as
// server/main.ts routes them, on the embedded database (or DATABASE_URL), with the default limits
// (HEARTH_COLLAB_* variables apply). The clients share this process's event loop, so the health
// latency includes their work too: it is an upper bound.
// Environment: BENCH_FLOOD_MB (default 15), BENCH_FLOOD_UPDATES (default 12), BENCH_FLOOD_SOCKETS (default 4),
// BENCH_FLOOD_BURST (default 500 small updates per socket).
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import type { AddressInfo } from "node:net";
import WebSocket from "ws";
import * as Y from "yjs";
import * as encoding from "lib0/encoding";
import { startDatabase } from "@/server/db";
import { getDb } from "@/server/db/client";
import { CollabServer } from "@/server/collab";
import { GET as health } from "@/app/api/health/route";
import { connectClient, sessionCookie } from "../support/collab";

const MB = Number(process.env.BENCH_FLOOD_MB ?? 15);
const UPDATES = Number(process.env.BENCH_FLOOD_UPDATES ?? 12);
const SOCKETS = Number(process.env.BENCH_FLOOD_SOCKETS ?? 4);
const BURST = Number(process.env.BENCH_FLOOD_BURST ?? 500);
const ORIGIN = "http://hearth.bench";

function updateMessage(update: Uint8Array): Uint8Array {
  const encoder = encoding.createEncoder();
  encoding.writeVarUint(encoder, 0);
  encoding.writeVarUint(encoder, 2);
  encoding.writeVarUint8Array(encoder, update);
  return encoding.toUint8Array(encoder);
}

function insertUpdate(chars: number): Uint8Array {
  const doc = new Y.Doc();
  doc.getText("content").insert(0, "x".repeat(chars));
  const update = Y.encodeStateAsUpdate(doc);
  doc.destroy();
  return update;
}

const quantile = (sorted: number[], q: number) => (sorted.length ? sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] : NaN);

export async function runCollabFloodBench(): Promise<void> {
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-flood-"));
  const database = await startDatabase({ dataDir });
  const db = getDb();
  const tag = Math.random().toString(36).slice(2, 8);
  const editor = await db.user.create({ data: { email: `flood-${tag}@example.test`, name: "Flood" }, select: { id: true } });
  const honest = await db.user.create({ data: { email: `honest-${tag}@example.test`, name: "Honest" }, select: { id: true } });
  const org = await db.organization.create({ data: { name: `Flood ${tag}`, slug: `flood-${tag}` }, select: { id: true } });
  for (const user of [editor, honest]) await db.membership.create({ data: { orgId: org.id, userId: user.id, role: "EDITOR" } });
  const project = await db.project.create({ data: { orgId: org.id, name: "Flood", slug: `flood-${tag}` }, select: { id: true } });
  const policy = await db.policy.create({ data: { projectId: project.id, key: `P-${tag}`, title: "Flood", draft: "start", createdById: honest.id }, select: { id: true } });
  const docName = `policy:${policy.id}`;

  const collab = new CollabServer({ allowedOrigins: [ORIGIN] });
  const server = http.createServer(async (req, res) => {
    const response = await health();
    res.writeHead(response.status, { "content-type": "application/json" }).end(await response.text());
  });
  server.on("upgrade", (req, socket, head) => collab.handleUpgrade(req, socket, head));
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const base = `127.0.0.1:${(server.address() as AddressInfo).port}`;
  const wsUrl = `ws://${base}/yjs`;

  const floodCookie = await sessionCookie(db, editor.id);
  const honestCookie = await sessionCookie(db, honest.id);
  const writer = connectClient(wsUrl, docName, { cookie: honestCookie, origin: ORIGIN });
  const reader = connectClient(wsUrl, docName, { cookie: honestCookie, origin: ORIGIN });
  await Promise.all([writer.synced(), reader.synced()]);

  // Samplers: health latency every 100 ms, RSS every 50 ms.
  const healthMs: number[] = [];
  let unanswered = 0;
  let peakRss = process.memoryUsage().rss;
  const rssBefore = peakRss;
  let running = true;
  const healthLoop = (async () => {
    while (running) {
      const t0 = performance.now();
      const ok = await fetch(`http://${base}/api/health`, { signal: AbortSignal.timeout(10_000) }).then((r) => r.ok, () => false);
      if (ok) healthMs.push(performance.now() - t0);
      else unanswered++;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
  })();
  const rssTimer = setInterval(() => (peakRss = Math.max(peakRss, process.memoryUsage().rss)), 50);

  const t0 = performance.now();
  const closes: Record<string, number> = {};
  const sockets = await Promise.all(
    Array.from({ length: SOCKETS }, async () => {
      const ws = new WebSocket(`${wsUrl}/${docName}`, { headers: { cookie: floodCookie, origin: ORIGIN } });
      ws.on("error", () => undefined);
      const closed = new Promise<void>((resolve) => ws.on("close", (code) => ((closes[code] = (closes[code] ?? 0) + 1), resolve())));
      await new Promise<void>((resolve) => ws.once("message", () => resolve()));
      return { ws, closed };
    }),
  );
  // The probe: large valid updates, round-robin over the sockets.
  for (let i = 0; i < UPDATES; i++) {
    const s = sockets[i % SOCKETS];
    if (s.ws.readyState === WebSocket.OPEN) s.ws.send(updateMessage(insertUpdate(MB * 1024 * 1024)));
  }
  // Then a burst of small updates from fresh sockets of the same editor.
  const burst = await Promise.all(
    Array.from({ length: SOCKETS }, async () => {
      const ws = new WebSocket(`${wsUrl}/${docName}`, { headers: { cookie: floodCookie, origin: ORIGIN } });
      ws.on("error", () => undefined);
      const closed = new Promise<void>((resolve) => ws.on("close", (code) => ((closes[code] = (closes[code] ?? 0) + 1), resolve())));
      await new Promise<void>((resolve) => ws.once("message", () => resolve()));
      for (let i = 0; i < BURST && ws.readyState === WebSocket.OPEN; i++) ws.send(updateMessage(insertUpdate(1024)));
      return { ws, closed };
    }),
  );
  // An honest edit during the flood.
  const e0 = performance.now();
  writer.doc.getText("content").insert(0, "honest ");
  while (!reader.doc.getText("content").toString().startsWith("honest ") && performance.now() - e0 < 60_000) await new Promise((resolve) => setTimeout(resolve, 5));
  const honestMs = performance.now() - e0;
  await Promise.race([Promise.all([...sockets, ...burst].map((s) => s.closed)), new Promise((resolve) => setTimeout(resolve, 15_000))]);
  const floodSeconds = (performance.now() - t0) / 1000;
  await new Promise((resolve) => setTimeout(resolve, 1_000));
  running = false;
  clearInterval(rssTimer);
  await healthLoop;
  const [{ bytes, rows }] = await db.$queryRaw<{ bytes: bigint; rows: bigint }[]>`
    SELECT COALESCE(SUM(octet_length("update")), 0)::bigint AS bytes, COUNT(*)::bigint AS rows FROM "CollabUpdate" WHERE "docName" = ${docName}`;
  const sorted = [...healthMs].sort((a, b) => a - b);

  console.log(`${UPDATES} valid updates of ${MB} MB over ${SOCKETS} sockets, then ${BURST} updates of 1 KiB from each of ${SOCKETS} more sockets, one EDITOR;`);
  console.log(`${database.embedded ? "embedded database (PGlite)" : "DATABASE_URL"}; ${os.cpus().length} cores, load average ${os.loadavg().map((l) => l.toFixed(1)).join(" / ")}.`);
  const rowsOut: [string, string][] = [
    ["flood duration (until every offender was closed)", `${floodSeconds.toFixed(1)} s`],
    ["offenders' close codes (code x sockets)", Object.entries(closes).map(([c, n]) => `${c} x${n}`).join(", ") || "none closed"],
    ["/api/health answered / unanswered", `${healthMs.length} / ${unanswered}`],
    ["/api/health latency p50 / p99 / max", `${quantile(sorted, 0.5).toFixed(0)} / ${quantile(sorted, 0.99).toFixed(0)} / ${(sorted[sorted.length - 1] ?? NaN).toFixed(0)} ms`],
    ["process RSS before -> peak", `${(rssBefore / 2 ** 20).toFixed(0)} -> ${(peakRss / 2 ** 20).toFixed(0)} MB`],
    ["update log stored for the document", `${(Number(bytes) / 2 ** 20).toFixed(2)} MB in ${rows} rows`],
    ["honest edit -> other client during the flood", `${honestMs.toFixed(0)} ms`],
  ];
  const width = Math.max(...rowsOut.map(([name]) => name.length));
  for (const [name, value] of rowsOut) console.log(`${name.padEnd(width)}  ${value}`);

  writer.destroy();
  reader.destroy();
  for (const s of [...sockets, ...burst]) s.ws.terminate();
  await collab.close();
  server.closeAllConnections();
  await new Promise((resolve) => server.close(resolve));
  await database.stop();
  fs.rmSync(dataDir, { recursive: true, force: true });
}
