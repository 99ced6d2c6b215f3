// Node-only: an HF folder on disk as a FolderReader (positioned reads; never the whole file).
// Never import from a browser module.

import { mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
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

/** Every file under dir (subfolders too; dot-files skipped) by its "/"-separated path, in path order. */
export function readFolderFiles(dir: string): Map<string, Buffer> {
  const out: Array<[string, Buffer]> = [];
  const walk = (sub: string) => {
    for (const entry of readdirSync(path.join(dir, sub), { withFileTypes: true })) {
      if (entry.name.startsWith(".")) continue;
      const rel = sub ? `${sub}/${entry.name}` : entry.name;
      if (entry.isDirectory()) walk(rel);
      else if (entry.isFile()) out.push([rel, readFileSync(path.join(dir, rel))]);
    }
  };
  walk("");
  return new Map(out.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Writes files ("/"-separated paths inside dir, e.g. an unpacked archive) under dir, making subfolders. */
export function writeFolderFiles(files: Iterable<readonly [string, Uint8Array]>, dir: string): string {
  const root = path.resolve(dir);
  for (const [name, bytes] of files) {
    const target = path.resolve(root, name);
    if (!target.startsWith(root + path.sep)) throw new Error(`writeFolderFiles: "${name}" is outside the folder`);
    mkdirSync(path.dirname(target), { recursive: true });
    writeFileSync(target, bytes);
  }
  return dir;
}
