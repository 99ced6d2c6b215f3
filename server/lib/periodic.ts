/**
 * Runs `task` every `everyMs` (never two at once; a failure is logged and the next tick tries again) until
 * stopped; `stop` waits for a run in progress. The timer does not keep the process alive.
 */
export function runPeriodically(label: string, everyMs: number, task: () => Promise<unknown>): { stop(): Promise<void> } {
  let running: Promise<unknown> | null = null;
  const timer = setInterval(() => {
    if (running) return;
    running = task()
      .catch((error: unknown) => console.error(`[hearth] ${label} failed:`, error))
      .finally(() => (running = null));
  }, everyMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
