// Agreement between reviewers (#20) equals the reference implementations on the same label tables:
// Cohen's kappa against scikit-learn's cohen_kappa_score, Fleiss' kappa against statsmodels'
// fleiss_kappa; first on random tables, then through a queue that real reviewers labelled.
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { PrismaClient } from "@/server/db/generated/client";
import { cohenKappa, fleissKappa } from "@/server/review/agreement";
import { callerFor, createOrgFixture, unique, type OrgFixture } from "../support/fixtures";
import { openTestDatabase } from "../support/databases";
import { agreementOracleOrSkip, runOracle } from "../support/oracle";

const oracle = agreementOracleOrSkip();

interface Question {
  cohen?: [string[], string[]];
  fleiss?: number[][];
}
function ask(questions: Question[]): { cohen?: number | null; fleiss?: number | null }[] {
  return JSON.parse(runOracle("agreement.py", [], { input: JSON.stringify(questions) }).stdout);
}

/** A small deterministic generator (mulberry32), so a failing table can be reproduced. */
function random(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

function expectKappa(ours: number | null, theirs: number | null | undefined) {
  if (theirs === null || theirs === undefined) expect(ours).toBeNull();
  else expect(ours).toBeCloseTo(theirs, 12);
}

describe.skipIf(!oracle)("kappa against scikit-learn and statsmodels", () => {
  it("Cohen's kappa equals cohen_kappa_score on random pairs of label sequences (agreeing, chance and degenerate)", () => {
    const next = random(20);
    const labels = ["pass", "fail", "unsure", "refusal"];
    const questions: Question[] = [];
    for (let t = 0; t < 40; t++) {
      const n = 2 + Math.floor(next() * 60);
      const k = 2 + Math.floor(next() * 3);
      const agree = next();
      const a = Array.from({ length: n }, () => labels[Math.floor(next() * k)]);
      const b = a.map((x) => (next() < agree ? x : labels[Math.floor(next() * k)]));
      questions.push({ cohen: [a, b] });
    }
    questions.push({ cohen: [["pass", "pass"], ["pass", "pass"]] }); // both always the same label: undefined
    questions.push({ cohen: [["pass", "fail", "pass"], ["fail", "pass", "fail"]] }); // total disagreement
    const answers = ask(questions);
    questions.forEach((q, i) => expectKappa(cohenKappa(q.cohen![0], q.cohen![1]), answers[i].cohen));
  });

  it("Fleiss' kappa equals fleiss_kappa on random item x category tables of 2 to 7 reviewers", () => {
    const next = random(21);
    const questions: Question[] = [];
    for (let t = 0; t < 40; t++) {
      const items = 1 + Math.floor(next() * 40);
      const categories = 2 + Math.floor(next() * 4);
      const raters = 2 + Math.floor(next() * 6);
      const table = Array.from({ length: items }, () => {
        const row = new Array(categories).fill(0);
        const favourite = Math.floor(next() * categories);
        for (let r = 0; r < raters; r++) row[next() < 0.6 ? favourite : Math.floor(next() * categories)]++;
        return row;
      });
      questions.push({ fleiss: table });
    }
    questions.push({ fleiss: [[3, 0], [3, 0]] }); // one category only: undefined
    const answers = ask(questions);
    questions.forEach((q, i) => expectKappa(fleissKappa(q.fleiss!), answers[i].fleiss));
  });
});

describe.skipIf(!oracle)("a queue's agreement", () => {
  let db: PrismaClient;
  let close: () => Promise<void>;
  let f: OrgFixture;

  beforeAll(async () => {
    ({ db, close } = await openTestDatabase("postgres"));
    f = await createOrgFixture(db);
  });
  afterAll(async () => close?.());

  /** Each reviewer takes the next item and labels it with their value for that item's position. */
  async function labelAll(queueId: string, reviewers: ("OWNER" | "ADMIN" | "EDITOR")[], valueOf: (reviewer: number, position: number) => { pass: boolean; category: string }) {
    for (const [r, role] of reviewers.entries()) {
      const caller = callerFor(db, f.users[role]);
      for (;;) {
        const { item } = await caller.review.next({ reviewQueueId: queueId });
        if (!item) break;
        await caller.review.label({ reviewItemId: item.id, label: valueOf(r, item.position) });
      }
    }
  }

  async function queue(reviewersPerItem: number, items: number) {
    const admin = callerFor(db, f.users.ADMIN);
    const created = await admin.review.create({ projectId: f.projectId, name: unique("agreement"), reviewersPerItem, scoreSchema: { pass: true, categories: ["helpful", "evasive", "wrong"] } });
    await admin.review.addItems({ reviewQueueId: created.id, items: Array.from({ length: items }, (_, i) => ({ input: `q${i}`, output: `a${i}` })) });
    return created.id;
  }

  it("gives Cohen's kappa for two reviewers, as scikit-learn computes it on their labels, and lists the items they disagree on", async () => {
    const queueId = await queue(2, 12);
    const next = random(5);
    const table = Array.from({ length: 2 }, () => Array.from({ length: 13 }, () => ({ pass: next() < 0.6, category: ["helpful", "evasive", "wrong"][Math.floor(next() * 3)] })));
    await labelAll(queueId, ["EDITOR", "ADMIN"], (r, position) => table[r][position]);
    const agreement = await callerFor(db, f.users.VIEWER).review.agreement({ reviewQueueId: queueId });
    // The oracle's rows: reviewers in the order agreement.ts uses (sorted by id), items in order.
    const [first, second] = [f.users.EDITOR.userId, f.users.ADMIN.userId].sort().map((id) => (id === f.users.EDITOR.userId ? 0 : 1));
    const positions = Array.from({ length: 12 }, (_, i) => i + 1);
    const column = (r: number, dim: "pass" | "category") => positions.map((p) => String(dim === "pass" ? (table[r][p].pass ? "pass" : "fail") : table[r][p].category));
    const [pass, category] = ask([{ cohen: [column(first, "pass"), column(second, "pass")] }, { cohen: [column(first, "category"), column(second, "category")] }]);
    const byDimension = Object.fromEntries(agreement.dimensions.map((d) => [d.dimension, d]));
    expect(byDimension.pass).toMatchObject({ method: "cohen", items: 12, reviewers: 2 });
    expectKappa(byDimension.pass.kappa, pass.cohen);
    expectKappa(byDimension.category.kappa, category.cohen);
    const disagreeing = positions.filter((p) => table[0][p].pass !== table[1][p].pass || table[0][p].category !== table[1][p].category);
    expect(agreement.disagreements.map((d) => d.position)).toEqual(disagreeing);
    expect(agreement.disagreements[0].labels.map((l) => l.reviewer).sort()).toEqual(["Admin", "Editor"]);
  });

  it("gives Fleiss' kappa for three reviewers per item, as statsmodels computes it on the item x category counts", async () => {
    const queueId = await queue(3, 15);
    const next = random(6);
    const values = Array.from({ length: 3 }, () => Array.from({ length: 16 }, () => ({ pass: next() < 0.5, category: ["helpful", "evasive", "wrong"][Math.floor(next() * 2.4)] })));
    await labelAll(queueId, ["EDITOR", "ADMIN", "OWNER"], (r, position) => values[r][position]);
    const agreement = await callerFor(db, f.users.VIEWER).review.agreement({ reviewQueueId: queueId });
    const counts = (dim: "pass" | "category", cats: string[]) =>
      Array.from({ length: 15 }, (_, i) => cats.map((c) => values.filter((v) => String(dim === "pass" ? (v[i + 1].pass ? "pass" : "fail") : v[i + 1].category) === c).length));
    const [pass, category] = ask([{ fleiss: counts("pass", ["fail", "pass"]) }, { fleiss: counts("category", ["evasive", "helpful", "wrong"]) }]);
    const byDimension = Object.fromEntries(agreement.dimensions.map((d) => [d.dimension, d]));
    expect(byDimension.pass).toMatchObject({ method: "fleiss", items: 15, reviewers: 3 });
    expectKappa(byDimension.pass.kappa, pass.fleiss);
    expectKappa(byDimension.category.kappa, category.fleiss);
  });
});
