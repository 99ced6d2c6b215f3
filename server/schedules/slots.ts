// When a schedule fires: slots fall on a fixed UTC grid (every hour, or every day), shifted by the
// schedule's offset in minutes, so every instance computes the same slots without talking to the others.
import type { ScheduleInterval } from "@/server/db/generated/client";
import { DomainError } from "@/server/errors";

const PERIOD_MS: Record<ScheduleInterval, number> = { HOURLY: 3_600_000, DAILY: 86_400_000 };

/** The first slot strictly after `after`. */
export function nextSlot(interval: ScheduleInterval, offsetMinutes: number, after: Date): Date {
  const period = PERIOD_MS[interval];
  const offset = offsetMinutes * 60_000;
  return new Date(Math.floor((after.getTime() - offset) / period) * period + period + offset);
}

/** An offset must fall inside one period: under 60 minutes for HOURLY, under 1440 for DAILY. */
export function checkOffset(interval: ScheduleInterval, offsetMinutes: number): void {
  if (offsetMinutes * 60_000 >= PERIOD_MS[interval]) {
    throw new DomainError("BAD_REQUEST", `offsetMinutes: must be below ${PERIOD_MS[interval] / 60_000} for a ${interval.toLowerCase()} schedule.`);
  }
}
