// A plain POSIX tar (ustar) writer and reader, enough for Hearth's backup archives: regular files,
// names under 100 bytes, sizes of any length (GNU base-256 above 8 GiB). `tar -tf` and `tar -xf`
// read what this writes, so an operator can inspect a backup with standard tools.
import fs from "node:fs";
import fsp from "node:fs/promises";
import { once } from "node:events";
import { Readable } from "node:stream";

const BLOCK = 512;
const OCTAL_SIZE_MAX = 0o77777777777;

function writeString(header: Buffer, offset: number, length: number, value: string): void {
  const bytes = Buffer.from(value, "utf8");
  if (bytes.length > length) throw new Error(`tar: "${value}" is longer than ${length} bytes`);
  bytes.copy(header, offset);
}

function writeOctal(header: Buffer, offset: number, length: number, value: number): void {
  writeString(header, offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
}

function writeSize(header: Buffer, size: number): void {
  if (size <= OCTAL_SIZE_MAX) return writeOctal(header, 124, 12, size);
  // GNU base-256: the high bit of the first byte set, the size big-endian in the rest.
  header[124] = 0x80;
  let v = BigInt(size);
  for (let i = 135; i > 124; i--) {
    header[i] = Number(v & 0xffn);
    v >>= 8n;
  }
}

function readSize(header: Buffer): number {
  if (header[124] & 0x80) {
    let v = 0n;
    for (let i = 125; i < 136; i++) v = (v << 8n) | BigInt(header[i]);
    return Number(v);
  }
  return parseInt(header.subarray(124, 136).toString("ascii").replace(/\0.*$/, "").trim() || "0", 8);
}

function fileHeader(name: string, size: number, mtime: Date): Buffer {
  const h = Buffer.alloc(BLOCK);
  writeString(h, 0, 100, name);
  writeOctal(h, 100, 8, 0o644);
  writeOctal(h, 108, 8, 0);
  writeOctal(h, 116, 8, 0);
  writeSize(h, size);
  writeOctal(h, 136, 12, Math.floor(mtime.getTime() / 1000));
  h.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  h[156] = 0x30; // "0": a regular file
  writeString(h, 257, 6, "ustar\0");
  writeString(h, 263, 2, "00");
  let sum = 0;
  for (const b of h) sum += b;
  writeString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
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
      if (header.every((b) => b === 0)) break;
      let sum = 0;
      for (let i = 0; i < BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : header[i];
      const recorded = parseInt(header.subarray(148, 156).toString("ascii").replace(/\0.*$/, "").trim(), 8);
      if (sum !== recorded) throw new Error(`${path} is not a tar archive, or is damaged (bad header checksum at byte ${offset})`);
      const name = header.subarray(0, 100).toString("utf8").replace(/\0.*$/s, "");
      const size = readSize(header);
      const type = String.fromCharCode(header[156] || 0x30);
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
