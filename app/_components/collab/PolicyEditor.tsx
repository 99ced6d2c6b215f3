"use client";
// The live policy editor: markdown in CodeMirror 6 bound to the shared Y.Text with
// y-codemirror.next, remote cursors and selections with names and colours, who-is-here avatars.
import { useEffect, useRef } from "react";
import { basicSetup } from "codemirror";
import { EditorState } from "@codemirror/state";
import { EditorView } from "@codemirror/view";
import { markdown } from "@codemirror/lang-markdown";
import * as Y from "yjs";
import { yCollab } from "y-codemirror.next";
import { CollabStatus } from "./CollabStatus";
import { useCollabDoc, type CollabUser } from "./useCollabDoc";

export function PolicyEditor({ policyId, canEdit, user }: { policyId: string; canEdit: boolean; user: CollabUser }) {
  const session = useCollabDoc(`policy:${policyId}`, user, canEdit);
  const host = useRef<HTMLDivElement>(null);
  const readOnly = session?.readOnly ?? !canEdit;

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
