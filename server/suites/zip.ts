// Reads the text files of an uploaded zip (stored or deflated entries), bounded: a zip bomb or a
// path that climbs out is refused before anything is inflated past the limits.
import { inflateRawSync } from "node:zlib";
import { DomainError } from "@/server/errors";
import { MAX_IMPORT_BYTES } from "@/gpu/eval/formats/limits";
import { MAX_SOURCE_FILES, normalizePath } from "@/gpu/eval/formats/source-files";

const EOCD = 0x06054b50;
const CENTRAL = 0x02014b50;
const LOCAL = 0x04034b50;

const bad = (why: string): never => {
  throw new DomainError("BAD_REQUEST", `The zip cannot be read: ${why}.`);
};

/** [path, text] for every file in the zip (folders and macOS metadata skipped). */
export function readZipTextFiles(zip: Buffer): [string, string][] {
  let eocd = -1;
  for (let i = zip.length - 22; i >= Math.max(0, zip.length - 22 - 65_535); i--) {
    if (zip.readUInt32LE(i) === EOCD) {
      eocd = i;
      break;
    }
  }
  if (eocd < 0) bad("no end of central directory (not a zip?)");
  const count = zip.readUInt16LE(eocd + 10);
  let at = zip.readUInt32LE(eocd + 16);
  if (count > MAX_SOURCE_FILES) bad(`more than ${MAX_SOURCE_FILES} entries`);
  const out: [string, string][] = [];
  let total = 0;
  for (let n = 0; n < count; n++) {
    if (at + 46 > zip.length || zip.readUInt32LE(at) !== CENTRAL) bad("a damaged central directory");
    const method = zip.readUInt16LE(at + 10);
    const compressed = zip.readUInt32LE(at + 20);
    const size = zip.readUInt32LE(at + 24);
    const nameLength = zip.readUInt16LE(at + 28);
    const extraLength = zip.readUInt16LE(at + 30);
    const commentLength = zip.readUInt16LE(at + 32);
    const local = zip.readUInt32LE(at + 42);
    const rawName = zip.subarray(at + 46, at + 46 + nameLength).toString("utf8");
    at += 46 + nameLength + extraLength + commentLength;
    if (rawName.endsWith("/") || rawName.startsWith("__MACOSX/") || rawName.split("/").pop()!.startsWith("._")) continue;
    const name = normalizePath(rawName);
    if (!name || rawName.startsWith("/") || rawName.includes("\\")) bad(`the entry "${rawName.slice(0, 100)}" points outside the folder`);
    total += size;
    if (size > MAX_IMPORT_BYTES || total > MAX_IMPORT_BYTES) bad(`its files hold more than ${MAX_IMPORT_BYTES / 1024 / 1024} MB`);
    if (local + 30 > zip.length || zip.readUInt32LE(local) !== LOCAL) bad(`a damaged entry "${name}"`);
    const start = local + 30 + zip.readUInt16LE(local + 26) + zip.readUInt16LE(local + 28);
    const data = zip.subarray(start, start + compressed);
    let content: Buffer;
    if (method === 0) content = data;
    else if (method === 8) {
      try {
        content = inflateRawSync(data, { maxOutputLength: Math.max(1, size) });
      } catch {
        bad(`the entry "${name}" does not inflate to its declared size`);
      }
    } else bad(`the entry "${name}" uses compression method ${method} (stored and deflate are read)`);
    if (content!.length !== size) bad(`the entry "${name}" is not the size its header says`);
    out.push([name!, content!.toString("utf8")]);
  }
  return out;
}
