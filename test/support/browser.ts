// Debian's Chromium driven by playwright-core (no browser download: everything works offline).
import fs from "node:fs";
import path from "node:path";
import { afterEach } from "vitest";
import { chromium, type Browser, type BrowserContext } from "playwright-core";
import { rootDir } from "../../scripts/build";

/**
 * Content-Security-Policy violations seen by any page of any context of a browser launched here. The
 * app enforces a CSP with nonces (proxy.ts); a violation means something the policy blocked (an inline
 * script without the nonce, a resource from elsewhere), and fails the test that was running.
 */
export const cspViolations: string[] = [];

const RECORD_VIOLATIONS = `document.addEventListener("securitypolicyviolation", (e) => {
  window.__hearthCspViolation?.(\`\${e.violatedDirective} blocked \${e.blockedURI || "inline"} at \${e.sourceFile || location.href}:\${e.lineNumber} (\${e.sample || ""})\`);
});`;

async function recordCspViolations(context: BrowserContext): Promise<void> {
  await context.exposeBinding("__hearthCspViolation", ({ page }, message: string) => {
    cspViolations.push(`${page?.url() ?? "?"}: ${message}`);
  });
  await context.addInitScript(RECORD_VIOLATIONS);
}

if (process.env.VITEST) {
  afterEach(() => {
    const seen = cspViolations.splice(0);
    if (seen.length) throw new Error(`Content-Security-Policy violations:\n${seen.join("\n")}`);
  });
}

export const CHROMIUM = process.env.CHROMIUM_PATH ?? "/usr/bin/chromium";

export async function launchBrowser(extraArgs: string[] = []): Promise<Browser> {
  if (!fs.existsSync(CHROMIUM)) throw new Error(`Chromium not found at ${CHROMIUM}: install Debian's chromium package (CI does).`);
  const browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: ["--no-sandbox", "--disable-quic", "--no-first-run", "--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-gpu", ...extraArgs],
  });
  // Every context (and browser.newPage's own) records CSP violations.
  const newContext = browser.newContext.bind(browser);
  browser.newContext = async (...args: Parameters<Browser["newContext"]>) => {
    const context = await newContext(...args);
    await recordCspViolations(context);
    return context;
  };
  browser.newPage = async (...args: Parameters<Browser["newPage"]>) => {
    const context = await browser.newContext(...args);
    const page = await context.newPage();
    page.on("close", () => void context.close().catch(() => undefined));
    return page;
  };
  return browser;
}

/** Saves a screenshot under test-results/ so people can look at what the test saw. */
export function screenshotPath(name: string): string {
  const dir = path.join(rootDir, "test-results", "screenshots");
  fs.mkdirSync(dir, { recursive: true });
  return path.join(dir, `${name}.png`);
}

/** A browser context already signed in with a session cookie from `signInOverHttp` ("name=value"). */
export async function signedInContext(browser: Browser, baseURL: string, cookie: string): Promise<BrowserContext> {
  const context = await browser.newContext({ baseURL, viewport: { width: 1366, height: 900 } });
  const at = cookie.indexOf("=");
  await context.addCookies([{ name: cookie.slice(0, at), value: cookie.slice(at + 1), url: baseURL }]);
  return context;
}
