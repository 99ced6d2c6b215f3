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

/** Metrics whose values are fractions in [0, 1] by their name, drawn on a 0 to 1 axis. */
const FRACTION_NAMES = /(^|[_./-])(acc|accuracy|acc_norm|pass_?rate|progress)$/i;

/** The y range of one metric's chart: its own values with a little room, never another metric's. */
export function yRangeFor(name: string, values: ArrayLike<number>): [number, number] {
  let min = Infinity;
  let max = -Infinity;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (!Number.isFinite(v)) continue;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  if (min === Infinity) return [0, 1];
  if (FRACTION_NAMES.test(name) && min >= 0 && max <= 1) return [0, 1];
  const span = max - min;
  const pad = span > 0 ? span * 0.05 : Math.abs(max) * 0.05 || 0.5;
  // A metric that stays at or above zero keeps zero as its floor when the padding would cross it.
  const low = min >= 0 && min - pad < 0 ? 0 : min - pad;
  return [low, max + pad];
}

/**
 * A run's metrics as small multiples: one chart per metric, each on its own y axis (loss, learning
 * rate and tokens per second differ by orders of magnitude, and on one axis the loss is a flat line).
 * The parent owns the data map and bumps `version` when it changed; redraws are batched to one per
 * animation frame, so a fast stream of points stays cheap.
 */
export function MetricsChart({ series, version }: { series: Map<string, MetricSeries>; version: number }) {
  const names = useMemo(() => [...series.keys()].sort(), [series, version]); // eslint-disable-line react-hooks/exhaustive-deps
  const [showTable, setShowTable] = useState(false);

  if (names.length === 0) return <p className="empty">No metrics logged yet.</p>;
  const total = names.reduce((n, name) => n + series.get(name)!.steps.length, 0);
  return (
    <div>
      <div className="row" style={{ justifyContent: "space-between", marginBottom: "0.5rem" }}>
        <span className="hint" data-testid="metric-count">
          {names.length} metric{names.length === 1 ? "" : "s"}, {total.toLocaleString()} points · one chart per metric, each on its own axis · drag to zoom, double-click to reset
        </span>
        <button className="btn btn-small" onClick={() => setShowTable(!showTable)} aria-pressed={showTable}>
          {showTable ? "Show chart" : "Show as table"}
        </button>
      </div>
      <div className="chart-grid" data-testid="metrics-chart" hidden={showTable}>
        {names.map((name, i) => (
          <MetricPanel key={name} name={name} color={COLORS[i % COLORS.length]} series={series.get(name)!} version={version} />
        ))}
      </div>
      {showTable ? <MetricsTable names={names} series={series} /> : null}
    </div>
  );
}

const PANEL_HEIGHT = 180;

/** One metric's chart. Its y range is written to data attributes, so what the axis spans can be checked. */
function MetricPanel({ name, color, series, version }: { name: string; color: string; series: MetricSeries; version: number }) {
  const box = useRef<HTMLDivElement>(null);
  const plot = useRef<uPlotType | null>(null);
  const latest = useRef(series);
  latest.current = series;

  useEffect(() => {
    let cancelled = false;
    let observer: ResizeObserver | null = null;
    const el = box.current;
    if (!el) return;
    const writeRange = (u: uPlotType) => {
      el.dataset.yMin = String(u.scales.y.min);
      el.dataset.yMax = String(u.scales.y.max);
    };
    void import("uplot").then(({ default: uPlot }) => {
      if (cancelled) return;
      const s = latest.current;
      plot.current = new uPlot(
        {
          width: Math.max(240, el.clientWidth),
          height: PANEL_HEIGHT,
          scales: { x: { time: false }, y: { range: (u) => yRangeFor(name, (u.data[1] ?? []) as ArrayLike<number>) } },
          axes: [{ label: "step", size: 36 }, { size: 64 }],
          series: [{ label: "step" }, { label: name, stroke: color, width: 1.5, spanGaps: true, points: { show: false } }],
          cursor: { drag: { x: true, y: false } },
          legend: { show: false },
          hooks: { setScale: [(u, key) => key === "y" && writeRange(u)] },
        },
        [Float64Array.from(s.steps), Float64Array.from(s.values)],
        el,
      );
      writeRange(plot.current);
      observer = new ResizeObserver(() => plot.current?.setSize({ width: Math.max(240, el.clientWidth), height: PANEL_HEIGHT }));
      observer.observe(el);
    });
    return () => {
      cancelled = true;
      observer?.disconnect();
      plot.current?.destroy();
      plot.current = null;
    };
  }, [name, color]);

  // New points: one setData per frame.
  useEffect(() => {
    const frame = requestAnimationFrame(() => plot.current?.setData([Float64Array.from(latest.current.steps), Float64Array.from(latest.current.values)]));
    return () => cancelAnimationFrame(frame);
  }, [version]);

  const last = series.values[series.values.length - 1];
  return (
    <figure className="chart-panel">
      <figcaption className="row" style={{ justifyContent: "space-between" }}>
        <b className="mono">{name}</b>
        <span className="hint">last {formatMetric(last)}</span>
      </figcaption>
      <div ref={box} className="chart-box-small" data-testid={`metric-chart-${name}`} role="img" aria-label={`Line chart of ${name} by step`} />
    </figure>
  );
}

/** Five significant digits without trailing zeros: 0.05, 2.3457, 1.2e-7. */
export function formatMetric(x: number | null | undefined) {
  return x === null || x === undefined ? "—" : Number.isInteger(x) ? String(x) : String(Number(x.toPrecision(5)));
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
  const fmt = formatMetric;
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
