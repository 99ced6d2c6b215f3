"use client";
// The live suite editor: a grid of cases over the shared Y.Array of Y.Maps. Each cell writes one
// key of its case's map, so two people editing different cells of one case both keep their edit.
import { useEffect, useReducer, useState } from "react";
import * as Y from "yjs";
import { CollabStatus } from "./CollabStatus";
import { useCollabDoc, type CollabUser } from "./useCollabDoc";
import { caseFromMap, movedPosition, orderedCaseMaps, POSITION_KEY, positionAfterLast } from "@/contracts/collab-doc";

export type SuiteCaseValue = Record<string, unknown>;
export interface CaseProblem {
  caseId: string;
  field: string;
  message: string;
}

const TEXT_FIELDS = [
  { key: "id", label: "Id" },
  { key: "input", label: "Input" },
  { key: "expected", label: "Expected" },
  { key: "tags", label: "Tags (JSON)" },
  { key: "clauses", label: "Clauses (JSON)" },
] as const;

function newCaseId(cases: Y.Array<Y.Map<unknown>>): string {
  const taken = new Set(cases.toArray().map((m) => String(m.get("id") ?? "")));
  for (let n = cases.length + 1; ; n++) if (!taken.has(`case-${n}`)) return `case-${n}`;
}

export function SuiteEditor({
  suiteId,
  canEdit,
  user,
  validate,
}: {
  suiteId: string;
  canEdit: boolean;
  user: CollabUser;
  validate?: (cases: SuiteCaseValue[]) => CaseProblem[];
}) {
  const session = useCollabDoc(`suite:${suiteId}`, user, canEdit);
  const [, rerender] = useReducer((n: number) => n + 1, 0);
  const [open, setOpen] = useState<string | null>(null);
  const cases = session?.doc.getArray<Y.Map<unknown>>("cases");

  useEffect(() => {
    if (!cases) return;
    cases.observeDeep(rerender);
    return () => cases.unobserveDeep(rerender);
  }, [cases]);

  if (!session || !cases) return null;
  const readOnly = session.readOnly;
  const ordered = orderedCaseMaps(cases);
  const values = ordered.map(caseFromMap);
  const problems = validate ? validate(values) : [];
  const problemFor = (caseId: string, field?: string) => problems.filter((p) => p.caseId === caseId && (field === undefined || p.field === field));

  function setField(map: Y.Map<unknown>, key: string, raw: string) {
    if (key === "threshold" || key === "answerIndex") {
      if (raw.trim() === "") map.delete(key);
      else map.set(key, Number(raw));
    } else map.set(key, raw);
  }

  /** Moving sets the case's position key only: concurrent moves cannot duplicate it, nor lose edits to it. */
  function move(index: number, delta: -1 | 1) {
    const position = movedPosition(ordered, index, delta);
    if (position !== null) ordered[index].set(POSITION_KEY, position);
  }

  function remove(map: Y.Map<unknown>) {
    const at = cases!.toArray().indexOf(map);
    if (at >= 0) cases!.delete(at, 1);
  }

  function addCase() {
    const map = new Y.Map<unknown>();
    map.set(POSITION_KEY, positionAfterLast(cases!));
    map.set("id", newCaseId(cases!));
    map.set("input", "");
    map.set("expected", "");
    map.set("graders", "[]");
    map.set("tags", "[]");
    map.set("clauses", "[]");
    cases!.push([map]);
  }

  const raw = (map: Y.Map<unknown>, key: string) => {
    const value = map.get(key);
    return value === undefined ? "" : String(value);
  };

  return (
    <div className="stack" data-testid="collab-suite-editor">
      <CollabStatus state={session.state} readOnly={readOnly} presence={session.presence} />
      <div className="collab-grid-scroll">
      <table className="table collab-grid">
        <thead>
          <tr>
            <th>#</th>
            {TEXT_FIELDS.map((f) => (
              <th key={f.key}>{f.label}</th>
            ))}
            <th>Status</th>
            <th />
          </tr>
        </thead>
        <tbody>
          {ordered.map((map, index) => {
            const caseId = String(map.get("id") ?? `#${index + 1}`);
            const rowProblems = problemFor(caseId);
            return [
              <tr key={`${caseId}-${index}`} data-testid="suite-case" data-case-id={caseId} className={rowProblems.length ? "has-problems" : undefined}>
                <td>{index + 1}</td>
                {TEXT_FIELDS.map((f) => {
                  const cellProblems = problemFor(caseId, f.key);
                  return (
                    <td key={f.key}>
                      <input
                        aria-label={`${f.label} of ${caseId}`}
                        value={raw(map, f.key)}
                        readOnly={readOnly}
                        aria-invalid={cellProblems.length > 0 || undefined}
                        onChange={(e) => setField(map, f.key, e.target.value)}
                      />
                      {cellProblems.map((p, i) => (
                        <span key={i} className="field-error">
                          {p.message}
                        </span>
                      ))}
                      {f.key === "id" ? <Provenance metadata={map.get("metadata")} /> : null}
                    </td>
                  );
                })}
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
                  <button className="btn" type="button" onClick={() => setOpen(open === caseId ? null : caseId)}>
                    Graders
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
              </tr>,
              open === caseId ? (
                <tr key={`${caseId}-graders`}>
                  <td />
                  <td colSpan={TEXT_FIELDS.length + 2}>
                    <form className="stack" onSubmit={(e) => e.preventDefault()}>
                      <label className="field">
                        Graders (JSON list of grader specs)
                        <textarea rows={4} value={raw(map, "graders")} readOnly={readOnly} onChange={(e) => setField(map, "graders", e.target.value)} />
                        {problemFor(caseId, "graders").map((p, i) => (
                          <span key={i} className="field-error">
                            {p.message}
                          </span>
                        ))}
                      </label>
                      <label className="field">
                        Pass threshold (0 to 1)
                        <input type="number" min={0} max={1} step={0.05} value={raw(map, "threshold")} readOnly={readOnly} onChange={(e) => setField(map, "threshold", e.target.value)} />
                      </label>
                      <label className="field">
                        Choices (JSON list, multiple choice only)
                        <input value={raw(map, "choices")} readOnly={readOnly} onChange={(e) => setField(map, "choices", e.target.value)} />
                      </label>
                      <label className="field">
                        Answer index
                        <input type="number" min={0} value={raw(map, "answerIndex")} readOnly={readOnly} onChange={(e) => setField(map, "answerIndex", e.target.value)} />
                      </label>
                    </form>
                  </td>
                </tr>
              ) : null,
            ];
          })}
        </tbody>
      </table>
      </div>
      {!readOnly ? (
        <div>
          <button className="btn" type="button" onClick={addCase}>
            Add case
          </button>
        </div>
      ) : null}
    </div>
  );
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
