const STATUS_CLASS: Record<string, string> = {
  QUEUED: "badge",
  RUNNING: "badge badge-running",
  SUCCEEDED: "badge badge-ok",
  FAILED: "badge badge-danger",
  CANCELLED: "badge badge-warn",
};

export function RunStatusBadge({ status }: { status: string }) {
  return (
    <span className={STATUS_CLASS[status] ?? "badge"} data-testid="run-status">
      {status}
    </span>
  );
}
