"use client";
// The playground: chat with one model version, or two side by side, in this browser (WebGPU), with the
// sampling settings and the exact /v1 request that reproduces each answer.
import { useParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import { useEffect, useRef, useState, type FormEvent } from "react";
import { useTRPC, useTRPCClient } from "@/app/_lib/trpc";
import { ErrorAlert } from "@/app/_components/ui";
import { Section } from "@/app/_components/records";
import { ModelVersionPicker, type PickedModelVersion } from "@/app/_components/pickers";
import type { SamplingSettings } from "@/app/_components/playground/protocol";
import { useBrowserModel } from "@/app/_components/playground/browser-model";
import { chatCompletionBody, curlCommand, endpointChatBody, endpointCurlCommand } from "@/app/_components/playground/reproduce";
import type { ChatMessage } from "@/gpu/eval/case";

type Turn = { role: "user" | "assistant"; content: string; ms?: number; request?: string; by?: string };

function Pane({ label, orgId, projectId, slug, turnsKey, onReady }: { label: "A" | "B"; orgId: string; projectId: string; slug: string; turnsKey: number; onReady: (pane: PaneHandle | null) => void }) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const [source, setSource] = useState<"model" | "endpoint">("model");
  // On the GPU nodes when one is online, otherwise in this browser; a person may choose either.
  const nodes = useQuery({ ...trpc.node.list.queryOptions({ orgId }), refetchInterval: 10_000 });
  const nodeOnline = !!nodes.data?.nodes.some((n) => n.status !== "offline");
  const [runOnChoice, setRunOn] = useState<"browser" | "nodes" | null>(null);
  const runOn = runOnChoice ?? (nodeOnline ? "nodes" : "browser");
  const [version, setVersion] = useState<PickedModelVersion | null>(null);
  const [endpointId, setEndpointId] = useState("");
  const endpoints = useQuery({ ...trpc.endpoint.list.queryOptions({ projectId }), enabled: source === "endpoint" });
  const endpoint = endpoints.data?.find((e) => e.id === endpointId) ?? null;
  const model = useBrowserModel(source === "model" && runOn === "browser" ? version : null);
  const [turns, setTurns] = useState<Turn[]>([]);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<string | null>(null);
  const origin = typeof window === "undefined" ? "" : window.location.origin;

  // Another model or endpoint (or "clear") starts a new conversation.
  const target = source === "model" ? `${version?.id ?? ""}:${runOn}` : endpointId;
  useEffect(() => setTurns([]), [target, turnsKey]);
  const ready = source === "model" ? !!version && (runOn === "nodes" || model.state.stage === "ready") : !!endpoint;
  const latest = useRef({ turns, version, endpoint, source, runOn, ask: model.ask });
  latest.current = { turns, version, endpoint, source, runOn, ask: model.ask };
  useEffect(() => {
    onReady(
      ready
        ? {
            send: async (system, user, sampling) => {
              const { turns: before, version: v, endpoint: e, source: from, runOn: where, ask } = latest.current;
              const history: ChatMessage[] = [...(system ? [{ role: "system" as const, content: system }] : []), ...before.map((t) => ({ role: t.role, content: t.content })), { role: "user", content: user }];
              setTurns((t) => [...t, { role: "user", content: user }]);
              setBusy(true);
              setError(null);
              try {
                if (from === "model") {
                  const answer =
                    where === "browser"
                      ? await ask(history, sampling)
                      : await (async () => {
                          const started = performance.now();
                          const reply = await client.model.chat.mutate({ modelVersionId: v!.id, messages: history, maxTokens: sampling.maxTokens, temperature: sampling.temperature, topK: sampling.topK || undefined, seed: sampling.seed });
                          return { text: reply.text, ms: Math.round(performance.now() - started) };
                        })();
                  const body = chatCompletionBody({ projectSlug: slug, modelName: v!.modelName, version: v!.version }, history, sampling);
                  setTurns((t) => [...t, { role: "assistant", content: answer.text, ms: answer.ms, request: curlCommand(origin, body), by: `${v!.modelName} v${v!.version}` }]);
                } else {
                  const reply = await client.endpoint.chat.mutate({ endpointId: e!.id, messages: history, maxTokens: sampling.maxTokens, temperature: sampling.temperature, seed: sampling.seed });
                  const body = endpointChatBody(reply.model, history, sampling);
                  setTurns((t) => [...t, { role: "assistant", content: reply.text, ms: reply.latencyMs, request: endpointCurlCommand(reply.baseUrl, body), by: e!.name }]);
                }
              } catch (e) {
                setError((e as Error).message);
              } finally {
                setBusy(false);
              }
            },
          }
        : null,
    );
  }, [ready, slug, source, runOn]); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <section className="card playground-pane" data-testid={`playground-pane-${label.toLowerCase()}`}>
      <h2>Model {label}</h2>
      <div className="row" style={{ flexWrap: "wrap" }}>
        <label className="field">
          Source {label}
          <select value={source} onChange={(e) => setSource(e.target.value as "model" | "endpoint")} aria-label={`Source ${label}`}>
            <option value="model">a model version</option>
            <option value="endpoint">an endpoint of this project</option>
          </select>
        </label>
        {source === "model" ? (
          <>
            <ModelVersionPicker projectId={projectId} value={version} onChange={setVersion} modelLabel={`Model ${label}`} versionLabel={`Version ${label}`} />
            <label className="field">
              Run on {label}
              <select value={runOn} onChange={(e) => setRunOn(e.target.value as "browser" | "nodes")} aria-label={`Run on ${label}`}>
                <option value="browser">this browser (WebGPU)</option>
                <option value="nodes">the GPU nodes{nodeOnline ? "" : " (none online)"}</option>
              </select>
            </label>
          </>
        ) : (
          <label className="field">
            Endpoint {label}
            <select value={endpointId} onChange={(e) => setEndpointId(e.target.value)} aria-label={`Endpoint ${label}`}>
              <option value="">{endpoints.data && endpoints.data.length === 0 ? "no endpoint registered" : "choose…"}</option>
              {endpoints.data?.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.name} ({e.model})
                </option>
              ))}
            </select>
          </label>
        )}
      </div>
      <p className="hint" data-testid="model-state">
        {source === "endpoint"
          ? endpoint
            ? `${endpoint.model} at ${endpoint.baseUrl}, called by the server (top-k is not sent: OpenAI's API has none).`
            : "Pick an endpoint the project's admins registered."
          : runOn === "nodes"
            ? version
              ? nodeOnline
                ? "Answered by a GPU node of the organization, as /v1 would."
                : "No GPU node is online: a turn sent now is refused; run it in this browser instead."
              : "Pick a model version to chat with."
            : model.state.stage === "none"
          ? "Pick a model version to chat with."
          : model.state.stage === "loading"
            ? "Loading the weights onto this browser's GPU…"
            : model.state.stage === "ready"
              ? `Ready on ${model.state.adapter} (WebGPU, in this browser).`
              : null}
      </p>
      {model.state.stage === "failed" ? (
        <div className="alert alert-error" role="alert">
          {model.state.error}
        </div>
      ) : null}
      <ol className="chat" data-testid="chat">
        {turns.map((t, i) => (
          <li key={i} className={`chat-turn chat-${t.role}`}>
            <span className="hint">{t.role === "user" ? "You" : `${t.by}${t.ms !== undefined ? ` · ${(t.ms / 1000).toFixed(1)} s` : ""}`}</span>
            {/* Model output is text, never markup; whitespace-only output is shown escaped. */}
            {t.role === "assistant" && t.content.trim() === "" ? (
              <code data-testid="answer">{JSON.stringify(t.content)}</code>
            ) : (
              <pre className="cell-text" data-testid={t.role === "assistant" ? "answer" : undefined}>
                {t.content}
              </pre>
            )}
            {t.request ? (
              <details>
                <summary>The request that reproduces this answer</summary>
                <pre className="json" data-testid="reproduce">
                  {t.request}
                </pre>
                <p className="hint">
                  {source === "model"
                    ? "Hearth's OpenAI-compatible API runs it on the organization's GPU nodes, with an API key that has the models:invoke scope."
                    : "Sent straight to the endpoint with its own API key."}
                </p>
              </details>
            ) : null}
          </li>
        ))}
        {busy ? <li className="hint">Generating…</li> : null}
      </ol>
      {error ? (
        <div className="alert alert-error" role="alert">
          {error}
        </div>
      ) : null}
    </section>
  );
}

type PaneHandle = { send: (system: string, user: string, sampling: SamplingSettings) => Promise<void> };

export default function PlaygroundPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const trpc = useTRPC();
  const project = useQuery(trpc.project.get.queryOptions({ projectId }));
  const panes = useRef<{ A: PaneHandle | null; B: PaneHandle | null }>({ A: null, B: null });
  const [readyCount, setReadyCount] = useState(0);
  const [turnsKey, setTurnsKey] = useState(0);
  const [sampling, setSampling] = useState<SamplingSettings>({ temperature: 0, topK: 0, maxTokens: 48, seed: 0 });
  const [system, setSystem] = useState("");
  const [message, setMessage] = useState("");
  const [sending, setSending] = useState(false);
  const slug = project.data?.slug ?? "";

  const setPane = (label: "A" | "B") => (handle: PaneHandle | null) => {
    panes.current[label] = handle;
    setReadyCount((panes.current.A ? 1 : 0) + (panes.current.B ? 1 : 0));
  };

  async function onSend(event: FormEvent) {
    event.preventDefault();
    const text = message.trim();
    if (!text) return;
    setSending(true);
    setMessage("");
    // Both models answer the same turn at once, each in its own worker.
    await Promise.all([panes.current.A, panes.current.B].filter((p): p is PaneHandle => !!p).map((p) => p.send(system, text, sampling)));
    setSending(false);
  }

  const number = (key: keyof SamplingSettings, label: string, o: { min: number; max: number; step: number }, hint: string) => (
    <label className="field" title={hint}>
      {label}
      <input type="number" value={sampling[key]} min={o.min} max={o.max} step={o.step} onChange={(e) => setSampling({ ...sampling, [key]: Number(e.target.value) })} style={{ width: "7rem" }} />
    </label>
  );

  return (
    <>
      <div className="page-header">
        <div>
          <h1>Playground</h1>
          <p className="subtitle">Chat with a model version or an endpoint, or two side by side: on the GPU nodes when one is online, otherwise in this browser with WebGPU. Each answer shows the exact request that reproduces it.</p>
        </div>
      </div>
      <ErrorAlert error={project.error} />
      <Section title="Sampling">
        <div className="row" style={{ flexWrap: "wrap", alignItems: "flex-end" }}>
          {number("temperature", "Temperature", { min: 0, max: 2, step: 0.1 }, "0 picks the most likely token every time (greedy)")}
          {number("topK", "Top-k", { min: 0, max: 1000, step: 1 }, "Sample among the k most likely tokens; 0 for no cut")}
          {number("maxTokens", "Max tokens", { min: 1, max: 512, step: 1 }, "The longest answer, in tokens")}
          {number("seed", "Seed", { min: 0, max: 2 ** 31 - 1, step: 1 }, "The same seed and settings give the same sampled answer")}
          <button type="button" className="btn" onClick={() => setTurnsKey((k) => k + 1)}>
            Clear conversations
          </button>
        </div>
        <label className="field">
          System prompt (optional)
          <textarea value={system} onChange={(e) => setSystem(e.target.value)} rows={2} maxLength={4000} />
        </label>
      </Section>
      <div className="playground-grid">
        <Pane label="A" orgId={orgId} projectId={projectId} slug={slug} turnsKey={turnsKey} onReady={setPane("A")} />
        <Pane label="B" orgId={orgId} projectId={projectId} slug={slug} turnsKey={turnsKey} onReady={setPane("B")} />
      </div>
      <form className="card row" onSubmit={onSend} style={{ alignItems: "flex-end" }}>
        <label className="field" style={{ flex: 1 }}>
          Message
          <textarea value={message} onChange={(e) => setMessage(e.target.value)} rows={2} maxLength={8000} />
        </label>
        <button className="btn btn-primary" type="submit" disabled={sending || readyCount === 0 || !message.trim()}>
          {sending ? "Answering…" : readyCount === 2 ? "Send to both" : "Send"}
        </button>
      </form>
    </>
  );
}
