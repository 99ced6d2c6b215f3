// CSV (RFC 4180: quoted fields, doubled quotes, CRLF or LF) and the import of a CSV whose columns are
// mapped to case fields in the import dialog.
import { CASE_ID_PATTERN, type EvalCase } from "../case";
import { checkImportSize } from "./limits";
import { graderChoiceNote, gradersFor, type GraderChoice } from "./grader-choice";
import { tagCasesForReview, type ImportResult } from "./report";
import { uniqueIds } from "./slug";

export const MAX_CSV_COLUMNS = 500;

export function parseCsv(text: string): { rows: string[][]; error?: string } {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = "";
  let quoted = false;
  let i = text.charCodeAt(0) === 0xfeff ? 1 : 0; // byte order mark
  const endField = () => {
    row.push(field);
    field = "";
  };
  for (; i < text.length; i++) {
    const ch = text[i];
    if (quoted) {
      if (ch === '"' && text[i + 1] === '"') {
        field += '"';
        i++;
      } else if (ch === '"') quoted = false;
      else field += ch;
    } else if (ch === '"' && field === "") quoted = true;
    else if (ch === ",") endField();
    else if (ch === "\n" || ch === "\r") {
      if (ch === "\r" && text[i + 1] === "\n") i++;
      endField();
      rows.push(row);
      row = [];
      if (rows[0].length > MAX_CSV_COLUMNS) return { rows: [], error: `more than ${MAX_CSV_COLUMNS} columns` };
    } else field += ch;
  }
  if (quoted) return { rows, error: `a quoted field opened on row ${rows.length + 1} is never closed` };
  if (field !== "" || row.length) {
    endField();
    rows.push(row);
  }
  return { rows: rows.filter((r) => !(r.length === 1 && r[0] === "")) };
}

export interface CsvMapping {
  /** Column names (from the header row) for each case field; input is required. */
  input: string;
  expected?: string;
  id?: string;
  /** Tags separated by ";" or ",". */
  tags?: string;
  grader: GraderChoice;
}

/** The header row, for the import dialog to offer as choices. */
export function csvColumns(text: string): string[] {
  const first = text.slice(0, 100_000).split(/\r?\n/, 1)[0] ?? "";
  return parseCsv(first).rows[0] ?? [];
}

export function importCsv(text: string, mapping: CsvMapping, file = "cases.csv"): ImportResult {
  const result: ImportResult = { cases: [], notes: [], errors: [] };
  const size = checkImportSize(text);
  if (size) return { ...result, errors: [size] };
  const { rows, error } = parseCsv(text);
  if (error) return { ...result, errors: [error] };
  if (rows.length < 2) return { ...result, errors: ["the CSV needs a header row and at least one row of cases"] };
  const header = rows[0];
  const column = (name: string | undefined, role: string) => {
    if (name === undefined) return -1;
    const k = header.indexOf(name);
    if (k < 0) result.errors.push(`the ${role} column "${name}" is not in the header (${header.slice(0, 20).join(", ")})`);
    return k;
  };
  const cols = { input: column(mapping.input, "input"), expected: column(mapping.expected, "expected"), id: column(mapping.id, "id"), tags: column(mapping.tags, "tags") };
  if (result.errors.length) return result;
  const used = new Set(Object.values(cols).filter((k) => k >= 0));
  const unused = header.filter((_, k) => !used.has(k));
  if (unused.length) result.notes.push({ file, field: unused.join(", "), message: "columns not mapped to a case field are kept in each case's metadata.columns", changesVerdict: false });
  result.notes.push(graderChoiceNote(file, mapping.grader, "CSV holds no graders"));
  const unique = uniqueIds();
  rows.slice(1).forEach((row, r) => {
    const line = r + 2;
    if (row.length !== header.length) result.notes.push({ file, field: `row ${line}`, message: `has ${row.length} fields where the header has ${header.length}; missing ones read as empty`, changesVerdict: false });
    const cell = (k: number) => (k >= 0 ? row[k] ?? "" : undefined);
    const input = cell(cols.input) ?? "";
    if (input === "") return void result.notes.push({ file, field: `row ${line}.${mapping.input}`, message: "empty input; row skipped", changesVerdict: false });
    const ownId = cell(cols.id);
    const id = unique(ownId && CASE_ID_PATTERN.test(ownId) ? ownId : `row-${line}`);
    if (ownId && !CASE_ID_PATTERN.test(ownId)) result.notes.push({ file, caseId: id, field: `row ${line}.${mapping.id}`, message: `"${ownId.slice(0, 40)}" is not a usable case id; the case is ${id}`, changesVerdict: false });
    const expected = cell(cols.expected);
    const tags = (cell(cols.tags) ?? "").split(/[;,]/).map((t) => t.trim()).filter(Boolean);
    const columns = Object.fromEntries(header.map((h, k) => [h, row[k] ?? ""]).filter((_, k) => !used.has(k)));
    const graders = gradersFor(mapping.grader, expected ? [expected] : []);
    const c: EvalCase = {
      id,
      input,
      ...(expected ? { expected } : {}),
      graders,
      tags: [...new Set([...tags, ...(graders.length ? [] : ["needs-graders"])])],
      clauses: [],
      metadata: { source: "csv", ...(Object.keys(columns).length ? { columns } : {}) },
    };
    result.cases.push(c);
  });
  tagCasesForReview(result);
  return result;
}
