// `npm run train -- --config job.json`: npm runs the script in the package's folder, yet the command
// reads job.json and writes its outputs in the folder it was typed in, with the job's own paths read
// beside job.json.
import { spawnSync } from "node:child_process";
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { afterAll, describe, expect, it } from "vitest";

const root = path.resolve(import.meta.dirname, "../..");

describe("npm run train -- --config", () => {
  const here = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-train-cli-"));
  afterAll(() => fs.rmSync(here, { recursive: true, force: true }));

  it("resolves --config and --out from the folder it is run in and writes the model and its state there", () => {
    fs.mkdirSync(path.join(here, "jobs", "data"), { recursive: true });
    fs.writeFileSync(path.join(here, "jobs", "data", "corpus.txt"), "the support team answers refunds within thirty days. ".repeat(40));
    fs.writeFileSync(path.join(here, "jobs", "job.json"), JSON.stringify({ kind: "PRETRAIN", preset: "tiny", steps: 2, batchSize: 2, lr: 0.003, checkpointEvery: 2, dataset: "data/corpus.txt" }));
    // As on a server or in CI with no login session: no XDG_RUNTIME_DIR.
    const run = spawnSync("npm", ["--prefix", root, "run", "--silent", "train", "--", "--config", "jobs/job.json", "--out", "out/model.safetensors"], { cwd: here, encoding: "utf8", env: { ...process.env, INIT_CWD: undefined, XDG_RUNTIME_DIR: undefined } });
    expect(run.status, run.stdout + run.stderr).toBe(0);
    // Opening the GPU prints nothing a user cannot act on (libwayland's probe complained of the missing runtime folder).
    expect(run.stderr).not.toContain("XDG_RUNTIME_DIR");
    expect(fs.statSync(path.join(here, "out", "model.safetensors")).size).toBeGreaterThan(0);
    expect(fs.existsSync(path.join(here, "out", "model.safetensors.state"))).toBe(true);
    expect(fs.existsSync(path.join(root, "out", "model.safetensors"))).toBe(false);
    expect(run.stdout).toContain(`wrote ${path.join(here, "out", "model.safetensors")}`);
  });

  it("names the job file it could not read, where it looked", () => {
    const run = spawnSync("npm", ["--prefix", root, "run", "--silent", "train", "--", "--config", "missing.json"], { cwd: here, encoding: "utf8", env: { ...process.env, INIT_CWD: undefined } });
    expect(run.status).not.toBe(0);
    expect(run.stderr).toContain(`cannot read ${path.join(here, "missing.json")}`);
  });
});
