// Runs a bundled entry in headless Chromium (Debian's, SwiftShader WebGPU): esbuild bundles the
// entry, an ephemeral 127.0.0.1 server serves it (plus optional static folders), Playwright drives
// the page. Used by the browser test and by the benchmarks.

import { build } from "esbuild";
import { createServer, type Server } from "node:http";
import { readFile } from "node:fs/promises";
import path from "node:path";
import { chromium, type Browser, type Page } from "playwright-core";

export const CHROMIUM = process.env.HEARTH_CHROMIUM ?? "/usr/bin/chromium";

export interface BrowserRun {
  page: Page;
  url: string;
  close(): Promise<void>;
}

const TYPES: Record<string, string> = {
  ".js": "text/javascript",
  ".mjs": "text/javascript",
  ".wasm": "application/wasm",
  ".html": "text/html",
};

export async function openBundleInChromium(opts: {
  entry: string;
  /** More bundles served at /<name>.js (e.g. a Web Worker's script). */
  extraEntries?: Record<string, string>;
  /** URL prefix -> directory served as is (e.g. onnxruntime-web's wasm files). */
  statics?: Record<string, string>;
  extraArgs?: string[];
  onConsole?: (line: string) => void;
}): Promise<BrowserRun> {
  const bundle = await build({
    entryPoints: [opts.entry],
    bundle: true,
    format: "esm",
    platform: "browser",
    target: "es2022",
    write: false,
    logLevel: "silent",
  });
  const js = bundle.outputFiles[0].text;
  const extra: Record<string, string> = {};
  for (const [name, entry] of Object.entries(opts.extraEntries ?? {})) {
    const b = await build({ entryPoints: [entry], bundle: true, format: "esm", platform: "browser", target: "es2022", write: false, logLevel: "silent" });
    extra[`/${name}.js`] = b.outputFiles[0].text;
  }
  const html = `<!doctype html><html><body><script type="module" src="/bundle.js"></script></body></html>`;
  const server: Server = createServer(async (req, res) => {
    const url = new URL(req.url ?? "/", "http://127.0.0.1");
    try {
      if (url.pathname === "/") return void res.writeHead(200, { "content-type": "text/html" }).end(html);
      if (url.pathname === "/bundle.js") return void res.writeHead(200, { "content-type": "text/javascript" }).end(js);
      if (extra[url.pathname]) return void res.writeHead(200, { "content-type": "text/javascript" }).end(extra[url.pathname]);
      for (const [prefix, dir] of Object.entries(opts.statics ?? {})) {
        if (url.pathname.startsWith(prefix)) {
          const file = path.join(dir, path.normalize(url.pathname.slice(prefix.length)).replace(/^(\.\.[/\\])+/, ""));
          const body = await readFile(file);
          const type = TYPES[path.extname(file)] ?? "application/octet-stream";
          // byte ranges, as a static file server or the Hub's CDN answers them (streaming readers)
          const range = /^bytes=(\d+)-(\d+)$/.exec(req.headers.range ?? "");
          if (range) {
            const [start, end] = [Number(range[1]), Math.min(Number(range[2]), body.length - 1)];
            return void res
              .writeHead(206, { "content-type": type, "content-range": `bytes ${start}-${end}/${body.length}`, "content-length": end - start + 1 })
              .end(body.subarray(start, end + 1));
          }
          return void res.writeHead(200, { "content-type": type, "content-length": body.length }).end(req.method === "HEAD" ? undefined : body);
        }
      }
      res.writeHead(404).end();
    } catch {
      res.writeHead(404).end();
    }
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as { port: number }).port;
  let browser: Browser;
  try {
    browser = await chromium.launch({
      executablePath: CHROMIUM,
      headless: true,
      args: [
        "--enable-unsafe-webgpu",
        "--no-sandbox",
        "--disable-quic",
        "--no-first-run",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        ...(opts.extraArgs ?? []),
      ],
    });
  } catch (e) {
    server.close();
    throw new Error(`cannot launch Chromium at ${CHROMIUM} (install Debian's chromium): ${(e as Error).message}`);
  }
  const page = await browser.newPage();
  const errors: string[] = [];
  page.on("pageerror", (e) => errors.push(String(e)));
  page.on("console", (m) => opts.onConsole?.(m.text()));
  const url = `http://127.0.0.1:${port}/`;
  await page.goto(url);
  await page.waitForFunction(() => (globalThis as { __hearthReady?: boolean }).__hearthReady === true, undefined, { timeout: 60_000 }).catch(() => {
    throw new Error(`page did not load: ${errors.join("; ") || "no error reported"}`);
  });
  return {
    page,
    url,
    async close() {
      await browser.close();
      await new Promise((r) => server.close(r));
    },
  };
}
