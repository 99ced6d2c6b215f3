"use client";
import "uplot/dist/uPlot.min.css";
import { useEffect, useMemo, useRef, useState } from "react";
import type uPlotType from "uplot";

/** One metric as parallel, step-sorted columns (the shape `run.metrics` returns). */
export type MetricSeries = { name: string; steps: number[]; values: number[] };
export type MetricPoint = { name: string; step: number; value: number };

// Distinguishable on white and for common colour-vision deficiencies (Okabe-Ito based).
const COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8c564b"];

/** Adds live points to the series, keeping each sorted by step; a step already present is ignored (points are idempotent). */
export function appendPoints(series: Map<string, MetricSeries>, points: MetricPoint[]) {
  for (const p of points) {
    let s = series.get(p.name);
    if (!s) series.set(p.name, (s = { name: p.name, steps: [], values: [] }));
    const last = s.steps.length ? s.steps[s.steps.length - 1] : -Infinity;
    if (p.step > last) {
      s.steps.push(p.step);
      s.values.push(p.value);
      continue;
    }
    let lo = 0;
    let hi = s.steps.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (s.steps[mid] < p.step) lo = mid + 1;
      else hi = mid;
    }
    if (s.steps[lo] === p.step) continue;
    s.steps.splice(lo, 0, p.step);
    s.values.splice(lo, 0, p.value);
  }
}

/** uPlot wants one shared x column: the union of all steps, with gaps as null. */
function align(series: MetricSeries[]): uPlotType.AlignedData {
  const shared = series.length > 0 && series.every((s) => s.steps.length === series[0].steps.length && s.steps.every((x, i) => x === series[0].steps[i]));
  if (shared) return [Float64Array.from(series[0].steps), ...series.map((s) => Float64Array.from(s.values))];
  const all = new Float64Array(series.reduce((n, s) => n + s.steps.length, 0));
  let k = 0;
  for (const s of series) for (const x of s.steps) all[k++] = x;
  all.sort();
  let n = 0;
  for (let i = 0; i < all.length; i++) if (i === 0 || all[i] !== all[i - 1]) all[n++] = all[i];
  const xs = all.slice(0, n);
  const ys = series.map((s) => {
    const out: (number | null)[] = new Array(n).fill(null);
    let j = 0;
    for (let i = 0; i < s.steps.length; i++) {
      while (xs[j] < s.steps[i]) j++;
      out[j] = s.values[i];
    }
    return out;
  });
  return [xs, ...ys] as uPlotType.AlignedData;
}

/**
 * A line chart of a run's metrics, one series per name. The parent owns the data map and bumps
 * `version` when it changed; redraws are batched to one per animation frame, so a fast stream of
 * points stays cheap.
 */
export function MetricsChart({ series, version }: { series: Map<string, MetricSeries>; version: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlotType | null>(null);
  const names = useMemo(() => [...series.keys()].sort(), [series, version]); // eslint-disable-line react-hooks/exhaustive-deps
  const namesKey = names.join("\n");
  const [showTable, setShowTable] = useState(false);

  // (Re)create the chart when the set of metric names changes.
  useEffect(() => {
    let cancelled = false;
    let observer: ResizeObserver | null = null;
    const el = box.current;
    if (!el || names.length === 0) return;
    void import("uplot").then(({ default: uPlot }) => {
      if (cancelled) return;
      const width = Math.max(320, el.clientWidth);
      plot.current = new uPlot(
        {
          width,
          height: 320,
          scales: { x: { time: false } },
          axes: [{ label: "step" }, { label: "value", size: 60 }],
          series: [{ label: "step" }, ...names.map((name, i) => ({ label: name, stroke: COLORS[i % COLORS.length], width: 1.5, spanGaps: true, points: { show: false } }))],
          cursor: { drag: { x: true, y: false } },
          legend: { live: true },
        },
        align(names.map((n) => series.get(n)!)),
        el,
      );
      observer = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(320, el.clientWidth), height: 320 }));
      observer.observe(el);
    });
    return () => {
      cancelled = true;
      observer?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [namesKey]); // eslint-disable-line react-hooks/exhaustive-deps

  // New points for known names: one setData per frame.
  useEffect(() => {
    const frame = requestAnimationFrame(() => plot.current?.setData(align(names.map((n) => series.get(n)!))));
    return () => cancelAnimationFrame(frame);
  }, [version]); // eslint-disable-line react-hooks/exhaustive-deps

  if (names.length === 0) return <p className="empty">No metrics logged yet.</p>;
  const total = names.reduce((n, name) => n + series.get(name)!.steps.length, 0);
  return (
    <div>
      <div className="row" style={{ justifyContent: "space-between", marginBottom: "0.5rem" }}>
        <span className="hint" data-testid="metric-count">
          {names.length} metric{names.length === 1 ? "" : "s"}, {total.toLocaleString()} points · drag to zoom, double-click to reset, click a legend entry to hide it
        </span>
        <button className="btn btn-small" onClick={() => setShowTable(!showTable)} aria-pressed={showTable}>
          {showTable ? "Show chart" : "Show as table"}
        </button>
      </div>
      <div ref={box} className="chart-box" data-testid="metrics-chart" role="img" aria-label={`Line chart of ${names.join(", ")} by step`} hidden={showTable} />
      {showTable ? <MetricsTable names={names} series={series} /> : null}
    </div>
  );
}

const TABLE_ROWS = 200;

function MetricsTable({ names, series }: { names: string[]; series: Map<string, MetricSeries> }) {
  const data = align(names.map((n) => series.get(n)!));
  const xs = data[0];
  const start = Math.max(0, xs.length - TABLE_ROWS);
  const stats = names.map((name) => {
    const v = series.get(name)!.values;
    let min = Infinity;
    let max = -Infinity;
    for (const x of v) {
      if (x < min) min = x;
      if (x > max) max = x;
    }
    return { name, count: v.length, last: v[v.length - 1], min, max };
  });
  const fmt = (x: number | null | undefined) => (x === null || x === undefined ? "—" : Number.isInteger(x) ? String(x) : x.toPrecision(5));
  return (
    <div className="stack" data-testid="metrics-table">
      <table className="table">
        <caption className="hint">Summary per metric</caption>
        <thead>
          <tr>
            <th scope="col">Metric</th>
            <th scope="col">Points</th>
            <th scope="col">Last</th>
            <th scope="col">Min</th>
            <th scope="col">Max</th>
          </tr>
        </thead>
        <tbody>
          {stats.map((s) => (
            <tr key={s.name}>
              <th scope="row" className="mono">
                {s.name}
              </th>
              <td>{s.count}</td>
              <td>{fmt(s.last)}</td>
              <td>{fmt(s.min)}</td>
              <td>{fmt(s.max)}</td>
            </tr>
          ))}
        </tbody>
      </table>
      <div className="scroll-x" style={{ maxHeight: "24rem", overflowY: "auto" }}>
        <table className="table">
          <caption className="hint">{start > 0 ? `The last ${TABLE_ROWS} of ${xs.length} steps` : "Every step"}</caption>
          <thead>
            <tr>
              <th scope="col">Step</th>
              {names.map((n) => (
                <th key={n} scope="col">
                  {n}
                </th>
              ))}
            </tr>
          </thead>
          <tbody>
            {Array.from({ length: xs.length - start }, (_, k) => start + k).map((i) => (
              <tr key={i}>
                <th scope="row">{xs[i]}</th>
                {names.map((n, j) => (
                  <td key={n}>{fmt((data[j + 1] as ArrayLike<number | null>)[i])}</td>
                ))}
              </tr>
            ))}
          </tbody>
        </table>
      </div>
    </div>
  );
}
