// The playground's "request that reproduces this answer": the /v1 body and a curl command a shell
// reads back to exactly that body, quotes in the messages included.
import { execFileSync } from "node:child_process";
import { describe, expect, it } from "vitest";
import { chatCompletionBody, curlCommand, endpointChatBody, endpointCurlCommand, servedModelId } from "@/app/_components/playground/reproduce";

const target = { projectSlug: "support-assistant", modelName: "assistant", version: 3 };
const sampling = { temperature: 0.7, topK: 0, maxTokens: 64, seed: 11 };

describe("the playground's reproducing request", () => {
  it("names the version as /v1 does and carries every sampling setting, top_k only when set", () => {
    expect(servedModelId(target)).toBe("support-assistant/assistant:v3");
    const messages = [{ role: "user" as const, content: "Hi" }];
    expect(chatCompletionBody(target, messages, sampling)).toEqual({ model: "support-assistant/assistant:v3", messages, temperature: 0.7, max_tokens: 64, seed: 11 });
    expect(chatCompletionBody(target, messages, { ...sampling, topK: 5 })).toMatchObject({ top_k: 5 });
  });

  it("quotes the body so that a shell passes it to curl unchanged, even with quotes in a message", () => {
    const body = chatCompletionBody(target, [{ role: "user", content: `it's "quoted" $HOME \\ done` }], sampling);
    const command = curlCommand("http://localhost:3000", body);
    expect(command).toContain("http://localhost:3000/v1/chat/completions");
    // What sh hands to curl as the -d argument is the JSON of the body.
    const dArgument = command.slice(command.indexOf(" -d ") + 4);
    const echoed = execFileSync("sh", ["-c", `printf '%s' ${dArgument}`], { encoding: "utf8" });
    expect(JSON.parse(echoed)).toEqual(body);
  });

  it("sends an endpoint's turn to its own URL and key, without top_k", () => {
    const body = endpointChatBody("gpt-test", [{ role: "user", content: "Hi" }], { ...sampling, topK: 5 });
    expect(body).toEqual({ model: "gpt-test", messages: [{ role: "user", content: "Hi" }], temperature: 0.7, max_tokens: 64, seed: 11 });
    const command = endpointCurlCommand("https://llm.example.com/v1/", body);
    expect(command).toContain("https://llm.example.com/v1/chat/completions -d '");
    expect(command).toContain("$ENDPOINT_API_KEY");
  });
});
