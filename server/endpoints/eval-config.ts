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
