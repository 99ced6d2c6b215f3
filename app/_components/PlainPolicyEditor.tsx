"use client";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useEffect, useState } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert } from "@/app/_components/ui";

/**
 * The policy draft as a plain textarea, saved with `policy.update`. Same props as the live
 * collab PolicyEditor, so the policy page swaps one for the other in one line.
 */
export function PlainPolicyEditor({ policyId, canEdit }: { policyId: string; canEdit: boolean; user?: { name: string; email: string } }) {
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const policy = useQuery(trpc.policy.get.queryOptions({ policyId }));
  const [draft, setDraft] = useState<string | null>(null);
  useEffect(() => {
    if (policy.data && draft === null) setDraft(policy.data.draft);
  }, [policy.data, draft]);
  const save = useMutation(
    trpc.policy.update.mutationOptions({
      onSuccess: (after) => {
        setDraft(after.draft);
        return queryClient.invalidateQueries({ queryKey: trpc.policy.pathKey() });
      },
    }),
  );
  const dirty = policy.data !== undefined && draft !== null && draft !== policy.data.draft;
  return (
    <div className="stack">
      <ErrorAlert error={save.error} />
      <textarea
        className="editor-text"
        aria-label="Policy draft (markdown)"
        value={draft ?? ""}
        readOnly={!canEdit}
        rows={18}
        onChange={(e) => setDraft(e.target.value)}
        placeholder={"# 1. Refunds\nCustomers may ask for a refund within 30 days."}
      />
      {canEdit ? (
        <div className="row">
          <button className="btn btn-primary" disabled={!dirty || save.isPending} onClick={() => save.mutate({ policyId, draft: draft ?? "" })}>
            {save.isPending ? "Saving…" : "Save draft"}
          </button>
          <span className="hint">{dirty ? "Unsaved changes." : "Saved."} Headings are clauses; each gets a stable id like {"{#refunds-1}"} when saved.</span>
        </div>
      ) : null}
    </div>
  );
}
