// Judges calibrated against people. A judge is the endpoint that grades an eval run's rubric graders
// (the run's `judgeEndpointId`: endpoint runs and server runs). Where people labelled an eval result
// pass or fail in a review queue, each rubric verdict the judge gave on that result is paired with the
// people's verdict on it (the majority of their pass/fail labels; a tie counts for neither). Per judge:
// Cohen's kappa between the two (agreement.ts, held to scikit-learn), the confusion matrix with people
// as the truth, the true-positive and true-negative rates, and the items they disagree on. A judge is
// calibrated once it has the project's minimum number of paired verdicts and its kappa reaches the
// project's bar (an ADMIN sets both); until then the release gate counts none of its verdicts
// (server/models/service.ts gateModelVersion) unless the suite's gate settings say to.
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { cohenKappa } from "./agreement";

export interface CalibrationBar {
  minKappa: number;
  minLabels: number;
}

export interface Disagreement {
  itemId: string;
  queueId: string;
  queueName: string;
  caseId: string | null;
  runId: string;
  judgePass: boolean;
  peoplePass: boolean;
  /** The judge's one-sentence reason. */
  judgeReason: string;
  /** The item's input and output, cut to DISAGREEMENT_TEXT characters. */
  input: string;
  output: string;
}

export interface JudgeCalibration {
  judgeEndpointId: string;
  judgeName: string;
  /** Paired verdicts: a rubric verdict of the judge against the people's verdict on the same output. */
  labels: number;
  kappa: number | null;
  /** People as the truth. */
  confusion: { truePass: number; falseFail: number; falsePass: number; trueFail: number };
  /** Of the outputs people passed, the share the judge passed. */
  truePositiveRate: number | null;
  /** Of the outputs people failed, the share the judge failed. */
  trueNegativeRate: number | null;
  calibrated: boolean;
  /** Why not, when not. */
  reason: string | null;
  disagreements: Disagreement[];
}

/** The most disagreements listed per judge (the counts are always whole). */
const MAX_DISAGREEMENTS = 200;
const DISAGREEMENT_TEXT = 2_000;
const cut = (text: string) => (text.length > DISAGREEMENT_TEXT ? `${text.slice(0, DISAGREEMENT_TEXT)}…` : text);

interface Pair {
  judge: boolean;
  people: boolean;
  itemId: string;
  queueId: string;
  queueName: string;
  caseId: string | null;
  runId: string;
  judgeReason: string;
  input: string;
  output: string;
}

type StoredGrade = { grader?: unknown; pass?: unknown; reason?: unknown };

/**
 * The run's judge, when its config names one and the server ran the run (endpoint and server evals):
 * a browser or node reports its own grades, so no verdict of theirs is a judge's.
 */
export function judgeOfRun(run: { target: string; config: unknown }): string | null {
  if (run.target !== "ENDPOINT" && run.target !== "SERVER") return null;
  const id = (run.config as { judgeEndpointId?: unknown } | null)?.judgeEndpointId;
  return typeof id === "string" && id ? id : null;
}

/** The rubric verdicts among a result's stored grades. */
function rubricVerdicts(grades: unknown): { pass: boolean; reason: string }[] {
  if (!Array.isArray(grades)) return [];
  return (grades as StoredGrade[])
    .filter((g) => g?.grader === "rubric" && typeof g.pass === "boolean")
    .map((g) => ({ pass: g.pass as boolean, reason: typeof g.reason === "string" ? g.reason : "" }));
}

export async function calibrationBar(db: Pick<PrismaClient, "project">, projectId: string): Promise<CalibrationBar> {
  const p = await db.project.findUniqueOrThrow({ where: { id: projectId }, select: { judgeMinKappa: true, judgeMinLabels: true } });
  return { minKappa: p.judgeMinKappa, minLabels: p.judgeMinLabels };
}

/** Every judge of the project that graded an output people labelled, with its agreement with them. */
export async function judgeCalibrations(db: PrismaClient, projectId: string): Promise<{ bar: CalibrationBar; judges: JudgeCalibration[] }> {
  const bar = await calibrationBar(db, projectId);
  const items = await db.reviewItem.findMany({
    where: { source: "EVAL_RESULT", sourceId: { not: null }, queue: { projectId }, labels: { some: { pass: { not: null } } } },
    select: { id: true, queueId: true, caseId: true, sourceId: true, input: true, output: true, queue: { select: { name: true } }, labels: { where: { pass: { not: null } }, select: { pass: true } } },
  });
  const results = await db.evalResult.findMany({
    where: { id: { in: items.map((i) => i.sourceId!) }, run: { projectId } },
    select: { id: true, runId: true, grades: true, run: { select: { target: true, config: true } } },
  });
  const resultById = new Map(results.map((r) => [r.id, r]));
  const pairs = new Map<string, Pair[]>();
  for (const item of items) {
    const result = resultById.get(item.sourceId!);
    const judgeEndpointId = result ? judgeOfRun(result.run) : null;
    if (!result || !judgeEndpointId) continue;
    const passes = item.labels.filter((l) => l.pass).length;
    if (passes * 2 === item.labels.length) continue; // a tie: the people did not decide
    const people = passes * 2 > item.labels.length;
    for (const verdict of rubricVerdicts(result.grades)) {
      const list = pairs.get(judgeEndpointId) ?? [];
      list.push({ judge: verdict.pass, people, itemId: item.id, queueId: item.queueId, queueName: item.queue.name, caseId: item.caseId, runId: result.runId, judgeReason: verdict.reason, input: item.input, output: item.output });
      pairs.set(judgeEndpointId, list);
    }
  }
  // Judges whose runs have rubric verdicts but whose verdicts nobody labelled yet are listed too (0 labels).
  const judged = await db.$queryRaw<{ id: string }[]>`
    SELECT DISTINCT config->>'judgeEndpointId' AS id FROM "Run"
    WHERE "projectId" = ${projectId} AND kind = 'EVAL' AND status = 'SUCCEEDED' AND target IN ('ENDPOINT', 'SERVER') AND config->>'judgeEndpointId' IS NOT NULL`;
  for (const { id } of judged) if (!pairs.has(id)) pairs.set(id, []);
  const names = new Map((await db.endpoint.findMany({ where: { id: { in: [...pairs.keys()] } }, select: { id: true, name: true } })).map((e) => [e.id, e.name]));
  const judges = [...pairs.entries()].map(([id, list]) => calibrationOf(id, names.get(id) ?? "(deleted endpoint)", list, bar));
  return { bar, judges: judges.sort((a, b) => a.judgeName.localeCompare(b.judgeName)) };
}

export function calibrationOf(judgeEndpointId: string, judgeName: string, list: readonly Pair[], bar: CalibrationBar): JudgeCalibration {
  const confusion = { truePass: 0, falseFail: 0, falsePass: 0, trueFail: 0 };
  for (const p of list) {
    if (p.people) confusion[p.judge ? "truePass" : "falseFail"]++;
    else confusion[p.judge ? "falsePass" : "trueFail"]++;
  }
  const kappa = list.length
    ? cohenKappa(
        list.map((p) => (p.judge ? "pass" : "fail")),
        list.map((p) => (p.people ? "pass" : "fail")),
      )
    : null;
  const positives = confusion.truePass + confusion.falseFail;
  const negatives = confusion.falsePass + confusion.trueFail;
  const reason =
    list.length < bar.minLabels
      ? `people labelled ${list.length || "none"} of its verdicts; ${bar.minLabels} are needed`
      : kappa === null
        ? "its agreement with people is undefined (every verdict and every label the same); label outputs of both kinds"
        : kappa < bar.minKappa
          ? `its kappa with people, ${kappa.toFixed(2)}, is below the bar of ${bar.minKappa.toFixed(2)}`
          : null;
  return {
    judgeEndpointId,
    judgeName,
    labels: list.length,
    kappa,
    confusion,
    truePositiveRate: positives ? confusion.truePass / positives : null,
    trueNegativeRate: negatives ? confusion.trueFail / negatives : null,
    calibrated: reason === null,
    reason,
    disagreements: list
      .filter((p) => p.judge !== p.people)
      .slice(0, MAX_DISAGREEMENTS)
      .map(({ itemId, queueId, queueName, caseId, runId, judge, people, judgeReason, input, output }) => ({ itemId, queueId, queueName, caseId, runId, judgePass: judge, peoplePass: people, judgeReason, input: cut(input), output: cut(output) })),
  };
}

/** Whether each judge's verdicts count, and why not: for the gate (the project's calibrations computed once). */
export async function judgeStandings(db: PrismaClient, projectId: string, judgeEndpointIds: string[]): Promise<Map<string, { calibrated: boolean; reason: string | null; name: string }>> {
  const { bar, judges } = await judgeCalibrations(db, projectId);
  const standings = new Map<string, { calibrated: boolean; reason: string | null; name: string }>();
  for (const id of judgeEndpointIds) {
    const found = judges.find((j) => j.judgeEndpointId === id);
    if (found) {
      standings.set(id, { calibrated: found.calibrated, reason: found.reason, name: found.judgeName });
      continue;
    }
    const endpoint = await db.endpoint.findUnique({ where: { id }, select: { name: true } });
    standings.set(id, { calibrated: false, reason: `people labelled none of its verdicts; ${bar.minLabels} are needed`, name: endpoint?.name ?? "(deleted endpoint)" });
  }
  return standings;
}

export async function setCalibrationBar(db: PrismaClient, actor: Actor, orgId: string, projectId: string, bar: Partial<CalibrationBar>): Promise<CalibrationBar> {
  return db.$transaction(async (tx) => {
    const before = await calibrationBar(tx, projectId);
    const p = await tx.project.update({ where: { id: projectId }, data: { judgeMinKappa: bar.minKappa, judgeMinLabels: bar.minLabels }, select: { judgeMinKappa: true, judgeMinLabels: true } });
    const after = { minKappa: p.judgeMinKappa, minLabels: p.judgeMinLabels };
    await recordAudit(tx, actor, { orgId, action: "project.judgeCalibrationBar", resourceType: "Project", resourceId: projectId, before, after });
    return after;
  });
}
