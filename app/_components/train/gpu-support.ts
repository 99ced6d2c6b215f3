"use client";
// What this browser's GPU allows, asked once per page on the main thread (the worker asks again
// when it trains), and whether a job's estimated needs fit within it.
import { useEffect, useState } from "react";
import type { TrainJobEstimate } from "@/gpu/train";

export type BrowserGpu =
  | { status: "checking" }
  | { status: "unavailable"; reason: string }
  | { status: "ready"; adapter: string; maxBufferSize: number; maxStorageBufferBindingSize: number; memoryBudget: number; memorySource: string };

const GiB = 1024 ** 3;

async function probe(): Promise<BrowserGpu> {
  if (!window.isSecureContext) return { status: "unavailable", reason: "WebGPU needs a secure page: open Hearth over HTTPS or on localhost." };
  const gpu = (navigator as Navigator & { gpu?: GPU }).gpu;
  if (!gpu) return { status: "unavailable", reason: "This browser has no WebGPU (navigator.gpu is missing). Use a recent Chrome, Edge or Safari, or enable WebGPU in the browser's settings." };
  let adapter: GPUAdapter | null = null;
  try {
    adapter = await gpu.requestAdapter();
  } catch (e) {
    return { status: "unavailable", reason: `WebGPU found no usable GPU (${(e as Error).message}).` };
  }
  if (!adapter) return { status: "unavailable", reason: "WebGPU is available but found no GPU adapter (it may be disabled or blocked for this GPU)." };
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  // Browsers do not say how much GPU memory there is; half the device memory they report is a safe budget.
  const deviceMemory = (navigator as Navigator & { deviceMemory?: number }).deviceMemory;
  return {
    status: "ready",
    adapter: [info.vendor, info.architecture, info.description].filter(Boolean).join(" · ") || "WebGPU adapter",
    maxBufferSize: adapter.limits.maxBufferSize,
    maxStorageBufferBindingSize: adapter.limits.maxStorageBufferBindingSize,
    memoryBudget: deviceMemory ? (deviceMemory * GiB) / 2 : 2 * GiB,
    memorySource: deviceMemory ? `half of the ${deviceMemory} GiB this device reports` : "2 GiB (the browser does not report its memory)",
  };
}

export function useBrowserGpu(): BrowserGpu {
  const [state, setState] = useState<BrowserGpu>({ status: "checking" });
  useEffect(() => {
    let live = true;
    probe().then((s) => live && setState(s), (e: unknown) => live && setState({ status: "unavailable", reason: String(e) }));
    return () => {
      live = false;
    };
  }, []);
  return state;
}

/** Why a job does not fit this browser's GPU (empty when it fits). */
export function whyItDoesNotFit(estimate: TrainJobEstimate, gpu: BrowserGpu): string[] {
  if (gpu.status !== "ready") return gpu.status === "unavailable" ? [gpu.reason] : [];
  const reasons: string[] = [];
  if (estimate.largestBufferBytes > gpu.maxStorageBufferBindingSize) {
    reasons.push(`its largest buffer (${formatBytes(estimate.largestBufferBytes)}) exceeds this GPU's limit per buffer (${formatBytes(gpu.maxStorageBufferBindingSize)})`);
  }
  if (estimate.bufferBytes > gpu.memoryBudget) reasons.push(`it needs about ${formatBytes(estimate.bufferBytes)} of GPU memory, over this browser's budget of ${formatBytes(gpu.memoryBudget)}`);
  return reasons;
}

export function formatBytes(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 ** 2) return `${(bytes / 1024).toFixed(1)} KiB`;
  if (bytes < GiB) return `${(bytes / 1024 ** 2).toFixed(1)} MiB`;
  return `${(bytes / GiB).toFixed(2)} GiB`;
}

export function formatCount(n: number): string {
  if (n >= 1e9) return `${(n / 1e9).toFixed(2)} G`;
  if (n >= 1e6) return `${(n / 1e6).toFixed(2)} M`;
  if (n >= 1e3) return `${(n / 1e3).toFixed(1)} k`;
  return String(Math.round(n));
}

/**
 * This adapter's f32 matmul throughput, measured once per page: three 512 x 512 x 512 products after
 * a warm-up. Training runs below it (other kernels, readbacks), so a time from it is a lower bound.
 */
export function useAdapterSpeed(gpu: BrowserGpu): { gflops: number } | null {
  const [speed, setSpeed] = useState<{ gflops: number } | null>(null);
  useEffect(() => {
    if (gpu.status !== "ready") return;
    let live = true;
    void (async () => {
      const [{ requestBrowserGpuContext }, { matmul }] = await Promise.all([import("@/gpu/device"), import("@/gpu/ops/matmul")]);
      const ctx = await requestBrowserGpuContext({ label: "hearth-speed-probe" });
      try {
        const n = 512;
        const a = ctx.tensor(new Float32Array(n * n).fill(0.5), [n, n]);
        const b = ctx.tensor(new Float32Array(n * n).fill(0.25), [n, n]);
        await ctx.read(matmul(ctx, a, b));
        const t0 = performance.now();
        const outs = [0, 1, 2].map(() => matmul(ctx, a, b));
        await ctx.readMany(outs);
        const s = (performance.now() - t0) / 1000;
        if (live && s > 0) setSpeed({ gflops: (3 * 2 * n * n * n) / s / 1e9 });
      } finally {
        ctx.destroy();
      }
    })().catch(() => undefined);
    return () => {
      live = false;
    };
  }, [gpu.status]);
  return speed;
}

export function formatDuration(seconds: number): string {
  if (seconds < 90) return `${Math.max(1, Math.round(seconds))} s`;
  if (seconds < 5400) return `${Math.round(seconds / 60)} min`;
  if (seconds < 172_800) return `${(seconds / 3600).toFixed(1)} h`;
  return `${(seconds / 86_400).toFixed(1)} days`;
}
