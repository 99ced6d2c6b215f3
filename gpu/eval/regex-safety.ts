// User-written regular expressions, made safe to run on untrusted model output.
//
// JavaScript's own engine backtracks: (a+)+$ takes exponential time and even .*a.*b takes cubic
// time (seconds on 2,000 characters), and a running match cannot be interrupted. So:
//  1. A static check refuses the classic catastrophic shapes at validation time, so authors hear
//     about them early: patterns longer than MAX_PATTERN_LENGTH; backreferences (\1, \k<name>) and
//     lookarounds, which a linear-time matcher cannot run; a repeated group (*, +, {n,} or {n,m}
//     with m > 1) that contains any quantifier, e.g. (a+)+, (.*)*, (a?){20}, (\w+\.)+; a repeated
//     alternation whose alternatives are not plain literals with distinct first characters, e.g.
//     (a|a)*, (a|ab)+, (\d|x)+; flags other than i, m, s, u.
//  2. Accepted patterns never run on the backtracking engine for whole texts: they are compiled to
//     a Thompson NFA and simulated (Pike VM) in O(text length x pattern size), on text of at most
//     MAX_REGEX_INPUT characters. Native RegExp is only used to decide whether one character
//     matches one character class or literal, which is constant-time.

export const MAX_PATTERN_LENGTH = 512;
/** Longest text a pattern is matched against; longer text fails the grader with a clear reason. */
export const MAX_REGEX_INPUT = 100_000;
/** Largest compiled program (counted repetitions expand, e.g. a{1000}). */
export const MAX_PROGRAM_SIZE = 2_000;
const ALLOWED_FLAGS = new Set(["i", "m", "s", "u"]);

interface Quantifier { min: number; max: number }
interface Item { node: Node; quantifier?: Quantifier }
type Node =
  | { kind: "char"; source: string; literal?: string } // matches one character: literal, class, escape class, dot
  | { kind: "assert"; assertion: "^" | "$" | "b" | "B" }
  | { kind: "group"; alternatives: Item[][] };

class Refused extends Error {}

/** Returns null when the pattern is accepted, otherwise what is wrong with it. */
export function checkRegexSafety(pattern: string, flags = ""): string | null {
  try {
    compile(analyze(pattern, flags), flags);
    return null;
  } catch (e) {
    if (e instanceof Refused) return e.message;
    throw e;
  }
}

export interface SafeRegex {
  /** True when the pattern matches somewhere in text (like RegExp.prototype.test). */
  test(text: string): boolean;
}

/** Compiles a pattern that passes checkRegexSafety into a linear-time matcher, or throws why not. */
export function compileSafeRegex(pattern: string, flags = ""): SafeRegex {
  let program: Instruction[];
  try {
    program = compile(analyze(pattern, flags), flags);
  } catch (e) {
    if (e instanceof Refused) throw new Error(`regex refused: ${e.message}`);
    throw e;
  }
  return { test: (text) => run(program, text, flags) };
}

function analyze(pattern: string, flags: string): Item[][] {
  if (pattern.length > MAX_PATTERN_LENGTH) throw new Refused(`pattern is longer than ${MAX_PATTERN_LENGTH} characters`);
  for (const f of flags) if (!ALLOWED_FLAGS.has(f)) throw new Refused(`flag "${f}" is not allowed (use only i, m, s, u)`);
  if (new Set(flags).size !== flags.length) throw new Refused("a flag is repeated");
  try {
    new RegExp(pattern, flags);
  } catch (e) {
    throw new Refused(`invalid regular expression: ${(e as Error).message}`);
  }
  const tree = parse(pattern, flags.includes("u"));
  checkShape(tree, flags.includes("i"));
  return tree;
}

// ---- parsing (the pattern already compiled natively, so only valid syntax reaches here) ----

function parse(pattern: string, unicode: boolean): Item[][] {
  let i = 0;
  const alternativesUntilClose = (): Item[][] => {
    const alternatives: Item[][] = [[]];
    while (i < pattern.length && pattern[i] !== ")") {
      if (pattern[i] === "|") {
        alternatives.push([]);
        i++;
        continue;
      }
      const node = atom();
      const quantifier = node.kind === "assert" ? undefined : parseQuantifier();
      alternatives[alternatives.length - 1].push({ node, quantifier });
    }
    return alternatives;
  };
  const atom = (): Node => {
    const start = i;
    const c = pattern[i];
    if (c === "(") {
      i++;
      if (pattern[i] === "?") {
        const prefix = /^\?(?::|<[A-Za-z_$][\w$]*>)/.exec(pattern.slice(i));
        if (!prefix) throw new Refused("lookahead and lookbehind are not supported");
        i += prefix[0].length;
      }
      const alternatives = alternativesUntilClose();
      i++; // ")"
      return { kind: "group", alternatives };
    }
    if (c === "[") {
      i++;
      if (pattern[i] === "^") i++;
      if (pattern[i] === "]") i++;
      while (i < pattern.length && pattern[i] !== "]") i += pattern[i] === "\\" ? 2 : 1;
      i++;
      return { kind: "char", source: pattern.slice(start, i) };
    }
    if (c === "^" || c === "$") {
      i++;
      return { kind: "assert", assertion: c };
    }
    if (c === "\\") {
      const next = pattern[i + 1] ?? "";
      if (/[1-9]/.test(next) || next === "k") throw new Refused("backreferences are not allowed");
      if (next === "b" || next === "B") {
        i += 2;
        return { kind: "assert", assertion: next };
      }
      const long = /^\\(?:u\{[0-9a-fA-F]+\}|u[0-9a-fA-F]{4}|x[0-9a-fA-F]{2}|c[A-Za-z]|[pP]\{[^}]*\})/.exec(pattern.slice(i));
      i += long ? long[0].length : 2;
      const literal = /[A-Za-z0-9]/.test(next) ? undefined : next;
      return { kind: "char", source: pattern.slice(start, i), literal };
    }
    // One character: a whole surrogate pair under the u flag, one UTF-16 unit without it.
    i += unicode && pattern.codePointAt(i)! > 0xffff ? 2 : 1;
    const text = pattern.slice(start, i);
    return { kind: "char", source: text, literal: c === "." ? undefined : text };
  };
  const parseQuantifier = (): Quantifier | undefined => {
    const c = pattern[i];
    let q: Quantifier | undefined;
    let length = 1;
    if (c === "*") q = { min: 0, max: Infinity };
    else if (c === "+") q = { min: 1, max: Infinity };
    else if (c === "?") q = { min: 0, max: 1 };
    else if (c === "{") {
      const m = /^\{(\d+)(,(\d*))?\}/.exec(pattern.slice(i));
      if (!m) return undefined; // a literal "{" outside unicode mode
      q = { min: Number(m[1]), max: m[2] === undefined ? Number(m[1]) : m[3] === "" ? Infinity : Number(m[3]) };
      length = m[0].length;
    }
    if (!q) return undefined;
    i += length;
    if (pattern[i] === "?") i++; // lazy or greedy: the same language, and test() only asks whether it matches
    return q;
  };
  return alternativesUntilClose();
}

function checkShape(alternatives: Item[][], ignoreCase: boolean): void {
  for (const items of alternatives) {
    for (const { node, quantifier } of items) {
      if (node.kind !== "group") continue;
      if (quantifier !== undefined && quantifier.max > 1) {
        if (containsQuantifier(node.alternatives)) {
          throw new Refused("nested quantifier: a repeated group contains a quantifier (like (a+)+ or (.*)*)");
        }
        if (node.alternatives.length > 1 && !distinctLiterals(node.alternatives, ignoreCase)) {
          throw new Refused("a repeated alternation must have literal alternatives with distinct first characters (unlike (a|a)*)");
        }
      }
      checkShape(node.alternatives, ignoreCase);
    }
  }
}

function containsQuantifier(alternatives: Item[][]): boolean {
  return alternatives.some((items) =>
    items.some((it) => it.quantifier !== undefined || (it.node.kind === "group" && containsQuantifier(it.node.alternatives))),
  );
}

function distinctLiterals(alternatives: Item[][], ignoreCase: boolean): boolean {
  const firsts = new Set<string>();
  for (const items of alternatives) {
    if (items.length === 0 || items.some((it) => it.node.kind !== "char" || it.node.literal === undefined)) return false;
    const first = (items[0].node as { literal: string }).literal;
    const key = ignoreCase ? first.toLowerCase() : first;
    if (firsts.has(key)) return false;
    firsts.add(key);
  }
  return true;
}

// ---- compilation to a Thompson NFA program ----

type Instruction =
  | { op: "char"; matches: (ch: string) => boolean }
  | { op: "assert"; assertion: "^" | "$" | "b" | "B" }
  | { op: "split"; x: number; y: number }
  | { op: "jmp"; to: number }
  | { op: "match" };

function compile(tree: Item[][], flags: string): Instruction[] {
  const program: Instruction[] = [];
  const matchers = new Map<string, (ch: string) => boolean>();
  const emit = (ins: Instruction): number => {
    if (program.length >= MAX_PROGRAM_SIZE) throw new Refused(`pattern expands to more than ${MAX_PROGRAM_SIZE} steps`);
    program.push(ins);
    return program.length - 1;
  };
  const charMatcher = (source: string) => {
    let m = matchers.get(source);
    if (!m) matchers.set(source, (m = singleCharMatcher(source, flags)));
    return m;
  };
  const alternatives = (alts: Item[][]): void => {
    if (alts.length === 1) return sequence(alts[0]);
    const jumps: number[] = [];
    alts.forEach((items, k) => {
      if (k < alts.length - 1) {
        const split = emit({ op: "split", x: 0, y: 0 });
        (program[split] as { x: number }).x = program.length;
        sequence(items);
        jumps.push(emit({ op: "jmp", to: 0 }));
        (program[split] as { y: number }).y = program.length;
      } else sequence(items);
    });
    for (const j of jumps) (program[j] as { to: number }).to = program.length;
  };
  const sequence = (items: Item[]): void => items.forEach(item);
  const once = (node: Node): void => {
    if (node.kind === "char") emit({ op: "char", matches: charMatcher(node.source) });
    else if (node.kind === "assert") emit({ op: "assert", assertion: node.assertion });
    else alternatives(node.alternatives);
  };
  const item = ({ node, quantifier }: Item): void => {
    if (!quantifier) return once(node);
    const { min, max } = quantifier;
    for (let k = 0; k < min; k++) once(node);
    if (max === Infinity) {
      // L: split body, out; body; jmp L
      const split = emit({ op: "split", x: 0, y: 0 });
      (program[split] as { x: number }).x = program.length;
      once(node);
      emit({ op: "jmp", to: split });
      (program[split] as { y: number }).y = program.length;
      return;
    }
    const splits: number[] = [];
    for (let k = min; k < max; k++) {
      const split = emit({ op: "split", x: 0, y: 0 });
      (program[split] as { x: number }).x = program.length;
      splits.push(split);
      once(node);
    }
    for (const s of splits) (program[s] as { y: number }).y = program.length;
  };
  alternatives(tree);
  emit({ op: "match" });
  return program;
}

/** Whether one character matches one atom, decided by the native engine and memoised. */
function singleCharMatcher(source: string, flags: string): (ch: string) => boolean {
  const re = new RegExp(`^(?:${source})$`, flags.replace("m", ""));
  const small = new Uint8Array(0x10000); // 0 unknown, 1 no, 2 yes
  const large = new Map<string, boolean>();
  return (ch) => {
    if (ch.length === 1) {
      const code = ch.charCodeAt(0);
      if (small[code] === 0) small[code] = re.test(ch) ? 2 : 1;
      return small[code] === 2;
    }
    let hit = large.get(ch);
    if (hit === undefined) large.set(ch, (hit = re.test(ch)));
    return hit;
  };
}

// ---- Pike VM simulation: every thread advances one character at a time, no backtracking ----

const LINE_TERMINATOR = /[\n\r\u2028\u2029]/;
const WORD = /[A-Za-z0-9_]/;

function run(program: Instruction[], text: string, flags: string): boolean {
  const unicode = flags.includes("u");
  const multiline = flags.includes("m");
  const chars = unicode ? Array.from(text) : text.split("");
  const n = chars.length;
  const seen = new Int32Array(program.length).fill(-1);
  let current: number[] = [];
  let next: number[] = [];

  const holds = (assertion: "^" | "$" | "b" | "B", pos: number): boolean => {
    const before = pos > 0 ? chars[pos - 1] : undefined;
    const after = pos < n ? chars[pos] : undefined;
    switch (assertion) {
      case "^": return before === undefined || (multiline && LINE_TERMINATOR.test(before));
      case "$": return after === undefined || (multiline && LINE_TERMINATOR.test(after));
      default: {
        const boundary = (before !== undefined && WORD.test(before)) !== (after !== undefined && WORD.test(after));
        return assertion === "b" ? boundary : !boundary;
      }
    }
  };
  // Adds pc and everything reachable from it without consuming a character; true on reaching match.
  const add = (list: number[], start: number, pos: number, generation: number): boolean => {
    const stack = [start];
    while (stack.length > 0) {
      const pc = stack.pop()!;
      if (seen[pc] === generation) continue;
      seen[pc] = generation;
      const ins = program[pc];
      switch (ins.op) {
        case "match": return true;
        case "jmp": stack.push(ins.to); break;
        case "split": stack.push(ins.y, ins.x); break;
        case "assert": if (holds(ins.assertion, pos)) stack.push(pc + 1); break;
        case "char": list.push(pc); break;
      }
    }
    return false;
  };

  for (let pos = 0; pos <= n; pos++) {
    // A new thread at every position makes the search unanchored.
    if (add(current, 0, pos, pos)) return true;
    if (pos === n) break;
    next = [];
    for (const pc of current) {
      const ins = program[pc] as { matches: (ch: string) => boolean };
      if (ins.matches(chars[pos]) && add(next, pc + 1, pos + 1, pos + 1)) return true;
    }
    [current, next] = [next, current];
  }
  return false;
}
