import { z } from "zod";

/**
 * Run.config of an eval run with target ENDPOINT. `api` picks the endpoint's API per case: "auto"
 * sends text inputs to /completions and chat inputs to /chat/completions; "chat" wraps text
 * inputs as one user message; "completions" renders chat inputs with the plain-text chat template.
 * `judgeEndpointId`: another endpoint of the project that grades rubric cases.
 */
export const EndpointEvalConfigSchema = z.strictObject({
  maxTokens: z.number().int().min(1).max(8_192).default(64),
  temperature: z.number().min(0).max(2).default(0),
  stop: z.array(z.string().min(1).max(100)).max(4).optional(),
  api: z.enum(["auto", "chat", "completions"]).default("auto"),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  judgeEndpointId: z.string().min(1).max(64).optional(),
});
export type EndpointEvalConfig = z.infer<typeof EndpointEvalConfigSchema>;

/**
 * Run.config of an eval run with target SERVER (a small folder model on the server's CPU engine,
 * server/runs/server-eval.ts). `judgeEndpointId`: the project's endpoint that grades rubric cases.
 */
export const ServerEvalConfigSchema = z.strictObject({
  maxTokens: z.number().int().min(1).max(512).default(64),
  temperature: z.number().min(0).max(2).default(0),
  topK: z.number().int().min(1).max(1_000).optional(),
  stop: z.array(z.string().min(1).max(100)).max(4).optional(),
  seed: z.number().int().min(0).max(2 ** 31 - 1).optional(),
  runner: z.literal("server").optional(),
  judgeEndpointId: z.string().min(1).max(64).optional(),
});
