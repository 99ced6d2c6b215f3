import { describe, expect, it } from "vitest";
import { checkJsonSchema, MAX_SCHEMA_DEPTH, validateJsonSchema } from "@/gpu/eval/json-schema";
import { runGrader } from "@/gpu/eval/graders";
import { makeCase } from "./helpers";

const person = {
  type: "object",
  properties: {
    name: { type: "string", minLength: 1, maxLength: 20, pattern: "^[A-Z]" },
    age: { type: "integer", minimum: 0, maximum: 150 },
    role: { enum: ["admin", "viewer"] },
    tags: { type: "array", items: { type: "string" }, maxItems: 3 },
    kind: { const: "person" },
  },
  required: ["name", "age"],
  additionalProperties: false,
};

describe("JSON Schema subset", () => {
  it.each([
    ["a valid person", { name: "Ada", age: 36, role: "admin", tags: ["x"], kind: "person" }, null],
    ["a missing required property", { name: "Ada" }, /missing required property "age"/],
    ["a wrong type", { name: "Ada", age: "36" }, /\$\.age: expected integer, got string/],
    ["a non-integer", { name: "Ada", age: 3.5 }, /expected integer/],
    ["below minimum", { name: "Ada", age: -1 }, /must be >= 0/],
    ["above maximum", { name: "Ada", age: 200 }, /must be <= 150/],
    ["too short", { name: "", age: 1 }, /at least 1 characters/],
    ["too long", { name: "A".repeat(21), age: 1 }, /at most 20 characters/],
    ["a pattern mismatch", { name: "ada", age: 1 }, /must match/],
    ["an enum mismatch", { name: "Ada", age: 1, role: "root" }, /must be one of/],
    ["a const mismatch", { name: "Ada", age: 1, kind: "robot" }, /must equal "person"/],
    ["a bad array item", { name: "Ada", age: 1, tags: [1] }, /\$\.tags\[0\]: expected string/],
    ["too many items", { name: "Ada", age: 1, tags: ["a", "b", "c", "d"] }, /at most 3 items/],
    ["an additional property", { name: "Ada", age: 1, extra: true }, /unexpected property "extra"/],
  ])("%s", (_name, data, error) => {
    const { valid, errors } = validateJsonSchema(person, data);
    expect(valid).toBe(error === null);
    if (error) expect(errors.join("\n")).toMatch(error);
  });

  it.each([
    ["anyOf", { anyOf: [{ type: "string" }, { type: "number" }] }, [["a", true], [1, true], [null, false]]],
    ["oneOf", { oneOf: [{ type: "number" }, { type: "integer" }] }, [[1.5, true], [2, false], ["x", false]]],
    ["allOf", { allOf: [{ type: "number" }, { minimum: 2 }] }, [[3, true], [1, false]]],
    ["type list", { type: ["string", "null"] }, [[null, true], ["s", true], [0, false]]],
    ["schema additionalProperties", { additionalProperties: { type: "number" } }, [[{ a: 1 }, true], [{ a: "1" }, false]]],
    ["boolean schema false", { properties: { a: false } }, [[{}, true], [{ a: 1 }, false]]],
  ] as const)("%s", (_name, schema, cases) => {
    for (const [data, valid] of cases) expect(validateJsonSchema(schema, data).valid, JSON.stringify(data)).toBe(valid);
  });

  describe("refuses schema bombs and unsupported schemas", () => {
    let deep: unknown = { type: "string" };
    for (let k = 0; k < MAX_SCHEMA_DEPTH + 2; k++) deep = { items: deep };
    const wide = { anyOf: Array.from({ length: 10_001 }, () => ({ type: "string" })) };
    it.each([
      ["$ref", { $ref: "#" }, /\$ref and definitions are not supported/],
      ["recursive definitions", { $defs: { a: { $ref: "#/$defs/a" } }, $ref: "#/$defs/a" }, /not supported/],
      ["depth beyond the limit", deep, /nested deeper than 32/],
      ["more nodes than the limit", wide, /more than 10000 nodes/],
      ["an unsafe pattern", { pattern: "(a+)+$" }, /nested quantifier/],
      ["an unknown keyword", { patternProperties: {} }, /not supported/],
      ["an unknown type", { type: "date" }, /unknown type/],
    ])("%s", (_name, schema, problem) => {
      expect(checkJsonSchema(schema).join("\n")).toMatch(problem);
      const r = validateJsonSchema(schema, "aaaa");
      expect(r.valid).toBe(false);
      expect(r.errors[0]).toMatch(/^schema refused/);
    });
  });

  it("stops a combinatorial validation at its step budget", () => {
    // A schema within the size limits, over data as large as an output may be: 5,000 x 1,000 checks.
    const schema = { items: { anyOf: Array.from({ length: 5_000 }, (_, k) => ({ const: `v${k}` })) } };
    const data = Array.from({ length: 1_000 }, (_, k) => k);
    const r = validateJsonSchema(schema, data);
    expect(r.valid).toBe(false);
    expect(r.errors.join()).toMatch(/validation stopped after/);
  });

  it.each([
    ['{"name":"Ada","age":3}', true, /matches the schema/],
    ['{"name":"Ada"}', false, /missing required property/],
    ["not json", false, /not JSON/],
  ])("json-schema grader on %j passes=%s", async (output, pass, reason) => {
    const spec = { type: "json-schema" as const, schema: person };
    const r = await runGrader(spec, { output, case: makeCase({ graders: [spec] }) });
    expect(r.pass).toBe(pass);
    expect(r.reason).toMatch(reason);
  });
});
