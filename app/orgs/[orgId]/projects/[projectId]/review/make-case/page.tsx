"use client";
// "Make a case": an incident (a served request, an eval result, or pasted text) becomes a regression
// case in one step. The input and the actual output come pre-filled; the person writes the expected
// behaviour, picks a grader and the policy clause, and the case lands at the end of the suite's live
// draft, where open editors see it at once.
import Link from "next/link";
import { useParams, useSearchParams } from "next/navigation";
import { useMutation, useQuery } from "@tanstack/react-query";
import { useEffect, useState, type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, Loading } from "@/app/_components/ui";
import { ProjectCrumbs, Section } from "@/app/_components/records";

type Source = { kind: "served"; servedRequestId: string } | { kind: "result"; evalResultId: string } | { kind: "text" };
type GraderChoice = "contains" | "equals" | "forbidden" | "similarity";

function gradersFor(choice: GraderChoice, values: string[]) {
  if (choice === "contains") return [{ type: "contains" as const, values, mode: "any" as const, caseInsensitive: true }];
  if (choice === "forbidden") return [{ type: "forbidden" as const, phrases: values }];
  if (choice === "equals") return [{ type: "equals" as const }];
  return [{ type: "similarity" as const }];
}

function inputText(input: unknown): string {
  if (typeof input === "string") return input;
  if (Array.isArray(input)) return (input as { role: string; content: string }[]).map((m) => `${m.role}: ${m.content}`).join("\n");
  return "";
}

export default function MakeCasePage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const search = useSearchParams();
  const trpc = useTRPC();
  const source: Source = search.get("served") ? { kind: "served", servedRequestId: search.get("served")! } : search.get("result") ? { kind: "result", evalResultId: search.get("result")! } : { kind: "text" };
  const suites = useQuery(trpc.suite.list.queryOptions({ projectId }));
  const policies = useQuery(trpc.policy.list.queryOptions({ projectId }));
  const [suiteId, setSuiteId] = useState(search.get("suite") ?? "");
  const [policyId, setPolicyId] = useState("");
  const policy = useQuery({ ...trpc.policy.get.queryOptions({ policyId }), enabled: !!policyId });
  const start = useQuery({ ...trpc.suite.caseSource.queryOptions({ suiteId, source }), enabled: !!suiteId && source.kind !== "text" });
  const [input, setInput] = useState("");
  const [output, setOutput] = useState("");
  const make = useMutation(trpc.suite.makeCase.mutationOptions());

  useEffect(() => {
    if (!suiteId && suites.data?.length) setSuiteId(suites.data[0].id);
  }, [suites.data, suiteId]);
  useEffect(() => {
    if (start.data) {
      setInput(inputText(start.data.input));
      setOutput(start.data.output);
    }
  }, [start.data]);

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    const values = String(form.get("values") ?? "").split(",").map((v) => v.trim()).filter(Boolean);
    const clause = String(form.get("clause") ?? "");
    const tags = String(form.get("tags") ?? "").split(",").map((v) => v.trim()).filter(Boolean);
    // A served chat keeps its messages; what the person edited otherwise goes in as text.
    const original = start.data?.input;
    const caseInput = Array.isArray(original) && inputText(original) === input ? original : input;
    make.mutate({
      suiteId,
      source,
      case: { input: caseInput, expected: String(form.get("expected") ?? ""), graders: gradersFor(form.get("grader") as GraderChoice, values), clauses: clause ? [clause] : [], tags },
      actualOutput: output,
    });
  }

  const from = source.kind === "served" ? "a served request" : source.kind === "result" ? "an eval result" : "pasted text";
  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} section="Review" sectionHref={`/orgs/${orgId}/projects/${projectId}/review`} />
      <div className="page-header">
        <div>
          <h1>Make a case</h1>
          <p className="subtitle">From {from}: the case is added to the suite&apos;s live draft with where it came from, who made it and when.</p>
        </div>
      </div>
      <ErrorAlert error={suites.error ?? start.error ?? (make.error && !make.error.data?.fieldErrors ? make.error : null)} />
      {suites.isLoading ? <Loading what="suites" /> : null}
      {make.data ? (
        <div className="card" data-testid="case-made">
          Added case <code>{make.data.caseId}</code> to the draft.{" "}
          <Link href={`/orgs/${orgId}/projects/${projectId}/suites/${suiteId}`}>Open the suite</Link>
        </div>
      ) : null}
      <Section title="The case">
        <form className="stack" onSubmit={onSubmit}>
          <label className="field">
            Suite
            <select value={suiteId} onChange={(e) => setSuiteId(e.target.value)} required>
              {suites.data?.map((s) => (
                <option key={s.id} value={s.id}>
                  {s.name}
                </option>
              ))}
            </select>
          </label>
          <div className="review-grid">
            <label className="field">
              Input
              <textarea className="editor-text" rows={6} value={input} onChange={(e) => setInput(e.target.value)} required maxLength={100_000} />
            </label>
            <label className="field">
              Actual output {source.kind !== "text" ? <span className="hint">(as recorded)</span> : null}
              <textarea className="editor-text" rows={6} value={output} onChange={(e) => setOutput(e.target.value)} readOnly={source.kind !== "text"} maxLength={100_000} />
            </label>
          </div>
          <label className="field">
            Expected behaviour
            <textarea name="expected" className="editor-text" rows={3} required maxLength={100_000} />
          </label>
          <div className="inline">
            <label className="field">
              Grader
              <select name="grader" defaultValue="contains">
                <option value="contains">contains any of</option>
                <option value="forbidden">must not say</option>
                <option value="equals">equals the expected</option>
                <option value="similarity">similar to the expected</option>
              </select>
            </label>
            <label className="field grow">
              Phrases <span className="hint">comma-separated, for contains / must not say</span>
              <input name="values" />
            </label>
            <label className="field">
              Policy
              <select value={policyId} onChange={(e) => setPolicyId(e.target.value)}>
                <option value="">(none)</option>
                {policies.data?.map((p) => (
                  <option key={p.id} value={p.id}>
                    {p.title}
                  </option>
                ))}
              </select>
            </label>
            <label className="field">
              Clause
              <select name="clause" disabled={!policy.data}>
                <option value="">(none)</option>
                {policy.data?.clauses
                  .filter((c) => c.id)
                  .map((c) => (
                    <option key={c.id} value={c.id}>
                      {c.number ? `${c.number} ` : ""}
                      {c.title}
                    </option>
                  ))}
              </select>
            </label>
            <label className="field">
              Tags
              <input name="tags" defaultValue="incident" />
            </label>
          </div>
          <div>
            <button className="btn btn-primary" type="submit" disabled={make.isPending || !suiteId}>
              Add to the suite
            </button>
          </div>
        </form>
      </Section>
    </>
  );
}
