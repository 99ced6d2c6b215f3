// A Hugging Face model folder (config.json plus model.safetensors, or shards listed in
// model.safetensors.index.json) read tensor by tensor through a small reader interface, so the
// same code loads from disk in Node (./folder-node.ts), from File/Blob objects in a page or a
// worker, or over HTTP with range requests. Only one tensor's bytes are held at a time.

import { parseSafetensorsHeader, safetensorsHeaderLength, SafetensorsError, type SafetensorsDType } from "./safetensors";

export interface FolderReader {
  /** Whether the folder holds a file of this name. */
  has(name: string): Promise<boolean>;
  /** A file's size in bytes. */
  size(name: string): Promise<number>;
  /** Bytes [start, end) of a file. */
  readRange(name: string, start: number, end: number): Promise<Uint8Array>;
  /** A whole file parsed as JSON. */
  readJson(name: string): Promise<unknown>;
}

export interface StreamedTensor {
  name: string;
  dtype: SafetensorsDType;
  shape: number[];
  /** The tensor's raw little-endian bytes. */
  bytes: Uint8Array;
  /** The shard it came from. */
  file: string;
}

const INDEX = "model.safetensors.index.json";
const SINGLE = "model.safetensors";

/** The safetensors files of a folder, in the order the index names them first (or the one file). */
export async function hfWeightFiles(reader: FolderReader): Promise<string[]> {
  if (await reader.has(INDEX)) {
    const idx = (await reader.readJson(INDEX)) as { weight_map?: Record<string, string> };
    if (!idx || typeof idx !== "object" || !idx.weight_map || typeof idx.weight_map !== "object") {
      throw new SafetensorsError(`${INDEX}: no "weight_map" object`);
    }
    const files = [...new Set(Object.values(idx.weight_map))];
    for (const f of files) if (typeof f !== "string" || f.includes("/") || f.includes("..")) throw new SafetensorsError(`${INDEX}: bad shard name ${JSON.stringify(f)}`);
    return files.sort();
  }
  if (await reader.has(SINGLE)) return [SINGLE];
  throw new SafetensorsError(`the folder holds neither ${SINGLE} nor ${INDEX}`);
}

/** One safetensors file's tensors, each read with its own range request, in file order. */
export async function* streamSafetensors(reader: FolderReader, file: string): AsyncGenerator<StreamedTensor> {
  const size = await reader.size(file);
  const headerLen = safetensorsHeaderLength(await reader.readRange(file, 0, Math.min(8, size)), size);
  const dataStart = 8 + headerLen;
  let entries;
  try {
    ({ entries } = parseSafetensorsHeader(await reader.readRange(file, 8, dataStart), size - dataStart));
  } catch (e) {
    throw new SafetensorsError(`${file}: ${(e as Error).message}`);
  }
  const sorted = [...entries].sort((a, b) => a[1].begin - b[1].begin);
  for (const [name, e] of sorted) {
    const bytes = e.end > e.begin ? await reader.readRange(file, dataStart + e.begin, dataStart + e.end) : new Uint8Array(0);
    yield { name, dtype: e.dtype, shape: e.shape, bytes, file };
  }
}

const utf8 = new TextDecoder();

/** A file of the folder as UTF-8 text, or null when the folder has none. */
export async function readFolderText(reader: FolderReader, name: string): Promise<string | null> {
  if (!(await reader.has(name))) return null;
  return utf8.decode(await reader.readRange(name, 0, await reader.size(name)));
}

/** Every tensor of an HF folder, shard after shard. */
export async function* streamHFFolder(reader: FolderReader): AsyncGenerator<StreamedTensor> {
  for (const f of await hfWeightFiles(reader)) yield* streamSafetensors(reader, f);
}

/** A reader over File or Blob objects (a page's <input type=file webkitdirectory>, a worker's message). */
export function blobFolderReader(files: Iterable<File> | Map<string, Blob>): FolderReader {
  const byName = new Map<string, Blob>();
  if (files instanceof Map) for (const [k, v] of files) byName.set(k, v);
  else for (const f of files) byName.set((f.webkitRelativePath || f.name).split("/").pop()!, f);
  const get = (name: string) => {
    const b = byName.get(name);
    if (!b) throw new SafetensorsError(`the folder has no ${name}`);
    return b;
  };
  return {
    has: async (name) => byName.has(name),
    size: async (name) => get(name).size,
    readRange: async (name, start, end) => new Uint8Array(await get(name).slice(start, end).arrayBuffer()),
    readJson: async (name) => JSON.parse(await get(name).text()),
  };
}

/** A reader over HTTP(S): `base` is the folder's URL; ranges use the Range header. */
export function fetchFolderReader(base: string, init: RequestInit = {}): FolderReader {
  const url = (name: string) => base.replace(/\/?$/, "/") + encodeURIComponent(name);
  const sizes = new Map<string, number>();
  const head = async (name: string) => {
    if (sizes.has(name)) return sizes.get(name)!;
    const r = await fetch(url(name), { ...init, method: "HEAD" });
    if (!r.ok) return -1;
    let n = Number(r.headers.get("content-length") ?? NaN);
    // a server that sends no length on HEAD: ask for the whole file once
    if (!Number.isFinite(n)) n = (await (await fetch(url(name), init)).arrayBuffer()).byteLength;
    sizes.set(name, n);
    return n;
  };
  return {
    has: async (name) => (await head(name)) >= 0,
    size: async (name) => {
      const n = await head(name);
      if (n < 0) throw new SafetensorsError(`${url(name)}: not found`);
      return n;
    },
    readRange: async (name, start, end) => {
      const r = await fetch(url(name), { ...init, headers: { ...(init.headers as Record<string, string>), Range: `bytes=${start}-${end - 1}` } });
      if (!r.ok) throw new SafetensorsError(`${url(name)}: HTTP ${r.status}`);
      const buf = new Uint8Array(await r.arrayBuffer());
      // a server that ignores Range sends the whole file
      return r.status === 206 ? buf : buf.subarray(start, end);
    },
    readJson: async (name) => {
      const r = await fetch(url(name), init);
      if (!r.ok) throw new SafetensorsError(`${url(name)}: HTTP ${r.status}`);
      return r.json();
    },
  };
}
