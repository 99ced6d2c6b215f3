// Shared test helpers: one Dawn context per test file, seeded random data, tolerant comparisons,
// and central finite differences over the float64 CPU references.

import { expect } from "vitest";
import { requestNodeGpuContext } from "../../gpu/device-node";
import type { GpuContext } from "../../gpu/device";

let ctxPromise: Promise<GpuContext> | null = null;

/** Fails (never skips) when no adapter can be acquired: CI installs chromium for SwiftShader. */
export function gpuContext(): Promise<GpuContext> {
  ctxPromise ??= requestNodeGpuContext().catch((e: Error) => {
    throw new Error(`GPU tests need a WebGPU adapter in Node and none was acquired: ${e.message}`);
  });
  return ctxPromise;
}

/** Mulberry32: reproducible random numbers per test. */
export function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

export function randn(r: () => number, n: number, scale = 1): Float32Array {
  return Float32Array.from({ length: n }, () => (r() * 2 - 1) * scale);
}

export function randInt(r: () => number, lo: number, hi: number): number {
  return lo + Math.floor(r() * (hi - lo + 1));
}

/** Asserts |a - e| <= atol + rtol |e| everywhere, reporting the worst element. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, label: string, atol = 1e-4, rtol = 1e-3): void {
  expect(actual.length, `${label}: length`).toBe(expected.length);
  let worst = -1;
  let worstExcess = 0;
  for (let i = 0; i < expected.length; i++) {
    const excess = Math.abs(actual[i] - expected[i]) - (atol + rtol * Math.abs(expected[i]));
    if (!(excess <= 0) && (worst < 0 || excess > worstExcess || Number.isNaN(excess))) {
      worst = i;
      worstExcess = excess;
    }
  }
  if (worst >= 0) {
    expect.fail(`${label}: element ${worst} is ${actual[worst]}, expected ${expected[worst]} (atol ${atol}, rtol ${rtol})`);
  }
}

/**
 * Gradient of L(x) = sum(f(x) * r) by central differences, in float64 over the CPU reference.
 * This is what every backward kernel is checked against.
 */
export function finiteDiff(f: (x: Float64Array) => ArrayLike<number>, x: ArrayLike<number>, r: ArrayLike<number>, h = 1e-5): Float64Array {
  const xs = Float64Array.from(x);
  const grad = new Float64Array(xs.length);
  const loss = () => {
    const y = f(xs);
    let s = 0;
    for (let i = 0; i < y.length; i++) s += y[i] * r[i];
    return s;
  };
  for (let i = 0; i < xs.length; i++) {
    const keep = xs[i];
    xs[i] = keep + h;
    const up = loss();
    xs[i] = keep - h;
    const down = loss();
    xs[i] = keep;
    grad[i] = (up - down) / (2 * h);
  }
  return grad;
}
