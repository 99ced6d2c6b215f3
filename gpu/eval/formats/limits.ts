// Size limits shared by every importer: a file is read whole into memory, so bound it first.

export const MAX_IMPORT_BYTES = 50 * 1024 * 1024;
export const MAX_LINE_BYTES = 1024 * 1024;

/** UTF-8 byte length without allocating an encoded copy. */
export function utf8Length(text: string): number {
  let bytes = 0;
  for (let i = 0; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c < 0x80) bytes += 1;
    else if (c < 0x800) bytes += 2;
    else if (c >= 0xd800 && c <= 0xdbff && i + 1 < text.length) {
      const d = text.charCodeAt(i + 1);
      if (d >= 0xdc00 && d <= 0xdfff) {
        bytes += 4;
        i++;
      } else bytes += 3;
    } else bytes += 3;
  }
  return bytes;
}

/** An error message when text is too large to import, else null. */
export function checkImportSize(text: string): string | null {
  // Cheap bound first: a string's UTF-8 length is at most 3x its UTF-16 length.
  if (text.length * 3 <= MAX_IMPORT_BYTES) return null;
  const bytes = utf8Length(text);
  return bytes > MAX_IMPORT_BYTES
    ? `file is ${(bytes / 1024 / 1024).toFixed(1)} MB; the import limit is ${MAX_IMPORT_BYTES / 1024 / 1024} MB. Split it into smaller files.`
    : null;
}

export interface LineError {
  /** 1-based line number; 0 for errors about the whole file. */
  line: number;
  message: string;
}

/**
 * Calls onLine for every non-blank line of a JSON Lines text with its 1-based number and the
 * parsed value; reports oversized lines and JSON errors into errors.
 */
export function forEachJsonLine(text: string, errors: LineError[], onLine: (value: unknown, line: number) => void): void {
  const sizeProblem = checkImportSize(text);
  if (sizeProblem) {
    errors.push({ line: 0, message: sizeProblem });
    return;
  }
  const lines = text.split(/\r?\n/);
  lines.forEach((raw, k) => {
    const line = k + 1;
    if (raw.trim() === "") return;
    if (raw.length > MAX_LINE_BYTES / 3 && utf8Length(raw) > MAX_LINE_BYTES) {
      errors.push({ line, message: `line is longer than ${MAX_LINE_BYTES / 1024 / 1024} MB` });
      return;
    }
    let value: unknown;
    try {
      value = JSON.parse(raw);
    } catch (e) {
      errors.push({ line, message: `not valid JSON: ${(e as Error).message}` });
      return;
    }
    onLine(value, line);
  });
}
