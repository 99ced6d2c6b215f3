// The folded log ids a compaction deletes, as ranges of consecutive ids (server/collab/store.ts).
import { describe, expect, it } from "vitest";
import { idRanges } from "@/server/collab/store";

describe("idRanges", () => {
  it("covers exactly the given ids, in order, whatever their order and repeats", () => {
    expect(idRanges([])).toEqual([]);
    expect(idRanges([7n])).toEqual([{ lo: ["7"], hi: ["7"] }]);
    expect(idRanges([5n, 3n, 4n, 4n, 10n, 12n, 11n, 20n])).toEqual([{ lo: ["3", "10", "20"], hi: ["5", "12", "20"] }]);
    const ids = Array.from({ length: 500 }, (_, i) => BigInt(1_000_000_000_000 + i * (i % 7 === 0 ? 2 : 1)));
    const chunks = idRanges(ids, 64);
    expect(chunks).toHaveLength(Math.ceil(new Set(ids).size / 64));
    const covered = chunks.flatMap(({ lo, hi }) => {
      const part = lo.flatMap((l, i) => Array.from({ length: Number(BigInt(hi[i]) - BigInt(l)) + 1 }, (_, k) => BigInt(l) + BigInt(k)));
      expect(part.length).toBeLessThanOrEqual(64);
      return part;
    });
    expect(covered).toEqual([...new Set(ids)].sort((a, b) => (a < b ? -1 : 1)));
  });
});
