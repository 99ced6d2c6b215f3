// Tokenizer speed with a real-sized vocabulary: loading a 128k-token byte-level tokenizer.json and
// encoding a page, cold and warm (the word cache). Run: BENCH_ONLY=tokenizer npm run bench
import { fileURLToPath } from "node:url";
import { loadHfTokenizer } from "../../gpu/tokenizer";
import { bigVocab, byteLevelJson, PAGE } from "../support/tokenizer-fixtures";

export async function runTokenizerBench(): Promise<void> {
  const { vocab, merges } = bigVocab(128_000, PAGE);
  let t0 = performance.now();
  const tok = loadHfTokenizer({ tokenizerJson: byteLevelJson(vocab, merges) });
  const loadMs = performance.now() - t0;
  t0 = performance.now();
  const ids = tok.encode(PAGE);
  const coldMs = performance.now() - t0;
  const warm: number[] = [];
  for (let i = 0; i < 20; i++) {
    t0 = performance.now();
    tok.encode(PAGE);
    warm.push(performance.now() - t0);
  }
  warm.sort((a, b) => a - b);
  console.log(`128k-token byte-level BPE: load ${loadMs.toFixed(0)} ms; a page (${PAGE.length} characters, ${ids.length} tokens): cold ${coldMs.toFixed(2)} ms, warm median ${warm[10].toFixed(2)} ms (${((PAGE.length / warm[10]) * 1000 / 1e6).toFixed(2)} M characters/s)`);
}

if (process.argv[1] && fileURLToPath(import.meta.url) === process.argv[1]) await runTokenizerBench();
