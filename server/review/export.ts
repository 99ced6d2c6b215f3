// Labels become data: a queue's corrected outputs as supervised fine-tuning pairs, and its verdicts as
// preferences (chosen/rejected: a correction over the output it corrects) or KTO's single thumbs
// (the output with the reviewers' pass/fail). Written as a new version of a project dataset through
// the same upload path as any file, so the dataset validators check it.
import { Readable } from "node:stream";
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { DomainError } from "@/server/errors";
import { createDataset, uploadDatasetVersion } from "@/server/datasets/service";

export type LabelExportFormat = "sft" | "preference" | "kto";

interface LabelledItem {
  input: string;
  output: string;
  labels: { pass: boolean | null; correctedOutput: string | null; updatedAt: Date }[];
}

/** The JSON lines of an export (one object per line), from items with their labels. */
export function labelExportLines(format: LabelExportFormat, items: readonly LabelledItem[]): object[] {
  const lines: object[] = [];
  for (const item of items) {
    const corrections = item.labels.filter((l) => l.correctedOutput && l.correctedOutput.trim()).sort((a, b) => b.updatedAt.getTime() - a.updatedAt.getTime());
    const latest = corrections[0]?.correctedOutput ?? null;
    if (format === "sft" && latest !== null) lines.push({ prompt: item.input, response: latest });
    if (format === "preference" && latest !== null && latest !== item.output) lines.push({ prompt: item.input, chosen: latest, rejected: item.output });
    if (format === "kto") {
      const votes = item.labels.filter((l) => l.pass !== null);
      const passes = votes.filter((l) => l.pass).length;
      // The reviewers' majority; a tie says nothing.
      if (votes.length && passes * 2 !== votes.length) lines.push({ prompt: item.input, completion: item.output, label: passes * 2 > votes.length });
    }
  }
  return lines;
}

export async function exportLabels(db: PrismaClient, actor: Actor, orgId: string, queueId: string, format: LabelExportFormat, datasetName: string) {
  const queue = await db.reviewQueue.findUniqueOrThrow({ where: { id: queueId }, select: { projectId: true } });
  const items = await db.reviewItem.findMany({
    where: { queueId, labelCount: { gt: 0 } },
    select: { input: true, output: true, labels: { select: { pass: true, correctedOutput: true, updatedAt: true } } },
    orderBy: { position: "asc" },
  });
  const lines = labelExportLines(format, items);
  if (lines.length === 0) {
    throw new DomainError("BAD_REQUEST", format === "kto" ? "No item has a pass/fail majority yet." : "No item has a corrected output yet: label with corrections first.");
  }
  const kind = format === "sft" ? "PAIRS" : "PREFERENCE";
  const existing = await db.dataset.findUnique({ where: { projectId_name: { projectId: queue.projectId, name: datasetName } }, select: { id: true, kind: true } });
  if (existing && existing.kind !== kind) throw new DomainError("CONFLICT", `The dataset "${datasetName}" holds ${existing.kind.toLowerCase()} data, not ${kind.toLowerCase()}; choose another name.`);
  const dataset = existing ?? (await createDataset(db, actor, orgId, queue.projectId, { name: datasetName, kind }));
  const body = Readable.from([Buffer.from(lines.map((l) => JSON.stringify(l)).join("\n") + "\n", "utf8")]);
  const version = await uploadDatasetVersion(db, actor, orgId, dataset.id, body);
  return { datasetId: dataset.id, kind, lines: lines.length, version };
}
