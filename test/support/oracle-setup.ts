// vitest global setup of the oracle project: makes the Python environment once, before any test
// file is collected, so that collection can decide synchronously whether oracle tests run.
import { ensureOracle } from "./oracle";
import { ensurePromptfoo } from "./promptfoo-oracle";

export default function setup(): void {
  // promptfoo (npm, pinned, installed once into a cache outside the repository): see promptfoo-oracle.ts.
  const promptfooProblem = ensurePromptfoo((line) => console.log(line));
  if (promptfooProblem) {
    if (process.env.CI === "true") throw new Error(promptfooProblem);
    process.env.HEARTH_PROMPTFOO_ERROR = promptfooProblem;
  }
  try {
    ensureOracle((line) => console.log(line));
  } catch (e) {
    const why = (e as Error).message;
    if (process.env.CI === "true") throw e;
    // Test files read the reason and print it with their skip notice.
    process.env.HEARTH_ORACLE_ERROR = why.split("\n")[0];
    console.warn(`\n!!! The oracle environment could not be made; oracle tests will skip:\n${why}\n`);
  }
}
