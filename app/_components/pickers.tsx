"use client";
// Two-step pickers for versioned records of a project: choose the record, then one of its versions
// (latest first, preselected).
import { useQuery } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { isFolderDescription } from "@/contracts/model-folder";

/** Picks a published suite version: a suite, then one of its versions (latest first). */
export function SuiteVersionPicker({ projectId, value, onChange }: { projectId: string; value: string; onChange: (id: string) => void }) {
  const trpc = useTRPC();
  const suites = useQuery(trpc.suite.list.queryOptions({ projectId }));
  const [suiteId, setSuiteId] = useState("");
  const suite = useQuery({ ...trpc.suite.get.queryOptions({ suiteId }), enabled: !!suiteId });
  return (
    <>
      <label className="field">
        Suite
        <select
          value={suiteId}
          onChange={(e) => {
            setSuiteId(e.target.value);
            const latest = suites.data?.find((s) => s.id === e.target.value)?.latest;
            onChange(latest?.id ?? "");
          }}
          aria-label="Suite"
        >
          <option value="">choose…</option>
          {suites.data?.filter((s) => s.latest).map((s) => (
            <option key={s.id} value={s.id}>
              {s.name}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        Suite version
        <select value={value} onChange={(e) => onChange(e.target.value)} disabled={!suiteId} aria-label="Suite version">
          <option value="">choose…</option>
          {suite.data?.versions.map((v) => (
            <option key={v.id} value={v.id}>
              v{v.version} · {v.caseCount} cases
            </option>
          ))}
        </select>
      </label>
    </>
  );
}

export interface PickedDatasetVersion {
  id: string;
  version: number;
  datasetId: string;
  name: string;
  kind: "CORPUS" | "PAIRS";
  bytes: number;
}

/** Picks a dataset, then one of its versions (the latest by default). */
export function DatasetVersionPicker({ projectId, value, onChange }: { projectId: string; value: PickedDatasetVersion | null; onChange: (v: PickedDatasetVersion | null) => void }) {
  const trpc = useTRPC();
  const datasets = useQuery(trpc.dataset.list.queryOptions({ projectId }));
  const [datasetId, setDatasetId] = useState(value?.datasetId ?? "");
  const dataset = useQuery({ ...trpc.dataset.get.queryOptions({ datasetId }), enabled: !!datasetId });
  const pick = (versionId: string) => {
    const d = dataset.data;
    const v = d?.versions.find((x) => x.id === versionId);
    // Preference datasets (exported review labels) are not a training input yet.
    onChange(d && v && d.kind !== "PREFERENCE" ? { id: v.id, version: v.version, datasetId: d.id, name: d.name, kind: d.kind, bytes: v.bytes } : null);
  };
  // Preselect the latest version when a dataset is chosen.
  useEffect(() => {
    if (dataset.data && dataset.data.id === datasetId && value?.datasetId !== datasetId) pick(dataset.data.versions[0]?.id ?? "");
  }, [dataset.data, datasetId]); // eslint-disable-line react-hooks/exhaustive-deps
  const withVersions = datasets.data?.filter((d) => d._count.versions > 0 && d.kind !== "PREFERENCE") ?? [];
  return (
    <>
      <label className="field">
        Dataset
        <select value={datasetId} onChange={(e) => setDatasetId(e.target.value)} aria-label="Dataset">
          <option value="">choose…</option>
          {withVersions.map((d) => (
            <option key={d.id} value={d.id}>
              {d.name} ({d.kind === "CORPUS" ? "corpus" : "prompt/response pairs"})
            </option>
          ))}
        </select>
        {datasets.data && withVersions.length === 0 ? <span className="hint">No dataset has a version yet: upload one on the Datasets page.</span> : null}
      </label>
      <label className="field">
        Dataset version
        <select value={value?.id ?? ""} onChange={(e) => pick(e.target.value)} disabled={!dataset.data} aria-label="Dataset version">
          <option value="">choose…</option>
          {dataset.data?.versions.map((v) => (
            <option key={v.id} value={v.id}>
              v{v.version} · {v.lines.toLocaleString()} lines
            </option>
          ))}
        </select>
      </label>
    </>
  );
}

export interface PickedModelVersion {
  id: string;
  version: number;
  modelId: string;
  modelName: string;
  config: unknown;
}

/** Picks a model, then one of its versions that has a checkpoint (the latest by default). */
export function ModelVersionPicker({
  projectId,
  value,
  onChange,
  modelLabel = "Model",
  versionLabel = "Model version",
}: {
  projectId: string;
  value: PickedModelVersion | null;
  onChange: (v: PickedModelVersion | null) => void;
  modelLabel?: string;
  versionLabel?: string;
}) {
  const trpc = useTRPC();
  const models = useQuery(trpc.model.list.queryOptions({ projectId }));
  const [modelId, setModelId] = useState(value?.modelId ?? "");
  // a version chosen from outside (e.g. a folder just imported) brings its model along
  useEffect(() => {
    if (value && value.modelId !== modelId) setModelId(value.modelId);
  }, [value?.modelId]); // eslint-disable-line react-hooks/exhaustive-deps
  const model = useQuery({ ...trpc.model.get.queryOptions({ modelId }), enabled: !!modelId });
  // a checkpoint, or a Hugging Face folder (it travels to the worker or node as one archive)
  const versions = [...(model.data?.versions ?? [])].filter((v) => v.artifactSha256 || isFolderDescription(v.config)).reverse();
  const pick = (versionId: string) => {
    const v = versions.find((x) => x.id === versionId);
    onChange(model.data && v ? { id: v.id, version: v.version, modelId: model.data.id, modelName: model.data.name, config: v.config } : null);
  };
  useEffect(() => {
    if (model.data && model.data.id === modelId && value?.modelId !== modelId) pick(versions[0]?.id ?? "");
  }, [model.data, modelId]); // eslint-disable-line react-hooks/exhaustive-deps
  return (
    <>
      <label className="field">
        {modelLabel}
        <select
          value={modelId}
          onChange={(e) => {
            setModelId(e.target.value);
            if (!e.target.value) onChange(null);
          }}
          aria-label={modelLabel}
        >
          <option value="">choose…</option>
          {models.data?.map((m) => (
            <option key={m.id} value={m.id}>
              {m.name}
            </option>
          ))}
        </select>
      </label>
      <label className="field">
        {versionLabel}
        <select value={value?.id ?? ""} onChange={(e) => pick(e.target.value)} disabled={!model.data} aria-label={versionLabel}>
          <option value="">{model.data && versions.length === 0 ? "no version with weights" : "choose…"}</option>
          {versions.map((v) => (
            <option key={v.id} value={v.id}>
              v{v.version}
            </option>
          ))}
        </select>
      </label>
    </>
  );
}
