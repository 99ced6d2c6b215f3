// The playground's turn on the GPU nodes: the same request /v1/chat/completions builds (chatRequestOf),
// routed to a node of the organization the same way, so the curl the page shows answers the same.
import type { PrismaClient } from "@/server/db/generated/client";
import type { Actor } from "@/contracts/actor";
import type { ChatMessage } from "@/contracts/eval-case";
import { NoNodeAvailable } from "@/contracts/serving";
import { recordAudit } from "@/server/audit/service";
import { DomainError } from "@/server/errors";
import { routeCompletion } from "@/server/node-registry/inference";
import { ChatBody, chatRequestOf } from "./openai";

export async function chatOnNodes(
  db: PrismaClient,
  actor: Actor,
  orgId: string,
  modelVersionId: string,
  input: { messages: ChatMessage[]; maxTokens: number; temperature: number; topK?: number; seed?: number },
) {
  const version = await db.modelVersion.findUniqueOrThrow({ where: { id: modelVersionId }, select: { artifactSha256: true, _count: { select: { files: true } } } });
  if (!version.artifactSha256 && version._count.files === 0) throw new DomainError("PRECONDITION_FAILED", "This model version has no weights to run.");
  const body = ChatBody.parse({ model: "playground", messages: input.messages, max_tokens: input.maxTokens, temperature: input.temperature, ...(input.topK ? { top_k: input.topK } : {}), ...(input.seed !== undefined ? { seed: input.seed } : {}) });
  const request = chatRequestOf(body);
  if ("status" in request) throw new DomainError("BAD_REQUEST", request.param ? `${request.param}: ${request.message}` : request.message);
  let result;
  try {
    result = await routeCompletion({ ...request, modelVersionId, orgId });
  } catch (error) {
    // By name too: the hub may come from the custom server's module graph rather than this bundle's.
    if (error instanceof NoNodeAvailable || (error as Error)?.name === "NoNodeAvailable") throw new DomainError("PRECONDITION_FAILED", "No GPU node is online to run this model: run it in this browser, or start a node (GPU nodes page).");
    throw error;
  }
  await db.$transaction((tx) =>
    recordAudit(tx, actor, { orgId, action: "model.chat", resourceType: "ModelVersion", resourceId: modelVersionId, after: { turns: input.messages.length, promptTokens: result.promptTokens, completionTokens: result.completionTokens } }),
  );
  return { text: result.text, promptTokens: result.promptTokens, completionTokens: result.completionTokens, finishReason: result.finishReason };
}
