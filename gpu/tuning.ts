// Per-adapter kernel choices made by measurement, cached in memory per adapter identity
// (adapter info + limits + features) and optionally persisted through a TuningStore.

import type { GpuContext } from "./device";

const cache = new Map<string, string>();

export interface TuneResult<C extends string> {
  choice: C;
  /** Milliseconds per candidate; empty when the choice came from a cache or store. */
  timings: Partial<Record<C, number>>;
}

/**
 * Sets ctx.choices[name] to the fastest candidate. `recorder(c)` returns a function that records
 * one run of candidate c. Each candidate is warmed up (compiling its pipelines), then timed in
 * interleaved rounds, best of each, so a load change on a shared machine biases no candidate.
 * Candidates that throw are skipped.
 */
export async function tuneChoice<C extends string>(
  ctx: GpuContext,
  name: string,
  candidates: C[],
  recorder: (candidate: C) => () => void,
  opts: { force?: boolean; fallback: C; rounds?: number },
): Promise<TuneResult<C>> {
  const key = `${name}:${ctx.report.key}`;
  if (!opts.force) {
    const known = cache.get(key) ?? (await ctx.options.tuningStore?.get(key));
    if (known && (candidates as string[]).includes(known)) {
      cache.set(key, known);
      ctx.choices.set(name, known);
      return { choice: known as C, timings: {} };
    }
  }
  const runs = new Map<C, () => void>();
  for (const c of candidates) {
    try {
      const record = recorder(c);
      record();
      await ctx.sync();
      runs.set(c, record);
    } catch {
      // A candidate this device cannot run is simply not chosen.
    }
  }
  const timings: Partial<Record<C, number>> = {};
  for (let round = 0; round < (opts.rounds ?? 3); round++) {
    for (const [c, record] of runs) {
      const t0 = performance.now();
      record();
      await ctx.sync();
      timings[c] = Math.min(timings[c] ?? Infinity, performance.now() - t0);
    }
    // Keep the selection short: candidates 3x slower than the best are out after one round.
    const best = Math.min(...(Object.values(timings) as number[]));
    for (const c of [...runs.keys()]) if ((timings[c] ?? Infinity) > 3 * best) runs.delete(c);
  }
  const ranked = (Object.entries(timings) as Array<[C, number]>).sort((x, y) => x[1] - y[1]);
  const choice = ranked[0]?.[0] ?? opts.fallback;
  cache.set(key, choice);
  ctx.choices.set(name, choice);
  await ctx.options.tuningStore?.set(key, choice);
  return { choice, timings };
}
