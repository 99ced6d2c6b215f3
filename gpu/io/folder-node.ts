// Node-only: an HF folder on disk as a FolderReader (positioned reads; never the whole file).
// Never import from a browser module.

import { open, readFile, stat } from "node:fs/promises";
import path from "node:path";
import type { FolderReader } from "./hf-folder";

export function nodeFolderReader(dir: string): FolderReader {
  const p = (name: string) => path.join(dir, path.basename(name));
  return {
    has: async (name) => {
      try {
        return (await stat(p(name))).isFile();
      } catch {
        return false;
      }
    },
    size: async (name) => (await stat(p(name))).size,
    readRange: async (name, start, end) => {
      const fh = await open(p(name), "r");
      try {
        const buf = new Uint8Array(end - start);
        let off = 0;
        while (off < buf.length) {
          const { bytesRead } = await fh.read(buf, off, buf.length - off, start + off);
          if (bytesRead === 0) break;
          off += bytesRead;
        }
        return buf.subarray(0, off);
      } finally {
        await fh.close();
      }
    },
    readJson: async (name) => JSON.parse(await readFile(p(name), "utf8")),
  };
}
