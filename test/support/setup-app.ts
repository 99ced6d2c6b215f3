// Global setup for the browser tests: a production build, a real OpenID provider, and Hearth itself
// on a fresh embedded database, shared by every e2e test file.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TestProject } from "vitest/node";
import { buildIfStale } from "../../scripts/build";
import { startAppProcess } from "./app-server";
import { startOidcProvider } from "./oidc-provider";
import { freePort } from "./postgres";

export interface ProvidedApp {
  url: string;
  dataDir: string;
  ssoName: string;
}

declare module "vitest" {
  export interface ProvidedContext {
    app: ProvidedApp;
  }
}

export default async function setup(project: TestProject) {
  buildIfStale({ quiet: true });
  const appPort = await freePort();
  const url = `http://localhost:${appPort}`;
  const oidc = await startOidcProvider(await freePort(), `${url}/api/auth/callback/oidc`);
  const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-e2e-"));
  const ssoName = "Test SSO";
  const app = await startAppProcess({
    port: appPort,
    dataDir,
    env: { HEARTH_OIDC_ISSUER: oidc.issuer, HEARTH_OIDC_CLIENT_ID: oidc.clientId, HEARTH_OIDC_CLIENT_SECRET: oidc.clientSecret, HEARTH_OIDC_NAME: ssoName },
  });
  project.provide("app", { url, dataDir, ssoName });
  return async () => {
    const code = await app.stop();
    await oidc.stop();
    if (code !== 0) console.error(`Hearth exited with ${code}. Its output:\n${app.output()}`);
    fs.rmSync(dataDir, { recursive: true, force: true });
  };
}
