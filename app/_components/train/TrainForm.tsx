"use client";
// Sets up a training job: data, model, preset and hyper-parameters, with an estimate of what it needs
// and whether this browser's GPU allows it; then starts it here or queues it for the GPU nodes.
import { NoNodeWarning } from "@/app/_components/runs/NoNodeWarning";
import Link from "next/link";
import { useQuery, useQueryClient } from "@tanstack/react-query";
import { useMemo, useState, type FormEvent } from "react";
import { useTRPC, useTRPCClient } from "@/app/_lib/trpc";
import { ErrorAlert } from "@/app/_components/ui";
import { Section } from "@/app/_components/records";
import { DatasetVersionPicker, ModelVersionPicker, type PickedDatasetVersion, type PickedModelVersion } from "@/app/_components/pickers";
import { GPT_PRESETS, validateConfig, type GPTConfig, type GPTPresetName } from "@/gpu/nn/config";
import { estimateTrainJob, validateTrainJobSpec, type TrainJobKind, type TrainJobSpec } from "@/gpu/train";
import { saveJob, type StoredJob } from "./browser-store";
import { isFolderDescription } from "@/contracts/model-folder";
import { FolderImport, FolderSummary } from "@/app/_components/models/FolderImport";
import { DECODER_LORA_TARGETS, planForSpec } from "@/gpu/train/decoder-job";
import type { LoraModule } from "@/gpu/nn/decoder";
import { MemoryPlanView, PresetTable, shapeConfig, useFolderConfig } from "./DecoderPlan";
import { DECODER_SHAPES, type DecoderShapeName } from "@/gpu/train/memory-plan";
import { useAdapterSpeed } from "./gpu-support";
import { formatBytes, formatCount, whyItDoesNotFit, type BrowserGpu } from "./gpu-support";

const PRESETS: Array<{ name: Exclude<GPTPresetName, "gpt2">; label: string; steps: number; lr: number }> = [
  { name: "tiny", label: "tiny (about 30k parameters, seconds per step on a CPU)", steps: 200, lr: 3e-3 },
  { name: "small", label: "small (about 0.9M parameters)", steps: 500, lr: 1e-3 },
  { name: "medium", label: "medium (about 7M parameters)", steps: 1000, lr: 6e-4 },
  { name: "large", label: "large (about 30M parameters, a laptop GPU)", steps: 2000, lr: 3e-4 },
];
/** Full fine-tuning moves a trained model gently (a third of the pre-training rate); LoRA adapters take the full rate. */
const LR_FACTOR: Record<TrainJobKind, number> = { PRETRAIN: 1, SFT: 1 / 3, LORA: 1 };
const NEW_MODEL = "__new";

function defaultLr(preset: GPTPresetName, kind: TrainJobKind): number {
  return Number(((PRESETS.find((p) => p.name === preset)?.lr ?? 1e-3) * LR_FACTOR[kind]).toPrecision(2));
}

/** The architecture a model version's checkpoint records (config.architecture, written at upload). */
function architectureOf(version: PickedModelVersion | null): GPTConfig | undefined {
  const architecture = (version?.config as { architecture?: GPTConfig } | null)?.architecture;
  if (!architecture) return undefined;
  try {
    return validateConfig(architecture);
  } catch {
    return undefined;
  }
}

/** The preset naming a parent's shape (for the record; the parent's own shape is what trains). */
function presetOf(config: GPTConfig | undefined, fallback: GPTPresetName): GPTPresetName {
  if (!config) return fallback;
  const match = PRESETS.find((p) => GPT_PRESETS[p.name].nLayer === config.nLayer && GPT_PRESETS[p.name].nEmbd === config.nEmbd);
  return match?.name ?? fallback;
}

export type QueuedRun = { id: string };

export function TrainForm({ orgId, projectId, gpu, onStarted }: { orgId: string; projectId: string; gpu: BrowserGpu; onStarted: (job: StoredJob) => void }) {
  const trpc = useTRPC();
  const client = useTRPCClient();
  const queryClient = useQueryClient();
  const models = useQuery(trpc.model.list.queryOptions({ projectId }));

  const [dataset, setDataset] = useState<PickedDatasetVersion | null>(null);
  const [pairsKind, setPairsKind] = useState<"SFT" | "LORA">("SFT");
  const [parent, setParent] = useState<PickedModelVersion | null>(null);
  const [target, setTarget] = useState("");
  const [newModelName, setNewModelName] = useState("");
  const [preset, setPreset] = useState<GPTPresetName>("tiny");
  const [steps, setSteps] = useState(PRESETS[0].steps);
  const [lr, setLr] = useState(PRESETS[0].lr);
  const [batchSize, setBatchSize] = useState(8);
  const [checkpointEvery, setCheckpointEvery] = useState(0);
  const [loraRank, setLoraRank] = useState(8);
  const [loraAlpha, setLoraAlpha] = useState(16);
  const [loraDropout, setLoraDropout] = useState(0.05);
  const [loraTargets, setLoraTargets] = useState<LoraModule[]>([...DECODER_LORA_TARGETS]);
  const [seqLen, setSeqLen] = useState(256);
  const [recompute, setRecompute] = useState(false);
  /** Pre-training a Hugging Face decoder shape from random weights instead of a Hearth GPT preset. */
  const [architecture, setArchitecture] = useState<DecoderShapeName | null>(null);
  const speed = useAdapterSpeed(gpu);
  const [where, setWhere] = useState<"BROWSER" | "NODE" | null>(null);
  const [busy, setBusy] = useState(false);
  const [error, setError] = useState<unknown>(null);
  const [queued, setQueued] = useState<QueuedRun | null>(null);

  const kind: TrainJobKind = dataset?.kind === "PAIRS" ? pairsKind : "PRETRAIN";
  const parentConfig = architectureOf(parent);
  // a Hugging Face folder parent: its own config.json shapes the job (and its memory plan)
  const folder = parent && isFolderDescription(parent.config) ? parent.config : null;
  const folderConfig = useFolderConfig(folder ? parent!.id : null);
  const scratch = !parent && kind === "PRETRAIN" && architecture ? architecture : null;
  const decoder = folder ? folderConfig.data : scratch ? shapeConfig(scratch, 4097) : undefined;
  const decoderJob = !!folder || !!scratch;
  const every = checkpointEvery || Math.max(1, Math.min(50, Math.round(steps / 10)));
  const spec: TrainJobSpec = {
    kind,
    ...(folder ? {} : scratch ? { architecture: scratch, vocabSize: 4096 } : { preset: presetOf(parentConfig, preset) }),
    steps,
    batchSize,
    lr,
    warmupSteps: Math.min(steps, Math.round(steps / 20)),
    seed: 1,
    checkpointEvery: every,
    evalEvery: every,
    ...(decoderJob ? { seqLen: Math.min(seqLen, decoder?.maxPositions ?? seqLen), ...(recompute ? { recompute: true } : {}) } : {}),
    ...(kind === "LORA" ? { lora: folder ? { rank: loraRank, alpha: loraAlpha, ...(loraDropout > 0 ? { dropout: loraDropout } : {}), targets: loraTargets } : { rank: loraRank, alpha: 2 * loraRank } } : {}),
  };
  const checked = useMemo(() => {
    try {
      const valid = validateTrainJobSpec(spec);
      if (decoderJob) {
        if (!decoder) return { spec: valid, estimate: null, plan: null, problem: folderConfig.error ? (folderConfig.error as Error).message : "Reading the parent's configuration…" };
        if (kind === "LORA" && !loraTargets.length) return { spec: null, estimate: null, plan: null, problem: "Choose at least one projection for the LoRA adapters." };
        const plan = planForSpec(decoder, valid, { sourceBytes: folder && folder.dtype !== "F32" ? 2 : 4, generateTokens: valid.seqLen });
        return { spec: valid, estimate: { parameters: plan.parameters, bufferBytes: plan.total, largestBufferBytes: plan.largestBuffer, flopsPerStep: plan.flopsPerStep, tokensPerStep: plan.tokensPerStep }, plan, problem: null };
      }
      return { spec: valid, estimate: estimateTrainJob(valid, parentConfig), plan: null, problem: null };
    } catch (e) {
      return { spec: null, estimate: null, plan: null, problem: (e as Error).message };
    }
  }, [JSON.stringify(spec), parentConfig, decoder, folderConfig.error, recompute, scratch]); // eslint-disable-line react-hooks/exhaustive-deps
  const reasons = checked.estimate ? whyItDoesNotFit(checked.estimate, gpu) : [];
  if (folder && !folder.browser && gpu.status === "ready") reasons.push("this model is marked for GPU nodes only (its weights exceed what a browser's adapter holds)");
  const browserOk = gpu.status === "ready" && reasons.length === 0;
  const chosenWhere = where ?? (gpu.status === "checking" ? "BROWSER" : browserOk ? "BROWSER" : "NODE");
  const needsParent = kind !== "PRETRAIN";
  const modelName = target === NEW_MODEL ? newModelName.trim() : "";
  const missing = !dataset
    ? "Choose a dataset version."
    : needsParent && !parent
      ? "Fine-tuning starts from a model version: choose the parent."
      : !target || (target === NEW_MODEL && !modelName)
        ? "Choose the model the result is added to (or name a new one)."
        : checked.problem;

  function choosePreset(value: string) {
    if (value.startsWith("hf:")) {
      setArchitecture(value.slice(3) as DecoderShapeName);
      setLr(3e-3);
      return;
    }
    const name = value as GPTPresetName;
    setArchitecture(null);
    setPreset(name);
    setSteps(PRESETS.find((p) => p.name === name)!.steps);
    setLr(defaultLr(name, kind));
  }

  function chooseParent(version: PickedModelVersion | null) {
    setParent(version);
    if (version && !target) setTarget(version.modelId);
    if (version && isFolderDescription(version.config)) setSeqLen((n) => Math.min(n, (version.config as { contextLength: number }).contextLength));
  }

  /** A folder just imported into the chosen model becomes the parent. */
  async function importedParent(v: { id: string; version: number }) {
    await Promise.all([queryClient.invalidateQueries({ queryKey: trpc.model.get.queryKey({ modelId: target }) }), queryClient.invalidateQueries({ queryKey: trpc.model.list.queryKey({ projectId }) })]);
    const model = await client.model.get.query({ modelId: target });
    const version = model.versions.find((x) => x.id === v.id);
    if (version) chooseParent({ id: version.id, version: version.version, modelId: model.id, modelName: model.name, config: version.config });
  }

  async function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    if (missing || !checked.spec || !dataset) return;
    setBusy(true);
    setError(null);
    try {
      const modelId = target === NEW_MODEL ? (await client.model.create.mutate({ projectId, name: modelName })).id : target;
      if (target === NEW_MODEL) {
        setTarget(modelId);
        await queryClient.invalidateQueries({ queryKey: trpc.model.list.queryKey({ projectId }) });
      }
      const run = await client.run.create.mutate({
        projectId,
        kind,
        target: chosenWhere,
        config: { ...checked.spec, modelId },
        datasetVersionId: dataset.id,
        ...(parent ? { modelVersionId: parent.id } : {}),
      });
      if (chosenWhere === "NODE") {
        setQueued({ id: run.id });
        return;
      }
      const job: StoredJob = { runId: run.id, orgId, projectId, modelId, spec: checked.spec, datasetVersionId: dataset.id, parentVersionId: parent?.id, createdAt: Date.now() };
      // Kept before the run starts, so a reload from here on finds and resumes it.
      await saveJob(job);
      await client.run.transition.mutate({ runId: run.id, status: "RUNNING" });
      onStarted(job);
    } catch (e) {
      setError(e);
    } finally {
      setBusy(false);
    }
  }

  const e = checked.estimate;
  return (
    <form onSubmit={onSubmit} data-testid="train-form">
      <Section title="Data">
        <div className="inline">
          <DatasetVersionPicker projectId={projectId} value={dataset} onChange={setDataset} />
          {dataset?.kind === "PAIRS" ? (
            <fieldset className="field" style={{ border: "none", padding: 0, margin: 0, fontSize: "0.9rem" }}>
              <legend style={{ fontWeight: 500, padding: 0, marginBottom: "0.3rem" }}>Fine-tuning</legend>
              <label className="row">
                <input type="radio" name="pairsKind" checked={pairsKind === "SFT"} onChange={() => (setPairsKind("SFT"), setLr(defaultLr(preset, "SFT")))} /> Full (SFT)
              </label>
              <label className="row">
                <input type="radio" name="pairsKind" checked={pairsKind === "LORA"} onChange={() => (setPairsKind("LORA"), setLr(defaultLr(preset, "LORA")))} /> LoRA adapters
              </label>
            </fieldset>
          ) : null}
        </div>
        <p className="hint">
          {dataset?.kind === "PAIRS"
            ? "Prompt/response pairs fine-tune a model version: the loss is taken on the responses only."
            : dataset?.kind === "CORPUS"
              ? "A text corpus pre-trains a model from scratch (with a tokenizer trained on it), or continues a model version's training."
              : "A corpus pre-trains; prompt/response pairs fine-tune."}
        </p>
        {dataset ? (
          <div className="inline">
            <ModelVersionPicker
              projectId={projectId}
              value={parent}
              onChange={chooseParent}
              modelLabel={needsParent ? "Parent model" : "Continue from model (optional)"}
              versionLabel={needsParent ? "Parent version" : "Continue from version"}
            />
            {parent && !needsParent ? (
              <button type="button" className="btn btn-small" onClick={() => setParent(null)}>
                Start from scratch instead
              </button>
            ) : null}
          </div>
        ) : null}
      </Section>

      <Section title="Model">
        <div className="inline">
          <label className="field">
            Train into model
            <select value={target} onChange={(ev) => setTarget(ev.target.value)} aria-label="Train into model">
              <option value="">choose…</option>
              {models.data?.map((m) => (
                <option key={m.id} value={m.id}>
                  {m.name} ({m._count.versions} version{m._count.versions === 1 ? "" : "s"})
                </option>
              ))}
              <option value={NEW_MODEL}>A new model…</option>
            </select>
          </label>
          {target === NEW_MODEL ? (
            <label className="field grow">
              New model name
              <input value={newModelName} onChange={(ev) => setNewModelName(ev.target.value)} maxLength={100} placeholder="support-assistant" aria-label="New model name" />
            </label>
          ) : null}
          {folder ? (
            <div className="field" data-testid="parent-folder" style={{ display: "flex", flexDirection: "column", gap: "0.2rem" }}>
              <span>Parent (a Hugging Face model)</span>
              <span>
                <FolderSummary d={folder} />
              </span>
              <span className="hint">Trains with its own tokenizer and chat template; the result is a folder transformers loads.</span>
            </div>
          ) : (
          <label className="field">
            Preset
            <select value={parentConfig ? spec.preset : scratch ? `hf:${scratch}` : preset} onChange={(ev) => choosePreset(ev.target.value)} disabled={!!parentConfig} aria-label="Preset">
              <optgroup label="Hearth GPT (its own tokenizer and checkpoint)">
                {PRESETS.map((p) => (
                  <option key={p.name} value={p.name}>
                    {p.label}
                  </option>
                ))}
              </optgroup>
              {kind === "PRETRAIN" && !parent ? (
                <optgroup label="Hugging Face decoder from random weights (exports as a folder)">
                  {(Object.keys(DECODER_SHAPES) as DecoderShapeName[]).map((name) => (
                    <option key={name} value={`hf:${name}`}>
                      {DECODER_SHAPES[name].label}
                    </option>
                  ))}
                </optgroup>
              ) : null}
            </select>
            {parentConfig ? <span className="hint">The parent's shape: {parentConfig.nLayer} layers × {parentConfig.nEmbd} wide, context {parentConfig.blockSize}.</span> : null}
          </label>
          )}
        </div>
        {target && target !== NEW_MODEL ? (
          <FolderImport modelId={target} label="Import a Hugging Face folder into this model as the parent…" onImported={(v) => void importedParent(v)} />
        ) : null}
      </Section>

      <Section title="Training">
        <div className="inline">
          <label className="field">
            Steps
            <input type="number" min={1} max={1_000_000} value={steps} onChange={(ev) => setSteps(Math.max(1, Math.floor(Number(ev.target.value) || 1)))} aria-label="Steps" />
          </label>
          <label className="field">
            Learning rate
            <input type="number" min={0} max={1} step="any" value={lr} onChange={(ev) => setLr(Number(ev.target.value))} aria-label="Learning rate" />
          </label>
          <label className="field">
            Batch size
            <input type="number" min={1} max={4096} value={batchSize} onChange={(ev) => setBatchSize(Math.max(1, Math.floor(Number(ev.target.value) || 1)))} aria-label="Batch size" />
          </label>
          <label className="field">
            Checkpoint every
            <input type="number" min={1} value={every} onChange={(ev) => setCheckpointEvery(Math.max(1, Math.floor(Number(ev.target.value) || 1)))} aria-label="Checkpoint every" />
            <span className="hint">steps (also validation loss)</span>
          </label>
          {kind === "LORA" ? (
            <label className="field">
              LoRA rank
              <input type="number" min={1} max={256} value={loraRank} onChange={(ev) => setLoraRank(Math.max(1, Math.floor(Number(ev.target.value) || 1)))} aria-label="LoRA rank" />
            </label>
          ) : null}
          {decoderJob ? (
            <label className="field">
              Sequence length
              <input type="number" min={2} max={decoder?.maxPositions ?? folder?.contextLength} value={spec.seqLen} onChange={(ev) => setSeqLen(Math.max(2, Math.floor(Number(ev.target.value) || 2)))} aria-label="Sequence length" />
              <span className="hint">tokens (context {decoder?.maxPositions ?? folder?.contextLength})</span>
            </label>
          ) : null}
        </div>
        {folder && kind === "LORA" ? (
          <div className="inline" data-testid="lora-options">
            <label className="field">
              LoRA alpha
              <input type="number" min={0.01} step="any" value={loraAlpha} onChange={(ev) => setLoraAlpha(Math.max(0.01, Number(ev.target.value) || 1))} aria-label="LoRA alpha" />
              <span className="hint">scale alpha / rank = {(loraAlpha / loraRank).toPrecision(3)}</span>
            </label>
            <label className="field">
              LoRA dropout
              <input type="number" min={0} max={0.9} step={0.01} value={loraDropout} onChange={(ev) => setLoraDropout(Math.min(0.9, Math.max(0, Number(ev.target.value) || 0)))} aria-label="LoRA dropout" />
            </label>
            <fieldset className="field" style={{ border: "none", padding: 0, margin: 0 }}>
              <legend style={{ padding: 0, marginBottom: "0.3rem" }}>Adapted projections</legend>
              <div className="row" style={{ flexWrap: "wrap", gap: "0.6rem" }}>
                {DECODER_LORA_TARGETS.map((t) => (
                  <label key={t} className="row mono" style={{ fontSize: "0.85rem" }}>
                    <input type="checkbox" checked={loraTargets.includes(t)} onChange={(ev) => setLoraTargets((all) => (ev.target.checked ? DECODER_LORA_TARGETS.filter((x) => x === t || all.includes(x)) : all.filter((x) => x !== t)))} /> {t}
                  </label>
                ))}
              </div>
            </fieldset>
          </div>
        ) : null}
        {decoderJob ? (
          <label className="row">
            <input type="checkbox" checked={recompute} onChange={(ev) => setRecompute(ev.target.checked)} aria-label="Recompute activations" /> Recompute activations in the backward pass (about a third more compute; fits longer sequences)
          </label>
        ) : null}
        <p className="hint">Warm-up over the first 5% of steps, then cosine decay to a tenth of the rate; AdamW, gradient clipping at 1.</p>
      </Section>

      {kind === "PRETRAIN" || folder ? (
        <Section title="Open-weight shapes on this adapter">
          <p className="hint" style={{ marginTop: 0 }}>
            What a model shaped like these needs at batch {batchSize} × {decoderJob ? spec.seqLen : seqLen} tokens, planned as the job counts its buffers; times are at this adapter&apos;s measured matmul speed
            {speed ? ` (${speed.gflops.toFixed(1)} GFLOP/s)` : ""}, a lower bound. Import a folder of one to fine-tune it, or choose its shape as the preset to pre-train from random weights.
          </p>
          <PresetTable batchSize={batchSize} seqLen={decoderJob ? spec.seqLen! : seqLen} budget={gpu.status === "ready" ? gpu.memoryBudget : null} speed={speed} />
        </Section>
      ) : null}

      <Section title="Where it runs">
        {checked.plan ? (
          <div data-testid="train-estimate">
            <MemoryPlanView plan={checked.plan} budget={gpu.status === "ready" ? gpu.memoryBudget : null} steps={steps} speed={speed} />
          </div>
        ) : e ? (
          <div className="stats" data-testid="train-estimate">
            <div className="stat">
              <b>{formatCount(e.parameters)}</b>
              <span>parameters</span>
            </div>
            <div className="stat">
              <b>{formatBytes(e.bufferBytes)}</b>
              <span>GPU memory (est.)</span>
            </div>
            <div className="stat">
              <b>{formatCount(e.tokensPerStep)}</b>
              <span>tokens per step</span>
            </div>
            <div className="stat">
              <b>{formatCount(e.flopsPerStep * steps)}FLOP</b>
              <span>in all</span>
            </div>
          </div>
        ) : null}
        <GpuReport gpu={gpu} reasons={reasons} />
        <div className="stack" role="radiogroup" aria-label="Where it runs">
          <label className="row">
            <input type="radio" name="where" value="BROWSER" checked={chosenWhere === "BROWSER"} disabled={gpu.status !== "ready"} onChange={() => setWhere("BROWSER")} /> On this device, in the browser
            {gpu.status === "ready" && reasons.length ? <span className="badge badge-warn">may not fit</span> : null}
          </label>
          <label className="row">
            <input type="radio" name="where" value="NODE" checked={chosenWhere === "NODE"} onChange={() => setWhere("NODE")} /> On the organization's GPU nodes (queued; a node picks it up)
          </label>
        </div>
      </Section>

      {chosenWhere === "NODE" && !queued ? <NoNodeWarning orgId={orgId} what="a run sent now" /> : null}
      <ErrorAlert error={error} />
      {queued ? (
        <div className="alert alert-ok" data-testid="queued-run">
          Queued for the GPU nodes:{" "}
          <Link href={`/orgs/${orgId}/projects/${projectId}/runs/${queued.id}`}>
            run <span className="mono">{queued.id.slice(0, 10)}</span>
          </Link>
          . It starts when a node with enough memory is online.
        </div>
      ) : null}
      <div className="row" style={{ marginBottom: "1.25rem" }}>
        <button className="btn btn-primary" type="submit" disabled={busy || !!missing}>
          {busy ? "Starting…" : chosenWhere === "NODE" ? "Send to GPU nodes" : "Start training"}
        </button>
        {missing ? <span className="hint" data-testid="train-missing">{missing}</span> : null}
      </div>
    </form>
  );
}

function GpuReport({ gpu, reasons }: { gpu: BrowserGpu; reasons: string[] }) {
  if (gpu.status === "checking") return <p className="muted">Checking this browser's GPU…</p>;
  if (gpu.status === "unavailable") {
    return (
      <div className="alert alert-info" data-testid="no-webgpu">
        <b>This browser cannot train here.</b> {gpu.reason} You can still send the job to the organization's GPU nodes.
      </div>
    );
  }
  return (
    <div className="stack" data-testid="gpu-report" style={{ marginBottom: "0.75rem" }}>
      <p className="hint" style={{ margin: 0 }}>
        This browser's GPU: <b>{gpu.adapter}</b> · largest buffer {formatBytes(gpu.maxStorageBufferBindingSize)} · memory budget {formatBytes(gpu.memoryBudget)} ({gpu.memorySource}).
      </p>
      {reasons.length ? (
        <div className="alert alert-info" data-testid="does-not-fit">
          This job is too big for this browser: {reasons.join("; ")}. It goes to the GPU nodes unless you choose otherwise.
        </div>
      ) : null}
    </div>
  );
}
