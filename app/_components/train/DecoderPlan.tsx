"use client";
// What a Hugging Face model's training needs, as a picture: the memory plan's parts as one stacked
// bar against this browser's budget, with the figures beside it, and the key/value cache generation
// adds. Read from the parent folder's config.json, so the plan is the job's own (gpu/train/memory-plan).
import { useQuery } from "@tanstack/react-query";
import type { ReactElement } from "react";
import { parseHFConfig, type DecoderConfig } from "@/gpu/nn/hf-config";
import type { DecoderMemoryPlan } from "@/gpu/train/memory-plan";
import { formatBytes, formatCount } from "./gpu-support";

/** The parent folder's parsed config.json (fetched once per version). */
export function useFolderConfig(modelVersionId: string | null) {
  return useQuery({
    queryKey: ["folder-config", modelVersionId],
    enabled: !!modelVersionId,
    staleTime: Infinity,
    queryFn: async (): Promise<DecoderConfig> => {
      const res = await fetch(`/api/model-versions/${encodeURIComponent(modelVersionId!)}/files/config.json`, { credentials: "same-origin" });
      if (!res.ok) throw new Error(`Reading the parent's config.json failed (HTTP ${res.status}).`);
      const config = parseHFConfig((await res.json()) as Record<string, unknown>);
      if (config.modelType === "gpt2") throw new Error("Fine-tuning a GPT-2 folder is not supported here; choose a llama, mistral or qwen2 model.");
      return config;
    },
  });
}

const PARTS: Array<{ key: keyof DecoderMemoryPlan; label: string; color: string }> = [
  { key: "weights", label: "weights", color: "#4e79a7" },
  { key: "gradients", label: "gradients", color: "#f28e2b" },
  { key: "optimizer", label: "AdamW moments", color: "#e15759" },
  { key: "activations", label: "activations", color: "#76b7b2" },
  { key: "logits", label: "logits", color: "#59a14f" },
  { key: "workingSet", label: "backward working set", color: "#edc948" },
  { key: "other", label: "batches, tables", color: "#bab0ac" },
];

export function MemoryPlanView({ plan, budget, steps, measured }: { plan: DecoderMemoryPlan; budget: number | null; steps: number; measured?: number }) {
  const scale = Math.max(plan.total, budget ?? 0, measured ?? 0);
  const pct = (n: number) => `${((100 * n) / scale).toFixed(2)}%`;
  return (
    <div data-testid="memory-plan">
      <div className="stats">
        <div className="stat">
          <b>{formatCount(plan.parameters)}</b>
          <span>parameters</span>
        </div>
        <div className="stat">
          <b>{formatCount(plan.trainableParameters)}</b>
          <span>trained</span>
        </div>
        <div className="stat">
          <b data-testid="plan-total">{formatBytes(plan.total)}</b>
          <span>GPU memory (plan)</span>
        </div>
        <div className="stat">
          <b>{formatCount(plan.tokensPerStep)}</b>
          <span>tokens per step</span>
        </div>
        <div className="stat">
          <b>{formatCount(plan.flopsPerStep * steps)}FLOP</b>
          <span>in all</span>
        </div>
      </div>
      <svg role="img" aria-label={`Memory plan: ${formatBytes(plan.total)}${budget ? ` of a ${formatBytes(budget)} budget` : ""}`} width="100%" height="30" style={{ display: "block", margin: "0.4rem 0" }}>
        {PARTS.reduce<{ x: number; rects: ReactElement[] }>(
          (acc, p) => {
            const v = plan[p.key] as number;
            acc.rects.push(<rect key={p.key} x={pct(acc.x)} y="4" width={pct(v)} height="18" fill={p.color}><title>{`${p.label}: ${formatBytes(v)}`}</title></rect>);
            acc.x += v;
            return acc;
          },
          { x: 0, rects: [] },
        ).rects}
        {budget ? <line x1={pct(budget)} x2={pct(budget)} y1="0" y2="26" stroke="#222" strokeWidth="2" strokeDasharray="3 2" /> : null}
        {measured ? <line x1={pct(measured)} x2={pct(measured)} y1="0" y2="26" stroke="#b00" strokeWidth="2" /> : null}
      </svg>
      <p className="hint" style={{ margin: 0 }}>
        {PARTS.map((p) => (
          <span key={p.key} style={{ marginRight: "0.8rem", whiteSpace: "nowrap" }}>
            <span style={{ display: "inline-block", width: 10, height: 10, background: p.color, marginRight: 4 }} />
            {p.label} {formatBytes(plan[p.key] as number)}
          </span>
        ))}
        {budget ? <span style={{ whiteSpace: "nowrap" }}>┊ dashed: this browser's budget {formatBytes(budget)}</span> : null}
        {measured ? <span style={{ whiteSpace: "nowrap" }}> │ red: measured peak {formatBytes(measured)}</span> : null}
        {plan.kvCache ? <span style={{ whiteSpace: "nowrap" }}> · KV cache for generation {formatBytes(plan.kvCache)}</span> : null}
      </p>
    </div>
  );
}
