"use client";
// What a Hugging Face model's training needs, as a picture: the memory plan's parts as one stacked
// bar against this browser's budget, with the figures beside it, and the key/value cache generation
// adds. Read from the parent folder's config.json, so the plan is the job's own (gpu/train/memory-plan).
import { useQuery } from "@tanstack/react-query";
import type { ReactElement } from "react";
import { parseHFConfig, type DecoderConfig } from "@/gpu/nn/hf-config";
import { DECODER_SHAPES, planDecoderTraining, type DecoderMemoryPlan, type DecoderShapeName } from "@/gpu/train/memory-plan";
import { formatBytes, formatCount, formatDuration } from "./gpu-support";

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

export function MemoryPlanView({ plan, budget, steps, measured, speed }: { plan: DecoderMemoryPlan; budget: number | null; steps: number; measured?: number; speed?: { gflops: number } | null }) {
  // the parts fill the bar; the budget gets its own thin bar below (a small model is a sliver of a big budget)
  const scale = Math.max(plan.total, measured ?? 0);
  const pct = (n: number, of = scale) => `${Math.min(100, (100 * n) / of).toFixed(2)}%`;
  let x = 0;
  const rects: ReactElement[] = PARTS.map((p) => {
    const v = plan[p.key] as number;
    const r = (
      <rect key={p.key} x={pct(x)} y="2" width={pct(v)} height="18" fill={p.color}>
        <title>{`${p.label}: ${formatBytes(v)}`}</title>
      </rect>
    );
    x += v;
    return r;
  });
  const share = budget ? plan.total / budget : null;
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
        {speed ? (
          <div className="stat" title={`at this adapter's measured f32 matmul speed, ${speed.gflops.toFixed(1)} GFLOP/s; other kernels make training slower`}>
            <b data-testid="plan-time">≥ {formatDuration((plan.flopsPerStep * steps) / (speed.gflops * 1e9))}</b>
            <span>on this adapter</span>
          </div>
        ) : null}
      </div>
      <svg role="img" aria-label={`Memory plan: ${formatBytes(plan.total)}`} width="100%" height="22" style={{ display: "block", marginTop: "0.5rem" }}>
        {rects}
        {measured ? <line x1={pct(measured)} x2={pct(measured)} y1="0" y2="22" stroke="#b00" strokeWidth="2" /> : null}
      </svg>
      <p className="hint" style={{ margin: "0.2rem 0 0.4rem" }}>
        {PARTS.map((p) => (
          <span key={p.key} style={{ marginRight: "0.8rem", whiteSpace: "nowrap" }}>
            <span style={{ display: "inline-block", width: 10, height: 10, background: p.color, marginRight: 4 }} />
            {p.label} {formatBytes(plan[p.key] as number)}
          </span>
        ))}
        {measured ? <span style={{ whiteSpace: "nowrap" }}>red line: measured peak {formatBytes(measured)}</span> : null}
      </p>
      {share !== null ? (
        <div data-testid="plan-budget">
          <svg role="img" aria-label={`${(share * 100).toFixed(1)}% of this browser's budget`} width="100%" height="10" style={{ display: "block" }}>
            <rect x="0" y="1" width="100%" height="8" fill="#e8e4df" />
            <rect x="0" y="1" width={pct(plan.total, budget!)} height="8" fill={share > 1 ? "#c0392b" : "#4e79a7"} />
          </svg>
          <p className="hint" style={{ margin: "0.2rem 0 0" }}>
            {share < 0.001 ? "under 0.1%" : `${(share * 100).toFixed(1)}%`} of this browser's memory budget ({formatBytes(budget!)}).
            {plan.kvCache ? ` Generating afterwards adds a key/value cache of ${formatBytes(plan.kvCache)}.` : ""}
          </p>
        </div>
      ) : null}
    </div>
  );
}

/** A known model's shape with a vocabulary (the presets' plans are computed before any folder exists). */
export function shapeConfig(name: DecoderShapeName, vocabSize?: number): DecoderConfig {
  const c = DECODER_SHAPES[name].config;
  return parseHFConfig({ ...c, vocab_size: vocabSize ?? c.vocab_size } as Record<string, unknown>) as DecoderConfig;
}

const ALL_PROJECTIONS = ["q_proj", "k_proj", "v_proj", "o_proj", "gate_proj", "up_proj", "down_proj"] as const;

/**
 * The presets shaped like known open-weight models, each planned on this adapter for the batch and
 * sequence length chosen: pre-training from random weights (a 4k-token vocabulary trained on the
 * corpus) and LoRA rank 8 on an imported base (its own vocabulary, 16-bit weights).
 */
export function PresetTable({ batchSize, seqLen, budget, speed }: { batchSize: number; seqLen: number; budget: number | null; speed: { gflops: number } | null }) {
  const rows = (Object.keys(DECODER_SHAPES) as DecoderShapeName[]).map((name) => {
    const pre = planDecoderTraining(shapeConfig(name, 4097), { kind: "PRETRAIN", batchSize, seqLen, sourceBytes: 4 });
    const lora = planDecoderTraining(shapeConfig(name), { kind: "LORA", batchSize, seqLen, lora: { r: 8, targets: ALL_PROJECTIONS }, sourceBytes: 2 });
    return { name, label: DECODER_SHAPES[name].label, pre, lora };
  });
  const step = (flops: number) => (speed ? formatDuration(flops / (speed.gflops * 1e9)) : "—");
  const fits = (bytes: number) => (budget === null ? "" : bytes <= budget ? "fits" : "too big");
  return (
    <table className="table" data-testid="preset-table" style={{ fontSize: "0.85rem" }}>
      <thead>
        <tr>
          <th>Shape</th>
          <th>Parameters</th>
          <th>Pre-train (random init): memory · per step</th>
          <th>LoRA r8 on an imported base: memory · per step</th>
        </tr>
      </thead>
      <tbody>
        {rows.map((r) => (
          <tr key={r.name}>
            <td>{r.label}</td>
            <td>{formatCount(r.lora.parameters)}</td>
            <td>
              {formatBytes(r.pre.total)} <span className="hint">{fits(r.pre.total)}</span> · {step(r.pre.flopsPerStep)}
            </td>
            <td>
              {formatBytes(r.lora.total)} <span className="hint">{fits(r.lora.total)}</span> · {step(r.lora.flopsPerStep)}
            </td>
          </tr>
        ))}
      </tbody>
    </table>
  );
}
