// In browsers (pages and workers) zod must not compile parsers with `new Function`: even its probe
// for whether it may is an eval that the app's Content-Security-Policy (proxy.ts) blocks and reports.
// Imported first by every module that imports zod and runs in the browser, so it is set before any
// schema parses. Node keeps the compiled parsers.
import { z } from "zod";

const inBrowser = typeof window !== "undefined" || typeof (globalThis as { WorkerGlobalScope?: unknown }).WorkerGlobalScope !== "undefined";
if (inBrowser) z.config({ jitless: true });
