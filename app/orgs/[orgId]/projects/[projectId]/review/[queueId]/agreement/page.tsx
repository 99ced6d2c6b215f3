"use client";
import { useParams } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, Loading } from "@/app/_components/ui";
import { ProjectCrumbs, Section } from "@/app/_components/records";

const DIMENSION = { pass: "Pass/fail", category: "Label", score: "Score" } as const;

function kappaText(kappa: number | null): string {
  return kappa === null ? "undefined (one value only)" : kappa.toFixed(3);
}

/** Agreement between a queue's reviewers per scored dimension, and the items they disagree on. */
export default function AgreementPage() {
  const { orgId, projectId, queueId } = useParams<{ orgId: string; projectId: string; queueId: string }>();
  const trpc = useTRPC();
  const queue = useQuery(trpc.review.get.queryOptions({ reviewQueueId: queueId }));
  const agreement = useQuery(trpc.review.agreement.queryOptions({ reviewQueueId: queueId }));
  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} section="Review" sectionHref={`/orgs/${orgId}/projects/${projectId}/review`} />
      <div className="page-header">
        <div>
          <h1>Agreement{queue.data ? `: ${queue.data.name}` : ""}</h1>
          <p className="subtitle">Cohen&apos;s kappa for two reviewers, Fleiss&apos; kappa for more; 1 is full agreement, 0 what chance gives.</p>
        </div>
      </div>
      <ErrorAlert error={agreement.error ?? queue.error} />
      {agreement.isLoading ? <Loading what="agreement" /> : null}
      {queue.data ? (
        <Section title="Progress">
          <p>
            {queue.data.progress.done} of {queue.data.progress.items} items have all {queue.data.reviewersPerItem} labels.
          </p>
          <table className="table">
            <thead>
              <tr>
                <th>Reviewer</th>
                <th>Labelled</th>
                <th>Left</th>
              </tr>
            </thead>
            <tbody>
              {queue.data.reviewers.map((r) => (
                <tr key={r.userId}>
                  <td>{r.name}</td>
                  <td>{r.labelled}</td>
                  <td>{r.remaining}</td>
                </tr>
              ))}
            </tbody>
          </table>
        </Section>
      ) : null}
      {agreement.data ? (
        <>
          <Section title="Kappa">
            <table className="table" data-testid="agreement">
              <thead>
                <tr>
                  <th>On</th>
                  <th>Method</th>
                  <th>Kappa</th>
                  <th>Items</th>
                  <th>Reviewers</th>
                  <th>Disagreements</th>
                </tr>
              </thead>
              <tbody>
                {agreement.data.dimensions.map((d) => (
                  <tr key={d.dimension}>
                    <td>{DIMENSION[d.dimension]}</td>
                    <td>{d.method === "cohen" ? "Cohen" : d.method === "fleiss" ? "Fleiss" : "—"}</td>
                    <td>{d.method ? kappaText(d.kappa) : "needs two labels per item"}</td>
                    <td>{d.items}</td>
                    <td>{d.reviewers}</td>
                    <td>{d.disagreements.length ? <a href="#disagreements">{d.disagreements.length}</a> : 0}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          </Section>
          <section className="card" id="disagreements">
            <h2>Disagreements</h2>
            {agreement.data.disagreements.length === 0 ? <p className="muted">None.</p> : null}
            {agreement.data.disagreements.map((d) => (
              <div key={d.id} className="review-disagreement">
                <p className="hint">item {d.position}</p>
                <div className="review-grid">
                  <pre className="review-text">{d.input}</pre>
                  <pre className="review-text">{d.output}</pre>
                </div>
                <ul>
                  {d.labels.map((l) => (
                    <li key={l.reviewerId}>
                      {l.reviewer}: {[l.pass === null ? null : l.pass ? "pass" : "fail", l.category, l.score === null ? null : String(l.score)].filter(Boolean).join(", ")}
                      {l.comment ? ` — ${l.comment}` : ""}
                    </li>
                  ))}
                </ul>
              </div>
            ))}
          </section>
        </>
      ) : null}
    </>
  );
}
