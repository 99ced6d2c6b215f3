// The server's periodic sweep of the node job queue: expired leases go back to the queue (or fail
// after their last attempt). Every web instance may run one; SKIP LOCKED keeps them from colliding.
import type { PrismaClient } from "@/server/db/generated/client";
import { reapExpiredLeases } from "./queue";
import { queueSettings } from "./settings";

export interface JobSweeper {
  stop(): Promise<void>;
}

export function startJobSweeper(db: () => PrismaClient): JobSweeper {
  let running: Promise<unknown> | null = null;
  let reported = false;
  const timer = setInterval(() => {
    if (running) return; // the previous sweep is still at work
    running = reapExpiredLeases(db())
      .then(
        () => (reported = false),
        (error: unknown) => {
          // Once per outage: the database may be restarting; the next sweep tries again.
          if (!reported) console.error("[hearth] job queue sweep failed:", error);
          reported = true;
        },
      )
      .finally(() => (running = null));
  }, queueSettings().sweepMs);
  timer.unref();
  return {
    async stop() {
      clearInterval(timer);
      await running;
    },
  };
}
