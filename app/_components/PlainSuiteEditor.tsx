"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert } from "@/app/_components/ui";

function toJsonLines(cases: unknown[]): string {
  return cases.map((c) => JSON.stringify(c)).join("\n");
}

/**
 * The suite's working copy as JSON lines (one case per line), saved with `suite.setCases`.
 * Same props as the live collab SuiteEditor, so the suite page swaps one for the other in one line.
 */
export function PlainSuiteEditor({ suiteId, canEdit }: { suiteId: string; canEdit: boolean; user?: { name: string; email: string }; validate?: unknown }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const suite = useQuery(trpc.suite.get.queryOptions({ suiteId }));
  const [text, setText] = useState<string | null>(null);
  const [parseError, setParseError] = useState<string | null>(null);
  useEffect(() => {
    if (suite.data && text === null) setText(toJsonLines(suite.data.draft));
  }, [suite.data, text]);
  const save = useMutation(
    trpc.suite.setCases.mutationOptions({
      onSuccess: async () => {
        await queryClient.invalidateQueries({ queryKey: trpc.suite.pathKey() });
        setText(null);
      },
    }),
  );
  function onSave() {
    const cases: Record<string, unknown>[] = [];
    const lines = (text ?? "").split("\n");
    for (let i = 0; i < lines.length; i++) {
      if (!lines[i].trim()) continue;
      try {
        const value = JSON.parse(lines[i]);
        if (typeof value !== "object" || value === null || Array.isArray(value)) throw new Error("each line must be a JSON object");
        cases.push(value);
      } catch (e) {
        setParseError(`Line ${i + 1}: ${(e as Error).message}`);
        return;
      }
    }
    setParseError(null);
    save.mutate({ suiteId, cases });
  }
  return (
    <div className="stack">
      {parseError ? (
        <div className="alert alert-error" role="alert">
          {parseError}
        </div>
      ) : null}
      <ErrorAlert error={save.error} />
      <textarea
        className="editor-text"
        aria-label="Cases as JSON lines"
        value={text ?? ""}
        readOnly={!canEdit}
        rows={14}
        wrap="off"
        onChange={(e) => setText(e.target.value)}
        placeholder={'{"id":"refund-1","input":"Can I get a refund?","expected":"yes","graders":[{"type":"contains","values":["refund"]}],"tags":["refunds"],"clauses":["refunds#1"]}'}
      />
      {canEdit ? (
        <div className="row">
          <button className="btn btn-primary" onClick={onSave} disabled={save.isPending}>
            {save.isPending ? "Saving…" : "Save cases"}
          </button>
          <span className="hint">One case per line, in Hearth JSONL. Problems show in the table above after saving.</span>
        </div>
      ) : null}
    </div>
  );
}
