// The node's measured kernel choices, kept in a file so a restarted node skips the measuring
// (tens of seconds on a CPU adapter). Keyed by adapter and limits, so a new GPU is measured afresh.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import type { TuningStore } from "@/gpu/device";

export function defaultTuningFile(): string {
  return process.env.HEARTH_NODE_CACHE_DIR ? path.join(process.env.HEARTH_NODE_CACHE_DIR, "tuning.json") : path.join(os.homedir(), ".cache", "hearth-node", "tuning.json");
}

export function fileTuningStore(file: string): TuningStore {
  const read = (): Record<string, string> => {
    try {
      return JSON.parse(fs.readFileSync(file, "utf8")) as Record<string, string>;
    } catch {
      return {}; // absent or unreadable: measure again
    }
  };
  // Read once: a model load asks for a few dozen shape classes.
  let known: Record<string, string> | null = null;
  return {
    get: (key) => (known ??= read())[key],
    set: (key, value) => {
      try {
        fs.mkdirSync(path.dirname(file), { recursive: true });
        // Merged with the file as it is now (another node on this machine may have added to it), then
        // written and renamed: two nodes on one machine never read a half-written file.
        known = { ...read(), [key]: value };
        const temp = `${file}.${process.pid}.tmp`;
        fs.writeFileSync(temp, JSON.stringify(known));
        fs.renameSync(temp, file);
      } catch {
        // A read-only home directory only costs the measuring at the next start.
      }
    },
  };
}
