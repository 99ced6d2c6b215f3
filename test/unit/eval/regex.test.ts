import { describe, expect, it } from "vitest";
import { checkRegexSafety, MAX_PATTERN_LENGTH, MAX_REGEX_INPUT } from "@/gpu/eval/regex-safety";
import { gradeRegex } from "@/gpu/eval/graders/regex";
import { makeCase } from "./helpers";

describe("regex safety check", () => {
  it.each([
    ["(a+)+$", /nested quantifier/],
    ["^(a+)+b", /nested quantifier/],
    ["(.*)*x", /nested quantifier/],
    ["([a-zA-Z]+)*$", /nested quantifier/],
    ["^(\\w+\\s?)*$", /nested quantifier/],
    ["(x+x+)+y", /nested quantifier/],
    ["(a?){25}a{25}", /nested quantifier/],
    ["^(([a-z])+.)+[A-Z]([a-z])+$", /nested quantifier/],
    ["(a|a)*$", /repeated alternation/],
    ["(a|aa)+$", /repeated alternation/],
    ["(\\d|1)+x", /repeated alternation/],
    ["(?:a|a)*b", /repeated alternation/],
    ["\\d+\\d+x", /two unbounded quantifiers/],
    [".*.*=.*", /two unbounded quantifiers/],
    ["(a)\\1", /backreferences/],
    ["(?<q>['\"]).*\\k<q>", /backreferences/],
    ["a".repeat(MAX_PATTERN_LENGTH + 1), /longer than/],
    ["(unclosed", /invalid regular expression/],
  ])("refuses %s", (pattern, problem) => {
    expect(checkRegexSafety(pattern)).toMatch(problem);
  });

  it.each([
    ["g", /flag "g"/],
    ["y", /flag "y"/],
    ["ii", /repeated/],
  ])("refuses flags %j", (flags, problem) => {
    expect(checkRegexSafety("a", flags)).toMatch(problem);
  });

  it.each([
    "^\\d{3}-\\d{4}$",
    "(foo|bar)+",
    ".*error.*",
    "\\bok\\b",
    "^refund(ed)? within \\d+ days$",
    "[a-z]+@[a-z]+\\.com",
    "(?:Mr|Ms|Dr)\\. [A-Z][a-z]+",
    "\\{\"score\": ?\\d\\}",
    "[(+*]+",
    "^\\p{Lu}", 
  ])("accepts %s", (pattern) => {
    expect(checkRegexSafety(pattern, pattern.includes("\\p") ? "u" : "")).toBeNull();
  });
});

describe("regex grader", () => {
  const grade = (pattern: string, output: string, extra: { flags?: string; negate?: boolean } = {}) => {
    const spec = { type: "regex" as const, pattern, ...extra };
    return gradeRegex(spec, { output, case: makeCase({ graders: [spec] }) }) as ReturnType<typeof gradeRegex> & { pass: boolean; reason: string };
  };

  it.each([
    ["^\\d+$", "123", {}, true],
    ["^\\d+$", "12a", {}, false],
    ["refund", "REFUND ok", { flags: "i" }, true],
    ["refund", "no money back", { negate: true }, true],
    ["refund", "refund given", { negate: true }, false],
  ] as const)("/%s/ on %j passes=%s", (pattern, output, extra, pass) => {
    expect(grade(pattern, output, extra).pass).toBe(pass);
  });

  it("refuses a classic ReDoS pattern instead of matching it against its attack string", () => {
    const r = grade("^(a+)+$", `${"a".repeat(40)}!`);
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/regex refused: nested quantifier/);
  });

  it("fails an output longer than the bound with the reason, without matching", () => {
    const r = grade("x$", "a".repeat(MAX_REGEX_INPUT + 1));
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/regex graders match at most/);
  });
});
