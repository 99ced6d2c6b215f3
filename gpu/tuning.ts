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
 * Sets ctx.choices[name] to the fastest candidate. `measure` records and times one candidate
 * (it should warm up first); candidates that throw are skipped.
 */
export async function tuneChoice<C extends string>(
  ctx: GpuContext,
  name: string,
  candidates: C[],
  measure: (candidate: C) => Promise<number>,
  opts: { force?: boolean; fallback: C },
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
  const timings: Partial<Record<C, number>> = {};
  for (const c of candidates) {
    try {
      timings[c] = await measure(c);
    } catch {
      // A candidate this device cannot run is simply not chosen.
    }
  }
  const ranked = (Object.entries(timings) as Array<[C, number]>).sort((x, y) => x[1] - y[1]);
  const choice = ranked[0]?.[0] ?? opts.fallback;
  cache.set(key, choice);
  ctx.choices.set(name, choice);
  await ctx.options.tuningStore?.set(key, choice);
  return { choice, timings };
}

/** Best of `reps` timed runs of `record` after one warm-up run (which compiles pipelines). */
export async function bestTime(ctx: GpuContext, record: () => void, reps = 2): Promise<number> {
  record();
  await ctx.sync();
  let best = Infinity;
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    record();
    await ctx.sync();
    best = Math.min(best, performance.now() - t0);
  }
  return best;
}
