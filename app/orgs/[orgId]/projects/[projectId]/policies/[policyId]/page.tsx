"use client";
import Link from "next/link";
import { useParams, usePathname, useSearchParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useSession } from "next-auth/react";
import { Suspense, useState, type FormEvent } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { DiffView, MarkdownText, ProjectCrumbs, RenderedMarkdown, Section, TabBar, useProjectAccess } from "@/app/_components/records";
import { PolicyEditor, type PolicyContent } from "@/app/_components/collab/PolicyEditor";
import { DocumentHistory } from "@/app/_components/collab/DocumentHistory";

// The draft editor: live co-editing (API clients use policy.update, which edits the same live document).
const DraftEditor = PolicyEditor;

const TABS = [
  { id: "edit", label: "Edit" },
  { id: "versions", label: "Versions" },
  { id: "compare", label: "Compare" },
  { id: "history", label: "History" },
] as const;
type Tab = (typeof TABS)[number]["id"];

function PolicyPage() {
  const { orgId, projectId, policyId } = useParams<{ orgId: string; projectId: string; policyId: string }>();
  const params = useSearchParams();
  const pathname = usePathname();
  const trpc = useTRPC();
  const access = useProjectAccess(projectId);
  const session = useSession();
  const policy = useQuery(trpc.policy.get.queryOptions({ policyId }));
  // the live document as the editor holds it: the clauses the draft will publish, before publishing
  const [live, setLive] = useState<PolicyContent | null>(null);
  const tab = (TABS.find((t) => t.id === params.get("tab"))?.id ?? "edit") as Tab;
  const hrefFor = (id: Tab, extra: Record<string, string> = {}) => `${pathname}?${new URLSearchParams({ tab: id, ...extra }).toString()}`;

  if (policy.isLoading) return <Loading what="policy" />;
  if (policy.error) return <ErrorAlert error={policy.error} />;
  const p = policy.data!;
  const latest = p.versions[0] ?? null;
  const user = { name: session.data?.user?.name ?? "", email: session.data?.user?.email ?? "" };

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} section="Policies" sectionHref={`/orgs/${orgId}/projects/${projectId}/policies`} />
      <div className="page-header">
        <div>
          <h1 data-testid="policy-title">{p.title}</h1>
          <p className="subtitle">
            <span className="mono">{p.key}</span> · {latest ? `latest version ${latest.version}, ${formatDate(latest.createdAt)}` : "not published yet"}
          </p>
        </div>
      </div>
      <TabBar label="Policy" tabs={TABS} current={tab} hrefFor={(id) => hrefFor(id)} />
      {tab === "edit" ? (
        <div className="split">
          <div>
            <Section title="Draft">
              <DraftEditor policyId={policyId} canEdit={access.canEdit} user={user} onContent={setLive} />
            </Section>
            {access.canEdit ? <PublishPolicy policyId={policyId} latest={latest?.version ?? null} /> : null}
          </div>
          <div>
            <Section title="Clauses">
              <p className="hint">What the next version will publish. Ids are kept beside the text: renaming, renumbering or moving a heading keeps the cases that cite it.</p>
              {(live?.clauses ?? p.clauses).length === 0 ? (
                <p className="muted">No clauses yet: every markdown heading becomes a clause that cases can cite.</p>
              ) : (
                <ul className="clause-list" data-testid="clauses">
                  {(live?.clauses ?? p.clauses).map((c) => (
                    <li key={`${c.id}-${c.line}`} style={{ paddingLeft: `${(c.level - 1) * 0.9}rem` }}>
                      <span className="mono clause-id">{c.id || "(naming…)"}</span> {c.number ? `${c.number} ` : ""}
                      {c.title}
                    </li>
                  ))}
                </ul>
              )}
            </Section>
            <Section title="Rendered">
              <RenderedMarkdown text={live?.text ?? p.draft} testId="policy-rendered" />
            </Section>
          </div>
        </div>
      ) : null}
      {tab === "versions" ? <PolicyVersions policyId={policyId} versions={p.versions} selected={params.get("v")} hrefFor={hrefFor} /> : null}
      {tab === "compare" ? <ComparePolicyVersions policyId={policyId} versions={p.versions.map((v) => v.version)} /> : null}
      {tab === "history" ? <DocumentHistory policyId={policyId} /> : null}
    </>
  );
}

function PublishPolicy({ policyId, latest }: { policyId: string; latest: number | null }) {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const [preview, setPreview] = useState(false);
  const diff = useQuery({ ...trpc.policy.diff.queryOptions({ policyId, from: latest ?? "empty", to: "draft" }), enabled: preview });
  const publish = useMutation(
    trpc.policy.publish.mutationOptions({
      onSuccess: () => {
        setPreview(false);
        return queryClient.invalidateQueries({ queryKey: trpc.policy.pathKey() });
      },
    }),
  );
  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = new FormData(event.currentTarget);
    publish.mutate({ policyId, message: String(form.get("message")) });
  }
  return (
    <Section title="Publish">
      {publish.isSuccess ? (
        <div className="alert alert-ok" data-testid="published">
          Published version {publish.data.version}.{" "}
          {publish.data.version === 1 ? null : publish.data.review.cases ? (
            <>
              {publish.data.review.cases} case{publish.data.review.cases === 1 ? "" : "s"} citing the {publish.data.review.clauses} changed or removed clause{publish.data.review.clauses === 1 ? "" : "s"} {publish.data.review.cases === 1 ? "was" : "were"} marked &ldquo;needs review&rdquo;
              {publish.data.review.queueId ? (
                <>
                  {" "}and added to the <Link href={`/orgs/${orgId}/projects/${projectId}/review/${publish.data.review.queueId}`}>Policy changes</Link> review queue
                </>
              ) : null}
              .
            </>
          ) : publish.data.review.clauses ? (
            `${publish.data.review.clauses} clause${publish.data.review.clauses === 1 ? "" : "s"} changed or removed; no case cites ${publish.data.review.clauses === 1 ? "it" : "them"}.`
          ) : (
            "No clause's words changed: no case needs review."
          )}
        </div>
      ) : null}
      {!preview ? (
        <button className="btn" onClick={() => { publish.reset(); setPreview(true); }}>
          Review changes and publish
        </button>
      ) : (
        <div className="stack">
          <p className="hint">Changes since {latest ? `version ${latest}` : "nothing (first version)"}:</p>
          <ErrorAlert error={diff.error} />
          {diff.isLoading ? <Loading what="diff" /> : <DiffView lines={diff.data} emptyText="The draft is the same as the latest version." />}
          <ErrorAlert error={publish.error && !fieldError(publish.error, "message") ? publish.error : null} />
          <form className="inline" onSubmit={onSubmit}>
            <label className="field grow">
              Message
              <input name="message" required maxLength={500} placeholder="What changed and why" />
              <span className="field-error">{fieldError(publish.error, "message")}</span>
            </label>
            <button className="btn btn-primary" type="submit" disabled={publish.isPending}>
              Publish version {(latest ?? 0) + 1}
            </button>
            <button className="btn" type="button" onClick={() => setPreview(false)}>
              Cancel
            </button>
          </form>
        </div>
      )}
    </Section>
  );
}

type VersionSummary = { id: string; version: number; sha256: string; message: string; createdAt: Date | string };

function PolicyVersions({ policyId, versions, selected, hrefFor }: { policyId: string; versions: VersionSummary[]; selected: string | null; hrefFor: (tab: Tab, extra?: Record<string, string>) => string }) {
  const trpc = useTRPC();
  const selectedVersion = selected ? Number(selected) : null;
  const version = useQuery({ ...trpc.policy.version.queryOptions({ policyId, version: selectedVersion ?? 1 }), enabled: !!selectedVersion });
  return (
    <>
      <Section title="Versions">
        {versions.length === 0 ? (
          <p className="empty">Nothing published yet.</p>
        ) : (
          <table className="table" data-testid="policy-versions">
            <thead>
              <tr>
                <th>Version</th>
                <th>Message</th>
                <th>Published</th>
                <th>sha256</th>
              </tr>
            </thead>
            <tbody>
              {versions.map((v) => (
                <tr key={v.id} className={v.version === selectedVersion ? "selected" : undefined}>
                  <td>
                    <a href={hrefFor("versions", { v: String(v.version) })}>v{v.version}</a>
                  </td>
                  <td>{v.message}</td>
                  <td>{formatDate(v.createdAt)}</td>
                  <td className="mono">{v.sha256.slice(0, 12)}</td>
                </tr>
              ))}
            </tbody>
          </table>
        )}
      </Section>
      {selectedVersion ? (
        <Section title={`Version ${selectedVersion}`}>
          <ErrorAlert error={version.error} />
          {version.isLoading ? <Loading what="version" /> : version.data ? <MarkdownText text={version.data.content} /> : null}
        </Section>
      ) : null}
    </>
  );
}

function ComparePolicyVersions({ policyId, versions }: { policyId: string; versions: number[] }) {
  const trpc = useTRPC();
  const [from, setFrom] = useState<string>(versions[1] ? String(versions[1]) : "empty");
  const [to, setTo] = useState<string>(versions[0] ? String(versions[0]) : "draft");
  const diff = useQuery(
    trpc.policy.diff.queryOptions({ policyId, from: from === "empty" ? "empty" : Number(from), to: to === "draft" ? "draft" : Number(to) }),
  );
  return (
    <Section title="Compare versions">
      <div className="inline">
        <label className="field">
          From
          <select value={from} onChange={(e) => setFrom(e.target.value)}>
            <option value="empty">empty</option>
            {versions.map((v) => (
              <option key={v} value={v}>
                v{v}
              </option>
            ))}
          </select>
        </label>
        <label className="field">
          To
          <select value={to} onChange={(e) => setTo(e.target.value)}>
            <option value="draft">draft</option>
            {versions.map((v) => (
              <option key={v} value={v}>
                v{v}
              </option>
            ))}
          </select>
        </label>
      </div>
      <ErrorAlert error={diff.error} />
      {diff.isLoading ? <Loading what="diff" /> : <DiffView lines={diff.data} />}
    </Section>
  );
}

export default function Page() {
  return (
    <Suspense fallback={<Loading what="policy" />}>
      <PolicyPage />
    </Suspense>
  );
}
