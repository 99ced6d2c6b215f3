"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useEffect, useRef, useState } from "react";
import { useTRPCClient } from "@/app/_lib/trpc";
import { ErrorAlert, Loading } from "@/app/_components/ui";
import { ProjectCrumbs, useProjectAccess } from "@/app/_components/records";
import { TrainForm } from "@/app/_components/train/TrainForm";
import { TrainingMonitor } from "@/app/_components/train/TrainingMonitor";
import { EvaluatePanel } from "@/app/_components/train/EvaluatePanel";
import { TrainingSession } from "@/app/_components/train/training-session";
import { forgetJob, listJobs, type StoredJob } from "@/app/_components/train/browser-store";
import { useBrowserGpu } from "@/app/_components/train/gpu-support";

export default function TrainPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const client = useTRPCClient();
  const access = useProjectAccess(projectId);
  const gpu = useBrowserGpu();
  const [session, setSession] = useState<TrainingSession | null>(null);
  const [lookingForUnfinished, setLookingForUnfinished] = useState(true);
  const [lookupError, setLookupError] = useState<unknown>(null);
  const [evalVersionId, setEvalVersionId] = useState<string | undefined>(undefined);
  const evaluateRef = useRef<HTMLDivElement>(null);

  function start(job: StoredJob) {
    const next = new TrainingSession(client, job);
    setSession(next);
    void next.run();
  }

  // A run this browser started and did not finish (the page was reloaded or closed) resumes from its
  // last checkpoint; records of runs that ended meanwhile are dropped.
  useEffect(() => {
    let live = true;
    (async () => {
      const jobs = (await listJobs()).filter((j) => j.projectId === projectId).sort((a, b) => a.createdAt - b.createdAt);
      for (const job of jobs) {
        const run = await client.run.get.query({ runId: job.runId }).catch(() => null);
        if (run?.status === "QUEUED") await client.run.transition.mutate({ runId: job.runId, status: "RUNNING" });
        if (!run || !["QUEUED", "RUNNING"].includes(run.status)) {
          await forgetJob(job.runId);
          continue;
        }
        if (live) start(job);
        return;
      }
    })()
      .catch((e: unknown) => live && setLookupError(e))
      .finally(() => live && setLookingForUnfinished(false));
    return () => {
      live = false;
    };
  }, [projectId]); // eslint-disable-line react-hooks/exhaustive-deps

  useEffect(() => () => session?.dispose(), [session]);

  function evaluate(modelVersionId: string) {
    setEvalVersionId(modelVersionId);
    requestAnimationFrame(() => evaluateRef.current?.scrollIntoView({ behavior: "smooth" }));
  }

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} />
      <div className="page-header">
        <div>
          <h1>Train</h1>
          <p className="subtitle">Fine-tune an open-weight model (a Hugging Face folder: Llama, Mistral, Qwen, SmolLM) or pre-train a small GPT on this device's GPU (WebGPU, in a background worker: the page stays usable), or send the job to your GPU nodes. The run, its metrics and the model version land in Hearth.</p>
        </div>
      </div>
      <ErrorAlert error={lookupError} />
      {access.project.isLoading || lookingForUnfinished ? (
        <Loading what="training setup" />
      ) : !access.canEdit ? (
        <div className="alert alert-info" data-testid="read-only-notice">
          You have read-only access to this project: training and evaluating need the EDITOR role. Past runs are on the <Link href={`/orgs/${orgId}/projects/${projectId}/runs`}>Runs</Link> page.
        </div>
      ) : (
        <>
          {session ? (
            <TrainingMonitor session={session} orgId={orgId} projectId={projectId} onEvaluate={evaluate} onDone={() => setSession(null)} />
          ) : (
            <TrainForm orgId={orgId} projectId={projectId} gpu={gpu} onStarted={start} />
          )}
          <div ref={evaluateRef}>
            <EvaluatePanel key={evalVersionId ?? "any"} orgId={orgId} projectId={projectId} modelVersionId={evalVersionId} title={evalVersionId ? "Evaluate the new model version" : "Evaluate a model version"} />
          </div>
        </>
      )}
    </>
  );
}
