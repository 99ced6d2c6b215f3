// `npm run bench`: runs each benchmark module in turn. Add a module by appending it below.
// Environment: BENCH_ONLY=<name> runs one; BENCH_BUDGET_MS sets the time per measurement.

import { runGpuMatmulBench } from "./gpu-matmul.bench";
import { runWebFirstPageBench } from "./web-first-page.bench";
import { runMetricsIngestionBench } from "./metrics-ingestion.bench";
import { runCollabBench } from "./collab.bench";
import { runCollabFloodBench } from "./collab-flood.bench";
import { runDashboardBench } from "./dashboard.bench";
import { runTrainBench } from "./train.bench";
import { runQueueBench } from "./queue.bench";
import { runServingBench } from "./serving.bench";
import { runDecoderBench } from "./decoder.bench";
import { runTokenizerBench } from "./tokenizer.bench";
import { runLoraFinetuneBench } from "./lora-finetune.bench";
import { runEnginesBench } from "./engines.bench";
import { runInstancesBench } from "./instances.bench";

const benches: Array<{ name: string; run: () => Promise<void> }> = [
  { name: "gpu-matmul", run: runGpuMatmulBench },
  { name: "web-first-page", run: runWebFirstPageBench },
  { name: "metrics-ingestion", run: runMetricsIngestionBench },
  { name: "collab", run: runCollabBench },
  { name: "collab-flood", run: runCollabFloodBench },
  { name: "dashboard", run: runDashboardBench },
  { name: "train", run: runTrainBench },
  { name: "queue", run: runQueueBench },
  { name: "serving", run: runServingBench },
  { name: "decoder", run: runDecoderBench },
  { name: "tokenizer", run: runTokenizerBench },
  { name: "lora-finetune", run: runLoraFinetuneBench },
  { name: "engines", run: runEnginesBench },
  { name: "instances", run: runInstancesBench },
];

for (const b of benches) {
  if (process.env.BENCH_ONLY && process.env.BENCH_ONLY !== b.name) continue;
  console.log(`# ${b.name}`);
  const t0 = performance.now();
  await b.run();
  console.log(`(${b.name}: ${((performance.now() - t0) / 1000).toFixed(0)} s)\n`);
}
process.exit(0);
