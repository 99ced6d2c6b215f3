// safetensors: 8-byte little-endian header length, a JSON header ({name: {dtype, shape,
// data_offsets: [begin, end]}, __metadata__: {string: string}}), then raw little-endian data.
// Every malformed input is reported as a SafetensorsError saying what is wrong.

export class SafetensorsError extends Error {}

export type SafetensorsDType = "F64" | "F32" | "F16" | "BF16" | "I64" | "I32" | "I16" | "I8" | "U8" | "BOOL";

const DTYPE_BYTES: Record<SafetensorsDType, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };

export interface TensorEntry {
  dtype: SafetensorsDType;
  shape: number[];
  /** The tensor's raw little-endian bytes (a view into the file). */
  bytes: Uint8Array;
}

export interface SafetensorsFile {
  tensors: Map<string, TensorEntry>;
  metadata: Record<string, string>;
}

export type TensorToWrite =
  | {
      dtype?: "F32" | "I32";
      shape: readonly number[];
      data: Float32Array | Int32Array | ArrayLike<number>;
    }
  | {
      /** Raw little-endian bytes written as they are (16-bit weights kept bit for bit). */
      dtype: SafetensorsDType;
      shape: readonly number[];
      bytes: Uint8Array;
    };

export const dtypeBytes = (d: SafetensorsDType): number => DTYPE_BYTES[d];

function fail(msg: string): never {
  throw new SafetensorsError(`safetensors: ${msg}`);
}

/** Serialises tensors (in the given order) with string metadata. */
export function encodeSafetensors(tensors: Map<string, TensorToWrite> | Record<string, TensorToWrite>, metadata: Record<string, string> = {}): Uint8Array {
  const entries = tensors instanceof Map ? [...tensors] : Object.entries(tensors);
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length) header.__metadata__ = metadata;
  let offset = 0;
  for (const [name, t] of entries) {
    if (name === "__metadata__") fail('"__metadata__" cannot name a tensor');
    const n = t.shape.reduce((a, b) => a * b, 1);
    if ("bytes" in t) {
      if (t.bytes.length !== n * DTYPE_BYTES[t.dtype]) fail(`tensor "${name}" has ${t.bytes.length} bytes but ${t.dtype} [${t.shape.join(", ")}] needs ${n * DTYPE_BYTES[t.dtype]}`);
      header[name] = { dtype: t.dtype, shape: [...t.shape], data_offsets: [offset, offset + t.bytes.length] };
      offset += t.bytes.length;
      continue;
    }
    if (n !== t.data.length) fail(`tensor "${name}" has ${t.data.length} values but shape [${t.shape.join(", ")}]`);
    const dtype = t.dtype ?? (t.data instanceof Int32Array ? "I32" : "F32");
    header[name] = { dtype, shape: [...t.shape], data_offsets: [offset, offset + 4 * n] };
    offset += 4 * n;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((json.length + 8) % 8)) % 8); // keeps the data 8-byte aligned
  const headerBytes = new TextEncoder().encode(json);
  const out = new Uint8Array(8 + headerBytes.length + offset);
  const view = new DataView(out.buffer);
  view.setUint32(0, headerBytes.length, true);
  view.setUint32(4, 0, true);
  out.set(headerBytes, 8);
  let p = 8 + headerBytes.length;
  for (const [, t] of entries) {
    if ("bytes" in t) {
      out.set(t.bytes, p);
      p += t.bytes.length;
      continue;
    }
    const int = (t.dtype ?? (t.data instanceof Int32Array ? "I32" : "F32")) === "I32";
    for (let i = 0; i < t.data.length; i++, p += 4) {
      if (int) view.setInt32(p, t.data[i], true);
      else view.setFloat32(p, t.data[i], true);
    }
  }
  return out;
}

/** One tensor's entry in a safetensors header: offsets relative to the data section. */
export interface HeaderEntry {
  dtype: SafetensorsDType;
  shape: number[];
  begin: number;
  end: number;
}

/**
 * Parses and checks a safetensors header (the JSON bytes after the 8-byte length) against the
 * size of the data section after it. Used by decodeSafetensors and by readers that stream a file
 * tensor by tensor without holding it whole.
 */
export function parseSafetensorsHeader(headerBytes: Uint8Array, dataLen: number): { entries: Map<string, HeaderEntry>; metadata: Record<string, string> } {
  let header: unknown;
  try {
    header = JSON.parse(new TextDecoder("utf-8", { fatal: true }).decode(headerBytes));
  } catch (e) {
    fail(`header is not valid UTF-8 JSON (${(e as Error).message})`);
  }
  if (!header || typeof header !== "object" || Array.isArray(header)) fail("header must be a JSON object");
  const entries = new Map<string, HeaderEntry>();
  let metadata: Record<string, string> = {};
  for (const [name, raw] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (!raw || typeof raw !== "object" || Array.isArray(raw) || Object.values(raw).some((v) => typeof v !== "string")) {
        fail("__metadata__ must be an object of strings");
      }
      metadata = raw as Record<string, string>;
      continue;
    }
    const e = raw as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (!e || typeof e !== "object") fail(`tensor "${name}": entry must be an object`);
    if (typeof e.dtype !== "string" || !(e.dtype in DTYPE_BYTES)) fail(`tensor "${name}": unsupported dtype ${JSON.stringify(e.dtype)}`);
    const dtype = e.dtype as SafetensorsDType;
    if (!Array.isArray(e.shape) || e.shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(`tensor "${name}": shape must be a list of non-negative integers, got ${JSON.stringify(e.shape)}`);
    const off = e.data_offsets;
    if (!Array.isArray(off) || off.length !== 2 || off.some((d) => !Number.isSafeInteger(d) || d < 0) || off[0] > off[1]) {
      fail(`tensor "${name}": data_offsets must be [begin, end] with 0 <= begin <= end, got ${JSON.stringify(off)}`);
    }
    const [begin, end] = off as [number, number];
    const shape = e.shape as number[];
    const expected = shape.reduce((a, b) => a * b, 1) * DTYPE_BYTES[dtype];
    if (end - begin !== expected) fail(`tensor "${name}": ${dtype} [${shape.join(", ")}] needs ${expected} bytes but data_offsets span ${end - begin}`);
    if (end > dataLen) fail(`tensor "${name}": data ends at byte ${end} but the file holds only ${dataLen} data bytes (truncated?)`);
    entries.set(name, { dtype, shape, begin, end });
  }
  return { entries, metadata };
}

/** The header length from a file's first 8 bytes (little-endian u64). */
export function safetensorsHeaderLength(first8: Uint8Array, fileLen: number): number {
  if (first8.length < 8) fail(`file is ${first8.length} bytes, too short for the 8-byte header length (truncated or not a safetensors file)`);
  const view = new DataView(first8.buffer, first8.byteOffset, 8);
  const headerLen = view.getUint32(4, true) * 2 ** 32 + view.getUint32(0, true);
  if (headerLen > fileLen - 8) fail(`header length ${headerLen} exceeds the ${fileLen - 8} bytes after it (truncated or not a safetensors file)`);
  if (headerLen < 2) fail(`header length ${headerLen} is too small for a JSON object`);
  return headerLen;
}

export function decodeSafetensors(file: Uint8Array): SafetensorsFile {
  if (!(file instanceof Uint8Array)) fail("expected the file's bytes as a Uint8Array");
  const headerLen = safetensorsHeaderLength(file.subarray(0, 8), file.length);
  const dataStart = 8 + headerLen;
  const { entries, metadata } = parseSafetensorsHeader(file.subarray(8, dataStart), file.length - dataStart);
  const tensors = new Map<string, TensorEntry>();
  for (const [name, e] of entries) tensors.set(name, { dtype: e.dtype, shape: e.shape, bytes: file.subarray(dataStart + e.begin, dataStart + e.end) });
  return { tensors, metadata };
}

/** One IEEE half (its 16 bits) as a number, exactly. */
export function f16ToF32(h: number): number {
  const s = h & 0x8000 ? -1 : 1;
  const e = (h >> 10) & 0x1f;
  const m = h & 0x3ff;
  if (e === 0) return s * m * 2 ** -24;
  if (e === 31) return m ? NaN : s * Infinity;
  return s * (1 + m / 1024) * 2 ** (e - 15);
}

/** A floating-point tensor's values as float32 (F32, F16, BF16, F64). */
export function toFloat32(name: string, t: TensorEntry): Float32Array {
  const v = new DataView(t.bytes.buffer, t.bytes.byteOffset, t.bytes.byteLength);
  const n = t.shape.reduce((a, b) => a * b, 1);
  const out = new Float32Array(n);
  const tmp = new DataView(new ArrayBuffer(4));
  switch (t.dtype) {
    case "F32":
      for (let i = 0; i < n; i++) out[i] = v.getFloat32(4 * i, true);
      break;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = v.getFloat64(8 * i, true);
      break;
    case "F16":
      for (let i = 0; i < n; i++) out[i] = f16ToF32(v.getUint16(2 * i, true));
      break;
    case "BF16":
      for (let i = 0; i < n; i++) {
        tmp.setUint32(0, v.getUint16(2 * i, true) << 16);
        out[i] = tmp.getFloat32(0);
      }
      break;
    default:
      fail(`tensor "${name}" is ${t.dtype}, expected a floating-point dtype`);
  }
  return out;
}

/** Hex SHA-256 of the bytes (WebCrypto: browser, worker and Node alike). */
export async function sha256Hex(bytes: Uint8Array): Promise<string> {
  const digest = await crypto.subtle.digest("SHA-256", bytes as Uint8Array<ArrayBuffer>);
  return Array.from(new Uint8Array(digest), (b) => b.toString(16).padStart(2, "0")).join("");
}

/** One bfloat16 (its 16 bits) as a number, exactly. */
export function bf16ToF32(h: number): number {
  const tmp = new DataView(new ArrayBuffer(4));
  tmp.setUint32(0, (h & 0xffff) << 16);
  return tmp.getFloat32(0);
}

/** The IEEE half nearest to a float32 (round to nearest even; overflow to infinity). */
export function f32ToF16(x: number): number {
  const f = new Float32Array([x]);
  const u = new Uint32Array(f.buffer)[0];
  const sign = (u >>> 16) & 0x8000;
  const exp = (u >>> 23) & 0xff;
  let mant = u & 0x7fffff;
  if (exp === 0xff) return sign | 0x7c00 | (mant ? 0x200 : 0);
  let e = exp - 127 + 15;
  if (e >= 31) return sign | 0x7c00;
  if (e <= 0) {
    if (e < -10) return sign;
    mant |= 0x800000;
    const shift = 14 - e;
    const half = 1 << (shift - 1);
    let r = mant >>> shift;
    const rem = mant & ((1 << shift) - 1);
    if (rem > half || (rem === half && r & 1)) r++;
    return sign | r;
  }
  let r = mant >>> 13;
  const rem = mant & 0x1fff;
  if (rem > 0x1000 || (rem === 0x1000 && r & 1)) {
    r++;
    if (r === 0x400) {
      r = 0;
      e++;
      if (e >= 31) return sign | 0x7c00;
    }
  }
  return sign | (e << 10) | r;
}
