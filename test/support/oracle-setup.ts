// vitest global setup of the oracle project: makes the Python environment once, before any test
// file is collected, so that collection can decide synchronously whether oracle tests run.
import { ensureOracle } from "./oracle";

export default function setup(): void {
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
