"use client";
// Who changed a policy or suite and when: live editing sessions, publishes and API edits, newest first.
import { useQuery } from "@tanstack/react-query";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, formatDate, Loading } from "@/app/_components/ui";
import { Section } from "@/app/_components/records";

type Person = { name: string | null; label: string };
type Entry =
  | { kind: "session"; at: Date | string; who: Person; connectedAt: Date | string; disconnectedAt: Date | string; updates: number }
  | { kind: "publish"; at: Date | string; who: Person; version: number; message: string }
  | { kind: "edit"; at: Date | string; who: Person; changed: string[] };

function personLabel(who: Person): string {
  return who.name && who.name !== who.label ? `${who.name} (${who.label})` : who.label;
}

function minutesBetween(from: Date | string, to: Date | string): string {
  const minutes = Math.max(0, Math.round((new Date(to).getTime() - new Date(from).getTime()) / 60_000));
  return minutes < 1 ? "under a minute" : `${minutes} min`;
}

function describe(entry: Entry): string {
  switch (entry.kind) {
    case "session":
      return `Edited live for ${minutesBetween(entry.connectedAt, entry.disconnectedAt)} (${entry.updates} update${entry.updates === 1 ? "" : "s"}), from ${formatDate(entry.connectedAt)}`;
    case "publish":
      return `Published version ${entry.version}: ${entry.message}`;
    case "edit":
      return `Changed ${entry.changed.length ? entry.changed.join(", ") : "nothing"} through the API`;
  }
}

export function DocumentHistory(props: { policyId: string } | { suiteId: string }) {
  const trpc = useTRPC();
  const history = useQuery(
    "policyId" in props ? trpc.collab.history.queryOptions({ policyId: props.policyId }) : trpc.collab.suiteHistory.queryOptions({ suiteId: props.suiteId }),
  );
  const entries = (history.data ?? []) as Entry[];
  return (
    <Section title="History">
      <ErrorAlert error={history.error} />
      {history.isLoading ? (
        <Loading what="history" />
      ) : entries.length === 0 ? (
        <p className="empty">No changes recorded yet.</p>
      ) : (
        <table className="table" data-testid="document-history">
          <thead>
            <tr>
              <th>When</th>
              <th>Who</th>
              <th>What</th>
            </tr>
          </thead>
          <tbody>
            {entries.map((entry, i) => (
              <tr key={`${entry.kind}-${String(entry.at)}-${i}`} data-kind={entry.kind}>
                <td>{formatDate(entry.at)}</td>
                <td>{personLabel(entry.who)}</td>
                <td>{describe(entry)}</td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
    </Section>
  );
}
