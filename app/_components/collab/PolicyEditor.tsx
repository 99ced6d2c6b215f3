"use client";
// The live policy editor: markdown in CodeMirror 6 bound to the shared Y.Text with
// y-codemirror.next, remote cursors and selections with names and colours, who-is-here avatars.
// Clause ids live in the document beside the text (contracts/policy-clauses.ts): a person who can edit
// names new headings as they type (a moment after the last keystroke), and `onContent` hands the page
// the live text and clauses for its clauses panel and rendered view.
import { useEffect, useRef } from "react";
import { documentClauses, syncClauseAnchors, type Clause } from "@/contracts/policy-clauses";
import { basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { markdown } from "@codemirror/lang-markdown";
import * as Y from "yjs";
import { yCollab } from "y-codemirror.next";
import { CollabStatus } from "./CollabStatus";
import { useCollabDoc, type CollabUser } from "./useCollabDoc";

export interface PolicyContent {
  text: string;
  clauses: Clause[];
}

export function PolicyEditor({ policyId, canEdit, user, onContent }: { policyId: string; canEdit: boolean; user: CollabUser; onContent?: (content: PolicyContent) => void }) {
  const session = useCollabDoc(`policy:${policyId}`, user, canEdit);
  const host = useRef<HTMLDivElement>(null);
  const readOnly = session?.readOnly ?? !canEdit;
  const report = useRef(onContent);
  report.current = onContent;

  useEffect(() => {
    // Only once the server's copy is in: an empty document is not a policy with no clauses.
    if (!session?.loaded) return;
    const doc = session.doc;
    let naming: ReturnType<typeof setTimeout> | null = null;
    const changed = (_update: Uint8Array, _origin: unknown, _doc: Y.Doc, tr: Y.Transaction) => {
      report.current?.({ text: doc.getText("content").toString(), clauses: documentClauses(doc) });
      if (readOnly || !tr.local) return;
      if (naming) clearTimeout(naming);
      naming = setTimeout(() => syncClauseAnchors(doc), 400);
    };
    doc.on("update", changed);
    report.current?.({ text: doc.getText("content").toString(), clauses: documentClauses(doc) });
    return () => {
      doc.off("update", changed);
      if (naming) clearTimeout(naming);
    };
  }, [session?.doc, session?.loaded, readOnly]);

  useEffect(() => {
    if (!session || !host.current) return;
    const ytext = session.doc.getText("content");
    const undoManager = new Y.UndoManager(ytext);
    const view = new EditorView({
      parent: host.current,
      state: EditorState.create({
        doc: ytext.toString(),
        extensions: [
          basicSetup,
          markdown(),
          EditorView.lineWrapping,
          EditorState.readOnly.of(readOnly),
          EditorView.editable.of(!readOnly),
          EditorView.contentAttributes.of({ "aria-label": "Policy (markdown)", "data-testid": "policy-editor-content" }),
          yCollab(ytext, session.provider.awareness, { undoManager }),
        ],
      }),
    });
    return () => {
      view.destroy();
      undoManager.destroy();
    };
    // The view is rebuilt when the document or the read-only mode changes, not on presence updates.
    // eslint-disable-next-line react-hooks/exhaustive-deps
  }, [session?.doc, session?.provider, readOnly]);

  return (
    <div className="stack" data-testid="collab-policy-editor">
      {session ? <CollabStatus state={session.state} readOnly={readOnly} presence={session.presence} /> : null}
      <div ref={host} className="collab-codemirror" style={{ border: "1px solid var(--border)", borderRadius: "var(--radius)", background: "var(--surface)", minHeight: 240 }} />
    </div>
  );
}
