"use client";
import Link from "next/link";
import { useParams } from "next/navigation";
import { useMutation, useQuery, useQueryClient } from "@tanstack/react-query";
import { useState, type FormEvent, type ReactNode } from "react";
import { useTRPC } from "@/app/_lib/trpc";
import { ErrorAlert, fieldError, formatDate, Loading } from "@/app/_components/ui";
import { ProjectCrumbs, Section, useProjectAccess } from "@/app/_components/records";
import { RunStatusBadge } from "@/app/_components/RunStatusBadge";

const pad = (n: number) => String(n).padStart(2, "0");

/** "every hour at :15" / "every day at 06:30 UTC". */
function timetable(interval: string, offsetMinutes: number): string {
  return interval === "HOURLY" ? `every hour at :${pad(offsetMinutes)}` : `every day at ${pad(Math.floor(offsetMinutes / 60))}:${pad(offsetMinutes % 60)} UTC`;
}

const points = (score: number | null | undefined) => (score === null || score === undefined ? "–" : `${score.toFixed(1)}%`);

type FiringRun = { runId: string; score: number | null; previousScore?: number | null; alerted: boolean; regressions: number; run: { status: string } };

/** A firing's runs: each a link to the run, its status, its pass rate and whether it alerted. */
function FiringRuns({ base, runs }: { base: string; runs: FiringRun[] }) {
  if (!runs.length) return <span className="muted">no runs</span>;
  return (
    <div className="stack" style={{ gap: "0.25rem" }}>
      {runs.map((r) => (
        <div key={r.runId} className="row" style={{ gap: "0.4rem" }} data-testid="firing-run">
          <Link href={`${base}/runs/${r.runId}`} className="mono">
            {r.runId.slice(-8)}
          </Link>
          <RunStatusBadge status={r.run.status} />
          <span data-testid="firing-score">{points(r.score)}</span>
          {r.alerted ? (
            <span className="badge badge-danger" title={r.regressions ? `${r.regressions} case(s) went from pass to fail` : undefined}>
              alert{r.regressions ? ` · ${r.regressions} regressed` : ""}
            </span>
          ) : null}
        </div>
      ))}
    </div>
  );
}

export default function SchedulesPage() {
  const { orgId, projectId } = useParams<{ orgId: string; projectId: string }>();
  const base = `/orgs/${orgId}/projects/${projectId}`;
  const trpc = useTRPC();
  const queryClient = useQueryClient();
  const access = useProjectAccess(projectId);
  const canManage = access.canApprove; // OWNER or ADMIN
  const schedules = useQuery({ ...trpc.schedule.list.queryOptions({ projectId }), refetchInterval: 15_000 });
  const refresh = () => queryClient.invalidateQueries({ queryKey: trpc.schedule.list.queryKey({ projectId }) });
  const [open, setOpen] = useState<string | null>(null);
  const [secret, setSecret] = useState<{ name: string; secret: string } | null>(null);
  const setEnabled = useMutation(trpc.schedule.setEnabled.mutationOptions({ onSuccess: refresh }));
  const remove = useMutation(trpc.schedule.delete.mutationOptions({ onSuccess: refresh }));
  const runNow = useMutation(
    trpc.schedule.runNow.mutationOptions({
      onSuccess: (_r, input) => (refresh(), queryClient.invalidateQueries({ queryKey: trpc.schedule.get.queryKey({ scheduleId: input.scheduleId }) })),
    }),
  );
  const [editing, setEditing] = useState<string | null>(null);
  const update = useMutation(
    trpc.schedule.update.mutationOptions({
      onSuccess: (r) => {
        setEditing(null);
        if (r.webhookSecret) setSecret({ name: r.schedule.name, secret: r.webhookSecret });
        return refresh();
      },
    }),
  );
  const rotate = useMutation(trpc.schedule.update.mutationOptions({ onSuccess: (r) => (r.webhookSecret ? setSecret({ name: r.schedule.name, secret: r.webhookSecret }) : null, refresh()) }));

  return (
    <>
      <ProjectCrumbs orgId={orgId} projectId={projectId} />
      <div className="page-header">
        <div>
          <h1>Schedules</h1>
          <p className="subtitle">
            Drift watch: published suite versions re-run against a model alias or an endpoint every hour or day. A pass rate that falls by more than the margin, or a
            case that goes from pass to fail, notifies every member and calls the webhook.
          </p>
        </div>
      </div>

      {secret ? (
        <div style={{ margin: "1rem 0" }}>
          <div className="alert alert-ok">
            The webhook secret of &ldquo;{secret.name}&rdquo;: copy it to the receiver now. Hearth keeps it encrypted and cannot show it again. Each request carries{" "}
            <code>x-hearth-timestamp</code> and <code>x-hearth-signature: sha256=HMAC(secret, &quot;timestamp.body&quot;)</code>.
          </div>
          <div className="secret mono" data-testid="webhook-secret">
            {secret.secret}
          </div>
        </div>
      ) : null}

      <section className="card">
        <h2>Schedules</h2>
        <ErrorAlert error={schedules.error ?? setEnabled.error ?? remove.error ?? runNow.error ?? rotate.error} />
        {schedules.isLoading ? (
          <Loading what="schedules" />
        ) : schedules.data?.length === 0 ? (
          <p className="empty">No schedules yet.{canManage ? " Make one below." : " An ADMIN makes them."}</p>
        ) : (
          <div className="scroll-x">
            <table className="table" data-testid="schedules">
              <thead>
                <tr>
                  <th>Name</th>
                  <th>Suite versions</th>
                  <th>Against</th>
                  <th>When</th>
                  <th>Alerts</th>
                  <th>Last firing</th>
                  <th />
                </tr>
              </thead>
              <tbody>
                {schedules.data?.map((s) => (
                  <ScheduleRows
                    key={s.id}
                    base={base}
                    schedule={s}
                    open={open === s.id}
                    onToggle={() => setOpen(open === s.id ? null : s.id)}
                    editor={
                      editing === s.id ? (
                        <ScheduleForm
                          projectId={projectId}
                          initial={s}
                          error={update.error}
                          pending={update.isPending}
                          submitLabel="Save"
                          testId="schedule-edit-form"
                          onSubmit={(input) => update.mutate({ scheduleId: s.id, ...input })}
                          onCancel={() => setEditing(null)}
                        />
                      ) : null
                    }
                    actions={
                      <div className="row" style={{ justifyContent: "flex-end", gap: "0.4rem" }}>
                        {access.canEdit ? (
                          <button className="btn btn-small" disabled={runNow.isPending} onClick={() => runNow.mutate({ scheduleId: s.id })}>
                            Run now
                          </button>
                        ) : null}
                        {canManage ? (
                          <>
                            <button className="btn btn-small" onClick={() => (update.reset(), setEditing(editing === s.id ? null : s.id))}>
                              Edit
                            </button>
                            <button className="btn btn-small" onClick={() => setEnabled.mutate({ scheduleId: s.id, enabled: !s.enabled })}>
                              {s.enabled ? "Pause" : "Resume"}
                            </button>
                            {s.webhookUrl ? (
                              <button
                                className="btn btn-small"
                                onClick={() => {
                                  if (window.confirm(`Make a new webhook secret for "${s.name}"? The receiver must be given the new one.`)) rotate.mutate({ scheduleId: s.id, rotateWebhookSecret: true });
                                }}
                              >
                                New secret
                              </button>
                            ) : null}
                            <button
                              className="btn btn-small btn-danger"
                              onClick={() => {
                                if (window.confirm(`Delete the schedule "${s.name}"? Its runs stay; its firings and pending webhook calls go.`)) remove.mutate({ scheduleId: s.id });
                              }}
                            >
                              Delete
                            </button>
                          </>
                        ) : null}
                      </div>
                    }
                  />
                ))}
              </tbody>
            </table>
          </div>
        )}
      </section>

      {canManage ? <CreateSchedule projectId={projectId} onCreated={(name, s) => (s ? setSecret({ name, secret: s }) : setSecret(null), refresh())} /> : null}
    </>
  );
}

type ListedSchedule = {
  id: string;
  name: string;
  enabled: boolean;
  interval: string;
  offsetMinutes: number;
  marginPoints: number;
  alias: string | null;
  modelId: string | null;
  endpointId: string | null;
  modelName: string | null;
  endpointName: string | null;
  webhookUrl: string | null;
  nextRunAt: Date;
  suiteVersions: { id: string; version: number | null; suiteName: string | null }[];
  lastFiring: { slot: Date; error: string | null; runs: FiringRun[] } | null;
};

function ScheduleRows({ base, schedule: s, open, onToggle, actions, editor }: { base: string; schedule: ListedSchedule; open: boolean; onToggle: () => void; actions: ReactNode; editor: ReactNode }) {
  return (
    <>
      <tr data-testid="schedule-row">
        <td>
          <button className="btn btn-small" aria-expanded={open} onClick={onToggle} title="Firings and webhook calls">
            {open ? "▾" : "▸"}
          </button>{" "}
          <strong>{s.name}</strong> {s.enabled ? null : <span className="badge badge-warn">paused</span>}
        </td>
        <td>
          {s.suiteVersions.map((v) => (
            <div key={v.id}>{v.suiteName ? `${v.suiteName} v${v.version}` : <span className="muted">deleted version</span>}</div>
          ))}
        </td>
        <td>{s.endpointName ? `endpoint ${s.endpointName}` : `${s.modelName ?? "?"} @ ${s.alias}`}</td>
        <td>
          {timetable(s.interval, s.offsetMinutes)}
          {s.enabled ? <div className="muted">next {formatDate(s.nextRunAt)}</div> : null}
        </td>
        <td>
          drop &gt; {s.marginPoints} points or a regressed case
          {s.webhookUrl ? <div className="muted mono" title={s.webhookUrl}>→ {new URL(s.webhookUrl).host} (signed)</div> : null}
        </td>
        <td>
          {s.lastFiring ? (
            <>
              <div className="muted">{formatDate(s.lastFiring.slot)}</div>
              {s.lastFiring.error ? <div className="text-danger">{s.lastFiring.error}</div> : null}
              <FiringRuns base={base} runs={s.lastFiring.runs} />
            </>
          ) : (
            <span className="muted">not yet</span>
          )}
        </td>
        <td>{actions}</td>
      </tr>
      {editor ? (
        <tr>
          <td colSpan={7}>{editor}</td>
        </tr>
      ) : null}
      {open ? (
        <tr>
          <td colSpan={7}>
            <ScheduleHistory base={base} scheduleId={s.id} />
          </td>
        </tr>
      ) : null}
    </>
  );
}

function ScheduleHistory({ base, scheduleId }: { base: string; scheduleId: string }) {
  const trpc = useTRPC();
  const detail = useQuery(trpc.schedule.get.queryOptions({ scheduleId }));
  if (detail.isLoading) return <Loading what="firings" />;
  if (detail.error) return <ErrorAlert error={detail.error} />;
  const d = detail.data!;
  return (
    <div className="stack" data-testid="schedule-history">
      <h3>Firings</h3>
      {d.firings.length === 0 ? (
        <p className="muted">None yet.</p>
      ) : (
        <table className="table">
          <thead>
            <tr>
              <th>Slot</th>
              <th>How</th>
              <th>Runs (pass rate, previous)</th>
            </tr>
          </thead>
          <tbody>
            {d.firings.map((f) => (
              <tr key={f.id}>
                <td>{formatDate(f.slot)}</td>
                <td>{f.manual ? "run now" : "scheduled"}</td>
                <td>
                  {f.error ? <div className="text-danger">{f.error}</div> : null}
                  <FiringRuns base={base} runs={f.runs} />
                  {f.runs.some((r) => r.previousScore !== null) ? <div className="muted">previous: {f.runs.map((r) => points(r.previousScore)).join(", ")}</div> : null}
                </td>
              </tr>
            ))}
          </tbody>
        </table>
      )}
      {d.webhookUrl ? (
        <>
          <h3>Webhook calls</h3>
          {d.deliveries.length === 0 ? (
            <p className="muted">None yet: a call is made when an alert is raised.</p>
          ) : (
            <table className="table" data-testid="webhook-deliveries">
              <thead>
                <tr>
                  <th>Raised</th>
                  <th>Status</th>
                  <th>Attempts</th>
                  <th>Last answer</th>
                </tr>
              </thead>
              <tbody>
                {d.deliveries.map((w) => (
                  <tr key={w.id}>
                    <td>{formatDate(w.createdAt)}</td>
                    <td>
                      <span className={w.status === "DELIVERED" ? "badge badge-ok" : w.status === "FAILED" ? "badge badge-danger" : "badge"}>{w.status}</span>
                      {w.status === "PENDING" ? <div className="muted">next try {formatDate(w.nextAttemptAt)}</div> : null}
                    </td>
                    <td>
                      {w.attempts} of {w.maxAttempts}
                    </td>
                    <td className="muted">{w.lastError ?? (w.lastStatus ? `HTTP ${w.lastStatus}` : "–")}</td>
                  </tr>
                ))}
              </tbody>
            </table>
          )}
        </>
      ) : null}
    </div>
  );
}

type ScheduleInput = {
  name: string;
  suiteVersionIds: string[];
  target: { kind: "alias"; modelId: string; alias: string } | { kind: "endpoint"; endpointId: string };
  interval: "HOURLY" | "DAILY";
  offsetMinutes: number;
  marginPoints: number;
  webhookUrl: string | null;
  webhookSecret?: string;
};

function CreateSchedule({ projectId, onCreated }: { projectId: string; onCreated: (name: string, secret: string | null) => void }) {
  const trpc = useTRPC();
  const create = useMutation(trpc.schedule.create.mutationOptions());
  return (
    <Section title="Make a schedule">
      <ScheduleForm
        projectId={projectId}
        error={create.error}
        pending={create.isPending}
        submitLabel="Make schedule"
        onSubmit={(input, form) =>
          create.mutate(
            { projectId, ...input },
            {
              onSuccess: (r) => {
                form.reset();
                onCreated(r.schedule.name, r.webhookSecret);
              },
            },
          )
        }
      />
    </Section>
  );
}

/** What a schedule's form edits: the same fields for a new schedule and for a change to one. */
function ScheduleForm(props: {
  projectId: string;
  initial?: ListedSchedule;
  error: unknown;
  pending: boolean;
  submitLabel: string;
  onSubmit: (input: ScheduleInput, form: HTMLFormElement) => void;
  onCancel?: () => void;
  testId?: string;
}) {
  const { projectId, initial, error } = props;
  const trpc = useTRPC();
  const suites = useQuery(trpc.suite.list.queryOptions({ projectId }));
  const models = useQuery(trpc.model.list.queryOptions({ projectId }));
  const endpoints = useQuery(trpc.endpoint.list.queryOptions({ projectId }));
  const [targetKind, setTargetKind] = useState<"alias" | "endpoint">(initial?.endpointId ? "endpoint" : "alias");
  const [interval, setIntervalKind] = useState<"HOURLY" | "DAILY">((initial?.interval as "HOURLY" | "DAILY" | undefined) ?? "DAILY");
  // Each suite's latest version, and whatever older versions the schedule already runs.
  const choices = [
    ...(suites.data?.flatMap((s) => (s.latest ? [{ id: s.latest.id, label: `${s.name} v${s.latest.version} · ${s.latest.caseCount} cases` }] : [])) ?? []),
    ...(initial?.suiteVersions.filter((v) => !suites.data?.some((s) => s.latest?.id === v.id)).map((v) => ({ id: v.id, label: `${v.suiteName ?? "deleted suite"} v${v.version ?? "?"}` })) ?? []),
  ];
  const offset = initial?.offsetMinutes ?? (interval === "DAILY" ? 360 : 0);

  // Drawn once the choices are in: a select's default is applied when it first renders, and a form
  // shown before its options would quietly save the first model instead of the schedule's own.
  if (!suites.data || !models.data || !endpoints.data) {
    const failed = suites.error ?? models.error ?? endpoints.error;
    return failed ? <ErrorAlert error={failed} /> : <Loading what="the form's choices" />;
  }

  function onSubmit(event: FormEvent<HTMLFormElement>) {
    event.preventDefault();
    const form = event.currentTarget;
    const data = new FormData(form);
    const [hours, minutes] = String(data.get("at") ?? "0:0").split(":").map(Number);
    const webhookUrl = String(data.get("webhookUrl") ?? "").trim();
    const webhookSecret = String(data.get("webhookSecret") ?? "");
    props.onSubmit(
      {
        name: String(data.get("name")),
        suiteVersionIds: data.getAll("suiteVersionId").map(String),
        target: targetKind === "alias" ? { kind: "alias", modelId: String(data.get("modelId")), alias: String(data.get("alias")) } : { kind: "endpoint", endpointId: String(data.get("endpointId")) },
        interval,
        offsetMinutes: interval === "HOURLY" ? Number(data.get("minute")) : hours * 60 + minutes,
        marginPoints: Number(data.get("marginPoints")),
        webhookUrl: webhookUrl || null,
        ...(webhookSecret ? { webhookSecret } : {}),
      },
      form,
    );
  }

  return (
    <form className="stack" onSubmit={onSubmit} data-testid={props.testId ?? "schedule-form"}>
      <ErrorAlert error={error && !(error as { data?: { fieldErrors?: unknown } }).data?.fieldErrors ? error : null} />
      <label className="field">
        Name
        <input name="name" required maxLength={120} defaultValue={initial?.name} placeholder="production nightly" />
        <span className="field-error">{fieldError(error, "name")}</span>
      </label>
      <fieldset className="field">
        <legend>Suite versions (each suite&apos;s latest published version)</legend>
        {choices.length === 0 ? <p className="muted">No suite has a published version yet: publish one on its page.</p> : null}
        {choices.map((c) => (
          <label key={c.id} className="field-inline">
            <input type="checkbox" name="suiteVersionId" value={c.id} defaultChecked={initial?.suiteVersions.some((v) => v.id === c.id)} /> {c.label}
          </label>
        ))}
        <span className="field-error">{fieldError(error, "suiteVersionIds")}</span>
      </fieldset>
      <fieldset className="field">
        <legend>Against</legend>
        <div className="row">
          <label className="field-inline">
            <input type="radio" name="targetKind" checked={targetKind === "alias"} onChange={() => setTargetKind("alias")} /> a model alias
          </label>
          <label className="field-inline">
            <input type="radio" name="targetKind" checked={targetKind === "endpoint"} onChange={() => setTargetKind("endpoint")} /> an endpoint
          </label>
        </div>
        {targetKind === "alias" ? (
          <div className="inline">
            <label className="field grow">
              Model
              <select name="modelId" required aria-label="Model" defaultValue={initial?.modelId ?? undefined}>
                {models.data?.map((m) => (
                  <option key={m.id} value={m.id}>
                    {m.name}
                    {m.aliases.length ? ` (${m.aliases.map((a) => a.name).join(", ")})` : ""}
                  </option>
                ))}
              </select>
            </label>
            <label className="field">
              Alias
              <input name="alias" required maxLength={64} defaultValue={initial?.alias ?? "production"} aria-label="Alias" />
              <span className="field-error">{fieldError(error, "target.alias")}</span>
            </label>
          </div>
        ) : (
          <label className="field">
            Endpoint
            <select name="endpointId" required aria-label="Endpoint" defaultValue={initial?.endpointId ?? undefined}>
              {endpoints.data?.map((e) => (
                <option key={e.id} value={e.id}>
                  {e.name} · {e.model}
                </option>
              ))}
            </select>
          </label>
        )}
        <p className="hint">An alias is read when the schedule fires: small Hugging Face folder versions run on the server, others on a GPU node.</p>
      </fieldset>
      <div className="inline">
        <label className="field">
          Every
          <select name="interval" value={interval} onChange={(e) => setIntervalKind(e.target.value as "HOURLY" | "DAILY")} aria-label="Interval">
            <option value="DAILY">day</option>
            <option value="HOURLY">hour</option>
          </select>
        </label>
        {interval === "DAILY" ? (
          <label className="field">
            At (UTC)
            <input name="at" type="time" defaultValue={`${pad(Math.floor(offset / 60) % 24)}:${pad(offset % 60)}`} required aria-label="At (UTC)" />
          </label>
        ) : (
          <label className="field">
            Minute past the hour
            <input name="minute" type="number" min={0} max={59} defaultValue={offset % 60} required aria-label="Minute past the hour" />
          </label>
        )}
        <label className="field">
          Alert margin (points)
          <input name="marginPoints" type="number" min={0} max={100} step={0.5} defaultValue={initial?.marginPoints ?? 5} required aria-label="Alert margin (points)" />
          <span className="field-error">{fieldError(error, "marginPoints")}</span>
        </label>
      </div>
      <div className="inline">
        <label className="field grow">
          Webhook URL (optional)
          <input name="webhookUrl" maxLength={2000} defaultValue={initial?.webhookUrl ?? ""} placeholder="https://hooks.example.com/hearth" aria-label="Webhook URL" />
          <span className="field-error">{fieldError(error, "webhookUrl")}</span>
        </label>
        <label className="field">
          Secret (optional)
          <input name="webhookSecret" type="password" autoComplete="off" minLength={16} maxLength={200} placeholder={initial?.webhookUrl ? "leave empty to keep it" : "Hearth makes one"} aria-label="Webhook secret" />
          <span className="field-error">{fieldError(error, "webhookSecret")}</span>
        </label>
      </div>
      <p className="hint">
        Addresses inside your network (loopback, private ranges, cloud metadata) are refused unless the operator lists them in <code>HEARTH_ENDPOINT_ALLOWLIST</code>.
      </p>
      <div className="row">
        <button className="btn btn-primary" disabled={props.pending}>
          {props.submitLabel}
        </button>
        {props.onCancel ? (
          <button type="button" className="btn" onClick={props.onCancel}>
            Cancel
          </button>
        ) : null}
      </div>
    </form>
  );
}
