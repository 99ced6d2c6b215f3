// `npm run oracle:setup`: makes the oracle's Python environment (.venv-oracle) from the hash-pinned
// test/oracle/requirements.txt with this machine's package index, as `npm test` would on first use.
// CI runs it as its own step, so a missing package fails there, loudly, before any test.
import { ensureOracle, oraclePython } from "../test/support/oracle";

try {
  ensureOracle((line) => console.log(line));
  console.log(`oracle environment ready: ${oraclePython()}`);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
