// When drift-watch schedules fire: the first slot strictly after a moment, on a UTC grid shifted by the offset.
import { describe, expect, it } from "vitest";
import { checkOffset, nextSlot } from "@/server/schedules/slots";
import { DomainError } from "@/server/errors";

const at = (iso: string) => new Date(iso);

describe("schedule slots", () => {
  it("puts an hourly slot at the offset minute of the next hour, never at the moment itself", () => {
    expect(nextSlot("HOURLY", 0, at("2026-12-06T03:20:00Z"))).toEqual(at("2026-12-06T04:00:00Z"));
    expect(nextSlot("HOURLY", 15, at("2026-12-06T03:10:00Z"))).toEqual(at("2026-12-06T03:15:00Z"));
    expect(nextSlot("HOURLY", 15, at("2026-12-06T03:15:00Z"))).toEqual(at("2026-12-06T04:15:00Z"));
  });

  it("puts a daily slot at the offset time of day in UTC, crossing midnight and month ends", () => {
    expect(nextSlot("DAILY", 6 * 60, at("2026-12-06T03:20:00Z"))).toEqual(at("2026-12-06T06:00:00Z"));
    expect(nextSlot("DAILY", 6 * 60, at("2026-12-06T06:00:00Z"))).toEqual(at("2026-12-07T06:00:00Z"));
    expect(nextSlot("DAILY", 23 * 60 + 30, at("2026-12-31T23:45:00Z"))).toEqual(at("2027-01-01T23:30:00Z"));
  });

  it("refuses an offset outside one period", () => {
    expect(() => checkOffset("HOURLY", 59)).not.toThrow();
    expect(() => checkOffset("HOURLY", 60)).toThrow(DomainError);
    expect(() => checkOffset("DAILY", 1_439)).not.toThrow();
    expect(() => checkOffset("DAILY", 1_440)).toThrow(/below 1440/);
  });
});
