"use client";
// The live suite editor: a compact list of cases over the shared Y.Array of Y.Maps (fits a laptop:
// previews in the list, the whole case in a side panel), and the panel's editors: tags as chips, a
// clause picker that searches the project's policies, and a grader builder with each type's
// documentation and a "try it" box. Each field writes one key of its case's map, so two people editing
// different fields of one case both keep their edit.
import { useEffect, useMemo, useReducer, useState, type KeyboardEvent } from "react";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import * as Y from "yjs";
import { CollabStatus } from "./CollabStatus";
import type { CollabSession } from "./useCollabDoc";
import { GRADER_FORMS, graderForm, type GraderField } from "./grader-forms";
import { caseFromMap, movedPosition, orderedCaseMaps, POSITION_KEY, positionAfterLast, type DraftCase } from "@/contracts/collab-doc";
import { GraderSpecSchema, type EvalCase } from "@/gpu/eval/case";
import { runGrader, type GradeResult } from "@/gpu/eval/graders";
import { useTRPC } from "@/app/_lib/trpc";
import type { inferRouterOutputs } from "@trpc/server";
import type { AppRouter } from "@/server/trpc/root";
import { ErrorAlert } from "@/app/_components/ui";

export type SuiteCaseValue = Record<string, unknown>;
export interface CaseProblem {
  caseId: string;
  field: string;
  message: string;
}

function newCaseId(cases: Y.Array<Y.Map<unknown>>): string {
  const taken = new Set(cases.toArray().map((m) => String(m.get("id") ?? "")));
  for (let n = cases.length + 1; ; n++) if (!taken.has(`case-${n}`)) return `case-${n}`;
}

const strings = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === "string") : []);
const preview = (v: unknown, n = 70) => {
  const s = typeof v === "string" ? v : Array.isArray(v) ? v.map((m) => (m && typeof m === "object" && "content" in m ? String((m as { content: unknown }).content) : "")).join(" / ") : "";
  return s.length > n ? `${s.slice(0, n)}…` : s;
};

/** The live cases of a suite document, in suite order, re-read on every change (anyone's). */
export function useLiveCases(session: CollabSession | null): DraftCase[] | null {
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const cases = session?.doc.getArray<Y.Map<unknown>>("cases");
  useEffect(() => {
    if (!cases) return;
    cases.observeDeep(rerender);
    return () => cases.unobserveDeep(rerender);
  }, [cases]);
  if (!session?.loaded || !cases) return null;
  return orderedCaseMaps(cases).map(caseFromMap);
}

/** A case flagged "needs review": a policy version changed or removed a clause it cites. */
export type CaseReviewFlag = inferRouterOutputs<AppRouter>["caseReview"]["suite"][number];

/** The suite's open "needs review" flags by case id (none without a suite id). */
export function useCaseReviewFlags(suiteId: string | undefined): Map<string, CaseReviewFlag[]> {
  const trpc = useTRPC();
  const flags = useQuery({ ...trpc.caseReview.suite.queryOptions({ suiteId: suiteId ?? "" }), enabled: !!suiteId });
  return useMemo(() => {
    const byCase = new Map<string, CaseReviewFlag[]>();
    for (const flag of flags.data ?? []) byCase.set(flag.caseId, [...(byCase.get(flag.caseId) ?? []), flag]);
    return byCase;
  }, [flags.data]);
}

const clauseName = (flag: CaseReviewFlag) => `${flag.clauseNumber ? `${flag.clauseNumber} ` : ""}${flag.clauseTitle}`;
const changeVerb = (flag: CaseReviewFlag) => (flag.change === "REMOVED" ? "removed" : "changed");

/** The badge a flagged case carries in a list: the clauses whose change it waits on. */
export function NeedsReviewBadge({ flags }: { flags: CaseReviewFlag[] | undefined }) {
  if (!flags?.length) return null;
  const summary = flags.map((f) => `§ ${clauseName(f)} ${changeVerb(f)} in policy version ${f.policyVersion}`).join("; ");
  return (
    <span className="badge badge-warn" data-testid="needs-review" title={summary}>
      Needs review: {summary}
    </span>
  );
}

export function SuiteEditor({
  session,
  projectId,
  suiteId,
  validate,
}: {
  session: CollabSession | null;
  projectId: string;
  /** Shows the cases a policy change flagged for review (and lets editors mark them reviewed). */
  suiteId?: string;
  validate?: (cases: SuiteCaseValue[]) => CaseProblem[];
}) {
  const [open, setOpen] = useState<Y.Map<unknown> | null>(null);
  const live = useLiveCases(session);
  const trpc = useTRPC();
  const clauses = useQuery(trpc.policy.clauses.queryOptions({ projectId }));
  const clauseTitles = useMemo(() => {
    const m = new Map<string, string>();
    for (const p of clauses.data ?? []) for (const c of p.clauses) if (c.id) m.set(c.id, `${c.number ? `${c.number} ` : ""}${c.title}`);
    return m;
  }, [clauses.data]);
  const flags = useCaseReviewFlags(suiteId);

  if (!session) return null;
  const cases = session.doc.getArray<Y.Map<unknown>>("cases");
  const readOnly = session.readOnly;
  const ordered = orderedCaseMaps(cases);
  const values = live ?? ordered.map(caseFromMap);
  const problems = validate ? validate(values) : [];
  const problemFor = (caseId: string, field?: string) => problems.filter((p) => p.caseId === caseId && (field === undefined || p.field === field));
  const openIndex = open ? ordered.indexOf(open) : -1;

  /** Moving sets the case's position key only: concurrent moves cannot duplicate it, nor lose edits to it. */
  function move(index: number, delta: -1 | 1) {
    const position = movedPosition(ordered, index, delta);
    if (position !== null) ordered[index].set(POSITION_KEY, position);
  }

  function remove(map: Y.Map<unknown>) {
    const at = cases.toArray().indexOf(map);
    if (at >= 0) cases.delete(at, 1);
    if (open === map) setOpen(null);
  }

  function addCase() {
    const map = new Y.Map<unknown>();
    map.set(POSITION_KEY, positionAfterLast(cases));
    map.set("id", newCaseId(cases));
    map.set("input", "");
    map.set("expected", "");
    map.set("graders", "[]");
    map.set("tags", "[]");
    map.set("clauses", "[]");
    cases.push([map]);
    setOpen(map);
  }

  return (
    <div className="stack" data-testid="collab-suite-editor">
      <CollabStatus state={session.state} readOnly={readOnly} presence={session.presence} />
      <p className="hint">
        {values.length} case{values.length === 1 ? "" : "s"} in the working copy{readOnly ? "" : " · Edit opens the whole case beside the list"}
      </p>
      <div className={open && openIndex >= 0 ? "suite-editor-layout with-panel" : "suite-editor-layout"}>
      <div className="suite-editor-list">
      <table className="table suite-case-list">
        <thead>
          <tr>
            <th>#</th>
            <th>Case</th>
            <th>Tags and clauses</th>
            <th>Status</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {ordered.map((map, index) => {
            const value = values[index] ?? caseFromMap(map);
            const caseId = String(map.get("id") ?? `#${index + 1}`);
            const rowProblems = problemFor(caseId);
            return (
              <tr key={`${caseId}-${index}`} data-testid="suite-case" data-case-id={caseId} className={`${rowProblems.length ? "has-problems" : ""} ${open === map ? "selected" : ""}`}>
                <td>{index + 1}</td>
                <td className="case-cell">
                  <span className="mono">{caseId}</span>
                  <Provenance metadata={map.get("metadata")} />
                  <NeedsReviewBadge flags={flags.get(caseId)} />
                  <span className="case-preview">{preview(value.input) || <i className="muted">no input yet</i>}</span>
                </td>
                <td>
                  <div className="chips">
                    {strings(value.tags).map((t) => (
                      <span key={`t-${t}`} className="chip">
                        {t}
                      </span>
                    ))}
                    {strings(value.clauses).map((c) => (
                      <span key={`c-${c}`} className={`chip chip-clause ${clauseTitles.size && !clauseTitles.has(c) ? "chip-unknown" : ""}`} title={c}>
                        § {clauseTitles.get(c) ?? c}
                      </span>
                    ))}
                  </div>
                </td>
                <td data-testid="case-status">
                  {rowProblems.length ? (
                    <span className="field-error" title={rowProblems.map((p) => `${p.field}: ${p.message}`).join("\n")}>
                      Will not publish: {rowProblems[0].field}: {rowProblems[0].message}
                    </span>
                  ) : (
                    "OK"
                  )}
                </td>
                <td>
                  <div className="collab-grid-actions">
                    <button className="btn" type="button" aria-label={`Edit ${caseId}`} onClick={() => setOpen(open === map ? null : map)}>
                      {readOnly ? "View" : "Edit"}
                    </button>
                    {!readOnly ? (
                      <>
                        <button className="btn" type="button" aria-label={`Move ${caseId} up`} onClick={() => move(index, -1)}>
                          ↑
                        </button>
                        <button className="btn" type="button" aria-label={`Move ${caseId} down`} onClick={() => move(index, 1)}>
                          ↓
                        </button>
                        <button className="btn btn-danger" type="button" aria-label={`Delete ${caseId}`} onClick={() => remove(map)}>
                          Delete
                        </button>
                      </>
                    ) : null}
                  </div>
                </td>
              </tr>
            );
          })}
        </tbody>
      </table>
      {!readOnly ? (
        <div>
          <button className="btn" type="button" onClick={addCase}>
            Add case
          </button>
        </div>
      ) : null}
      </div>
      {open && openIndex >= 0 ? (
        <CasePanel
          map={open}
          value={values[openIndex] ?? caseFromMap(open)}
          readOnly={readOnly}
          problems={(field) => problemFor(String(open.get("id") ?? ""), field)}
          clauseData={clauses.data ?? []}
          flags={flags.get(String(open.get("id") ?? "")) ?? []}
          onClose={() => setOpen(null)}
        />
      ) : null}
      </div>
    </div>
  );
}

type ProjectClauses = { id: string; title: string; key: string; clauses: { id: string; number: string | null; title: string; level: number; text: string }[] }[];

function CasePanel({
  map,
  value,
  readOnly,
  problems,
  clauseData,
  flags,
  onClose,
}: {
  map: Y.Map<unknown>;
  value: DraftCase;
  readOnly: boolean;
  problems: (field: string) => CaseProblem[];
  clauseData: ProjectClauses;
  flags: CaseReviewFlag[];
  onClose: () => void;
}) {
  const caseId = String(map.get("id") ?? "");
  const raw = (key: string) => {
    const v = map.get(key);
    return v === undefined ? "" : String(v);
  };
  const set = (key: string, v: string) => map.set(key, v);
  const setNumber = (key: string, v: string) => (v.trim() === "" ? map.delete(key) : map.set(key, Number(v)));
  const errors = (field: string) =>
    problems(field).map((p, i) => (
      <span key={i} className="field-error">
        {p.message}
      </span>
    ));
  const inputIsChat = Array.isArray(value.input);
  return (
    <aside className="case-panel" aria-label={`Case ${caseId}`} data-testid="case-panel">
      <div className="section-head">
        <h2>Case {caseId}</h2>
        <button className="btn btn-small" type="button" onClick={onClose}>
          Close
        </button>
      </div>
      {flags.map((flag) => (
        <ClauseChangeNotice key={flag.id} flag={flag} readOnly={readOnly} />
      ))}
      <form className="stack" onSubmit={(e) => e.preventDefault()}>
        <label className="field">
          Id
          <input value={raw("id")} readOnly={readOnly} onChange={(e) => set("id", e.target.value)} aria-label={`Id of ${caseId}`} />
          {errors("id")}
        </label>
        <label className="field">
          Input {inputIsChat ? "(a chat: JSON list of messages)" : ""}
          <textarea rows={4} value={inputIsChat ? JSON.stringify(value.input, null, 1) : raw("input")} readOnly={readOnly || inputIsChat} onChange={(e) => set("input", e.target.value)} aria-label={`Input of ${caseId}`} />
          {errors("input")}
        </label>
        <label className="field">
          Expected behaviour
          <textarea rows={3} value={raw("expected")} readOnly={readOnly} onChange={(e) => set("expected", e.target.value)} aria-label={`Expected of ${caseId}`} />
          {errors("expected")}
        </label>
        <ChipInput label="Tags" values={strings(value.tags)} readOnly={readOnly} onChange={(tags) => set("tags", JSON.stringify(tags))} />
        {errors("tags")}
        <ClausePicker values={strings(value.clauses)} readOnly={readOnly} data={clauseData} onChange={(ids) => set("clauses", JSON.stringify(ids))} />
        {errors("clauses")}
        <GraderBuilder raw={raw("graders")} caseValue={value} readOnly={readOnly} onChange={(text) => set("graders", text)} />
        {errors("graders")}
        <details>
          <summary>Threshold and multiple choice</summary>
          <label className="field">
            Pass threshold (0 to 1)
            <input type="number" min={0} max={1} step={0.05} value={raw("threshold")} readOnly={readOnly} onChange={(e) => setNumber("threshold", e.target.value)} />
            {errors("threshold")}
          </label>
          <label className="field">
            Choices (JSON list, multiple choice only)
            <input value={raw("choices")} readOnly={readOnly} onChange={(e) => set("choices", e.target.value)} />
            {errors("choices")}
          </label>
          <label className="field">
            Answer index
            <input type="number" min={0} value={raw("answerIndex")} readOnly={readOnly} onChange={(e) => setNumber("answerIndex", e.target.value)} />
            {errors("answerIndex")}
          </label>
        </details>
      </form>
    </aside>
  );
}

/** What changed in a clause the case cites (old and new text, as text), and "Mark reviewed" for editors. */
function ClauseChangeNotice({ flag, readOnly }: { flag: CaseReviewFlag; readOnly: boolean }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const resolve = useMutation(trpc.caseReview.resolve.mutationOptions({ onSuccess: () => queryClient.invalidateQueries({ queryKey: trpc.caseReview.pathKey() }) }));
  return (
    <div className="alert alert-warn clause-change" data-testid="clause-change">
      <strong>Needs review:</strong> version {flag.policyVersion} of the policy {changeVerb(flag)} clause § {clauseName(flag)}, which this case tests. Check that the case still holds.
      <div className="clause-change-texts">
        <div>
          <span className="hint">Before</span>
          <pre className="review-text" data-testid="clause-before">{flag.beforeText}</pre>
        </div>
        <span aria-hidden="true">→</span>
        <div>
          <span className="hint">Version {flag.policyVersion}</span>
          <pre className="review-text" data-testid="clause-after">{flag.afterText ?? "(removed)"}</pre>
        </div>
      </div>
      <ErrorAlert error={resolve.error} />
      {!readOnly ? (
        <button className="btn btn-small" type="button" disabled={resolve.isPending} onClick={() => resolve.mutate({ caseReviewFlagId: flag.id })}>
          Mark reviewed
        </button>
      ) : null}
    </div>
  );
}

function ChipInput({ label, values, readOnly, onChange }: { label: string; values: string[]; readOnly: boolean; onChange: (values: string[]) => void }) {
  const [draft, setDraft] = useState("");
  const add = () => {
    const v = draft.trim();
    if (v && !values.includes(v)) onChange([...values, v]);
    setDraft("");
  };
  return (
    <div className="field">
      {label}
      <div className="chips">
        {values.map((v) => (
          <span key={v} className="chip">
            {v}
            {!readOnly ? (
              <button type="button" className="chip-remove" aria-label={`Remove ${label.toLowerCase()} ${v}`} onClick={() => onChange(values.filter((x) => x !== v))}>
                ×
              </button>
            ) : null}
          </span>
        ))}
        {!readOnly ? (
          <input
            className="chip-entry"
            value={draft}
            placeholder="add, then Enter"
            aria-label={`Add to ${label.toLowerCase()}`}
            onChange={(e) => setDraft(e.target.value)}
            onKeyDown={(e: KeyboardEvent<HTMLInputElement>) => {
              if (e.key === "Enter" || e.key === ",") {
                e.preventDefault();
                add();
              } else if (e.key === "Backspace" && !draft && values.length) onChange(values.slice(0, -1));
            }}
            onBlur={add}
          />
        ) : null}
      </div>
    </div>
  );
}

/** Links the case to policy clauses: search by title, number, text or policy; each linked clause a chip with its title. */
function ClausePicker({ values, readOnly, data, onChange }: { values: string[]; readOnly: boolean; data: ProjectClauses; onChange: (ids: string[]) => void }) {
  const [q, setQ] = useState("");
  const all = data.flatMap((p) => p.clauses.filter((c) => c.id).map((c) => ({ ...c, policy: p.title })));
  const byId = new Map(all.map((c) => [c.id, c]));
  const needle = q.trim().toLowerCase();
  const matches = needle
    ? all.filter((c) => !values.includes(c.id) && [c.title, c.number ?? "", c.text, c.policy, c.id].some((s) => s.toLowerCase().includes(needle))).slice(0, 8)
    : [];
  return (
    <div className="field" data-testid="clause-picker">
      Policy clauses this case tests
      <div className="chips">
        {values.map((id) => {
          const c = byId.get(id);
          return (
            <span key={id} className={`chip chip-clause ${c ? "" : "chip-unknown"}`} title={c ? `${c.policy}: ${c.text}` : "No clause of this project's policies has this id"}>
              § {c ? `${c.number ? `${c.number} ` : ""}${c.title}` : `${id} (unknown)`}
              {!readOnly ? (
                <button type="button" className="chip-remove" aria-label={`Unlink clause ${c?.title ?? id}`} onClick={() => onChange(values.filter((x) => x !== id))}>
                  ×
                </button>
              ) : null}
            </span>
          );
        })}
      </div>
      {!readOnly ? (
        <>
          <input type="search" value={q} placeholder="Search the project's policies: a word, a number, a title" aria-label="Search clauses" onChange={(e) => setQ(e.target.value)} />
          {needle ? (
            matches.length ? (
              <ul className="clause-options" role="listbox" aria-label="Matching clauses">
                {matches.map((c) => (
                  <li key={c.id} role="option" aria-selected={false}>
                    <button
                      type="button"
                      onClick={() => {
                        onChange([...values, c.id]);
                        setQ("");
                      }}
                    >
                      <b>
                        {c.number ? `${c.number} ` : ""}
                        {c.title}
                      </b>{" "}
                      <span className="muted">· {c.policy}</span>
                      <span className="clause-option-text">{c.text || "(no text under this heading)"}</span>
                    </button>
                  </li>
                ))}
              </ul>
            ) : (
              <p className="hint">No clause matches “{q}”.</p>
            )
          ) : null}
        </>
      ) : null}
    </div>
  );
}

type GraderDraft = Record<string, unknown>;
const COMMON_KEYS = new Set(["weight", "threshold", "metricName"]);

/** The case's graders as forms, one per grader, each with its documentation and a "try it" box; or the raw JSON when it cannot be read as a list. */
function GraderBuilder({ raw, caseValue, readOnly, onChange }: { raw: string; caseValue: DraftCase; readOnly: boolean; onChange: (text: string) => void }) {
  const [asJson, setAsJson] = useState(false);
  let list: GraderDraft[] | null = null;
  try {
    const parsed = JSON.parse(raw || "[]");
    if (Array.isArray(parsed) && parsed.every((g) => g && typeof g === "object" && !Array.isArray(g))) list = parsed;
  } catch {
    list = null;
  }
  const write = (next: GraderDraft[]) => onChange(JSON.stringify(next));
  if (asJson || list === null) {
    return (
      <div className="field">
        Graders (JSON)
        {list === null ? <span className="field-error">This JSON cannot be read as a list of graders; fix it here, or start again with the builder.</span> : null}
        <textarea rows={5} value={raw} readOnly={readOnly} onChange={(e) => onChange(e.target.value)} aria-label="Graders as JSON" />
        <div className="row">
          {list !== null ? (
            <button type="button" className="btn btn-small" onClick={() => setAsJson(false)}>
              Back to the builder
            </button>
          ) : !readOnly ? (
            <button type="button" className="btn btn-small" onClick={() => onChange("[]")}>
              Start again with the builder
            </button>
          ) : null}
        </div>
      </div>
    );
  }
  const graders = list;
  return (
    <div className="field" data-testid="grader-builder">
      <div className="section-head">
        <span>Graders</span>
        <button type="button" className="btn btn-small" onClick={() => setAsJson(true)}>
          Edit as JSON
        </button>
      </div>
      {graders.length === 0 ? <p className="hint">No grader yet: a case passes on what its graders check.</p> : null}
      {graders.map((g, i) => (
        <GraderCard
          key={i}
          index={i}
          grader={g}
          caseValue={caseValue}
          readOnly={readOnly}
          onChange={(next) => write(graders.map((x, j) => (j === i ? next : x)))}
          onRemove={() => write(graders.filter((_, j) => j !== i))}
        />
      ))}
      {!readOnly ? (
        <label className="field">
          Add a grader
          <select
            value=""
            aria-label="Add a grader"
            onChange={(e) => {
              const form = graderForm(e.target.value);
              if (form) write([...graders, { ...form.initial }]);
            }}
          >
            <option value="">choose what to check…</option>
            {GRADER_FORMS.map((f) => (
              <option key={f.type} value={f.type}>
                {f.label}: {f.doc.split(/[.:;]/)[0]}
              </option>
            ))}
          </select>
        </label>
      ) : null}
    </div>
  );
}

function GraderCard({
  index,
  grader,
  caseValue,
  readOnly,
  onChange,
  onRemove,
}: {
  index: number;
  grader: GraderDraft;
  caseValue: DraftCase;
  readOnly: boolean;
  onChange: (g: GraderDraft) => void;
  onRemove: () => void;
}) {
  const form = graderForm(grader.type);
  const [sample, setSample] = useState("");
  const [result, setResult] = useState<GradeResult | { error: string } | null>(null);
  const spec = GraderSpecSchema.safeParse(grader);
  const setField = (f: GraderField, v: unknown) => {
    const next = { ...grader };
    if (v === undefined || v === "" || (Array.isArray(v) && v.length === 0)) delete next[f.key];
    else next[f.key] = v;
    onChange(next);
  };
  async function tryIt() {
    if (!spec.success) return setResult({ error: spec.error.issues.map((i) => `${i.path.join(".") || "grader"}: ${i.message}`).join("; ") });
    const evalCase = {
      id: String(caseValue.id ?? "case"),
      input: typeof caseValue.input === "string" || Array.isArray(caseValue.input) ? caseValue.input : "",
      expected: typeof caseValue.expected === "string" ? caseValue.expected : undefined,
      graders: [spec.data],
      tags: [],
      clauses: [],
    } as EvalCase;
    setResult(await runGrader(spec.data, { output: sample, case: evalCase }));
  }
  if (!form) {
    return (
      <div className="grader-card">
        <span className="field-error">Unknown grader type {JSON.stringify(grader.type)}: edit it as JSON.</span>
      </div>
    );
  }
  return (
    <div className="grader-card" data-testid={`grader-${index}`}>
      <div className="section-head">
        <b>{form.label}</b>
        {!readOnly ? (
          <button type="button" className="btn btn-small btn-danger" aria-label={`Remove grader ${index + 1}`} onClick={onRemove}>
            Remove
          </button>
        ) : null}
      </div>
      <p className="hint">{form.doc}</p>
      {form.fields
        .filter((f) => !COMMON_KEYS.has(f.key))
        .map((f) => (
          <FieldInput key={f.key} field={f} value={grader[f.key]} readOnly={readOnly} onChange={(v) => setField(f, v)} />
        ))}
      <details open={form.fields.some((f) => COMMON_KEYS.has(f.key) && grader[f.key] !== undefined)}>
        <summary>Weight and pass score</summary>
        {form.fields
          .filter((f) => COMMON_KEYS.has(f.key))
          .map((f) => (
            <FieldInput key={f.key} field={f} value={grader[f.key]} readOnly={readOnly} onChange={(v) => setField(f, v)} />
          ))}
      </details>
      {!spec.success ? <span className="field-error">{spec.error.issues.map((i) => `${i.path.join(".") || "grader"}: ${i.message}`).join("; ")}</span> : null}
      {form.type !== "multiple-choice" ? (
        <div className="try-it">
          <label className="field">
            Try it: an answer to grade
            <textarea rows={2} value={sample} onChange={(e) => setSample(e.target.value)} aria-label={`Sample answer for grader ${index + 1}`} />
          </label>
          <button type="button" className="btn btn-small" onClick={() => void tryIt()}>
            Grade this answer
          </button>
          {result ? (
            "error" in result ? (
              <p className="field-error" data-testid="try-result">
                {result.error}
              </p>
            ) : (
              <p className={result.pass ? "try-pass" : "try-fail"} data-testid="try-result">
                {result.pass ? "Pass" : "Fail"} · score {result.score.toFixed(2)} · {result.reason}
              </p>
            )
          ) : null}
        </div>
      ) : null}
    </div>
  );
}

function FieldInput({ field, value, readOnly, onChange }: { field: GraderField; value: unknown; readOnly: boolean; onChange: (v: unknown) => void }) {
  const [jsonText, setJsonText] = useState(() => (value === undefined ? "" : JSON.stringify(value, null, 1)));
  const [jsonError, setJsonError] = useState<string | null>(null);
  const label = `${field.label}${field.required ? "" : " (optional)"}`;
  const help = <span className="hint">{field.help}</span>;
  switch (field.kind) {
    case "bool":
      return (
        <label className="field-inline">
          <input type="checkbox" checked={value === true} disabled={readOnly} onChange={(e) => onChange(e.target.checked ? true : undefined)} /> {field.label} {help}
        </label>
      );
    case "enum":
      return (
        <label className="field">
          {label}
          <select value={typeof value === "string" ? value : ""} disabled={readOnly} onChange={(e) => onChange(e.target.value || undefined)}>
            <option value="">default</option>
            {field.options!.map((o) => (
              <option key={o} value={o}>
                {o}
              </option>
            ))}
          </select>
          {help}
        </label>
      );
    case "number":
      return (
        <label className="field">
          {label}
          <input type="number" step="any" value={typeof value === "number" ? value : ""} readOnly={readOnly} onChange={(e) => onChange(e.target.value === "" ? undefined : Number(e.target.value))} />
          {help}
        </label>
      );
    case "list":
      return (
        <label className="field">
          {label}
          <textarea rows={2} value={strings(value).join("\n")} readOnly={readOnly} onChange={(e) => onChange(e.target.value.split("\n"))} />
          {help}
        </label>
      );
    case "json":
      return (
        <label className="field">
          {label}
          <textarea
            rows={3}
            value={jsonText}
            readOnly={readOnly}
            onChange={(e) => {
              setJsonText(e.target.value);
              try {
                onChange(JSON.parse(e.target.value));
                setJsonError(null);
              } catch (err) {
                setJsonError((err as Error).message);
              }
            }}
          />
          {jsonError ? <span className="field-error">Not JSON yet: {jsonError}</span> : help}
        </label>
      );
    default:
      return (
        <label className="field">
          {label}
          {field.kind === "textarea" ? (
            <textarea rows={2} value={typeof value === "string" ? value : ""} readOnly={readOnly} onChange={(e) => onChange(e.target.value)} />
          ) : (
            <input value={typeof value === "string" ? value : ""} readOnly={readOnly} onChange={(e) => onChange(e.target.value)} />
          )}
          {help}
        </label>
      );
  }
}

const PROVENANCE_FROM: Record<string, string> = { "served-request": "a served request", "eval-result": "an eval result", "pasted-text": "pasted text" };

/** Where a case made from an incident came from ("Make a case"), who made it and when. */
function Provenance({ metadata }: { metadata: unknown }) {
  const provenance = (metadata as { provenance?: { from?: unknown; by?: unknown; at?: unknown } } | undefined)?.provenance;
  if (!provenance || typeof provenance.from !== "string") return null;
  const at = typeof provenance.at === "string" ? new Date(provenance.at).toLocaleString() : "";
  return (
    <span className="hint" data-testid="case-provenance" style={{ display: "block" }}>
      From {PROVENANCE_FROM[provenance.from] ?? provenance.from}
      {typeof provenance.by === "string" ? ` by ${provenance.by}` : ""}
      {at ? `, ${at}` : ""}
    </span>
  );
}
