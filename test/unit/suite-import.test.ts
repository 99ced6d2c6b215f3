// The server's import edge: one file, a folder's files or a zip, every format, refused whole when broken.
import { describe, expect, it } from "vitest";
import { importSuiteSource } from "@/server/suites/import";
import { exportSuiteCases } from "@/server/suites/export";
import { readZipTextFiles } from "@/server/suites/zip";
import { zip } from "../support/zip";


const CONFIG = `
prompts: ["{{q}}"]
tests:
  - vars: { q: "Capital of France?" }
    assert:
      - { type: contains-any, value: file://lists/cities.json }
      - { type: equals, value: file://../../etc/passwd }
`;

describe("suite import from uploads", () => {
  it("imports a zipped promptfoo folder, resolving file:// inside it and refusing a path that climbs out", () => {
    const upload = zip({ "suite/promptfooconfig.yaml": CONFIG, "suite/lists/cities.json": '["Paris"]' });
    expect(readZipTextFiles(upload).map(([p]) => p)).toEqual(["suite/promptfooconfig.yaml", "suite/lists/cities.json"]);
    const r = importSuiteSource({ format: "promptfoo-yaml", zipBase64: upload.toString("base64") });
    expect(r.cases[0].graders).toEqual([{ type: "contains", values: ["Paris"], mode: "any", caseInsensitive: false }]);
    expect(r.summary.reviewCaseIds).toEqual([r.cases[0].id]);
    expect(r.summary.notes.find((n) => n.field === "tests[0].assert[1].value")).toMatchObject({ file: "suite/promptfooconfig.yaml", message: expect.stringMatching(/outside the imported folder/) });
  });

  it("imports a folder sent as files", () => {
    const r = importSuiteSource({ format: "promptfoo-yaml", files: [{ path: "promptfooconfig.yaml", content: CONFIG }, { path: "lists/cities.json", content: '["Lyon"]' }] });
    expect(r.cases[0].graders[0]).toMatchObject({ values: ["Lyon"] });
    expect(r.summary.gradersMapped).toEqual({ contains: 1 });
  });

  it("refuses a zip whose entry climbs out of the folder", () => {
    expect(() => importSuiteSource({ format: "promptfoo-yaml", zipBase64: zip({ "../evil.yaml": "tests: []" }).toString("base64") })).toThrow(/points outside the folder/);
    expect(() => importSuiteSource({ format: "promptfoo-yaml", zipBase64: Buffer.from("not a zip").toString("base64") })).toThrow(/not a zip/);
  });

  it("needs a column mapping for CSV, and reads inspect CSV by inspect's column names", () => {
    expect(() => importSuiteSource({ format: "csv", content: "a,b\n1,2\n" })).toThrow(/which CSV column/);
    const r = importSuiteSource({ format: "inspect-csv", content: "id,input,target\nx,hi,hello\n" });
    expect(r.cases[0]).toMatchObject({ id: "x", input: "hi", expected: "hello", graders: [{ type: "contains", caseInsensitive: true }] });
  });

  it("refuses a broken file whole and keeps line numbers", () => {
    expect(() => importSuiteSource({ format: "openai-evals-jsonl", content: '{"input": "a", "ideal": "b"}\n{oops\n' })).toThrow(/line 2/);
  });

  it("exports a version in each format", () => {
    const cases = importSuiteSource({ format: "inspect-csv", content: "id,input,target\nx,hi,hello\n" }).cases;
    expect(exportSuiteCases(cases, "promptfoo-yaml", "s-v1", "s v1").filename).toBe("s-v1.promptfooconfig.yaml");
    expect(exportSuiteCases(cases, "inspect-jsonl", "s-v1", "s v1").content).toContain('"target":"hello"');
  });
});

describe("lm-eval uploads", () => {
  it("report where the task's template lives and which fields were kept, not read", () => {
    const r = importSuiteSource({ format: "lm-eval-jsonl", content: '{"query": "2+2?", "choices": ["3", "4"], "gold": 1, "source": "arith"}\n', fileName: "arith.jsonl" });
    expect(r.summary.notes.map((n) => [n.file, n.field])).toEqual([["arith.jsonl", "(task)"], ["arith.jsonl", "source"]]);
  });
});
