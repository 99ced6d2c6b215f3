// A third-party OpenAI-compatible service for tests of endpoints: a real HTTP server on loopback whose
// answers are scripted by markers in the prompt, recording what it was sent.
import http from "node:http";
import type { AddressInfo } from "node:net";

export const UPSTREAM_KEY = "sk-upstream-secret-1234567890";

export interface UpstreamRequest {
  path: string;
  authorization: string | undefined;
  body: { prompt?: string; messages?: { role: string; content: string }[]; max_tokens?: number; temperature?: number; stop?: string[] };
}

/**
 * An OpenAI-compatible service scripted by markers in the prompt: [429 once], [500 twice],
 * [slow once] (no answer the first time), [always 503], [hang] (never answers). Otherwise it
 * answers "No, refunds close after 30 days." to anything about refunds and "I do not know." else;
 * asked to judge (a rubric prompt), it scores 1 when the judged output states the 30-day window.
 */
export async function startUpstream() {
  const requests: UpstreamRequest[] = [];
  const seen = new Map<string, number>();
  let inFlight = 0;
  let maxInFlight = 0;
  const closedEarly: string[] = [];
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on("data", (c: Buffer) => chunks.push(c));
    req.on("end", () => {
      const body = JSON.parse(Buffer.concat(chunks).toString() || "{}") as UpstreamRequest["body"];
      requests.push({ path: req.url ?? "", authorization: req.headers.authorization, body });
      if (req.headers.authorization !== `Bearer ${UPSTREAM_KEY}`) {
        res.writeHead(401, { "content-type": "application/json" });
        return res.end(JSON.stringify({ error: { message: "Incorrect API key provided." } }));
      }
      if (req.url === "/v1/models") return res.end(JSON.stringify({ object: "list", data: [{ id: "upstream-model", object: "model" }] }));
      const prompt = body.prompt ?? (body.messages ?? []).map((m) => `${m.role}: ${m.content}`).join("\n");
      const count = (seen.get(prompt) ?? 0) + 1;
      seen.set(prompt, count);
      inFlight++;
      maxInFlight = Math.max(maxInFlight, inFlight);
      let answered = false;
      res.on("close", () => {
        inFlight--;
        if (!answered) closedEarly.push(prompt);
      });
      const reply = (status: number, payload: unknown, headers: Record<string, string> = {}) => {
        answered = true;
        res.writeHead(status, { "content-type": "application/json", ...headers });
        res.end(JSON.stringify(payload));
      };
      if (prompt.includes("[hang]") || (prompt.includes("[slow once]") && count === 1)) return;
      if (prompt.includes("[429 once]") && count === 1) return reply(429, { error: { message: "Rate limit reached" } }, { "retry-after": "0" });
      if (prompt.includes("[500 twice]") && count <= 2) return reply(500, { error: { message: "upstream hiccup" } });
      if (prompt.includes("[always 503]")) return reply(503, { error: { message: "overloaded" } });
      // As a judge (a rubric grader's fenced prompt): a strict JSON verdict on the fenced output.
      const judged = /<<<BEGIN_UNTRUSTED_OUTPUT [^>]*>>>\n([\s\S]*?)\n<<<END_UNTRUSTED_OUTPUT/.exec(prompt)?.[1];
      const text =
        judged !== undefined
          ? JSON.stringify({ score: judged.includes("30 days") ? 1 : 0, reason: judged.includes("30 days") ? "states the 30-day window" : "does not state the window" })
          : /refund/i.test(prompt)
            ? "No, refunds close after 30 days."
            : "I do not know.";
      const usage = { prompt_tokens: prompt.split(/\s+/).length, completion_tokens: text.split(/\s+/).length };
      // Answers are held a moment so that concurrent requests overlap.
      setTimeout(() => {
        if (req.url === "/v1/chat/completions") reply(200, { id: "x", object: "chat.completion", choices: [{ index: 0, message: { role: "assistant", content: text }, finish_reason: "stop" }], usage });
        else reply(200, { id: "x", object: "text_completion", choices: [{ index: 0, text, finish_reason: "stop" }], usage });
      }, 30);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  const port = (server.address() as AddressInfo).port;
  return {
    port,
    baseUrl: `http://127.0.0.1:${port}/v1`,
    requests,
    closedEarly,
    maxInFlight: () => maxInFlight,
    resetInFlight: () => (maxInFlight = 0),
    close: () => {
      server.closeAllConnections();
      return new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
