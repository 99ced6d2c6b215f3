"use client";
import Link from "next/link";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { roleAtLeast } from "@/contracts/roles";

export type DiffLine = { kind: "same" | "added" | "removed"; text: string; oldLine?: number; newLine?: number };

/** The caller's role in the project, and what it lets them do. */
export function useProjectAccess(projectId: string) {
  const trpc = useTRPC();
  const project = useQuery(trpc.project.get.queryOptions({ projectId }));
  const role = project.data?.role ?? null;
  return {
    project,
    role,
    canEdit: roleAtLeast(role, "EDITOR"),
    canApprove: roleAtLeast(role, "ADMIN"),
  };
}

/** Back link to the project home, plus the section. */
export function ProjectCrumbs({ orgId, projectId, section, sectionHref }: { orgId: string; projectId: string; section?: string; sectionHref?: string }) {
  const trpc = useTRPC();
  const project = useQuery(trpc.project.get.queryOptions({ projectId }));
  return (
    <p className="muted crumbs-line">
      <Link href={`/orgs/${orgId}/projects/${projectId}`}>← {project.data?.name ?? "Project"}</Link>
      {section && sectionHref ? (
        <>
          {" / "}
          <Link href={sectionHref}>{section}</Link>
        </>
      ) : null}
    </p>
  );
}

/** Tabs that switch a `tab` value (kept in the URL by the page). */
export function TabBar<T extends string>({ tabs, current, hrefFor, label }: { tabs: readonly { id: T; label: string }[]; current: T; hrefFor: (id: T) => string; label: string }) {
  return (
    <nav className="tabs" aria-label={label}>
      {tabs.map((tab) => (
        <Link key={tab.id} href={hrefFor(tab.id)} aria-current={tab.id === current ? "page" : undefined} scroll={false}>
          {tab.label}
        </Link>
      ))}
    </nav>
  );
}

/** A line diff, shown as text: added lines green, removed red. */
export function DiffView({ lines, emptyText = "No differences." }: { lines: DiffLine[] | undefined; emptyText?: string }) {
  if (!lines) return null;
  const changed = lines.filter((l) => l.kind !== "same").length;
  if (changed === 0) return <p className="muted">{emptyText}</p>;
  return (
    <div className="diff" data-testid="diff">
      <p className="hint">
        {lines.filter((l) => l.kind === "added").length} added, {lines.filter((l) => l.kind === "removed").length} removed
      </p>
      <pre className="diff-body">
        {lines.map((line, i) => (
          <div key={i} className={`diff-line diff-${line.kind}`}>
            <span className="diff-no">{line.oldLine ?? ""}</span>
            <span className="diff-no">{line.newLine ?? ""}</span>
            <span className="diff-sign">{line.kind === "added" ? "+" : line.kind === "removed" ? "−" : " "}</span>
            <span className="diff-text">{line.text}</span>
          </div>
        ))}
      </pre>
    </div>
  );
}

/** Markdown shown as text, with headings (clauses) highlighted. Never rendered as HTML. */
export function MarkdownText({ text }: { text: string }) {
  return (
    <pre className="markdown-text">
      {text.split("\n").map((line, i) => (
        <div key={i} className={/^#{1,6}\s/.test(line) ? "md-heading" : undefined}>
          {line || " "}
        </div>
      ))}
    </pre>
  );
}

/** Inline **bold**, *italic* and `code` as React elements (text stays text: nothing is parsed as HTML). */
function inline(text: string): ReactNode[] {
  const out: ReactNode[] = [];
  const pattern = /(\*\*[^*]+\*\*|\*[^*\s][^*]*\*|`[^`]+`)/g;
  let last = 0;
  for (const m of text.matchAll(pattern)) {
    if (m.index! > last) out.push(text.slice(last, m.index));
    const t = m[0];
    if (t.startsWith("**")) out.push(<strong key={m.index}>{t.slice(2, -2)}</strong>);
    else if (t.startsWith("`")) out.push(<code key={m.index}>{t.slice(1, -1)}</code>);
    else out.push(<em key={m.index}>{t.slice(1, -1)}</em>);
    last = m.index! + t.length;
  }
  if (last < text.length) out.push(text.slice(last));
  return out;
}

/**
 * Markdown as a reader sees it (headings, paragraphs, lists, code blocks, emphasis), built as React
 * elements from the text: a policy's content is data, never HTML.
 */
export function RenderedMarkdown({ text, testId }: { text: string; testId?: string }) {
  const blocks: ReactNode[] = [];
  const lines = text.split("\n");
  for (let i = 0; i < lines.length; ) {
    const line = lines[i];
    const key = i; // each block keyed by its first line
    if (/^\s*(```|~~~)/.test(line)) {
      const body: string[] = [];
      for (i++; i < lines.length && !/^\s*(```|~~~)/.test(lines[i]); i++) body.push(lines[i]);
      i++;
      blocks.push(<pre key={key} className="md-code">{body.join("\n")}</pre>);
      continue;
    }
    const heading = /^(#{1,6})\s+(.*)$/.exec(line);
    if (heading) {
      const level = heading[1].length;
      blocks.push(<div key={key} role="heading" aria-level={level} className={`md-h md-h${level}`}>{inline(heading[2])}</div>);
      i++;
      continue;
    }
    const item = /^\s*([-*+]|\d+[.)])\s+/;
    if (item.test(line)) {
      const ordered = /^\s*\d/.test(line);
      const items: ReactNode[] = [];
      for (; i < lines.length && item.test(lines[i]); i++) items.push(<li key={i}>{inline(lines[i].replace(item, ""))}</li>);
      blocks.push(ordered ? <ol key={key}>{items}</ol> : <ul key={key}>{items}</ul>);
      continue;
    }
    if (!line.trim()) {
      i++;
      continue;
    }
    const para: string[] = [];
    for (; i < lines.length && lines[i].trim() && !/^(#{1,6})\s/.test(lines[i]) && !item.test(lines[i]) && !/^\s*(```|~~~)/.test(lines[i]); i++) para.push(lines[i]);
    blocks.push(<p key={key}>{inline(para.join(" "))}</p>);
  }
  return (
    <div className="rendered-markdown" data-testid={testId}>
      {blocks.length ? blocks : <p className="muted">Nothing written yet.</p>}
    </div>
  );
}

export function Section({ title, children, actions }: { title: string; children: ReactNode; actions?: ReactNode }) {
  return (
    <section className="card">
      <div className="section-head">
        <h2>{title}</h2>
        {actions}
      </div>
      {children}
    </section>
  );
}

export function percent(value: number | null | undefined): string {
  if (value === null || value === undefined || Number.isNaN(value)) return "—";
  return `${(value * 100).toFixed(1)}%`;
}

export function duration(start: Date | string | null | undefined, end: Date | string | null | undefined): string {
  if (!start) return "—";
  const ms = (end ? new Date(end) : new Date()).getTime() - new Date(start).getTime();
  if (ms < 1000) return `${ms} ms`;
  const s = Math.round(ms / 1000);
  if (s < 60) return `${s} s`;
  const m = Math.floor(s / 60);
  if (m < 60) return `${m} min ${s % 60} s`;
  return `${Math.floor(m / 60)} h ${m % 60} min`;
}

/** Starts a browser download of text content. */
export function downloadText(filename: string, content: string, type = "application/jsonl") {
  const url = URL.createObjectURL(new Blob([content], { type }));
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}
