import { readFileSync } from "node:fs";
import { describe, expect, it } from "vitest";
import { requestNodeGpuContext } from "../../gpu/device-node";
import { GpuContext, GpuDeviceLostError, GpuOutOfMemoryError } from "../../gpu/device";
import { matmul, matmulBackward } from "../../gpu/ops/matmul";
import { accumulate, gelu, geluBackward, add } from "../../gpu/ops/elementwise";
import { layerNorm } from "../../gpu/ops/layernorm";
import { crossEntropyWithGrad } from "../../gpu/ops/cross-entropy";
import { softmax } from "../../gpu/ops/softmax";
import { embedding } from "../../gpu/ops/embedding";
import { adamw } from "../../gpu/ops/adamw";
import { generatedPath, renderGenerated } from "../../gpu/kernels/build-wgsl";
import { gpuContext, randn, rng } from "./helpers";

describe("device", () => {
  it("reports features, subgroup sizes and limits of the adapter", async () => {
    const ctx = await gpuContext();
    const { features, limits, key } = ctx.report;
    expect(typeof features.shaderF16).toBe("boolean");
    expect(typeof features.subgroups).toBe("boolean");
    expect(typeof features.timestampQuery).toBe("boolean");
    if (features.subgroups) expect(features.subgroupMinSize).toBeGreaterThanOrEqual(1);
    expect(limits.maxStorageBufferBindingSize).toBeGreaterThanOrEqual(128 * 1024 * 1024);
    expect(limits.maxComputeInvocationsPerWorkgroup).toBeGreaterThanOrEqual(64);
    expect(key).toContain("maxStorageBufferBindingSize");
  });

  it("can run with optional features turned off (the f32 fallback path)", async () => {
    const ctx = await requestNodeGpuContext({ disableFeatures: ["subgroups", "shader-f16", "timestamp-query"] });
    expect(ctx.features.subgroups).toBe(false);
    const a = ctx.tensor([1, 2, 3, 4], [2, 2]);
    expect(Array.from(await ctx.read(matmul(ctx, a, a, { variant: "texture" })))).toEqual([7, 10, 15, 22]);
    ctx.destroy();
  });

  it("turns device loss into a clear error for pending and later work", async () => {
    const ctx = await requestNodeGpuContext();
    const t = ctx.tensor(new Float32Array(1024).fill(1), [1024]);
    const pending = ctx.read(gelu(ctx, t));
    ctx.device.destroy();
    await expect(pending).rejects.toThrow(GpuDeviceLostError);
    await expect(ctx.read(t)).rejects.toThrow(/device was destroyed/);
    expect(() => gelu(ctx, t)).toThrow(/device was destroyed/);
  });

  it("reports an out-of-memory allocation as a clear error naming the op and shape", async () => {
    const base = await requestNodeGpuContext();
    // Simulate a driver refusing the allocation: every error scope reports out-of-memory.
    const device = new Proxy(base.device, {
      get(target, prop) {
        if (prop === "popErrorScope") return async () => ({ message: "simulated: not enough memory" });
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
      set: (target, prop, value) => Reflect.set(target, prop, value, target),
    });
    const ctx = new GpuContext(device, base.report, base.options);
    const big = ctx.empty([3000, 4000], "f32", "layerNorm");
    const err = await ctx.read(big).then(() => null, (e: Error) => e);
    expect(err).toBeInstanceOf(GpuOutOfMemoryError);
    expect(err?.message).toBe("layerNorm [3000,4000]: out of GPU memory allocating 50331648 bytes (simulated: not enough memory)");
    base.destroy();
  });

  it("rejects a tensor larger than the device can bind, naming the op and shape", async () => {
    const ctx = await gpuContext();
    const a = ctx.empty([70000, 8]);
    const b = ctx.empty([8, 70000]);
    expect(() => matmul(ctx, a, b)).toThrow(/^matmul: tensor \[70000,70000\] needs 19600000000 bytes, more than this device allows/);
    expect(() => ctx.empty([1 << 30], "f32", "layerNorm")).toThrow(/layerNorm: tensor \[1073741824\]/);
  });

  it("names the op and shapes on mismatched inputs", async () => {
    const ctx = await gpuContext();
    expect(() => add(ctx, ctx.empty([2, 3]), ctx.empty([3, 2]))).toThrow("add: shapes differ: a is [2,3], b is [3,2]");
    expect(() => layerNorm(ctx, ctx.empty([4, 8]), ctx.empty([7]), ctx.empty([8]))).toThrow("layerNorm: gamma must be [8], got [7]");
    expect(() => crossEntropyWithGrad(ctx, ctx.empty([4, 8]), ctx.empty([5], "i32"), 1)).toThrow(
      "crossEntropyWithGrad: targets [5] do not match logits [4,8] (one target per row)",
    );
    expect(() => softmax(ctx, ctx.empty([2, 5, 4]), { causal: true })).toThrow("softmax: causal softmax needs no more queries than keys, got [2,5,4]");
    expect(() => embedding(ctx, ctx.empty([2, 10], "i32"), ctx.empty([5, 4]), ctx.empty([8, 4]))).toThrow(
      "embedding: sequence length 10 (tokens [2,10]) exceeds wpe's 8 positions",
    );
    expect(() => embedding(ctx, ctx.empty([2, 3]), ctx.empty([5, 4]), ctx.empty([8, 4]))).toThrow("embedding: tokens must be i32 or u32, got f32 [2,3]");
    const sq = ctx.empty([3, 3]);
    expect(() => matmul(ctx, sq, ctx.empty([3, 3]), { out: sq })).toThrow("matmul: out [3,3] must not share a buffer with a or b");
  });
});

describe("tensors, pool and batching", () => {
  it("a repeated training-like step allocates no new buffers and submits once", async () => {
    const ctx = await gpuContext();
    const r = rng(1);
    const x = ctx.tensor(randn(r, 8 * 16), [8, 16]);
    const w = ctx.tensor(randn(r, 16 * 10), [16, 10]);
    const targets = ctx.tensor(Int32Array.from({ length: 8 }, (_, i) => i % 10), [8], "i32");
    const m = ctx.zeros([16, 10]);
    const v = ctx.zeros([16, 10]);
    const step = async (t: number) => {
      const h = matmul(ctx, x, w);
      const g = gelu(ctx, h);
      const { losses, dlogits } = crossEntropyWithGrad(ctx, g, targets, 1 / 8);
      const dh = geluBackward(ctx, h, dlogits);
      const { db } = matmulBackward(ctx, x, w, dh, { needA: false });
      adamw(ctx, { param: w, grad: db!, m, v }, t, { lr: 1e-2 });
      const [loss] = await ctx.readMany([losses]);
      for (const tt of [h, g, losses, dlogits, dh, db!]) tt.release();
      return loss;
    };
    await step(1);
    const before = ctx.pool.getStats();
    const submitsBefore = ctx.submits;
    await step(2);
    const after = ctx.pool.getStats();
    expect(after.created).toBe(before.created);
    expect(after.inUse).toBe(before.inUse);
    expect(ctx.submits - submitsBefore).toBe(1);
  });

  it("counts the bytes handed out, their peak, and the bytes the pool holds", async () => {
    const ctx = await gpuContext();
    const before = ctx.pool.getStats();
    ctx.pool.resetPeak();
    const a = ctx.empty([1000]); // 4000 bytes: size class 4096
    const b = ctx.empty([100]); // 400 bytes: size class 512
    const held = ctx.pool.getStats();
    expect(held.bytesInUse - before.bytesInUse).toBe(4096 + 512);
    expect(held.peakBytesInUse).toBe(held.bytesInUse);
    a.release();
    const after = ctx.pool.getStats();
    expect(after.bytesInUse).toBe(held.bytesInUse - 4096);
    expect(after.peakBytesInUse).toBe(held.bytesInUse);
    ctx.pool.resetPeak();
    expect(ctx.pool.getStats().peakBytesInUse).toBe(after.bytesInUse);
    const c = ctx.empty([1000]); // reuses a's buffer: nothing new is created or held
    expect(ctx.pool.getStats().bytesHeld).toBe(after.bytesHeld);
    expect(ctx.pool.getStats().peakBytesInUse).toBe(held.bytesInUse);
    c.release();
    b.release();
    ctx.pool.trim();
    const trimmed = ctx.pool.getStats();
    expect(trimmed.free).toBe(0);
    expect(trimmed.bytesHeld).toBe(trimmed.bytesInUse);
  });

  it("a repeated step reuses its bind groups (none created after the first)", async () => {
    const base = await requestNodeGpuContext();
    let created = 0;
    const device = new Proxy(base.device, {
      get(target, prop) {
        if (prop === "createBindGroup") return (d: GPUBindGroupDescriptor) => (created++, target.createBindGroup(d));
        const v = Reflect.get(target, prop, target);
        return typeof v === "function" ? v.bind(target) : v;
      },
      set: (target, prop, value) => Reflect.set(target, prop, value, target),
    });
    const ctx = new GpuContext(device, base.report, base.options);
    const r = rng(2);
    const x = ctx.tensor(randn(r, 8 * 16), [8, 16]);
    const w = ctx.tensor(randn(r, 16 * 12), [16, 12]);
    const step = async () => {
      const h = matmul(ctx, x, w, { variant: "texture" });
      const g = gelu(ctx, h);
      const s = add(ctx, g, h);
      const [out] = await ctx.readMany([s]);
      for (const t of [h, g, s]) t.release();
      return out;
    };
    const first = await step();
    const after = created;
    expect(after).toBeGreaterThan(0);
    expect(Array.from(await step())).toEqual(Array.from(first));
    expect(created).toBe(after);
    base.destroy();
  });

  it("reshape shares storage; use after release is an error", async () => {
    const ctx = await gpuContext();
    const t = ctx.tensor([1, 2, 3, 4, 5, 6], [2, 3]);
    const v = t.reshape([3, 2]);
    expect(Array.from(await ctx.read(v))).toEqual([1, 2, 3, 4, 5, 6]);
    expect(() => t.reshape([4, 2])).toThrow("reshape: cannot view [2,3] as [4,2]: element counts differ");
    t.release();
    expect(() => v.buffer).toThrow(/used after release/);
    expect(() => v.release()).toThrow(/released twice/);
  });

  it("keeps every dispatch's parameters in one submit when a batch outgrows one parameter buffer", async () => {
    const ctx = await gpuContext();
    const acc = ctx.zeros([5]);
    const one = ctx.tensor([1, 1, 1, 1, 1], [5]);
    const before = ctx.submits;
    // 700 dispatches span three 256-slot parameter buffers
    for (let i = 0; i < 700; i++) accumulate(ctx, acc, one, i);
    expect(Array.from(await ctx.read(acc))).toEqual(new Array(5).fill((699 * 700) / 2));
    expect(ctx.submits - before).toBe(1);
  });

  it("submits on its own at maxDispatchesPerSubmit and keeps every parameter", async () => {
    const ctx = await requestNodeGpuContext({ maxDispatchesPerSubmit: 100 });
    const acc = ctx.zeros([5]);
    const one = ctx.tensor([1, 1, 1, 1, 1], [5]);
    const before = ctx.submits;
    for (let i = 0; i < 700; i++) accumulate(ctx, acc, one, i);
    expect(Array.from(await ctx.read(acc))).toEqual(new Array(5).fill((699 * 700) / 2));
    expect(ctx.submits - before).toBe(7);
    ctx.destroy();
  });

  it("profiles GPU time per kernel with timestamp queries, and counts dispatches", async () => {
    const ctx = await gpuContext();
    const x = ctx.tensor(randn(rng(4), 4096), [4096]);
    if (!ctx.features.timestampQuery) {
      expect(() => ctx.startProfile()).toThrow(/no timestamp-query/);
      return;
    }
    const before = ctx.dispatches;
    ctx.startProfile();
    const outs = [add(ctx, x, x), gelu(ctx, x), gelu(ctx, x)];
    const [sum] = await ctx.readMany([outs[0]]);
    expect(sum[3]).toBeCloseTo(2 * (await ctx.read(x))[3], 5);
    const profile = await ctx.stopProfile();
    expect(ctx.dispatches - before).toBe(3);
    expect(profile.map((k) => [k.name, k.dispatches]).sort()).toEqual([
      ["add:add", 1],
      ["gelu:forward", 2],
    ]);
    for (const k of profile) expect(k.ms).toBeGreaterThanOrEqual(0);
    await expect(ctx.stopProfile()).rejects.toThrow(/no profile was started/);
    for (const t of [x, ...outs]) t.release();
  });

  it("reads several tensors back with one submit", async () => {
    const ctx = await gpuContext();
    const a = ctx.tensor([1, 2], [2]);
    const b = ctx.tensor([3], [1], "i32");
    const before = ctx.submits;
    const [ra, rb] = await ctx.readMany([a, b]);
    expect(Array.from(ra)).toEqual([1, 2]);
    expect(rb).toBeInstanceOf(Int32Array);
    expect(ctx.submits - before).toBe(1);
  });
});

describe("WGSL sources", () => {
  it("gpu/kernels/generated.ts is up to date with the .wgsl files (run npx tsx gpu/kernels/build-wgsl.ts)", () => {
    expect(readFileSync(generatedPath, "utf8")).toBe(renderGenerated());
  });
});
