// What the demo project holds from the first sign-in: a written support policy with clauses, an eval
// suite whose cases cite those clauses (published, with release thresholds), the datasets a newcomer
// trains on (prompt/response pairs and a corpus drawn from the same policy), and three small models
// trained on those pairs (server/demo/models, Hugging Face folders made by scripts/demo-models/) with an
// eval run each that the server runs on its CPU at first start (server/runs/server-eval.ts), so the
// dashboard, model table, compare view and gate show measured scores. Created through the same services
// a person uses, so every record (versions, hashes, lineage, audit entries, results) is the real thing.
import path from "node:path";
import { Readable } from "node:stream";
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import type { EvalCase } from "@/contracts/eval-case";
import { createPolicy, publishPolicyVersion } from "@/server/policies/service";
import { addCases, createSuite, publishSuiteVersion, updateSuite } from "@/server/suites/service";
import { createDataset, uploadDatasetVersion } from "@/server/datasets/service";
import type { ArtifactStore } from "@/server/storage";
import { createModel } from "@/server/models/service";
import { uploadFolderFromDisk } from "@/server/models/folders";
import { createRun } from "@/server/runs/service";

/** The demo's models, oldest first: each fine-tuned from the one before on the demo's pairs (see scripts/demo-models/train.py). */
export const DEMO_MODEL_DIR = path.join(import.meta.dirname, "models");
export const DEMO_MODEL_VERSIONS = ["support-v1", "support-v2", "support-v3"] as const;
/** How the demo's eval runs generate (the training script grades its stages with the same bound). */
export const DEMO_EVAL_CONFIG = { maxTokens: 32, temperature: 0, runner: "server" };

/** The policy, in the markdown Hearth co-edits: each heading is a clause with a stable id. */
export const DEMO_POLICY = `# 1. Refunds {#refunds}
Customers may return any item within 30 days of delivery for a full refund to the original payment method.

## 1.1 Sale items {#refunds-sale}
Items bought on sale are refunded as store credit, not money.

# 2. Tone {#tone}
Answer politely and briefly. Apologise once when something went wrong; never blame the customer.

# 3. Privacy {#privacy}
Never ask for or repeat a full card number or a password. Identify a customer by order number only.

# 4. Shipping {#shipping}
Orders ship within 2 business days. Every order has a tracking link in its confirmation email.

# 5. Escalation {#escalation}
Hand the conversation to a human agent when the customer asks for one or mentions a legal complaint.
`;

type DemoCase = { id: string; input: string; expected: string; values: string[]; tag: string; clause: string };

/** Questions a support assistant gets, each with the words a correct answer must contain. */
const CASES: DemoCase[] = [
  { id: "refund-window", input: "How long do I have to return an item?", expected: "You have 30 days from delivery to return it for a full refund.", values: ["30 days"], tag: "refunds", clause: "refunds" },
  { id: "refund-method", input: "Where does my refund go?", expected: "The refund goes back to your original payment method.", values: ["original payment"], tag: "refunds", clause: "refunds" },
  { id: "refund-sale", input: "Can I get my money back for a sale item?", expected: "Sale items are refunded as store credit.", values: ["store credit"], tag: "refunds", clause: "refunds-sale" },
  { id: "tone-late", input: "My parcel is late and I am annoyed.", expected: "Sorry for the delay; here is your tracking link.", values: ["sorry"], tag: "tone", clause: "tone" },
  { id: "tone-thanks", input: "Thanks for the help!", expected: "You are welcome, glad to help.", values: ["welcome"], tag: "tone", clause: "tone" },
  { id: "privacy-card", input: "Here is my card number, can you check it?", expected: "Please never share your card number; give me your order number instead.", values: ["order number"], tag: "privacy", clause: "privacy" },
  { id: "privacy-password", input: "Should I send you my password?", expected: "No, never send your password; your order number is enough.", values: ["never"], tag: "privacy", clause: "privacy" },
  { id: "shipping-time", input: "When will my order ship?", expected: "Orders ship within 2 business days.", values: ["2 business days"], tag: "shipping", clause: "shipping" },
  { id: "shipping-track", input: "Where is my parcel?", expected: "Use the tracking link in your confirmation email.", values: ["tracking link"], tag: "shipping", clause: "shipping" },
  { id: "escalate-human", input: "I want to talk to a person.", expected: "I will hand you to a human agent now.", values: ["human agent"], tag: "escalation", clause: "escalation" },
  { id: "escalate-legal", input: "I will file a legal complaint.", expected: "I am handing this to a human agent who can help.", values: ["human agent"], tag: "escalation", clause: "escalation" },
  { id: "refund-late", input: "Can I return something after 45 days?", expected: "Returns are accepted within 30 days of delivery only.", values: ["30 days"], tag: "refunds", clause: "refunds" },
];

export const DEMO_CASES: EvalCase[] = CASES.map((c) => ({
  id: c.id,
  input: c.input,
  expected: c.expected,
  graders: [{ type: "contains", values: c.values, caseInsensitive: true }],
  tags: [c.tag],
  clauses: [c.clause],
}));

/** Fine-tuning pairs: each case's question and a few rephrasings, answered as the policy says. */
export function demoPairs(): { prompt: string; response: string }[] {
  const pairs: { prompt: string; response: string }[] = [];
  for (const c of CASES) {
    pairs.push({ prompt: c.input, response: c.expected });
    pairs.push({ prompt: `Question: ${c.input.toLowerCase()}`, response: c.expected });
    pairs.push({ prompt: `${c.input} Please answer briefly.`, response: c.expected });
  }
  return pairs;
}

const asBody = (text: string) => Readable.from([Buffer.from(text)]);

export async function seedDemoContent(db: PrismaClient, actor: Actor, orgId: string, projectId: string, store?: ArtifactStore) {
  const policy = await createPolicy(db, actor, orgId, { projectId, key: "support", title: "Support policy", draft: DEMO_POLICY });
  await publishPolicyVersion(db, actor, orgId, policy.id, "The support policy as agreed with the support team");

  const suite = await createSuite(db, actor, orgId, { projectId, name: "Support answers", description: "What the support assistant must say, case by case, each citing the clause it tests." });
  await addCases(db, actor, orgId, suite.id, DEMO_CASES, "replace");
  await updateSuite(db, actor, orgId, suite.id, { thresholds: { overall: 0.5 } });
  const suiteVersion = await publishSuiteVersion(db, actor, orgId, suite.id, "Twelve cases over the five clauses");

  const pairs = await createDataset(db, actor, orgId, projectId, { name: "support-pairs", kind: "PAIRS" });
  const pairsVersion = await uploadDatasetVersion(db, actor, orgId, pairs.id, asBody(demoPairs().map((p) => JSON.stringify(p)).join("\n") + "\n"), { store });
  const corpus = await createDataset(db, actor, orgId, projectId, { name: "support-corpus", kind: "CORPUS" });
  const text = [DEMO_POLICY, ...demoPairs().map((p) => `Customer: ${p.prompt}\nAgent: ${p.response}\n`)].join("\n");
  await uploadDatasetVersion(db, actor, orgId, corpus.id, asBody(text), { store });
  const models = await seedDemoModels(db, actor, orgId, projectId, { datasetVersionId: pairsVersion.id, suiteVersionId: suiteVersion.id }, store);
  return { policyId: policy.id, suiteId: suite.id, datasetIds: [pairs.id, corpus.id], ...models };
}

/**
 * The demo's model versions, imported as folders the way a person uploads one (with their lineage: the
 * pairs they were trained on, the version each was fine-tuned from), and an eval run of the suite on each,
 * queued for the server to run on its CPU in the background.
 */
async function seedDemoModels(db: PrismaClient, actor: Actor, orgId: string, projectId: string, on: { datasetVersionId: string; suiteVersionId: string }, store?: ArtifactStore) {
  const model = await createModel(db, actor, orgId, projectId, "support-assistant");
  const versionIds: string[] = [];
  const runIds: string[] = [];
  for (const name of DEMO_MODEL_VERSIONS) {
    const lineage = { datasetVersionId: on.datasetVersionId, ...(versionIds.length ? { parentVersionId: versionIds.at(-1) } : {}) };
    const version = await uploadFolderFromDisk(db, actor, orgId, model.id, path.join(DEMO_MODEL_DIR, name), lineage, store);
    versionIds.push(version.id);
    const run = await createRun(db, actor, orgId, { projectId, kind: "EVAL", target: "SERVER", config: DEMO_EVAL_CONFIG, suiteVersionId: on.suiteVersionId, modelVersionId: version.id });
    runIds.push(run.id);
  }
  return { modelId: model.id, modelVersionIds: versionIds, evalRunIds: runIds };
}
