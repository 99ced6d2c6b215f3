"use client";
// A model version for the playground, in a Web Worker of its own: its weights are downloaded and
// loaded when it is picked, and it answers chat turns one at a time.
import { useEffect, useRef, useState } from "react";
import type { PickedModelVersion } from "@/app/_components/pickers";
import { fetchBytes, modelArtifactUrl } from "@/app/_components/train/transfer";
import type { ChatMessage } from "@/gpu/eval/case";
import type { PlaygroundWorkerEvent, PlaygroundWorkerRequest, SamplingSettings } from "./protocol";

export type ModelState = { stage: "none" | "loading" | "ready" | "failed"; adapter?: string; error?: string };

/** One model version in a worker of its own: loaded when picked, answering turns one at a time. */
export function useBrowserModel(version: PickedModelVersion | null) {
  const worker = useRef<Worker | null>(null);
  const waiting = useRef(new Map<number, { resolve: (a: { text: string; ms: number }) => void; reject: (e: Error) => void }>());
  const nextId = useRef(1);
  const [state, setState] = useState<ModelState>({ stage: "none" });

  useEffect(() => {
    if (!version) {
      setState({ stage: "none" });
      return;
    }
    let cancelled = false;
    setState({ stage: "loading" });
    const w = new Worker(new URL("./chat.worker.ts", import.meta.url), { type: "module", name: "hearth-playground" });
    worker.current = w;
    w.onerror = (event) => setState({ stage: "failed", error: `The model's worker stopped: ${event.message || "it could not be loaded"}.` });
    w.onmessage = (event: MessageEvent<PlaygroundWorkerEvent>) => {
      const e = event.data;
      if (e.type === "loaded") setState({ stage: "ready", adapter: e.adapter });
      else if (e.type === "answer") {
        waiting.current.get(e.id)?.resolve({ text: e.text, ms: e.ms });
        waiting.current.delete(e.id);
      } else if (e.type === "error") {
        if (e.id === undefined) setState({ stage: "failed", error: e.message });
        else {
          waiting.current.get(e.id)?.reject(new Error(e.message));
          waiting.current.delete(e.id);
        }
      }
    };
    void fetchBytes(modelArtifactUrl(version.id), `Downloading ${version.modelName} v${version.version}`)
      .then((bytes) => {
        if (!cancelled) w.postMessage({ type: "load", model: bytes } satisfies PlaygroundWorkerRequest, [bytes.buffer as ArrayBuffer]);
      })
      .catch((error: Error) => !cancelled && setState({ stage: "failed", error: error.message }));
    return () => {
      cancelled = true;
      w.terminate();
      for (const pending of waiting.current.values()) pending.reject(new Error("The model was changed."));
      waiting.current.clear();
    };
  }, [version?.id]); // eslint-disable-line react-hooks/exhaustive-deps

  function ask(messages: ChatMessage[], sampling: SamplingSettings) {
    const id = nextId.current++;
    return new Promise<{ text: string; ms: number }>((resolve, reject) => {
      waiting.current.set(id, { resolve, reject });
      worker.current!.postMessage({ type: "chat", id, messages, sampling } satisfies PlaygroundWorkerRequest);
    });
  }
  return { state, ask };
}

