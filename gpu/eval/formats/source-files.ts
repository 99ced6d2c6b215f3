// The files of an imported folder or zip. `file://` references resolve only inside it.
import { MAX_IMPORT_BYTES, utf8Length } from "./limits";

export const MAX_SOURCE_FILES = 2_000;

export class SourceFiles {
  private readonly files = new Map<string, string>();

  constructor(entries: Iterable<readonly [string, string]>) {
    let bytes = 0;
    for (const [raw, content] of entries) {
      const path = normalizePath(raw);
      if (path === undefined) throw new Error(`"${raw}" is not a usable path inside the folder`);
      bytes += utf8Length(content);
      if (bytes > MAX_IMPORT_BYTES) throw new Error(`the files hold more than ${MAX_IMPORT_BYTES / 1024 / 1024} MB`);
      this.files.set(path, content);
      if (this.files.size > MAX_SOURCE_FILES) throw new Error(`more than ${MAX_SOURCE_FILES} files`);
    }
  }

  static single(name: string, content: string): SourceFiles {
    return new SourceFiles([[name, content]]);
  }

  paths(): string[] {
    return [...this.files.keys()];
  }

  read(path: string): string | undefined {
    return this.files.get(path);
  }

  /**
   * Resolves a reference made in `fromFile` (a `file://` prefix is allowed) to a path inside the folder,
   * or says why not. Absolute paths, `..` that climbs out, globs and URLs are refused.
   */
  resolve(fromFile: string, ref: string): { path: string } | { error: string } {
    const target = ref.startsWith("file://") ? ref.slice("file://".length) : ref;
    if (/[*?[\]{}]/.test(target)) return { error: `"${ref}" is a glob; list the files instead` };
    if (target.startsWith("/") || /^[A-Za-z]:[\\/]/.test(target) || target.startsWith("\\")) return { error: `"${ref}" is an absolute path; only paths inside the imported folder are read` };
    const base = fromFile.includes("/") ? fromFile.slice(0, fromFile.lastIndexOf("/") + 1) : "";
    const path = normalizePath(base + target);
    if (path === undefined) return { error: `"${ref}" points outside the imported folder; refused` };
    if (!this.files.has(path)) return { error: `"${ref}" is not in the imported files` };
    return { path };
  }
}

/** "a/./b/../c" -> "a/c"; undefined when the path is empty, climbs above the root, or holds odd characters. */
export function normalizePath(raw: string): string | undefined {
  if (raw.includes("\0") || raw.includes("\\")) return undefined;
  const out: string[] = [];
  for (const part of raw.split("/")) {
    if (part === "" || part === ".") continue;
    if (part === "..") {
      if (!out.length) return undefined;
      out.pop();
    } else out.push(part);
  }
  return out.length ? out.join("/") : undefined;
}
