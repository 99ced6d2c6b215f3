// JavaScript's regex engine backtracks, so a hostile or careless pattern can take exponential time
// on a short string. We cannot interrupt a running match, so risky patterns are refused up front
// by a conservative static check, and the text is bounded before any match.
//
// Refused: patterns longer than MAX_PATTERN_LENGTH; backreferences (\1, \k<name>); a repeated
// group (*, +, {n,} or {n,m} with m > 1) that contains any quantifier, e.g. (a+)+, (.*)*, (a?){20},
// (\w+\.)+; a repeated group whose alternatives are not plain literals with distinct first
// characters, e.g. (a|a)*, (a|ab)+, (\d|x)+; two unbounded quantifiers in a row, e.g. \d+\d+, .*.*;
// flags other than i, m, s, u. Allowed: things like ^\d{3}-\d{4}$, (foo|bar)+, .*error.*, \bok\b.

export const MAX_PATTERN_LENGTH = 512;
/** Longest text a pattern is matched against; longer text fails the grader with a clear reason. */
export const MAX_REGEX_INPUT = 32_768;
const ALLOWED_FLAGS = new Set(["i", "m", "s", "u"]);

interface Quantifier { min: number; max: number }
interface Item { atom: Atom; quantifier?: Quantifier }
type Atom =
  | { kind: "char"; char: string }
  | { kind: "other" } // class, escape class, dot, anchor
  | { kind: "group"; alternatives: Item[][] };

class Unsafe extends Error {}

/** Returns null when the pattern is accepted, otherwise what is wrong with it. */
export function checkRegexSafety(pattern: string, flags = ""): string | null {
  if (pattern.length > MAX_PATTERN_LENGTH) return `pattern is longer than ${MAX_PATTERN_LENGTH} characters`;
  for (const f of flags) if (!ALLOWED_FLAGS.has(f)) return `flag "${f}" is not allowed (use only i, m, s, u)`;
  if (new Set(flags).size !== flags.length) return "a flag is repeated";
  try {
    new RegExp(pattern, flags);
  } catch (e) {
    return `invalid regular expression: ${(e as Error).message}`;
  }
  try {
    const tree = parse(pattern);
    checkSequence(tree, flags.includes("i"));
    return null;
  } catch (e) {
    if (e instanceof Unsafe) return e.message;
    throw e;
  }
}

/** Compiles a pattern that passed checkRegexSafety, or throws with the reason. */
export function compileSafeRegex(pattern: string, flags = ""): RegExp {
  const problem = checkRegexSafety(pattern, flags);
  if (problem) throw new Error(`regex refused: ${problem}`);
  return new RegExp(pattern, flags);
}

function parse(pattern: string): Item[][] {
  let i = 0;
  const parseAlternatives = (): Item[][] => {
    const alternatives: Item[][] = [[]];
    while (i < pattern.length) {
      const c = pattern[i];
      if (c === ")") return alternatives;
      if (c === "|") {
        alternatives.push([]);
        i++;
        continue;
      }
      const atom = parseAtom();
      const quantifier = parseQuantifier();
      alternatives[alternatives.length - 1].push({ atom, quantifier });
    }
    return alternatives;
  };
  const parseAtom = (): Atom => {
    const c = pattern[i];
    if (c === "(") {
      i++;
      if (pattern[i] === "?") {
        const rest = pattern.slice(i);
        const prefix = /^\?(?::|=|!|<=|<!|<[A-Za-z_$][\w$]*>)/.exec(rest);
        if (!prefix) throw new Unsafe("unsupported group syntax");
        i += prefix[0].length;
      }
      const alternatives = parseAlternatives();
      if (pattern[i] !== ")") throw new Unsafe("unbalanced parenthesis");
      i++;
      return { kind: "group", alternatives };
    }
    if (c === "[") {
      i++;
      if (pattern[i] === "^") i++;
      if (pattern[i] === "]") i++;
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
      i++;
      return { kind: "other" };
    }
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      if (/[1-9]/.test(next) || next === "k") throw new Unsafe("backreferences are not allowed");
      i += 2;
      if (/[dDwWsSbBnrtfv0]/.test(next) || next === "") return { kind: "other" };
      if (next === "u" || next === "x" || next === "c" || next === "p" || next === "P") {
        const m = /^(?:u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|c[A-Za-z]|[pP]\{[^}]*\})/.exec(pattern.slice(i - 1));
        if (m) i += m[0].length - 1;
        return { kind: "other" };
      }
      return { kind: "char", char: next };
    }
    i++;
    if (c === "." || c === "^" || c === "$") return { kind: "other" };
    return { kind: "char", char: c };
  };
  const parseQuantifier = (): Quantifier | undefined => {
    const c = pattern[i];
    let q: Quantifier | undefined;
    if (c === "*") q = { min: 0, max: Infinity };
    else if (c === "+") q = { min: 1, max: Infinity };
    else if (c === "?") q = { min: 0, max: 1 };
    else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (!m) return undefined; // a literal "{" (non-unicode mode)
      const min = Number(m[1]);
      const max = m[2] === undefined ? min : m[3] === "" ? Infinity : Number(m[3]);
      i += m[0].length - 1;
      q = { min, max };
    }
    if (!q) return undefined;
    i++;
    if (pattern[i] === "?") i++; // lazy: same backtracking behaviour on failure
    return q;
  };
  const tree = parseAlternatives();
  if (i < pattern.length) throw new Unsafe("unbalanced parenthesis");
  return tree;
}

function repeats(q: Quantifier | undefined): boolean {
  return q !== undefined && q.max > 1;
}

function checkSequence(alternatives: Item[][], ignoreCase: boolean): void {
  for (const items of alternatives) {
    for (let k = 0; k < items.length; k++) {
      const { atom, quantifier } = items[k];
      if (k > 0 && quantifier?.max === Infinity && items[k - 1].quantifier?.max === Infinity) {
        throw new Unsafe("two unbounded quantifiers in a row (like \\d+\\d+ or .*.*) can backtrack heavily");
      }
      if (atom.kind !== "group") continue;
      if (repeats(quantifier)) {
        if (containsQuantifier(atom.alternatives)) {
          throw new Unsafe("nested quantifier: a repeated group contains a quantifier (like (a+)+ or (.*)*)");
        }
        if (atom.alternatives.length > 1 && !distinctLiteralAlternatives(atom.alternatives, ignoreCase)) {
          throw new Unsafe("a repeated alternation must have literal alternatives with distinct first characters (unlike (a|a)*)");
        }
      }
      checkSequence(atom.alternatives, ignoreCase);
    }
  }
}

function containsQuantifier(alternatives: Item[][]): boolean {
  return alternatives.some((items) =>
    items.some((it) => it.quantifier !== undefined || (it.atom.kind === "group" && containsQuantifier(it.atom.alternatives))),
  );
}

function distinctLiteralAlternatives(alternatives: Item[][], ignoreCase: boolean): boolean {
  const firsts = new Set<string>();
  for (const items of alternatives) {
    if (items.length === 0 || items.some((it) => it.atom.kind !== "char")) return false;
    const first = (items[0].atom as { char: string }).char;
    const key = ignoreCase ? first.toLowerCase() : first;
    if (firsts.has(key)) return false;
    firsts.add(key);
  }
  return true;
}
