// `npm run oracle:setup`: makes the oracle's Python environment (.venv-oracle) from the hash-pinned
// test/oracle/requirements.txt with this machine's package index, as `npm test` would on first use.
// CI runs it as its own step, so a missing package fails there, loudly, before any test.
import { ensureOracle, oraclePython } from "../test/support/oracle";
import { ensurePromptfoo, PROMPTFOO_DIR } from "../test/support/promptfoo-oracle";

try {
  ensureOracle((line) => console.log(line));
  console.log(`oracle environment ready: ${oraclePython()}`);
  // promptfoo, the oracle for imported promptfoo configs: a pinned npm package kept outside the app.
  const why = ensurePromptfoo((line) => console.log(line));
  if (why) throw new Error(why);
  console.log(`promptfoo oracle ready: ${PROMPTFOO_DIR}`);
} catch (error) {
  console.error((error as Error).message);
  process.exit(1);
}
