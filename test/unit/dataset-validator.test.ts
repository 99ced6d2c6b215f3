// Streaming validation of dataset uploads: an over-long line is one error on its own line number,
// however many chunks it arrives in, and the lines after it keep their numbers.
import { describe, expect, it } from "vitest";
import { DatasetValidator, MAX_LINE_BYTES } from "@/server/datasets/validate";

function validate(kind: "CORPUS" | "PAIRS", text: string, chunkBytes = 64 * 1024) {
  const validator = new DatasetValidator(kind);
  const bytes = Buffer.from(text);
  for (let at = 0; at < bytes.length; at += chunkBytes) validator.push(bytes.subarray(at, at + chunkBytes));
  const stats = validator.finish();
  return { stats, errors: validator.errors };
}

describe("DatasetValidator", () => {
  it("reports a 5 MB JSONL line as line 1 only, and numbers the following lines from 2", () => {
    const long = JSON.stringify({ prompt: "x".repeat(5 * 1024 * 1024), response: "y" });
    const { stats, errors } = validate("PAIRS", `${long}\nnot json\n{"prompt": "a", "response": "b"}\n`);
    expect(errors).toEqual([
      { line: 1, message: `the line is longer than ${MAX_LINE_BYTES} bytes` },
      { line: 2, message: "not valid JSON" },
    ]);
    expect(stats).toMatchObject({ lines: 3, pairs: 1 });
  });

  it("reports an over-long last line without a newline once", () => {
    const { stats, errors } = validate("CORPUS", `short\n${"z".repeat(3 * MAX_LINE_BYTES)}`, 100_000);
    expect(errors).toEqual([{ line: 2, message: `the line is longer than ${MAX_LINE_BYTES} bytes` }]);
    expect(stats.lines).toBe(2);
  });
});
