import { describe, expect, it } from "vitest";
import { checkRegexSafety, compileSafeRegex, MAX_PATTERN_LENGTH, MAX_REGEX_INPUT } from "@/gpu/eval/regex-safety";
import { runGrader } from "@/gpu/eval/graders";
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
    ["(?=a)b", /lookahead and lookbehind/],
    ["(?<!a)b", /lookahead and lookbehind/],
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
    "\\d+\\d+x",
    ".*a.*b",
  ])("accepts %s", (pattern) => {
    expect(checkRegexSafety(pattern, pattern.includes("\\p") ? "u" : "")).toBeNull();
  });
});

describe("linear-time matcher", () => {
  // Each row is checked against the native engine on short texts, where backtracking is harmless.
  const rows: [pattern: string, flags: string, texts: string[]][] = [
    ["abc", "", ["abc", "xabcx", "ab", ""]],
    ["^abc$", "", ["abc", "abcd", "\nabc"]],
    ["^b$", "m", ["a\nb\nc", "ab", "b"]],
    ["a.c", "", ["abc", "a\nc", "ac"]],
    ["a.c", "s", ["a\nc"]],
    ["colou?r", "", ["color", "colour", "colouur"]],
    ["\\d{3}-\\d{2,4}", "", ["123-45", "12-345", "123-4", "x123-45678"]],
    ["a{2,}", "", ["a", "aa", "baaab"]],
    ["(foo|bar)+baz", "", ["foobarbaz", "bazfoo", "fobaz"]],
    ["(?:Mr|Ms)\\. [A-Z]", "", ["Ms. X", "Mr X", "mr. x"]],
    ["refund", "i", ["REFUND", "Refu nd"]],
    ["\\bcat\\b", "", ["a cat.", "concat", "cat"]],
    ["\\Bcat", "", ["concat", "a cat"]],
    ["[^a-c]+$", "", ["abc", "abcd"]],
    ["[\\]x]", "", ["]", "x", "y"]],
    ["\\p{Lu}\\p{Ll}+", "u", ["Élan", "élan"]],
    ["😀+", "u", ["😀😀", "x"]],
    ["a|b|", "", ["", "c"]],
    [".*a.*b", "", ["xaxb", "ba", "ab"]],
    ["^\\s*\\{.*\\}\\s*$", "", [" {\"a\": 1} ", "{", "x{}"]],
    ["\\u0041\\x42", "", ["AB", "ab"]],
    ["\\.", "", [".", "a"]],
    ["a{", "", ["a{", "a"]],
  ];
  it.each(rows)("/%s/%s agrees with RegExp", (pattern, flags, texts) => {
    const safe = compileSafeRegex(pattern, flags);
    for (const text of texts) expect(safe.test(text), JSON.stringify(text)).toBe(new RegExp(pattern, flags).test(text));
  });

  it("answers patterns that backtrack polynomially on long text (.*a.*b takes seconds natively on 2,000 characters)", () => {
    expect(compileSafeRegex(".*a.*b").test("a".repeat(MAX_REGEX_INPUT))).toBe(false);
    expect(compileSafeRegex("(.*),(.*)$").test(",".repeat(MAX_REGEX_INPUT))).toBe(true);
  });

  it("refuses a counted repetition that expands too far", () => {
    expect(() => compileSafeRegex("(abcdefghij){300}")).toThrow(/regex refused: pattern expands to more than 2000 steps/);
    expect(checkRegexSafety("(abcdefghij){300}")).toMatch(/expands/);
  });
});

describe("regex grader", () => {
  const grade = (pattern: string, output: string, extra: { flags?: string; negate?: boolean } = {}) => {
    const spec = { type: "regex" as const, pattern, ...extra };
    // negate is applied by runGrader for every grader type, as promptfoo's `not-` prefix is.
    return runGrader(spec, { output, case: makeCase({ graders: [spec] }) });
  };

  it.each([
    ["^\\d+$", "123", {}, true],
    ["^\\d+$", "12a", {}, false],
    ["refund", "REFUND ok", { flags: "i" }, true],
    ["refund", "no money back", { negate: true }, true],
    ["refund", "refund given", { negate: true }, false],
  ] as const)("/%s/ on %j passes=%s", async (pattern, output, extra, pass) => {
    expect((await grade(pattern, output, extra)).pass).toBe(pass);
  });

  it("refuses a classic ReDoS pattern instead of matching it against its attack string", async () => {
    const r = await grade("^(a+)+$", `${"a".repeat(40)}!`);
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/regex refused: nested quantifier/);
  });

  it("fails an output longer than the bound with the reason, without matching", async () => {
    const r = await grade("x$", "a".repeat(MAX_REGEX_INPUT + 1));
    expect(r.pass).toBe(false);
    expect(r.reason).toMatch(/regex graders match at most/);
  });
});
