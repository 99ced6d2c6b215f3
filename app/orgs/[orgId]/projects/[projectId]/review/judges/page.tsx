"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, Loading } from "@/app/_components/ui";
import { ProjectCrumbs, Section, useProjectAccess } from "@/app/_components/records";

const rate = (v: number | null) => (v === null ? "—" : `${(v * 100).toFixed(0)}%`);

/** The judge's verdicts against people's, people as the truth: a 2x2 grid shaded by count. */
function Confusion({ confusion }: { confusion: { truePass: number; falseFail: number; falsePass: number; trueFail: number } }) {
  const total = confusion.truePass + confusion.falseFail + confusion.falsePass + confusion.trueFail;
  const cell = (count: number, agree: boolean, label: string) => (
    <td
      aria-label={label}
      style={{
        textAlign: "center",
        fontWeight: 600,
        minWidth: "4.5rem",
        background: total ? `rgba(${agree ? "34, 139, 84" : "200, 60, 50"}, ${0.08 + (0.6 * count) / total})` : undefined,
      }}
    >
      {count}
    </td>
  );
  return (
    <table className="table" style={{ width: "auto" }} data-testid="confusion">
      <thead>
        <tr>
          <th />
          <th>judge: pass</th>
          <th>judge: fail</th>
        </tr>
      </thead>
      <tbody>
        <tr>
          <th>people: pass</th>
          {cell(confusion.truePass, true, "both pass")}
          {cell(confusion.falseFail, false, "judge fails what people pass")}
        </tr>
        <tr>
          <th>people: fail</th>
          {cell(confusion.falsePass, false, "judge passes what people fail")}
          {cell(confusion.trueFail, true, "both fail")}
        </tr>
      </tbody>
    </table>
  );
}

function Bar({ projectId, minKappa, minLabels }: { projectId: string; minKappa: number; minLabels: number }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const save = useMutation(trpc.review.setJudgeBar.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.review.judges.queryKey({ projectId }) }) }));
  return (
    <form
      className="inline"
      onSubmit={(event) => {
        event.preventDefault();
        const form = new FormData(event.currentTarget);
        save.mutate({ projectId, minKappa: Number(form.get("minKappa")), minLabels: Number(form.get("minLabels")) });
      }}
    >
      <label className="field">
        Minimum kappa
        <input name="minKappa" type="number" min={-1} max={1} step={0.01} defaultValue={minKappa} style={{ width: "6rem" }} />
        <span className="field-error">{fieldError(save.error, "minKappa")}</span>
      </label>
      <label className="field">
        Minimum labels
        <input name="minLabels" type="number" min={1} max={100000} step={1} defaultValue={minLabels} style={{ width: "6rem" }} />
        <span className="field-error">{fieldError(save.error, "minLabels")}</span>
      </label>
      <button className="btn" type="submit" disabled={save.isPending}>
        Save the bar
      </button>
      <ErrorAlert error={save.error && !save.error.data?.fieldErrors ? save.error : null} />
      {save.isSuccess ? <span className="hint">Saved.</span> : null}
    </form>
  );
}

/** Each judge (an endpoint grading rubric cases) against people's labels of the same outputs. */
export default function JudgesPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const trpc = useTRPC();
  const access = useProjectAccess(projectId);
  const judges = useQuery(trpc.review.judges.queryOptions({ projectId }));
  const base = `/orgs/${orgId}/projects/${projectId}`;
  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} section="Review" sectionHref={`${base}/review`} />
      <div className="page-header">
        <div>
          <h1>Judges</h1>
          <p className="subtitle">
            A judge model&apos;s rubric verdicts against people&apos;s pass/fail labels of the same outputs (review queues filled from its runs). The release gate counts a judge&apos;s verdicts only once it
            is calibrated.
          </p>
        </div>
      </div>
      <ErrorAlert error={judges.error} />
      {judges.isLoading ? <Loading what="judges" /> : null}
      {judges.data ? (
        <Section title="The bar">
          <p className="hint">
            Calibrated: at least {judges.data.bar.minLabels} labelled verdicts and Cohen&apos;s kappa with people of at least {judges.data.bar.minKappa.toFixed(2)} (1 is full agreement, 0 what
            chance gives).
          </p>
          {access.canApprove ? <Bar key={`${judges.data.bar.minKappa}/${judges.data.bar.minLabels}`} projectId={projectId} {...judges.data.bar} /> : null}
        </Section>
      ) : null}
      {judges.data?.judges.length === 0 ? (
        <div className="card empty">No judge has graded a run yet. Name a judge endpoint when you start an eval run on an endpoint or on the server.</div>
      ) : null}
      {judges.data?.judges.map((j) => (
        <section key={j.judgeEndpointId} className="card" data-testid="judge">
          <div className="page-header">
            <h2>{j.judgeName}</h2>
            <span className={`badge ${j.calibrated ? "badge-ok" : "badge-warn"}`}>{j.calibrated ? "calibrated" : "uncalibrated"}</span>
          </div>
          {j.reason ? <p className="hint">Not counted by the gate: {j.reason}.</p> : null}
          <div className="inline" style={{ alignItems: "flex-start", gap: "2rem" }}>
            <dl className="facts">
              <dt>Labelled verdicts</dt>
              <dd>{j.labels}</dd>
              <dt>Cohen&apos;s kappa</dt>
              <dd>{j.kappa === null ? "—" : j.kappa.toFixed(3)}</dd>
              <dt>True-positive rate</dt>
              <dd title="of the outputs people passed, the share the judge passed">{rate(j.truePositiveRate)}</dd>
              <dt>True-negative rate</dt>
              <dd title="of the outputs people failed, the share the judge failed">{rate(j.trueNegativeRate)}</dd>
            </dl>
            <Confusion confusion={j.confusion} />
          </div>
          <details>
            <summary>
              {j.disagreements.length} disagreement{j.disagreements.length === 1 ? "" : "s"}
            </summary>
            {j.disagreements.map((d) => (
              <div key={d.itemId} className="review-disagreement" data-testid="judge-disagreement">
                <p className="hint">
                  case <code>{d.caseId ?? "—"}</code> · judge: {d.judgePass ? "pass" : "fail"} ({d.judgeReason.replace(/^judge: /, "") || "no reason"}) · people: {d.peoplePass ? "pass" : "fail"} ·{" "}
                  <Link href={`${base}/review/${d.queueId}/agreement`}>{d.queueName}</Link> · <Link href={`${base}/runs/${d.runId}`}>run</Link>
                </p>
                <div className="review-grid">
                  <pre className="review-text">{d.input}</pre>
                  <pre className="review-text">{d.output}</pre>
                </div>
              </div>
            ))}
          </details>
        </section>
      ))}
    </>
  );
}
