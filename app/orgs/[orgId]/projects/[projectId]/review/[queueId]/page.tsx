"use client";
// The review page, made for speed: the item side by side (input, output, expected behaviour, the
// clause's text), one key per score, Enter to save and go on, arrows for next and previous, and the
// reviewer's progress. Everything a user wrote is rendered as text.
import Link from "next/link";
import { useParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useCallback, useEffect, useMemo, useRef, useState } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, Loading } from "@/app/_components/ui";
import { shortcutsFor, type LabelInput, type Shortcut } from "@/contracts/review";

type Draft = Pick<LabelInput, "pass" | "score" | "category"> & { correctedOutput: string; comment: string };
const EMPTY: Draft = { pass: null, score: null, category: null, correctedOutput: "", comment: "" };

interface Shown {
  id: string;
  position: number;
  source: string;
  sourceId: string | null;
  input: string;
  output: string;
  expected: string;
  clauses: unknown;
}

function Pane({ title, text, testId }: { title: string; text: string; testId: string }) {
  return (
    <div className="review-pane">
      <h3>{title}</h3>
      <pre className="review-text" data-testid={testId}>
        {text || "—"}
      </pre>
    </div>
  );
}

function keyLabel(key: string): string {
  return key === "ArrowRight" ? "→" : key === "ArrowLeft" ? "←" : key === "Enter" ? "⏎" : key;
}

export default function ReviewPage() {
  const { orgId, projectId, queueId } = useParams<{ orgId: string; projectId: string; queueId: string }>();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const queue = useQuery(trpc.review.get.queryOptions({ reviewQueueId: queueId }));
  const mine = useQuery(trpc.review.mine.queryOptions({ reviewQueueId: queueId }));
  const [item, setItem] = useState<Shown | null>(null);
  const [done, setDone] = useState(false);
  const [progress, setProgress] = useState<{ labelled: number; remaining: number } | null>(null);
  /** Index into the reviewer's labelled items while going back; null while on a fresh item. */
  const [back, setBack] = useState<number | null>(null);
  const [draft, setDraft] = useState<Draft>(EMPTY);
  const [error, setError] = useState<unknown>(null);
  const busy = useRef(false);

  const next = useMutation(trpc.review.next.mutationOptions());
  const label = useMutation(trpc.review.label.mutationOptions());
  const release = useMutation(trpc.review.release.mutationOptions());
  const shortcuts = useMemo(() => (queue.data ? shortcutsFor(queue.data.scoreSchema) : []), [queue.data]);

  const show = useCallback((shown: Shown | null, existing?: Partial<Draft> | null) => {
    setItem(shown);
    setDone(!shown);
    setDraft({ ...EMPTY, ...Object.fromEntries(Object.entries(existing ?? {}).filter(([, v]) => v !== null && v !== undefined)) });
  }, []);

  const claim = useCallback(
    async (after?: number) => {
      const result = await next.mutateAsync({ reviewQueueId: queueId, after });
      // Skipping past the last item starts again from the first still open.
      const again = !result.item && after ? await next.mutateAsync({ reviewQueueId: queueId }) : result;
      setProgress(again.progress);
      setBack(null);
      show(again.item);
    },
    [next, queueId, show],
  );

  useEffect(() => {
    if (queue.data && !item && !done && !busy.current) {
      busy.current = true;
      claim().catch(setError).finally(() => (busy.current = false));
    }
  }, [queue.data]); // eslint-disable-line react-hooks/exhaustive-deps

  const run = useCallback(async (work: () => Promise<void>) => {
    if (busy.current) return;
    busy.current = true;
    setError(null);
    try {
      await work();
    } catch (e) {
      setError(e);
    } finally {
      busy.current = false;
    }
  }, []);

  const openLabelled = useCallback(
    async (index: number) => {
      const ids = (await mine.refetch()).data ?? [];
      if (index < 0 || index >= ids.length) return;
      const found = await queryClient.fetchQuery(trpc.review.item.queryOptions({ reviewItemId: ids[index] }));
      setBack(index);
      show(found, found.myLabel ? { ...found.myLabel, correctedOutput: found.myLabel.correctedOutput ?? "", comment: found.myLabel.comment ?? "" } : null);
    },
    [mine, queryClient, show, trpc.review.item],
  );

  const submit = useCallback(
    () =>
      run(async () => {
        if (!item) return;
        await label.mutateAsync({
          reviewItemId: item.id,
          label: { pass: draft.pass, score: draft.score, category: draft.category, correctedOutput: draft.correctedOutput || null, comment: draft.comment || null },
        });
        await queryClient.invalidateQueries({ queryKey: trpc.review.mine.queryKey({ reviewQueueId: queueId }) });
        if (back !== null) {
          const ids = (await mine.refetch()).data ?? [];
          if (back + 1 < ids.length) return openLabelled(back + 1);
        }
        await claim();
      }),
    [run, item, label, draft, queryClient, trpc.review.mine, queueId, back, mine, openLabelled, claim],
  );

  const skip = useCallback(
    () =>
      run(async () => {
        if (back !== null) {
          const ids = (await mine.refetch()).data ?? [];
          if (back + 1 < ids.length) return openLabelled(back + 1);
          return claim();
        }
        if (item) await release.mutateAsync({ reviewItemId: item.id }).catch(() => undefined);
        await claim(item?.position);
      }),
    [run, back, mine, openLabelled, claim, item, release],
  );

  const previous = useCallback(
    () =>
      run(async () => {
        const ids = (await mine.refetch()).data ?? [];
        await openLabelled(back === null ? ids.length - 1 : back - 1);
      }),
    [run, mine, openLabelled, back],
  );

  const apply = useCallback(
    (shortcut: Shortcut) => {
      const action = shortcut.action;
      if (action.kind === "pass") setDraft((d) => ({ ...d, pass: action.value }));
      else if (action.kind === "score") setDraft((d) => ({ ...d, score: action.value }));
      else if (action.kind === "category") setDraft((d) => ({ ...d, category: action.value }));
      else if (action.kind === "submit") void submit();
      else if (action.kind === "next") void skip();
      else void previous();
    },
    [submit, skip, previous],
  );

  useEffect(() => {
    function onKey(event: KeyboardEvent) {
      const target = event.target as HTMLElement | null;
      const typing = target && (target.tagName === "TEXTAREA" || target.tagName === "INPUT" || target.tagName === "SELECT");
      if (typing) {
        // In a text box: Escape leaves it, Ctrl/Cmd+Enter saves; every other key is text.
        if (event.key === "Escape") target.blur();
        if (event.key === "Enter" && (event.ctrlKey || event.metaKey)) {
          event.preventDefault();
          void submit();
        }
        return;
      }
      if (event.ctrlKey || event.metaKey || event.altKey) return;
      const shortcut = shortcuts.find((s) => s.key === event.key) ?? (event.key === "n" ? shortcuts.find((s) => s.action.kind === "next") : event.key === "b" ? shortcuts.find((s) => s.action.kind === "previous") : undefined);
      if (!shortcut) return;
      event.preventDefault();
      apply(shortcut);
    }
    window.addEventListener("keydown", onKey);
    return () => window.removeEventListener("keydown", onKey);
  }, [shortcuts, apply, submit]);

  if (queue.error) return <ErrorAlert error={queue.error} />;
  if (!queue.data) return <Loading what="the review queue" />;
  const schema = queue.data.scoreSchema;
  const clauses = (Array.isArray(item?.clauses) ? item.clauses : []) as { id: string; text: string }[];
  const chosen = (s: Shortcut) =>
    (s.action.kind === "pass" && draft.pass === s.action.value) || (s.action.kind === "score" && draft.score === s.action.value) || (s.action.kind === "category" && draft.category === s.action.value);

  return (
    <div className="review-page">
      <div className="review-bar">
        <Link href={`/orgs/${orgId}/projects/${projectId}/review`} className="hint">
          ← {queue.data.name}
        </Link>
        <span data-testid="review-progress">
          {progress ? `${progress.labelled} labelled · ${progress.remaining} left` : "…"}
          {back !== null ? " · looking back" : ""}
        </span>
        {item ? <span className="hint" data-testid="review-item-position">item {item.position}</span> : null}
        {item && item.sourceId && (item.source === "EVAL_RESULT" || item.source === "SERVED_REQUEST") ? (
          <Link className="hint" target="_blank" href={`/orgs/${orgId}/projects/${projectId}/review/make-case?${item.source === "SERVED_REQUEST" ? "served" : "result"}=${item.sourceId}`}>
            Make a case
          </Link>
        ) : null}
      </div>
      <ErrorAlert error={error} />
      {done ? (
        <div className="card empty" data-testid="review-done">
          Nothing left for you in this queue. Press ← to look back at your labels.
        </div>
      ) : null}
      {item ? (
        <>
          <div className="review-grid">
            <Pane title="Input" text={item.input} testId="review-input" />
            <Pane title={item.source === "POLICY_CHANGE" ? "What changed" : "Output"} text={item.output} testId="review-output" />
            <Pane title="Expected behaviour" text={item.expected} testId="review-expected" />
            <div className="review-pane">
              <h3>Policy clause</h3>
              {clauses.length ? (
                clauses.map((c) => (
                  <pre key={c.id} className="review-text" data-testid="review-clause">
                    {c.text || c.id}
                  </pre>
                ))
              ) : (
                <pre className="review-text">—</pre>
              )}
            </div>
          </div>
          <div className="review-keys" role="toolbar" aria-label="Scores">
            {shortcuts.map((s) => (
              <button key={s.key} type="button" className={`btn btn-small${chosen(s) ? " btn-primary" : ""}`} aria-pressed={chosen(s)} onClick={() => apply(s)} data-testid={`key-${s.key}`}>
                <kbd>{keyLabel(s.key)}</kbd> {s.label}
              </button>
            ))}
          </div>
          {schema.correction || schema.comment ? (
            <div className="review-notes">
              {schema.correction ? (
                <label className="field grow">
                  Corrected output
                  <textarea rows={3} className="editor-text" value={draft.correctedOutput} onChange={(e) => setDraft((d) => ({ ...d, correctedOutput: e.target.value }))} maxLength={100_000} />
                </label>
              ) : null}
              {schema.comment ? (
                <label className="field grow">
                  Comment
                  <textarea rows={3} className="editor-text" value={draft.comment} onChange={(e) => setDraft((d) => ({ ...d, comment: e.target.value }))} maxLength={4_000} />
                </label>
              ) : null}
            </div>
          ) : null}
          <p className="hint">Keys work outside the text boxes; in a box, Esc leaves it and Ctrl+Enter saves.</p>
        </>
      ) : null}
    </div>
  );
}
