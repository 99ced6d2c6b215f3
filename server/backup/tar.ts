// A plain POSIX tar (ustar) writer and reader, enough for Hearth's backup archives: regular files,
// names under 100 bytes, sizes of any length (GNU base-256 above 8 GiB). `tar -tf` and `tar -xf`
// read what this writes, so an operator can inspect a backup with standard tools.
import fs from "node:fs";
import fsp from "node:fs/promises";
import { once } from "node:events";
import { Readable } from "node:stream";
import { parseTarHeader, tarHeader, TAR_BLOCK } from "@/gpu/io/tar";

const BLOCK = TAR_BLOCK;

function fileHeader(name: string, size: number, mtime: Date): Buffer {
  if (Buffer.byteLength(name) > 100) throw new Error(`tar: "${name}" is longer than 100 bytes`);
  return Buffer.from(tarHeader(name, size, mtime));
}

/** Writes entries one after another to a file; `finish()` writes the end-of-archive blocks. */
export class TarWriter {
  private constructor(private readonly out: fs.WriteStream) {}

  static async create(path: string): Promise<TarWriter> {
    const out = fs.createWriteStream(path, { flags: "wx", mode: 0o600 });
    await once(out, "open");
    return new TarWriter(out);
  }

  private async write(chunk: Buffer | Uint8Array): Promise<void> {
    if (!this.out.write(chunk)) await once(this.out, "drain");
  }

  /** Adds a file whose bytes come from `source` (exactly `size` of them, or it throws). */
  async add(name: string, size: number, source: AsyncIterable<Uint8Array> | Uint8Array, mtime = new Date()): Promise<void> {
    await this.write(fileHeader(name, size, mtime));
    let written = 0;
    const chunks = source instanceof Uint8Array ? [source] : source;
    for await (const chunk of chunks) {
      written += chunk.length;
      if (written > size) throw new Error(`tar: ${name} is longer than the ${size} bytes announced`);
      await this.write(chunk);
    }
    if (written !== size) throw new Error(`tar: ${name} ended after ${written} of ${size} bytes`);
    const pad = (BLOCK - (size % BLOCK)) % BLOCK;
    if (pad) await this.write(Buffer.alloc(pad));
  }

  async finish(): Promise<void> {
    await this.write(Buffer.alloc(2 * BLOCK));
    this.out.end();
    await once(this.out, "finish");
  }

  async abort(): Promise<void> {
    this.out.destroy();
    await once(this.out, "close").catch(() => {});
  }
}

export interface TarEntry {
  name: string;
  size: number;
  /** The entry's bytes, read from the archive when called. */
  open(): Readable;
  read(): Promise<Buffer>;
}

/** Lists an archive's regular files without reading their contents. */
export async function readTarEntries(path: string): Promise<TarEntry[]> {
  const fh = await fsp.open(path, "r");
  try {
    const { size: total } = await fh.stat();
    const entries: TarEntry[] = [];
    const header = Buffer.alloc(BLOCK);
    let offset = 0;
    while (offset + BLOCK <= total) {
      await fh.read(header, 0, BLOCK, offset);
      let info;
      try {
        info = parseTarHeader(header, offset);
      } catch {
        throw new Error(`${path} is not a tar archive, or is damaged (bad header checksum at byte ${offset})`);
      }
      if (!info) break;
      const { name, size, type } = info;
      const start = offset + BLOCK;
      if (start + size > total) throw new Error(`${path} is truncated: ${name} needs ${size} bytes, the file ends first`);
      if (type === "0") {
        entries.push({
          name,
          size,
          open: () => (size === 0 ? Readable.from([]) : fs.createReadStream(path, { start, end: start + size - 1 })),
          read: async () => {
            const buf = Buffer.alloc(size);
            const r = await fsp.open(path, "r");
            try {
              await r.read(buf, 0, size, start);
            } finally {
              await r.close();
            }
            return buf;
          },
        });
      }
      offset = start + Math.ceil(size / BLOCK) * BLOCK;
    }
    return entries;
  } finally {
    await fh.close();
  }
}
