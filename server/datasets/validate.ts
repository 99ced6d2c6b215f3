// Streaming validation of uploaded datasets: text must be UTF-8; prompt/response files must be JSON
// Lines with string "prompt" and "response"; preference files JSON Lines with "prompt" and either
// "chosen" and "rejected" (pairs of preferences) or "completion" and a boolean "label" (KTO's thumbs).
// Errors carry line numbers; a few are enough to act on.
import { StringDecoder } from "node:string_decoder";

export const MAX_LINE_BYTES = 1024 * 1024;
const MAX_ERRORS = 20;

export interface DatasetStats {
  lines: number;
  pairs?: number;
  /** Preference files: chosen/rejected pairs and KTO's single thumbs. */
  preferences?: number;
  thumbs?: number;
  characters: number;
}

export class DatasetValidator {
  private decoder = new StringDecoder("utf8");
  private pending = "";
  private line = 0;
  /** The current line was over MAX_LINE_BYTES and reported: its rest is dropped up to its newline. */
  private skipping = false;
  readonly errors: { line: number; message: string }[] = [];
  private stats: DatasetStats = { lines: 0, characters: 0 };

  constructor(private readonly kind: "CORPUS" | "PAIRS" | "PREFERENCE") {
    if (kind === "PAIRS") this.stats.pairs = 0;
    if (kind === "PREFERENCE") Object.assign(this.stats, { preferences: 0, thumbs: 0 });
  }

  push(chunk: Buffer): void {
    this.consume(this.decoder.write(chunk), false);
  }

  finish(): DatasetStats {
    this.consume(this.decoder.end(), true);
    return this.stats;
  }

  private error(line: number, message: string) {
    if (this.errors.length < MAX_ERRORS) this.errors.push({ line, message });
  }

  private consume(text: string, final: boolean) {
    // StringDecoder substitutes U+FFFD for invalid bytes: treat that as "not UTF-8" on the line.
    this.pending += text;
    let newline: number;
    while ((newline = this.pending.indexOf("\n")) >= 0) {
      if (this.skipping) this.endSkippedLine();
      else this.handleLine(this.pending.slice(0, newline));
      this.pending = this.pending.slice(newline + 1);
    }
    if (this.skipping) {
      // Still inside the over-long line: it arrives in many chunks but is one line.
      this.pending = "";
      if (final) this.endSkippedLine();
      return;
    }
    if (Buffer.byteLength(this.pending) > MAX_LINE_BYTES) {
      this.error(this.line + 1, `the line is longer than ${MAX_LINE_BYTES} bytes`);
      this.pending = "";
      this.skipping = true;
      if (final) this.endSkippedLine();
      return;
    }
    if (final && this.pending.length) {
      this.handleLine(this.pending);
      this.pending = "";
    }
  }

  /** The over-long line ends (its error was reported when it passed the limit). */
  private endSkippedLine() {
    this.skipping = false;
    this.line++;
    this.stats.lines++;
  }

  private handleLine(raw: string) {
    this.line++;
    const text = raw.endsWith("\r") ? raw.slice(0, -1) : raw;
    this.stats.lines++;
    this.stats.characters += text.length;
    if (text.includes("\uFFFD")) this.error(this.line, "not valid UTF-8 text");
    if (this.kind === "CORPUS" || !text.trim()) return;
    let value: unknown;
    try {
      value = JSON.parse(text);
    } catch {
      return this.error(this.line, "not valid JSON");
    }
    if (this.kind === "PREFERENCE") return this.preference(value);
    const pair = value as { prompt?: unknown; response?: unknown };
    if (typeof value !== "object" || value === null || Array.isArray(value)) return this.error(this.line, 'expected an object like {"prompt": "...", "response": "..."}');
    if (typeof pair.prompt !== "string") return this.error(this.line, '"prompt" must be a string');
    if (typeof pair.response !== "string") return this.error(this.line, '"response" must be a string');
    this.stats.pairs!++;
  }

  private preference(value: unknown) {
    const line = value as { prompt?: unknown; chosen?: unknown; rejected?: unknown; completion?: unknown; label?: unknown };
    if (typeof value !== "object" || value === null || Array.isArray(value)) {
      return this.error(this.line, 'expected an object like {"prompt": "...", "chosen": "...", "rejected": "..."} or {"prompt": "...", "completion": "...", "label": true}');
    }
    if (typeof line.prompt !== "string") return this.error(this.line, '"prompt" must be a string');
    if ("chosen" in line || "rejected" in line) {
      if (typeof line.chosen !== "string") return this.error(this.line, '"chosen" must be a string');
      if (typeof line.rejected !== "string") return this.error(this.line, '"rejected" must be a string');
      if ("completion" in line || "label" in line) return this.error(this.line, 'a line is either a preference ("chosen", "rejected") or a thumb ("completion", "label"), not both');
      this.stats.preferences!++;
      return;
    }
    if (typeof line.completion !== "string") return this.error(this.line, 'expected "chosen" and "rejected", or "completion" and "label"');
    if (typeof line.label !== "boolean") return this.error(this.line, '"label" must be true or false');
    this.stats.thumbs!++;
  }
}
