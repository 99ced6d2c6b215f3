// A Hugging Face folder as one file: a plain POSIX tar (ustar) of its files. This is how a folder
// model version travels as a single artifact (to the browser's worker, to a GPU node, and back as a
// training run's result), in the browser and in Node alike; `tar -xf` unpacks it. Regular files only,
// names up to 100 bytes (or a ustar prefix up to 155 more), sizes of any length (GNU base-256).

import type { FolderReader } from "./hf-folder";

export const TAR_BLOCK = 512;
const OCTAL_SIZE_MAX = 0o77777777777;
const utf8 = new TextEncoder();
const text = new TextDecoder();

export class TarError extends Error {}

function putString(h: Uint8Array, offset: number, length: number, value: string): void {
  const bytes = utf8.encode(value);
  if (bytes.length > length) throw new TarError(`tar: "${value}" is longer than ${length} bytes`);
  h.set(bytes, offset);
}

function putOctal(h: Uint8Array, offset: number, length: number, value: number): void {
  putString(h, offset, length, value.toString(8).padStart(length - 1, "0") + "\0");
}

/** The 512-byte ustar header of a regular file. */
export function tarHeader(name: string, size: number, mtime = new Date(0)): Uint8Array {
  const h = new Uint8Array(TAR_BLOCK);
  let prefix = "";
  let base = name;
  if (utf8.encode(name).length > 100) {
    const cut = name.lastIndexOf("/", name.length - 1);
    if (cut <= 0) throw new TarError(`tar: the file name "${name}" is longer than 100 bytes`);
    prefix = name.slice(0, cut);
    base = name.slice(cut + 1);
  }
  putString(h, 0, 100, base);
  putOctal(h, 100, 8, 0o644);
  putOctal(h, 108, 8, 0);
  putOctal(h, 116, 8, 0);
  if (size <= OCTAL_SIZE_MAX) putOctal(h, 124, 12, size);
  else {
    // GNU base-256: the high bit of the first byte set, the size big-endian in the rest.
    h[124] = 0x80;
    let v = BigInt(size);
    for (let i = 135; i > 124; i--) {
      h[i] = Number(v & 0xffn);
      v >>= 8n;
    }
  }
  putOctal(h, 136, 12, Math.floor(mtime.getTime() / 1000));
  h.fill(0x20, 148, 156); // the checksum is computed with its own field as spaces
  h[156] = 0x30; // "0": a regular file
  putString(h, 257, 6, "ustar\0");
  putString(h, 263, 2, "00");
  if (prefix) putString(h, 345, 155, prefix);
  let sum = 0;
  for (const b of h) sum += b;
  putString(h, 148, 8, sum.toString(8).padStart(6, "0") + "\0 ");
  return h;
}

const field = (h: Uint8Array, start: number, end: number) => text.decode(h.subarray(start, end)).replace(/\0.*$/s, "");

export interface TarHeaderInfo {
  name: string;
  size: number;
  /** "0" for a regular file. */
  type: string;
}

/** Parses one header block; null for the all-zero end-of-archive block; throws on a bad checksum. */
export function parseTarHeader(h: Uint8Array, at = 0): TarHeaderInfo | null {
  if (h.length < TAR_BLOCK) throw new TarError(`tar: the archive ends inside a header at byte ${at}`);
  if (h.subarray(0, TAR_BLOCK).every((b) => b === 0)) return null;
  let sum = 0;
  for (let i = 0; i < TAR_BLOCK; i++) sum += i >= 148 && i < 156 ? 0x20 : h[i];
  const recorded = parseInt(field(h, 148, 156).trim(), 8);
  if (sum !== recorded) throw new TarError(`not a tar archive, or a damaged one (bad header checksum at byte ${at})`);
  let size: number;
  if (h[124] & 0x80) {
    let v = 0n;
    for (let i = 125; i < 136; i++) v = (v << 8n) | BigInt(h[i]);
    size = Number(v);
  } else size = parseInt(field(h, 124, 136).trim() || "0", 8);
  const prefix = field(h, 257, 263) === "ustar" ? field(h, 345, 500) : "";
  const base = field(h, 0, 100);
  return { name: prefix ? `${prefix}/${base}` : base, size, type: String.fromCharCode(h[156] || 0x30) };
}

const padding = (size: number) => (TAR_BLOCK - (size % TAR_BLOCK)) % TAR_BLOCK;

/** Whether bytes look like a ustar archive (the magic at byte 257). */
export function isTar(bytes: Uint8Array): boolean {
  return bytes.length >= TAR_BLOCK && text.decode(bytes.subarray(257, 262)) === "ustar";
}

/** One archive of the files, in the order given. */
export function writeTar(files: Iterable<readonly [string, Uint8Array]>): Uint8Array {
  const list = [...files];
  let total = 2 * TAR_BLOCK;
  for (const [, b] of list) total += TAR_BLOCK + b.length + padding(b.length);
  const out = new Uint8Array(total);
  let o = 0;
  for (const [name, bytes] of list) {
    out.set(tarHeader(name, bytes.length), o);
    out.set(bytes, o + TAR_BLOCK);
    o += TAR_BLOCK + bytes.length + padding(bytes.length);
  }
  return out;
}

/** The regular files of an archive, as views into `bytes` (nothing copied). */
export function readTar(bytes: Uint8Array): Map<string, Uint8Array> {
  const files = new Map<string, Uint8Array>();
  let o = 0;
  while (o + TAR_BLOCK <= bytes.length) {
    const h = parseTarHeader(bytes.subarray(o, o + TAR_BLOCK), o);
    if (!h) return files;
    const start = o + TAR_BLOCK;
    if (start + h.size > bytes.length) throw new TarError(`the archive is truncated: ${h.name} needs ${h.size} bytes, the archive ends first`);
    if (h.type === "0") {
      if (files.has(h.name)) throw new TarError(`the archive holds ${h.name} twice`);
      files.set(h.name, bytes.subarray(start, start + h.size));
    }
    o = start + h.size + padding(h.size);
  }
  throw new TarError("the archive is truncated: it has no end-of-archive block");
}

/** A FolderReader over files held in memory (an unpacked archive, or files a job produced). */
export function memoryFolderReader(files: ReadonlyMap<string, Uint8Array>): FolderReader {
  const get = (name: string) => {
    const b = files.get(name);
    if (!b) throw new TarError(`the folder has no ${name}`);
    return b;
  };
  return {
    has: async (name) => files.has(name),
    size: async (name) => get(name).length,
    readRange: async (name, start, end) => get(name).subarray(start, end),
    readJson: async (name) => {
      try {
        return JSON.parse(text.decode(get(name)));
      } catch (e) {
        if (e instanceof TarError) throw e;
        throw new TarError(`${name} is not valid JSON`);
      }
    },
  };
}
