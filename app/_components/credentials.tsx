"use client";
// Pieces shared by the pages that issue credentials (API keys, node tokens): the secret shown once
// after creation, and the revoke cell of a credentials table.
import type { ReactNode } from "react";

/** The just-created secret, shown once: Hearth keeps only its hash. Rendered as text. */
export function SecretShownOnce({ testId, what, instructions, children }: { testId: string; what: string; instructions?: string; children: ReactNode }) {
  return (
    <div style={{ margin: "1rem 0" }}>
      <div className="alert alert-ok">
        Copy this {what} now. Hearth stores only a hash and cannot show it again.{instructions ? ` ${instructions}` : ""}
      </div>
      <div className="secret mono" data-testid={testId}>
        {children}
      </div>
    </div>
  );
}

/** "revoked", or a Revoke button that asks first, saying what revoking stops. */
export function RevokeCell({ name, revokedAt, consequence, onRevoke }: { name: string; revokedAt: Date | string | null; consequence: string; onRevoke: () => void }) {
  if (revokedAt) return <span className="badge badge-danger">revoked</span>;
  return (
    <button
      className="btn btn-small btn-danger"
      onClick={() => {
        if (window.confirm(`Revoke "${name}"? ${consequence}`)) onRevoke();
      }}
    >
      Revoke
    </button>
  );
}
