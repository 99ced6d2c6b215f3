"use client";
import type { ConnectionState, Presence } from "./useCollabDoc";

const LABELS: Record<ConnectionState, string> = {
  connecting: "Connecting…",
  connected: "Connected",
  reconnecting: "Reconnecting…",
  offline: "Offline: edits are kept on this device",
  revoked: "Access removed",
};

/** The connection-state badge and who-is-here avatars shown above both editors. */
export function CollabStatus({ state, readOnly, presence }: { state: ConnectionState; readOnly: boolean; presence: Presence[] }) {
  const tone = state === "connected" ? "ok" : state === "revoked" ? "danger" : "warn";
  return (
    <div className="collab-status" style={{ display: "flex", alignItems: "center", gap: "0.75rem", flexWrap: "wrap" }}>
      <span data-testid="collab-connection" data-state={state} className={`badge badge-${tone}`} style={badgeStyle(tone)}>
        {LABELS[state]}
      </span>
      {readOnly ? (
        <span data-testid="collab-read-only" className="badge" style={badgeStyle("muted")}>
          Read-only
        </span>
      ) : null}
      <ul aria-label="People here" data-testid="collab-avatars" style={{ display: "flex", gap: "0.25rem", listStyle: "none", margin: 0, padding: 0 }}>
        {presence.map((p) => (
          <li
            key={p.clientId}
            title={p.self ? `${p.name} (you)` : p.name}
            data-name={p.name}
            style={{
              width: 28,
              height: 28,
              borderRadius: "50%",
              background: p.color,
              color: "white",
              display: "grid",
              placeItems: "center",
              fontSize: 12,
              fontWeight: 600,
              outline: p.self ? "2px solid var(--border)" : undefined,
            }}
          >
            {initials(p.name)}
          </li>
        ))}
      </ul>
    </div>
  );
}

function initials(name: string): string {
  const parts = name.trim().split(/\s+/).filter(Boolean);
  return ((parts[0]?.[0] ?? "?") + (parts.length > 1 ? parts[parts.length - 1][0] : "")).toUpperCase();
}

function badgeStyle(tone: "ok" | "warn" | "danger" | "muted"): React.CSSProperties {
  const colors = {
    ok: ["var(--ok-soft)", "var(--ok)"],
    warn: ["#fef6e0", "#92400e"],
    danger: ["var(--danger-soft)", "var(--danger)"],
    muted: ["var(--bg)", "var(--muted)"],
  }[tone];
  return { background: colors[0], color: colors[1], borderRadius: 999, padding: "0.15rem 0.6rem", fontSize: "0.85rem" };
}
