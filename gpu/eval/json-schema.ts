// A small JSON Schema validator for the practical subset eval authors use. Schemas come from users,
// so a schema is checked before use: no $ref, bounded depth and size, safe patterns; and every
// validation has a step budget so anyOf/oneOf over large data cannot run away.
import { checkRegexSafety, compileSafeRegex, MAX_REGEX_INPUT, type SafeRegex } from "./regex-safety";

export const MAX_SCHEMA_DEPTH = 32;
export const MAX_SCHEMA_NODES = 10_000;
export const MAX_VALIDATION_STEPS = 1_000_000;

const SUPPORTED = new Set([
  "type", "properties", "required", "items", "enum", "const", "minimum", "maximum",
  "exclusiveMinimum", "exclusiveMaximum", "minLength", "maxLength", "pattern", "additionalProperties",
  "anyOf", "oneOf", "allOf", "minItems", "maxItems",
  // annotations, ignored
  "$schema", "$id", "title", "description", "default", "examples", "$comment",
]);
const TYPES = new Set(["string", "number", "integer", "boolean", "object", "array", "null"]);

type Schema = boolean | { [key: string]: unknown };

/** Returns the problems with a schema (empty when it can be used). */
export function checkJsonSchema(schema: unknown): string[] {
  const problems: string[] = [];
  let nodes = 0;
  const visit = (s: unknown, path: string, depth: number): void => {
    if (problems.length > 20) return;
    if (++nodes > MAX_SCHEMA_NODES) {
      if (nodes === MAX_SCHEMA_NODES + 1) problems.push(`schema has more than ${MAX_SCHEMA_NODES} nodes`);
      return;
    }
    if (depth > MAX_SCHEMA_DEPTH) {
      problems.push(`${path}: schema is nested deeper than ${MAX_SCHEMA_DEPTH} levels`);
      return;
    }
    if (typeof s === "boolean") return;
    if (!isObject(s)) {
      problems.push(`${path}: a schema must be an object or a boolean`);
      return;
    }
    for (const [key, value] of Object.entries(s)) {
      const at = `${path}/${key}`;
      if (key === "$ref" || key === "$defs" || key === "definitions") {
        problems.push(`${at}: $ref and definitions are not supported`);
        continue;
      }
      if (!SUPPORTED.has(key)) {
        problems.push(`${at}: keyword "${key}" is not supported`);
        continue;
      }
      switch (key) {
        case "type": {
          const types = Array.isArray(value) ? value : [value];
          if (types.length === 0 || types.some((t) => typeof t !== "string" || !TYPES.has(t))) problems.push(`${at}: unknown type`);
          break;
        }
        case "properties":
          if (!isObject(value)) problems.push(`${at}: must be an object`);
          else for (const [name, sub] of Object.entries(value)) visit(sub, `${at}/${name}`, depth + 1);
          break;
        case "items":
        case "additionalProperties":
          visit(value, at, depth + 1);
          break;
        case "anyOf":
        case "oneOf":
        case "allOf":
          if (!Array.isArray(value) || value.length === 0) problems.push(`${at}: must be a non-empty array`);
          else value.forEach((sub, k) => visit(sub, `${at}/${k}`, depth + 1));
          break;
        case "required":
          if (!Array.isArray(value) || value.some((v) => typeof v !== "string")) problems.push(`${at}: must be an array of strings`);
          break;
        case "enum":
          if (!Array.isArray(value)) problems.push(`${at}: must be an array`);
          else nodes += value.length;
          break;
        case "minimum": case "maximum": case "exclusiveMinimum": case "exclusiveMaximum":
          if (typeof value !== "number") problems.push(`${at}: must be a number`);
          break;
        case "minLength": case "maxLength": case "minItems": case "maxItems":
          if (typeof value !== "number" || !Number.isInteger(value) || value < 0) problems.push(`${at}: must be a non-negative integer`);
          break;
        case "pattern": {
          const problem = typeof value === "string" ? checkRegexSafety(value, "u") : "must be a string";
          if (problem) problems.push(`${at}: ${problem}`);
          break;
        }
      }
    }
  };
  visit(schema, "#", 0);
  return problems;
}

export interface SchemaValidation { valid: boolean; errors: string[] }

/** Validates data against a schema that passed checkJsonSchema (it is checked again here). */
export function validateJsonSchema(schema: unknown, data: unknown): SchemaValidation {
  const problems = checkJsonSchema(schema);
  if (problems.length > 0) return { valid: false, errors: problems.map((p) => `schema refused: ${p}`) };
  let steps = 0;
  const patterns = new Map<string, SafeRegex>();
  const errors = validate(schema as Schema, data, "$", () => {
    if (++steps > MAX_VALIDATION_STEPS) throw new BudgetExceeded();
  }, patterns);
  return { valid: errors.length === 0, errors };
}

class BudgetExceeded extends Error {}

function validate(schema: Schema, data: unknown, path: string, step: () => void, patterns: Map<string, SafeRegex>): string[] {
  try {
    return validateNode(schema, data, path, step, patterns);
  } catch (e) {
    if (e instanceof BudgetExceeded) return [`validation stopped after ${MAX_VALIDATION_STEPS} steps`];
    throw e;
  }
}

function validateNode(schema: Schema, data: unknown, path: string, step: () => void, patterns: Map<string, SafeRegex>): string[] {
  step();
  if (schema === true) return [];
  if (schema === false) return [`${path}: no value is allowed here`];
  const s = schema;
  const errors: string[] = [];
  const sub = (sch: unknown, value: unknown, at: string) => validateNode(sch as Schema, value, at, step, patterns);

  if (s.type !== undefined) {
    const types = (Array.isArray(s.type) ? s.type : [s.type]) as string[];
    if (!types.some((t) => hasType(data, t))) return [`${path}: expected ${types.join(" or ")}, got ${typeOf(data)}`];
  }
  if (s.const !== undefined && !deepEqual(s.const, data, step)) errors.push(`${path}: must equal ${JSON.stringify(s.const)}`);
  if (Array.isArray(s.enum) && !s.enum.some((v) => deepEqual(v, data, step))) errors.push(`${path}: must be one of ${JSON.stringify(s.enum)}`);

  if (typeof data === "number") {
    if (typeof s.minimum === "number" && data < s.minimum) errors.push(`${path}: must be >= ${s.minimum}`);
    if (typeof s.maximum === "number" && data > s.maximum) errors.push(`${path}: must be <= ${s.maximum}`);
    if (typeof s.exclusiveMinimum === "number" && data <= s.exclusiveMinimum) errors.push(`${path}: must be > ${s.exclusiveMinimum}`);
    if (typeof s.exclusiveMaximum === "number" && data >= s.exclusiveMaximum) errors.push(`${path}: must be < ${s.exclusiveMaximum}`);
  }
  if (typeof data === "string") {
    const length = [...data].length;
    if (typeof s.minLength === "number" && length < s.minLength) errors.push(`${path}: must be at least ${s.minLength} characters`);
    if (typeof s.maxLength === "number" && length > s.maxLength) errors.push(`${path}: must be at most ${s.maxLength} characters`);
    if (typeof s.pattern === "string") {
      if (data.length > MAX_REGEX_INPUT) errors.push(`${path}: string too long to match against pattern`);
      else {
        let re = patterns.get(s.pattern);
        if (!re) patterns.set(s.pattern, (re = compileSafeRegex(s.pattern, "u")));
        if (!re.test(data)) errors.push(`${path}: must match ${s.pattern}`);
      }
    }
  }
  if (Array.isArray(data)) {
    if (typeof s.minItems === "number" && data.length < s.minItems) errors.push(`${path}: must have at least ${s.minItems} items`);
    if (typeof s.maxItems === "number" && data.length > s.maxItems) errors.push(`${path}: must have at most ${s.maxItems} items`);
    if (s.items !== undefined) data.forEach((item, k) => errors.push(...sub(s.items, item, `${path}[${k}]`)));
  }
  if (isObject(data)) {
    const properties = isObject(s.properties) ? s.properties : {};
    if (Array.isArray(s.required)) {
      for (const name of s.required as string[]) if (!Object.hasOwn(data, name)) errors.push(`${path}: missing required property "${name}"`);
    }
    for (const [name, value] of Object.entries(data)) {
      const at = `${path}.${name}`;
      if (Object.hasOwn(properties, name)) errors.push(...sub(properties[name], value, at));
      else if (s.additionalProperties !== undefined) {
        if (s.additionalProperties === false) errors.push(`${path}: unexpected property "${name}"`);
        else errors.push(...sub(s.additionalProperties, value, at));
      }
    }
  }
  if (Array.isArray(s.allOf)) for (const part of s.allOf) errors.push(...sub(part, data, path));
  if (Array.isArray(s.anyOf) && !s.anyOf.some((part) => sub(part, data, path).length === 0)) {
    errors.push(`${path}: matches none of anyOf`);
  }
  if (Array.isArray(s.oneOf)) {
    const matching = s.oneOf.filter((part) => sub(part, data, path).length === 0).length;
    if (matching !== 1) errors.push(`${path}: must match exactly one of oneOf (matched ${matching})`);
  }
  return errors;
}

function isObject(v: unknown): v is Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

function typeOf(v: unknown): string {
  if (v === null) return "null";
  if (Array.isArray(v)) return "array";
  return typeof v;
}

function hasType(v: unknown, t: string): boolean {
  switch (t) {
    case "integer": return typeof v === "number" && Number.isInteger(v);
    case "number": return typeof v === "number";
    default: return typeOf(v) === t;
  }
}

function deepEqual(a: unknown, b: unknown, step: () => void): boolean {
  step();
  if (a === b) return true;
  if (Array.isArray(a) && Array.isArray(b)) return a.length === b.length && a.every((x, k) => deepEqual(x, b[k], step));
  if (isObject(a) && isObject(b)) {
    const keys = Object.keys(a);
    return keys.length === Object.keys(b).length && keys.every((k) => Object.hasOwn(b, k) && deepEqual(a[k], b[k], step));
  }
  return false;
}
