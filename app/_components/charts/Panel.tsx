"use client";
import { useState, type ReactNode } from "react";

/** A dashboard card with a chart and, behind a toggle, the same numbers as a table; plus actions such as CSV export. */
export function ChartPanel({ title, description, chart, table, actions, testId }: { title: string; description?: ReactNode; chart: ReactNode | null; table: ReactNode; actions?: ReactNode; testId?: string }) {
  const [showTable, setShowTable] = useState(chart === null);
  return (
    <section className="card" data-testid={testId}>
      <div className="section-head">
        <h2>{title}</h2>
        <div className="row">
          {chart !== null ? (
            <button type="button" className="btn btn-small" aria-pressed={showTable} onClick={() => setShowTable(!showTable)}>
              {showTable ? "Show chart" : "Show as table"}
            </button>
          ) : null}
          {actions}
        </div>
      </div>
      {description ? <p className="hint">{description}</p> : null}
      {showTable || chart === null ? table : chart}
    </section>
  );
}

/** Horizontal bars for a handful of rates in [0,1] (CSS only: no chart library for a few bars). */
export function RateBars({ rows }: { rows: { label: string; rate: number | null; detail: string }[] }) {
  return (
    <ul style={{ listStyle: "none", padding: 0, margin: 0, display: "grid", gap: "0.35rem" }}>
      {rows.map((r) => (
        <li key={r.label} title={`${r.label}: ${r.detail}`} style={{ display: "grid", gridTemplateColumns: "9rem 1fr 8rem", gap: "0.6rem", alignItems: "center" }}>
          <span className="mono">{r.label}</span>
          <span style={{ background: "#eeebe6", borderRadius: 4, height: "0.9rem", overflow: "hidden" }}>
            <span style={{ display: "block", height: "100%", width: `${(r.rate ?? 0) * 100}%`, background: (r.rate ?? 0) >= 0.8 ? "#009E73" : (r.rate ?? 0) >= 0.5 ? "#E69F00" : "#D55E00" }} />
          </span>
          <span style={{ fontVariantNumeric: "tabular-nums" }}>{r.detail}</span>
        </li>
      ))}
    </ul>
  );
}
