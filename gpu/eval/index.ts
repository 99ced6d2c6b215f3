// Hearth's eval library: case model, graders, importers and hashing. Pure TypeScript with web
// APIs only (TextEncoder, crypto), so a page, a Web Worker, the server and GPU nodes share it.
export * from "./case";
export { gradeCase, type CaseResult } from "./grade";
export * from "./graders";
export { validateSuiteCases, type CaseProblem } from "./validate";
export { checkRegexSafety, compileSafeRegex, MAX_PATTERN_LENGTH, MAX_REGEX_INPUT } from "./regex-safety";
export { checkJsonSchema, validateJsonSchema, MAX_SCHEMA_DEPTH, MAX_SCHEMA_NODES, MAX_VALIDATION_STEPS, type SchemaValidation } from "./json-schema";
export { canonicalJson, sha256Hex } from "./hash";
export { parseHearthJsonl, toHearthJsonl, type ParsedCases } from "./formats/hearth-jsonl";
export { importPromptfoo, parsePromptfooYaml, findPromptfooConfig, parseCommaList } from "./formats/promptfoo-yaml";
export { NEEDS_REVIEW_TAG, summarizeImport, type ImportNote, type ImportResult, type ImportSummary } from "./formats/report";
export { SourceFiles, normalizePath } from "./formats/source-files";
export { parseLmEvalJsonl, type LmEvalImportOptions } from "./formats/lm-eval-jsonl";
export { MAX_IMPORT_BYTES, MAX_LINE_BYTES, type LineError } from "./formats/limits";
