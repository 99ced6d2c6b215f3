"use client";
import Link from "next/link";
import { useParams, usePathname } from "next/navigation";
import { useQuery } from "@tanstack/react-query";
import type { ReactNode } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, RoleBadge, TopBar, useRequireSession } from "@/app/_components/ui";
import { roleAtLeast } from "@/contracts/roles";

export default function OrganizationLayout({ children }: { children: ReactNode }) {
  const session = useRequireSession();
  const { orgId } = useParams<{ orgId: string }>();
  const pathname = usePathname();
  const trpc = useTRPC();
  const org = useQuery({ ...trpc.org.get.queryOptions({ orgId }), enabled: session.status === "authenticated" });
  const isAdmin = roleAtLeast(org.data?.role, "ADMIN");
  const base = `/orgs/${orgId}`;
  const tabs = [
    { href: base, label: "Projects" },
    { href: `${base}/dashboard`, label: "Dashboard" },
    { href: `${base}/members`, label: "Members" },
    { href: `${base}/nodes`, label: "GPU nodes" },
    ...(isAdmin ? [{ href: `${base}/keys`, label: "API keys" }, { href: `${base}/audit`, label: "Audit log" }] : []),
  ];
  const inProject = pathname.includes("/projects/");

  return (
    <>
      <TopBar>
        <span>/</span>
        <Link href={base}>{org.data?.name ?? "…"}</Link>
        <RoleBadge role={org.data?.role} />
      </TopBar>
      <main className="page">
        <ErrorAlert error={org.error} />
        {org.data && !inProject ? (
          <nav className="tabs" aria-label="Organization">
            {tabs.map((tab) => (
              <Link key={tab.href} href={tab.href} aria-current={pathname === tab.href ? "page" : undefined}>
                {tab.label}
              </Link>
            ))}
          </nav>
        ) : null}
        {org.data ? children : null}
      </main>
    </>
  );
}
