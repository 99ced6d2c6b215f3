// Bundled into headless Chromium by test/bench/train.bench.ts: the same GPT (same shapes, same
// initial weights, same batches, same AdamW + clipping + schedule) trained by Hearth (gpu/train) and
// by @tensorflow/tfjs on its WebGPU backend, on the same adapter in the same page.
//
// Every GPUDevice in the page is instrumented (createBuffer / createTexture / destroy, submits,
// dispatches) so both libraries' GPU memory and command counts are measured the same way.

import { openBrowserGpu, type GpuContext } from "../../../gpu/index";
import { GPT } from "../../../gpu/nn/gpt";
import type { GPTConfig } from "../../../gpu/nn/config";
import { train } from "../../../gpu/train";
import * as tf from "@tensorflow/tfjs";
import "@tensorflow/tfjs-backend-webgpu";
import { tfjsTrainer } from "./tfjs-gpt";

export interface TrainSpec {
  config: GPTConfig;
  batchSize: number;
  /** Steps run before the clock starts (pipeline / shader compilation). */
  warmSteps: number;
  /** Steps timed after the warm-up. */
  timedSteps: number;
  lr: number;
  seed: number;
}

export interface TrainFigures {
  tokensPerSec: number;
  msPerStep: number;
  /** Wall time of the warm-up steps (dominated by shader compilation). */
  warmMs: number;
  submitsPerStep: number;
  dispatchesPerStep: number;
  /** Peak bytes of live GPU buffers and textures on the library's device during training. */
  peakDeviceBytes: number;
  /** Hearth only: peak bytes of pooled tensors handed out at once (params, grads, moments, activations). */
  peakTensorBytes?: number;
  /** Loss read back after the first and the last step. */
  firstLoss: number;
  lastLoss: number;
  notes: string;
}

// ---------- GPU instrumentation (both libraries alike) ----------

interface DeviceCounters {
  live: number;
  peak: number;
}
const counters = new WeakMap<GPUDevice, DeviceCounters>();
const sizes = new WeakMap<object, { device: GPUDevice; bytes: number }>();
let submits = 0;
let dispatches = 0;

function countersOf(device: GPUDevice): DeviceCounters {
  let c = counters.get(device);
  if (!c) counters.set(device, (c = { live: 0, peak: 0 }));
  return c;
}

function track(device: GPUDevice, obj: object, bytes: number): void {
  const c = countersOf(device);
  sizes.set(obj, { device, bytes });
  c.live += bytes;
  c.peak = Math.max(c.peak, c.live);
}

function untrack(obj: object): void {
  const s = sizes.get(obj);
  if (!s) return;
  sizes.delete(obj);
  countersOf(s.device).live -= s.bytes;
}

function instrument(): void {
  const D = GPUDevice.prototype;
  const createBuffer = D.createBuffer;
  D.createBuffer = function (this: GPUDevice, desc: GPUBufferDescriptor) {
    const b = createBuffer.call(this, desc);
    track(this, b, desc.size);
    return b;
  };
  const createTexture = D.createTexture;
  D.createTexture = function (this: GPUDevice, desc: GPUTextureDescriptor) {
    const t = createTexture.call(this, desc);
    const [w, h = 1] = Array.isArray(desc.size) ? desc.size : [(desc.size as GPUExtent3DDict).width, (desc.size as GPUExtent3DDict).height];
    const texel = desc.format === "rgba32float" ? 16 : desc.format.includes("32") ? 4 : 4;
    track(this, t, w * (h ?? 1) * texel);
    return t;
  };
  const bufDestroy = GPUBuffer.prototype.destroy;
  GPUBuffer.prototype.destroy = function (this: GPUBuffer) {
    untrack(this);
    return bufDestroy.call(this);
  };
  const texDestroy = GPUTexture.prototype.destroy;
  GPUTexture.prototype.destroy = function (this: GPUTexture) {
    untrack(this);
    return texDestroy.call(this);
  };
  const submit = GPUQueue.prototype.submit;
  GPUQueue.prototype.submit = function (this: GPUQueue, cbs: Iterable<GPUCommandBuffer>) {
    submits++;
    return submit.call(this, cbs);
  };
  const dispatch = GPUComputePassEncoder.prototype.dispatchWorkgroups;
  GPUComputePassEncoder.prototype.dispatchWorkgroups = function (this: GPUComputePassEncoder, x: number, y?: number, z?: number) {
    dispatches++;
    return dispatch.call(this, x, y, z);
  };
}
instrument();

/** The training stream both libraries sample from: UTF-8 bytes of a varied synthetic text. */
function corpus(bytes: number): Uint8Array {
  const words = ["the", "river", "runs", "past", "a", "quiet", "house", "where", "an", "old", "cat", "sleeps", "and", "birds", "sing", "of", "green", "trees", "under", "moon"];
  let k = 12345;
  let s = "";
  while (s.length < bytes) {
    k = (k * 1103515245 + 12345) >>> 0;
    s += words[(k >>> 8) % words.length] + ((k >>> 20) % 9 === 0 ? ".\n" : " ");
  }
  return new TextEncoder().encode(s.slice(0, bytes));
}

const stream = corpus(200_000);

/** Wall time, submits and dispatches of the timed steps (begin() once the warm-up's GPU work is done). */
class Timing {
  private readonly start = performance.now();
  private t0 = 0;
  private s0 = 0;
  private d0 = 0;
  begin(): void {
    this.t0 = performance.now();
    this.s0 = submits;
    this.d0 = dispatches;
  }
  /** Once the last step's GPU work is done. */
  end(spec: TrainSpec): Pick<TrainFigures, "tokensPerSec" | "msPerStep" | "warmMs" | "submitsPerStep" | "dispatchesPerStep"> {
    const ms = performance.now() - this.t0;
    return {
      tokensPerSec: (spec.timedSteps * spec.batchSize * spec.config.blockSize) / (ms / 1000),
      msPerStep: ms / spec.timedSteps,
      warmMs: this.t0 - this.start,
      submitsPerStep: (submits - this.s0) / spec.timedSteps,
      dispatchesPerStep: (dispatches - this.d0) / spec.timedSteps,
    };
  }
}

// ---------- Hearth ----------

let hearth: GpuContext | null = null;

async function trainHearth(spec: TrainSpec): Promise<TrainFigures> {
  hearth ??= await openBrowserGpu();
  const ctx = hearth;
  const { batchSize: B, config } = spec;
  const T = config.blockSize;
  const model = GPT.create(ctx, config, { seed: spec.seed });
  await model.tune(B, T);
  ctx.pool.trim(); // what tuning left in the free lists is not the model's
  ctx.pool.resetPeak();
  const device = countersOf(ctx.device);
  device.peak = device.live;
  const steps = spec.warmSteps + spec.timedSteps;
  const timing = new Timing();
  const res = await train(
    model,
    { train: stream },
    { steps, batchSize: B, lr: spec.lr, warmupSteps: 0, logEvery: steps, seed: spec.seed },
    {
      onStep: async (m) => {
        if (m.step !== spec.warmSteps) return;
        await ctx.sync();
        timing.begin();
      },
    },
  );
  // train() read the loss back after the last step (in that step's submit): the GPU is done
  const figures: TrainFigures = {
    ...timing.end(spec),
    peakDeviceBytes: device.peak,
    peakTensorBytes: ctx.pool.getStats().peakBytesInUse,
    firstLoss: res.losses[0].loss,
    lastLoss: res.losses.at(-1)!.loss,
    notes: `matmul choices ${JSON.stringify(Object.fromEntries([...ctx.choices].filter(([k]) => k.startsWith("matmul"))))}`,
  };
  model.release();
  return figures;
}

// ---------- tfjs: the same GPT written with tf ops (./tfjs-gpt) ----------

let tfReady = false;

async function trainTfjs(spec: TrainSpec): Promise<TrainFigures> {
  if (!tfReady) {
    await tf.setBackend("webgpu");
    await tf.ready();
    tfReady = true;
  }
  const device = (tf.backend() as unknown as { device: GPUDevice }).device;
  const dev = countersOf(device);
  const steps = spec.warmSteps + spec.timedSteps;
  const trainer = tfjsTrainer(spec.config, { seed: spec.seed, batchSize: spec.batchSize, lr: spec.lr, steps, data: stream });
  const timing = new Timing();
  dev.peak = dev.live;
  let firstLoss = NaN;
  let last: tf.Scalar | null = null;
  for (let i = 0; i < steps; i++) {
    if (i === spec.warmSteps) {
      await last!.data(); // drain the queue before the clock starts
      timing.begin();
    }
    const loss = trainer.step(i);
    if (i === 0) firstLoss = (await loss.data())[0];
    last?.dispose();
    last = loss;
  }
  const lastLoss = (await last!.data())[0];
  const timed = timing.end(spec);
  const mem = tf.memory();
  const figures: TrainFigures = {
    ...timed,
    peakDeviceBytes: dev.peak,
    firstLoss,
    lastLoss,
    notes: `tfjs ${tf.version.tfjs}, backend ${tf.getBackend()}, tensors alive ${mem.numTensors}`,
  };
  last!.dispose();
  trainer.dispose();
  return figures;
}

async function adapterInfo(): Promise<string> {
  const a = await navigator.gpu.requestAdapter();
  const i = a?.info;
  return i ? `${i.vendor} ${i.architecture} ${i.description}`.trim() : "unknown adapter";
}

Object.assign(globalThis, { __trainHearth: trainHearth, __trainTfjs: trainTfjs, __adapterInfo: adapterInfo, __hearthReady: true });
