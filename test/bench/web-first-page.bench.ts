// First-page weight and server start time: builds if needed, starts Hearth on a fresh embedded database,
// and loads the sign-in page (the first page anyone sees) and the organizations page in Chromium.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import zlib from "node:zlib";
import { buildIfStale } from "../../scripts/build";
import { startAppProcess } from "../support/app-server";
import { launchBrowser } from "../support/browser";
import { freePort } from "../support/postgres";

interface PageWeight {
  page: string;
  scripts: number;
  rawBytes: number;
  gzipBytes: number;
}

export async function runWebFirstPageBench(): Promise<void> {
  const buildStart = performance.now();
  const built = buildIfStale({ quiet: true });
  if (built) console.log(`next build: ${((performance.now() - buildStart) / 1000).toFixed(1)} s`);

  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-bench-"));
  const started = performance.now();
  const app = await startAppProcess({ port: await freePort(), dataDir });
  const firstStart = performance.now() - started;
  const browser = await launchBrowser();
  try {
    const weights: PageWeight[] = [];
    for (const page of ["/signin", "/signup"]) {
      const tab = await browser.newPage();
      const bodies: Buffer[] = [];
      tab.on("response", async (response) => {
        if (response.request().resourceType() === "script") bodies.push(await response.body().catch(() => Buffer.alloc(0)));
      });
      const t0 = performance.now();
      await tab.goto(`${app.url}${page}`, { waitUntil: "networkidle" });
      const loadMs = performance.now() - t0;
      const raw = bodies.reduce((sum, b) => sum + b.length, 0);
      const gzip = bodies.reduce((sum, b) => sum + zlib.gzipSync(b, { level: 6 }).length, 0);
      weights.push({ page, scripts: bodies.length, rawBytes: raw, gzipBytes: gzip });
      console.log(`${page}: first load ${loadMs.toFixed(0)} ms`);
      await tab.close();
    }
    console.log(`server start on a new embedded database (initdb, migrations, seed, Next): ${(firstStart / 1000).toFixed(1)} s`);
    console.log("page      scripts  JS raw (kB)  JS gzip (kB)");
    for (const w of weights) {
      console.log(`${w.page.padEnd(9)} ${String(w.scripts).padStart(7)}  ${(w.rawBytes / 1024).toFixed(1).padStart(11)}  ${(w.gzipBytes / 1024).toFixed(1).padStart(12)}`);
    }
  } finally {
    await browser.close();
    await app.stop();
    fs.rmSync(dataDir, { recursive: true, force: true });
  }
}
