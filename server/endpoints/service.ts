// External OpenAI-compatible endpoints of a project: registered, edited and deleted by ADMINs. The
// API key is AES-256-GCM encrypted under the server key; it is never returned, logged or audited
// (audit entries say only whether a key is set or changed). URLs are checked by the SSRF guard at
// registration, and again on every request (DNS may change in between).
import type { Prisma, PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { actorId } from "@/contracts/actor";
import { decryptSecret, encryptSecret, endpointKeyContext } from "./crypto";
import { checkDestination, guardedFetch, OutboundRequestError, SsrfRefused, type GuardOptions } from "./ssrf";
import { callEndpoint, EndpointError, endpointUrl, type EndpointTarget } from "./client";
import type { ChatMessage } from "@/gpu/eval/case";

const columns = {
  id: true,
  projectId: true,
  name: true,
  baseUrl: true,
  model: true,
  maxConcurrency: true,
  timeoutMs: true,
  createdById: true,
  createdAt: true,
  updatedAt: true,
  keyCiphertext: true,
} as const satisfies Prisma.EndpointSelect;

type Row = Prisma.EndpointGetPayload<{ select: typeof columns }>;
export type PublicEndpoint = Omit<Row, "keyCiphertext"> & { hasKey: boolean };

/** What may leave the server about an endpoint: everything but the key. */
function toPublic({ keyCiphertext, ...rest }: Row): PublicEndpoint {
  return { ...rest, hasKey: keyCiphertext !== null };
}

const keyContext = endpointKeyContext;

export interface EndpointFields {
  name: string;
  baseUrl: string;
  model: string;
  maxConcurrency: number;
  timeoutMs: number;
}

/** The base URL as stored: no trailing slash, no query or fragment, no credentials. */
export function normalizeBaseUrl(text: string): string {
  let url: URL;
  try {
    url = new URL(text.trim());
  } catch {
    throw new DomainError("BAD_REQUEST", "baseUrl: is not a URL (e.g. https://api.example.com/v1).");
  }
  if (url.protocol !== "http:" && url.protocol !== "https:") throw new DomainError("BAD_REQUEST", "baseUrl: must start with http:// or https://.");
  if (url.username || url.password) throw new DomainError("BAD_REQUEST", "baseUrl: must not contain a user name or password; put the key in the key field.");
  if (url.search || url.hash) throw new DomainError("BAD_REQUEST", "baseUrl: must not have a query or a fragment.");
  return url.toString().replace(/\/+$/, "");
}

/** Refuses a URL the server must not reach, with the guard's reason. */
async function assertReachable(baseUrl: string, guard?: GuardOptions): Promise<void> {
  try {
    await checkDestination(new URL(baseUrl), guard);
  } catch (error) {
    if (error instanceof SsrfRefused || error instanceof OutboundRequestError) throw new DomainError("BAD_REQUEST", `baseUrl: ${error.message}`);
    throw error;
  }
}

export async function listEndpoints(db: PrismaClient, projectId: string): Promise<PublicEndpoint[]> {
  const rows = await db.endpoint.findMany({ where: { projectId }, select: columns, orderBy: { name: "asc" } });
  return rows.map(toPublic);
}

export async function getEndpoint(db: PrismaClient, endpointId: string) {
  const row = await db.endpoint.findUniqueOrThrow({ where: { id: endpointId }, select: columns });
  const runs = await db.run.findMany({
    where: { endpointId },
    select: { id: true, status: true, createdAt: true, finishedAt: true, summary: true, suiteVersionId: true, error: true },
    orderBy: { createdAt: "desc" },
    take: 20,
  });
  return { ...toPublic(row), runs };
}

export async function createEndpoint(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  projectId: string,
  input: EndpointFields & { apiKey?: string },
  guard?: GuardOptions,
): Promise<PublicEndpoint> {
  const baseUrl = normalizeBaseUrl(input.baseUrl);
  await assertReachable(baseUrl, guard);
  const taken = await db.endpoint.findUnique({ where: { projectId_name: { projectId, name: input.name } }, select: { id: true } });
  if (taken) throw new DomainError("CONFLICT", `name: an endpoint named "${input.name}" already exists in this project.`);
  return db.$transaction(async (tx) => {
    const created = await tx.endpoint.create({
      data: { projectId, name: input.name, baseUrl, model: input.model, maxConcurrency: input.maxConcurrency, timeoutMs: input.timeoutMs, createdById: actorId(actor) },
      select: { id: true },
    });
    // The id is part of the ciphertext's associated data, so the key is encrypted once the row exists.
    const row = await tx.endpoint.update({
      where: { id: created.id },
      data: { keyCiphertext: input.apiKey ? encryptSecret(input.apiKey, keyContext(created.id)) : null },
      select: columns,
    });
    const after = toPublic(row);
    await recordAudit(tx, actor, { orgId, action: "endpoint.create", resourceType: "Endpoint", resourceId: row.id, after });
    return after;
  });
}

export async function updateEndpoint(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  endpointId: string,
  input: Partial<EndpointFields> & { /** A new key; null removes it; absent keeps it. */ apiKey?: string | null },
  guard?: GuardOptions,
): Promise<PublicEndpoint> {
  const baseUrl = input.baseUrl === undefined ? undefined : normalizeBaseUrl(input.baseUrl);
  if (baseUrl) await assertReachable(baseUrl, guard);
  return db.$transaction(async (tx) => {
    const before = toPublic(await tx.endpoint.findUniqueOrThrow({ where: { id: endpointId }, select: columns }));
    if (input.name && input.name !== before.name) {
      const taken = await tx.endpoint.findUnique({ where: { projectId_name: { projectId: before.projectId, name: input.name } }, select: { id: true } });
      if (taken) throw new DomainError("CONFLICT", `name: an endpoint named "${input.name}" already exists in this project.`);
    }
    const keyCiphertext = input.apiKey === undefined ? undefined : input.apiKey === null ? null : encryptSecret(input.apiKey, keyContext(endpointId));
    const row = await tx.endpoint.update({
      where: { id: endpointId },
      data: { name: input.name, baseUrl, model: input.model, maxConcurrency: input.maxConcurrency, timeoutMs: input.timeoutMs, keyCiphertext },
      select: columns,
    });
    const after = toPublic(row);
    await recordAudit(tx, actor, {
      orgId,
      action: "endpoint.update",
      resourceType: "Endpoint",
      resourceId: endpointId,
      before,
      after: { ...after, keyChanged: input.apiKey !== undefined },
    });
    return after;
  });
}

export async function deleteEndpoint(db: PrismaClient, actor: Actor, orgId: string, endpointId: string): Promise<{ id: string }> {
  return db.$transaction(async (tx) => {
    const active = await tx.run.count({ where: { endpointId, status: { in: ["QUEUED", "RUNNING"] } } });
    if (active) throw new DomainError("CONFLICT", `${active} run(s) on this endpoint are queued or running; cancel them first.`);
    const before = toPublic(await tx.endpoint.findUniqueOrThrow({ where: { id: endpointId }, select: columns }));
    await tx.endpoint.delete({ where: { id: endpointId } });
    await recordAudit(tx, actor, { orgId, action: "endpoint.delete", resourceType: "Endpoint", resourceId: endpointId, before });
    return { id: endpointId };
  });
}

/** The endpoint with its key decrypted, for the server's own requests. Never send this to a client. */
export async function endpointTarget(db: Pick<PrismaClient, "endpoint">, endpointId: string): Promise<EndpointTarget & { name: string; maxConcurrency: number }> {
  const row = await db.endpoint.findUniqueOrThrow({ where: { id: endpointId }, select: columns });
  return {
    name: row.name,
    baseUrl: row.baseUrl,
    model: row.model,
    timeoutMs: row.timeoutMs,
    maxConcurrency: row.maxConcurrency,
    ...(row.keyCiphertext ? { apiKey: decryptSecret(row.keyCiphertext, keyContext(row.id)) } : {}),
  };
}

/** Asks the endpoint for its model list (GET /models) once: whether it answers, and whether it serves the configured model. */
export async function checkEndpoint(db: PrismaClient, actor: Actor, orgId: string, endpointId: string, guard?: GuardOptions) {
  const target = await endpointTarget(db, endpointId);
  const started = performance.now();
  let result: { ok: boolean; status: number | null; models: string[]; servesModel: boolean; message: string };
  try {
    const response = await guardedFetch(
      endpointUrl(target.baseUrl, "models"),
      { headers: { accept: "application/json", ...(target.apiKey ? { authorization: `Bearer ${target.apiKey}` } : {}) }, timeoutMs: Math.min(target.timeoutMs, 15_000), maxResponseBytes: 4 * 1024 * 1024 },
      guard,
    );
    let models: string[] = [];
    try {
      const data = (JSON.parse(response.body) as { data?: { id?: unknown }[] }).data;
      models = Array.isArray(data) ? data.map((m) => m.id).filter((id): id is string => typeof id === "string") : [];
    } catch {
      // not a model list
    }
    const ok = response.status >= 200 && response.status < 300;
    result = {
      ok,
      status: response.status,
      models: models.slice(0, 50),
      servesModel: models.includes(target.model),
      message: ok ? `Answered in ${Math.round(performance.now() - started)} ms with ${models.length} model(s).` : `HTTP ${response.status}`,
    };
  } catch (error) {
    if (!(error instanceof SsrfRefused || error instanceof OutboundRequestError)) throw error;
    result = { ok: false, status: null, models: [], servesModel: false, message: error.message };
  }
  await db.$transaction((tx) =>
    recordAudit(tx, actor, { orgId, action: "endpoint.check", resourceType: "Endpoint", resourceId: endpointId, after: { ok: result.ok, status: result.status, servesModel: result.servesModel } }),
  );
  return result;
}

/**
 * One chat turn sent to the endpoint for the playground, as an eval would send it (the same client,
 * SSRF guard and timeout; one attempt, since a person is waiting). Audited like every call that
 * spends a project's endpoint; the messages are not copied into the log.
 */
export async function chatWithEndpoint(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  endpointId: string,
  input: { messages: ChatMessage[]; maxTokens: number; temperature: number; seed?: number },
  guard?: GuardOptions,
) {
  const target = await endpointTarget(db, endpointId);
  let reply;
  try {
    reply = await callEndpoint(target, { input: { messages: input.messages }, maxTokens: input.maxTokens, temperature: input.temperature, seed: input.seed }, { retry: { attempts: 1, baseDelayMs: 0, maxDelayMs: 0 }, guard });
  } catch (error) {
    if (error instanceof EndpointError || error instanceof SsrfRefused || error instanceof OutboundRequestError) throw new DomainError("PRECONDITION_FAILED", `${target.name} did not answer: ${error.message}`);
    throw error;
  }
  await db.$transaction((tx) =>
    recordAudit(tx, actor, { orgId, action: "endpoint.chat", resourceType: "Endpoint", resourceId: endpointId, after: { turns: input.messages.length, latencyMs: reply.latencyMs, completionTokens: reply.completionTokens } }),
  );
  return { text: reply.text, finishReason: reply.finishReason, latencyMs: reply.latencyMs, promptTokens: reply.promptTokens, completionTokens: reply.completionTokens, baseUrl: target.baseUrl, model: target.model };
}
