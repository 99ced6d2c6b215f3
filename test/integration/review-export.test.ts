// Labels become data (#20): a queue's corrected outputs export as a supervised fine-tuning dataset
// version (Hearth's prompt/response pairs) and its verdicts as a preference dataset version
// (chosen/rejected, or KTO's single thumbs); each goes through the upload validators and is stored.
import fs from "node:fs";
import os from "node:os";
import path from "node:path";
import { text } from "node:stream/consumers";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { getArtifactStore } from "@/server/storage";
import { DatasetValidator } from "@/server/datasets/validate";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase } from "../support/databases";

const dataDir = fs.mkdtempSync(path.join(os.tmpdir(), "hearth-review-export-"));
process.env.HEARTH_DATA_DIR = dataDir;

describe("exporting a queue's labels as datasets", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;
  let queueId: string;

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase("postgres"));
    f = await createOrgFixture(db);
    const admin = callerFor(db, f.users.ADMIN);
    queueId = (await admin.review.create({ projectId: f.projectId, name: unique("export"), reviewersPerItem: 2, scoreSchema: { pass: true, correction: true } })).id;
    await admin.review.addItems({
      reviewQueueId: queueId,
      items: [
        { input: "Refund after 40 days?", output: "Sure!" },
        { input: "Where is my parcel?", output: "It ships within two days." },
        { input: "Cancel my plan", output: "Done." },
      ],
    });
    // Editor and admin each label all three: the first is wrong (corrected by both, the admin last),
    // the second right, the third split.
    const verdicts: Record<string, { pass: boolean; correctedOutput?: string }[]> = {
      EDITOR: [{ pass: false, correctedOutput: "No: refunds close after 30 days." }, { pass: true }, { pass: true }],
      ADMIN: [{ pass: false, correctedOutput: "No. Refunds close after 30 days; I can offer store credit." }, { pass: true }, { pass: false }],
    };
    for (const role of ["EDITOR", "ADMIN"] as const) {
      const caller = callerFor(db, f.users[role]);
      for (;;) {
        const { item } = await caller.review.next({ reviewQueueId: queueId });
        if (!item) break;
        await caller.review.label({ reviewItemId: item.id, label: verdicts[role][item.position - 1] });
      }
    }
  });
  afterAll(async () => {
    await close?.();
    fs.rmSync(dataDir, { recursive: true, force: true });
  });

  async function exported(format: "sft" | "preference" | "kto") {
    const result = await callerFor(db, f.users.EDITOR).review.exportDataset({ reviewQueueId: queueId, format, datasetName: unique(format) });
    const version = await db.datasetVersion.findUniqueOrThrow({ where: { id: result.version.id }, select: { sha256: true, dataset: { select: { kind: true } } } });
    const content = await text(await getArtifactStore().open(version.sha256));
    // The stored file passes the validator of its dataset's kind on its own, too.
    const validator = new DatasetValidator(version.dataset.kind);
    validator.push(Buffer.from(content));
    const stats = validator.finish();
    expect(validator.errors).toEqual([]);
    return { result, kind: version.dataset.kind, lines: content.trim().split("\n").map((l) => JSON.parse(l)), stats };
  }

  it("exports the latest corrected output of each item as prompt/response pairs", async () => {
    const { kind, lines, stats, result } = await exported("sft");
    expect(kind).toBe("PAIRS");
    expect(lines).toEqual([{ prompt: "Refund after 40 days?", response: "No. Refunds close after 30 days; I can offer store credit." }]);
    expect(stats.pairs).toBe(1);
    expect(result.version.version).toBe(1);
  });

  it("exports corrections over the outputs they correct as chosen/rejected preferences", async () => {
    const { kind, lines, stats } = await exported("preference");
    expect(kind).toBe("PREFERENCE");
    expect(lines).toEqual([{ prompt: "Refund after 40 days?", chosen: "No. Refunds close after 30 days; I can offer store credit.", rejected: "Sure!" }]);
    expect(stats.preferences).toBe(1);
  });

  it("exports the reviewers' pass/fail majority as KTO thumbs, leaving out a tie", async () => {
    const { lines, stats } = await exported("kto");
    expect(lines).toEqual([
      { prompt: "Refund after 40 days?", completion: "Sure!", label: false },
      { prompt: "Where is my parcel?", completion: "It ships within two days.", label: true },
    ]);
    expect(stats.thumbs).toBe(2);
  });

  it("refuses a preference file that mixes the two shapes or lacks a label, line by line", () => {
    const validator = new DatasetValidator("PREFERENCE");
    validator.push(Buffer.from(['{"prompt": "a", "chosen": "b", "rejected": "c"}', '{"prompt": "a", "completion": "b"}', '{"prompt": "a", "chosen": "b", "rejected": "c", "label": true}'].join("\n")));
    validator.finish();
    expect(validator.errors).toEqual([
      { line: 2, message: '"label" must be true or false' },
      { line: 3, message: 'a line is either a preference ("chosen", "rejected") or a thumb ("completion", "label"), not both' },
    ]);
  });

  it("will not add preferences to a dataset of pairs", async () => {
    const name = unique("pairs");
    await callerFor(db, f.users.EDITOR).review.exportDataset({ reviewQueueId: queueId, format: "sft", datasetName: name });
    await expect(callerFor(db, f.users.EDITOR).review.exportDataset({ reviewQueueId: queueId, format: "kto", datasetName: name })).rejects.toThrow(/holds pairs data/);
  });
});
