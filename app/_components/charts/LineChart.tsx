"use client";
import "uplot/dist/uPlot.min.css";
import { useEffect, useRef } from "react";
import type uPlotType from "uplot";

// Distinguishable on white and for common colour-vision deficiencies (Okabe-Ito).
export const CHART_COLORS = ["#0072B2", "#D55E00", "#009E73", "#CC79A7", "#E69F00", "#56B4E9", "#000000", "#8c564b"];

export interface LineSeries {
  label: string;
  /** One value per x, null where there is none. */
  values: (number | null)[];
}

/**
 * Lines over a shared numeric x (uPlot: stays fast with thousands of points), with labelled vertical
 * markers (e.g. model aliases) and a tooltip following the cursor. Values are fractions shown as %.
 */
export function LineChart({ xs, xLabel, series, markers, ariaLabel, height = 280 }: { xs: number[]; xLabel: string; series: LineSeries[]; markers: { x: number; label: string }[]; ariaLabel: string; height?: number }) {
  const box = useRef<HTMLDivElement>(null);
  const tip = useRef<HTMLDivElement>(null);
  const key = JSON.stringify([xs, series, markers]);

  useEffect(() => {
    let cancelled = false;
    let plot: uPlotType | null = null;
    let observer: ResizeObserver | null = null;
    const el = box.current;
    if (!el) return;
    void import("uplot").then(({ default: uPlot }) => {
      if (cancelled) return;
      const drawMarkers = (u: uPlotType) => {
        const ctx = u.ctx;
        ctx.save();
        ctx.font = `${11 * devicePixelRatio}px system-ui, sans-serif`;
        for (const m of markers) {
          const x = Math.round(u.valToPos(m.x, "x", true));
          ctx.strokeStyle = "#6b665e";
          ctx.setLineDash([4 * devicePixelRatio, 3 * devicePixelRatio]);
          ctx.beginPath();
          ctx.moveTo(x, u.bbox.top);
          ctx.lineTo(x, u.bbox.top + u.bbox.height);
          ctx.stroke();
          ctx.fillStyle = "#1f1d1a";
          ctx.fillText(m.label, x + 4 * devicePixelRatio, u.bbox.top + 12 * devicePixelRatio);
        }
        ctx.restore();
      };
      const showTip = (u: uPlotType) => {
        const t = tip.current;
        const i = u.cursor.idx;
        if (!t) return;
        if (i === null || i === undefined || u.cursor.left === undefined || u.cursor.left < 0) {
          t.hidden = true;
          return;
        }
        const marks = markers.filter((m) => m.x === xs[i]).map((m) => m.label);
        const lines = series.map((s, k) => `${s.label}: ${s.values[i] === null ? "—" : `${((s.values[i] as number) * 100).toFixed(1)}%`}`);
        t.textContent = [`${xLabel} ${xs[i]}${marks.length ? ` (${marks.join(", ")})` : ""}`, ...lines].join("\n");
        t.hidden = false;
        t.style.left = `${Math.min(u.cursor.left + 12, u.over.clientWidth - 180)}px`;
        t.style.top = `${(u.cursor.top ?? 0) + 12}px`;
      };
      plot = new uPlot(
        {
          width: Math.max(320, el.clientWidth),
          height,
          scales: { x: { time: false }, y: { range: [0, 1] } },
          axes: [{ label: xLabel, incrs: [1, 2, 5, 10, 20, 50, 100, 200, 500, 1000] }, { label: "pass rate", size: 56, values: (_u, ticks) => ticks.map((v) => `${Math.round(v * 100)}%`) }],
          series: [{ label: xLabel }, ...series.map((s, i) => ({ label: s.label, stroke: CHART_COLORS[i % CHART_COLORS.length], width: 2, spanGaps: true, points: { show: xs.length <= 60, size: 6 }, value: (_u: uPlotType, v: number | null) => (v === null ? "—" : `${(v * 100).toFixed(1)}%`) }))],
          hooks: { draw: [drawMarkers], setCursor: [showTip] },
          legend: { live: true },
        },
        [xs, ...series.map((s) => s.values)] as uPlotType.AlignedData,
        el,
      );
      if (tip.current) plot.over.appendChild(tip.current);
      observer = new ResizeObserver(() => plot?.setSize({ width: Math.max(320, el.clientWidth), height }));
      observer.observe(el);
    });
    return () => {
      cancelled = true;
      observer?.disconnect();
      if (tip.current && box.current) box.current.appendChild(tip.current);
      plot?.destroy();
    };
  }, [key]); // eslint-disable-line react-hooks/exhaustive-deps

  return (
    <div ref={box} className="chart-box" role="img" aria-label={ariaLabel} style={{ position: "relative", minHeight: height + 40 }}>
      <div
        ref={tip}
        hidden
        aria-hidden
        style={{ position: "absolute", pointerEvents: "none", zIndex: 10, whiteSpace: "pre", background: "#1f1d1a", color: "#fff", padding: "0.35rem 0.5rem", borderRadius: 6, fontSize: "0.78rem" }}
      />
    </div>
  );
}
