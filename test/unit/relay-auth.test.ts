// The signature on requests between web instances (server/instances/relay-auth.ts): only a peer holding
// the same HEARTH_SECRET_KEY can relay, a request cannot be altered, replayed or kept for later.
import { randomBytes } from "node:crypto";
import { afterEach, describe, expect, it } from "vitest";
import { RelayAuthError, RelayVerifier, signRelay } from "@/server/instances/relay-auth";

const PATH = "/api/internal/relay/complete";
const saved = process.env.HEARTH_SECRET_KEY;
const useKey = (key: string) => (process.env.HEARTH_SECRET_KEY = key);
const body = JSON.stringify({ nodeId: "n1", request: { prompt: "hi" } });
const bytes = (text: string) => new TextEncoder().encode(text);

describe("relay signatures", () => {
  afterEach(() => {
    if (saved === undefined) delete process.env.HEARTH_SECRET_KEY;
    else process.env.HEARTH_SECRET_KEY = saved;
  });

  it("accepts a request signed with the shared key, once", () => {
    useKey(randomBytes(32).toString("base64"));
    const verifier = new RelayVerifier();
    const headers = signRelay("POST", PATH, body, "instance-a");
    expect(() => verifier.verify("POST", PATH, headers, bytes(body))).not.toThrow();
    expect(() => verifier.verify("POST", PATH, headers, bytes(body))).toThrow(/replayed/);
  });

  it("refuses another key, a changed body or path, an old or future request, and no signature", () => {
    const shared = randomBytes(32).toString("base64");
    useKey(randomBytes(32).toString("base64"));
    const foreign = signRelay("POST", PATH, body, "instance-b");
    useKey(shared);
    const verifier = new RelayVerifier();
    expect(() => verifier.verify("POST", PATH, foreign, bytes(body))).toThrow(/same HEARTH_SECRET_KEY/);
    expect(() => verifier.verify("POST", PATH, signRelay("POST", PATH, body, "a"), bytes(body.replace("hi", "ho")))).toThrow(/bad relay signature/);
    expect(() => verifier.verify("POST", "/api/internal/other", signRelay("POST", PATH, body, "a"), bytes(body))).toThrow(/bad relay signature/);
    expect(() => verifier.verify("POST", PATH, signRelay("POST", PATH, body, "a", Date.now() - 31_000), bytes(body))).toThrow(/too old/);
    expect(() => verifier.verify("POST", PATH, signRelay("POST", PATH, body, "a", Date.now() + 31_000), bytes(body))).toThrow(/too old/);
    expect(() => verifier.verify("POST", PATH, {}, bytes(body))).toThrow(RelayAuthError);
  });
});
