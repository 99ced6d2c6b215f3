"use client";
import Link from "next/link";
import { useParams, usePathname } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { useTRPC } from "@/app/_lib/trpc";

/** Every section of a project, in the order work flows through them. */
const SECTIONS = [
  { path: "", label: "Overview" },
  { path: "dashboard", label: "Dashboard" },
  { path: "policies", label: "Policies" },
  { path: "suites", label: "Eval suites" },
  { path: "datasets", label: "Datasets" },
  { path: "train", label: "Train" },
  { path: "models", label: "Models" },
  { path: "runs", label: "Runs" },
  { path: "review", label: "Review" },
  { path: "schedules", label: "Schedules" },
  { path: "playground", label: "Playground" },
  { path: "endpoints", label: "Endpoints" },
] as const;

/** A project's pages share a sidebar with every section and the slug the API and `/v1` model ids use. */
export default function ProjectLayout({ children }: { children: ReactNode }) {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const pathname = usePathname();
  const trpc = useTRPC();
  const project = useQuery(trpc.project.get.queryOptions({ projectId }));
  const base = `/orgs/${orgId}/projects/${projectId}`;
  // The review page is made for speed: nothing but the item beside it.
  if (new RegExp(`^${base}/review/(?!make-case$)[^/]+$`).test(pathname)) return <div className="project-main">{children}</div>;
  const current = SECTIONS.filter((s) => (s.path ? pathname === `${base}/${s.path}` || pathname.startsWith(`${base}/${s.path}/`) : pathname === base)).pop();
  return (
    <div className="project-shell">
      <nav className="project-nav" aria-label="Project" data-testid="project-nav">
        <Link href={base} className="project-nav-title">
          {project.data?.name ?? "Project"}
        </Link>
        {project.data ? (
          <p className="hint" title="Model ids in /v1 and API calls name the project by this slug">
            slug <code data-testid="project-slug">{project.data.slug}</code>
          </p>
        ) : null}
        <ul>
          {SECTIONS.map((s) => (
            <li key={s.path}>
              <Link href={s.path ? `${base}/${s.path}` : base} aria-current={current === s ? "page" : undefined}>
                {s.label}
              </Link>
            </li>
          ))}
        </ul>
      </nav>
      <div className="project-main">{children}</div>
    </div>
  );
}
