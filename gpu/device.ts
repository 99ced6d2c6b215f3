// Device acquisition (any navigator.gpu-like object), feature/limit report, and the GpuContext
// every op records into: pooled tensors, one open command encoder per batch, async readback.
// No Node-only APIs here: Node acquisition lives in device-node.ts.

import { wgsl } from "./kernels/generated";
import { BufferPool, BYTES_PER_ELEMENT, formatShape, shapeSize, Tensor, type DType, type Storage, type TypedArrayFor } from "./tensor";

export class GpuError extends Error {
  override name = "GpuError";
}
export class GpuDeviceLostError extends GpuError {
  override name = "GpuDeviceLostError";
}
export class GpuOutOfMemoryError extends GpuError {
  override name = "GpuOutOfMemoryError";
}

export interface GpuFeatures {
  shaderF16: boolean;
  subgroups: boolean;
  timestampQuery: boolean;
  /** Reported by the adapter when subgroups exist; kernels must stay correct for 4..128. */
  subgroupMinSize: number;
  subgroupMaxSize: number;
}

export interface GpuLimits {
  maxBufferSize: number;
  maxStorageBufferBindingSize: number;
  maxComputeWorkgroupStorageSize: number;
  maxComputeInvocationsPerWorkgroup: number;
  maxComputeWorkgroupSizeX: number;
  maxComputeWorkgroupSizeY: number;
  maxComputeWorkgroupsPerDimension: number;
  maxStorageBuffersPerShaderStage: number;
  maxTextureDimension2D: number;
  minUniformBufferOffsetAlignment: number;
}

export interface AdapterDescription {
  vendor: string;
  architecture: string;
  device: string;
  description: string;
}

export interface DeviceReport {
  adapter: AdapterDescription;
  features: GpuFeatures;
  limits: GpuLimits;
  /** Stable identity of adapter + limits; keys per-adapter kernel choices. */
  key: string;
}

/** Where measured kernel choices persist between sessions (e.g. localStorage, a file). */
export interface TuningStore {
  get(key: string): string | undefined | Promise<string | undefined>;
  set(key: string, value: string): void | Promise<void>;
}

export interface GpuContextOptions {
  powerPreference?: GPUPowerPreference;
  /** Skip optional features (tests of the fallback path). */
  disableFeatures?: Array<"shader-f16" | "subgroups" | "timestamp-query">;
  tuningStore?: TuningStore;
  /** Dispatches recorded before the context submits on its own (default DEFAULT_MAX_DISPATCHES_PER_SUBMIT). */
  maxDispatchesPerSubmit?: number;
  /** Wraps every wait on the GPU; Node installs one that sleeps instead of spinning. */
  waitHook?: <T>(p: Promise<T>) => Promise<T>;
  label?: string;
}

const LIMIT_NAMES: Array<keyof GpuLimits> = [
  "maxBufferSize",
  "maxStorageBufferBindingSize",
  "maxComputeWorkgroupStorageSize",
  "maxComputeInvocationsPerWorkgroup",
  "maxComputeWorkgroupSizeX",
  "maxComputeWorkgroupSizeY",
  "maxComputeWorkgroupsPerDimension",
  "maxStorageBuffersPerShaderStage",
  "maxTextureDimension2D",
  "minUniformBufferOffsetAlignment",
];
const WANTED_FEATURES = ["shader-f16", "subgroups", "timestamp-query"] as const;

/** Acquires an adapter and device from `gpu` (navigator.gpu in a browser or worker, Dawn's GPU in Node). */
export async function requestGpuContext(gpu: GPU | undefined, options: GpuContextOptions = {}): Promise<GpuContext> {
  if (!gpu) throw new GpuError("WebGPU is not available here (no navigator.gpu); use a browser with WebGPU enabled");
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference });
  if (!adapter) throw new GpuError("WebGPU is available but no GPU adapter was found (requestAdapter returned null)");
  const features = WANTED_FEATURES.filter((f) => adapter.features.has(f) && !options.disableFeatures?.includes(f));
  const requiredLimits: Record<string, number> = {};
  for (const name of LIMIT_NAMES) {
    if (name === "minUniformBufferOffsetAlignment") continue;
    requiredLimits[name] = (adapter.limits as unknown as Record<string, number>)[name];
  }
  const device = await adapter.requestDevice({
    label: options.label ?? "hearth",
    requiredFeatures: features as GPUFeatureName[],
    requiredLimits,
  });
  const info = adapter.info ?? ({} as GPUAdapterInfo);
  const infoExt = info as GPUAdapterInfo & { subgroupMinSize?: number; subgroupMaxSize?: number };
  const limits = {} as GpuLimits;
  for (const name of LIMIT_NAMES) limits[name] = (device.limits as unknown as Record<string, number>)[name];
  const adapterDesc: AdapterDescription = {
    vendor: info.vendor ?? "",
    architecture: info.architecture ?? "",
    device: info.device ?? "",
    description: info.description ?? "",
  };
  const report: DeviceReport = {
    adapter: adapterDesc,
    features: {
      shaderF16: features.includes("shader-f16"),
      subgroups: features.includes("subgroups"),
      timestampQuery: features.includes("timestamp-query"),
      subgroupMinSize: infoExt.subgroupMinSize ?? 0,
      subgroupMaxSize: infoExt.subgroupMaxSize ?? 0,
    },
    limits,
    key: "",
  };
  report.key = JSON.stringify({ a: adapterDesc, f: features, l: limits, s: [report.features.subgroupMinSize, report.features.subgroupMaxSize] });
  return new GpuContext(device, report, options);
}

export type Binding = Tensor | GPUTextureView | { buffer: GPUBuffer; offset?: number; size?: number };

export interface DispatchParams {
  /** u32 fields first, then i32, then f32, in the order of the kernel's Params struct. */
  u?: number[];
  i?: number[];
  f?: number[];
}

export interface DispatchSpec {
  kernel: keyof typeof wgsl;
  entry?: string;
  constants?: Record<string, number>;
  params?: DispatchParams;
  /** bindings[i] goes to @binding(i + 1); null leaves a binding number unused by this entry. */
  bindings: Array<Binding | null>;
  groups: [number, number?, number?];
  /** Names the dispatch in profiles (default `kernel:entry`). */
  label?: string;
}

/** Bytes per dispatch's parameters: minUniformBufferOffsetAlignment is at most 256 everywhere. */
const UNIFORM_SLOT = 256;
/** Slots per parameter buffer (64 KiB, the guaranteed maxUniformBufferBindingSize). */
const UNIFORM_SLOTS = 256;
/**
 * Dispatches one command buffer may hold before the context submits on its own. Parameter
 * buffers are added as a batch grows (one 64 KiB buffer per 256 dispatches), so a whole training
 * step of the largest presets is one submit; the cap only bounds what a runaway loop holds.
 */
export const DEFAULT_MAX_DISPATCHES_PER_SUBMIT = 16384;
/** Bind groups kept for reuse; the cache starts over when full. */
const MAX_CACHED_BIND_GROUPS = 8192;

interface UniformChunk {
  buffer: GPUBuffer;
  data: ArrayBuffer;
  u32: Uint32Array;
  i32: Int32Array;
  f32: Float32Array;
}

/** Per-kernel GPU time from timestamp queries (see GpuContext.startProfile). */
export interface KernelProfile {
  /** `kernel:entry` */
  name: string;
  dispatches: number;
  ms: number;
}

interface Profiler {
  querySet: GPUQuerySet;
  capacity: number;
  labels: string[];
  pending: Array<Promise<Array<[string, number]>>>;
}

export class GpuContext {
  readonly report: DeviceReport;
  readonly pool: BufferPool;
  private readonly stagingPool: BufferPool;
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  private readonly modules = new Map<string, GPUShaderModule>();
  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  /** Parameter buffers of the open batch, added as it grows and reused by later batches. */
  private readonly uniformChunks: UniformChunk[] = [];
  private uniformSlots = 0;
  private readonly maxDispatches: number;
  private dispatchesInBatch = 0;
  private lostError: GpuError | null = null;
  private readonly lostPromise: Promise<never>;
  private readonly pendingErrors: Error[] = [];
  private readonly pendingChecks: Promise<GpuError | null>[] = [];
  private allocatingFor = "";
  /** Per-op kernel choices (e.g. matmul variant), filled by measured selection. */
  readonly choices = new Map<string, string>();
  readonly waitHook: <T>(p: Promise<T>) => Promise<T>;
  /** Count of submits, for tests that check batching. */
  submits = 0;
  /** Count of dispatches recorded (benchmarks report dispatches per step). */
  dispatches = 0;
  private profiler: Profiler | null = null;
  private readonly bindGroups = new Map<string, GPUBindGroup>();
  private readonly layouts = new WeakMap<GPUComputePipeline, GPUBindGroupLayout>();
  private readonly ids = new WeakMap<object, number>();
  private nextId = 1;

  constructor(
    readonly device: GPUDevice,
    report: DeviceReport,
    readonly options: GpuContextOptions = {},
  ) {
    this.report = report;
    this.waitHook = options.waitHook ?? ((p) => p);
    this.lostPromise = device.lost.then((info) => {
      this.lostError = new GpuDeviceLostError(
        info.reason === "destroyed"
          ? "GPU device was destroyed; create a new context to continue"
          : `GPU device lost (${info.reason || "unknown"}): ${info.message}. Reload or create a new context`,
      );
      throw this.lostError;
    });
    this.lostPromise.catch(() => {});
    device.onuncapturederror = (ev: GPUUncapturedErrorEvent) => {
      this.pendingErrors.push(new GpuError(`WebGPU error: ${ev.error.message}`));
    };
    const usage = GPUBufferUsage.STORAGE | GPUBufferUsage.COPY_SRC | GPUBufferUsage.COPY_DST;
    this.pool = new BufferPool((bytes, u) => this.createBuffer(bytes, u), usage);
    this.stagingPool = new BufferPool((bytes, u) => this.createBuffer(bytes, u), GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST);
    this.maxDispatches = Math.max(1, options.maxDispatchesPerSubmit ?? DEFAULT_MAX_DISPATCHES_PER_SUBMIT);
  }

  get limits(): GpuLimits {
    return this.report.limits;
  }
  get features(): GpuFeatures {
    return this.report.features;
  }
  get lost(): boolean {
    return this.lostError !== null;
  }

  // ---------- allocation ----------

  /** Throws if a tensor of this shape cannot be bound on this device; `op` names the caller. */
  checkSize(op: string, what: string, shape: readonly number[]): void {
    const bytes = shapeSize(shape) * BYTES_PER_ELEMENT;
    const limit = Math.min(this.limits.maxStorageBufferBindingSize, this.limits.maxBufferSize);
    if (bytes > limit) {
      throw new GpuError(
        `${op}: ${what} ${formatShape(shape)} needs ${bytes} bytes, more than this device allows in one buffer ` +
          `(maxStorageBufferBindingSize ${this.limits.maxStorageBufferBindingSize}, maxBufferSize ${this.limits.maxBufferSize})`,
      );
    }
    for (const d of shape) {
      if (!Number.isInteger(d) || d < 0) throw new GpuError(`${op}: ${what} has an invalid shape ${formatShape(shape)}`);
    }
  }

  /** An uninitialised tensor from the pool. */
  empty<D extends DType = "f32">(shape: readonly number[], dtype: D = "f32" as D, op = "empty"): Tensor<D> {
    this.assertAlive();
    this.checkSize(op, "tensor", shape);
    this.allocatingFor = `${op} ${formatShape(shape)}`;
    const storage = this.pool.acquire(Math.max(4, shapeSize(shape) * BYTES_PER_ELEMENT));
    return new Tensor(storage, [...shape], dtype);
  }

  zeros<D extends DType = "f32">(shape: readonly number[], dtype: D = "f32" as D, op = "zeros"): Tensor<D> {
    const t = this.empty(shape, dtype, op);
    this.clear(t);
    return t;
  }

  /** Sets every element of `t` to zero (recorded in the batch, e.g. gradients before a step). */
  clear(t: Tensor): void {
    this.endPass();
    this.getEncoder().clearBuffer(t.buffer, 0, align4(t.byteLength));
  }

  /** Uploads host data into a new tensor (flushes recorded work first so ordering holds). */
  tensor<D extends DType = "f32">(data: ArrayLike<number>, shape: readonly number[], dtype: D = "f32" as D): Tensor<D> {
    if (data.length !== shapeSize(shape)) {
      throw new GpuError(`tensor: ${data.length} values do not fill shape ${formatShape(shape)}`);
    }
    const t = this.empty(shape, dtype, "tensor");
    this.write(t, data);
    return t;
  }

  write(t: Tensor, data: ArrayLike<number>): void {
    if (data.length !== t.size) throw new GpuError(`write: ${data.length} values do not fill tensor ${formatShape(t.shape)}`);
    const Ctor = t.dtype === "f32" ? Float32Array : t.dtype === "i32" ? Int32Array : Uint32Array;
    const arr = data instanceof Ctor ? data : Ctor.from(data as ArrayLike<number>);
    // queue.writeBuffer runs before any still-unsubmitted commands: submit them first.
    if (this.dispatchesInBatch > 0 || this.encoder) this.flush();
    if (arr.byteLength > 0) this.device.queue.writeBuffer(t.buffer, 0, arr.buffer, arr.byteOffset, arr.byteLength);
  }

  private createBuffer(bytes: number, usage: GPUBufferUsageFlags): GPUBuffer {
    const big = bytes >= 32 * 1024 * 1024;
    if (big) this.device.pushErrorScope("out-of-memory");
    const buffer = this.device.createBuffer({ size: bytes, usage, label: this.allocatingFor });
    if (big) {
      const what = this.allocatingFor;
      // Resolved (not rejected) with the error, so nothing goes unhandled before the next read.
      this.pendingChecks.push(
        this.device.popErrorScope().then(
          (err) => (err ? new GpuOutOfMemoryError(`${what}: out of GPU memory allocating ${bytes} bytes (${err.message})`) : null),
          (e: Error) => new GpuError(`${what}: allocation check failed: ${e.message}`),
        ),
      );
    }
    return buffer;
  }

  // ---------- recording ----------

  pipeline(kernel: keyof typeof wgsl, entry = "main", constants: Record<string, number> = {}): GPUComputePipeline {
    const key = `${kernel}:${entry}:${JSON.stringify(constants)}`;
    let p = this.pipelines.get(key);
    if (!p) {
      let module = this.modules.get(kernel);
      if (!module) {
        const code = wgsl[kernel];
        if (code === undefined) throw new GpuError(`no WGSL kernel named ${kernel}`);
        const usesSubgroups = /\bsubgroup[A-Z]\w*\s*\(|@builtin\(\s*subgroup_/.test(code);
        const prelude = usesSubgroups && this.features.subgroups ? "enable subgroups;\n" : "";
        module = this.device.createShaderModule({ code: prelude + code, label: kernel });
        this.modules.set(kernel, module);
      }
      p = this.device.createComputePipeline({ layout: "auto", label: key, compute: { module, entryPoint: entry, constants } });
      this.pipelines.set(key, p);
    }
    return p;
  }

  /** Records one dispatch into the open batch. */
  dispatch(spec: DispatchSpec): void {
    this.assertAlive();
    const [gx, gy = 1, gz = 1] = spec.groups;
    if (gx === 0 || gy === 0 || gz === 0) return;
    const maxG = this.limits.maxComputeWorkgroupsPerDimension;
    if (gx > maxG || gy > maxG || gz > maxG) {
      throw new GpuError(`${spec.kernel}: dispatch of [${gx},${gy},${gz}] workgroups exceeds maxComputeWorkgroupsPerDimension ${maxG}`);
    }
    if (this.dispatchesInBatch >= this.maxDispatches) this.flush();
    const pipeline = this.pipeline(spec.kernel, spec.entry, spec.constants);
    const entries: GPUBindGroupEntry[] = [];
    // The bind group's identity: a training step binds the same pooled buffers in the same
    // order every time, so its bind groups are made once and reused.
    let key = `${this.idOf(pipeline)}`;
    if (spec.params) {
      const index = this.uniformSlots++;
      const chunk = this.uniformChunk(Math.floor(index / UNIFORM_SLOTS));
      const slot = index % UNIFORM_SLOTS;
      let w = (slot * UNIFORM_SLOT) / 4;
      for (const v of spec.params.u ?? []) chunk.u32[w++] = v;
      for (const v of spec.params.i ?? []) chunk.i32[w++] = v;
      for (const v of spec.params.f ?? []) chunk.f32[w++] = v;
      entries.push({ binding: 0, resource: { buffer: chunk.buffer, offset: slot * UNIFORM_SLOT, size: UNIFORM_SLOT } });
      key += `|p${index}`;
    }
    spec.bindings.forEach((b, i) => {
      const binding = i + 1;
      if (b === null) return;
      if (b instanceof Tensor) {
        const size = align4(Math.max(4, b.byteLength));
        entries.push({ binding, resource: { buffer: b.buffer, offset: 0, size } });
        key += `|${binding}:${this.idOf(b.buffer)}:0:${size}`;
      } else if ("buffer" in b) {
        entries.push({ binding, resource: b as GPUBufferBinding });
        key += `|${binding}:${this.idOf(b.buffer)}:${b.offset ?? 0}:${b.size ?? "all"}`;
      } else {
        entries.push({ binding, resource: b as GPUTextureView });
        key += `|${binding}:v${this.idOf(b)}`;
      }
    });
    let bindGroup = this.bindGroups.get(key);
    if (!bindGroup) {
      if (this.bindGroups.size >= MAX_CACHED_BIND_GROUPS) this.bindGroups.clear();
      bindGroup = this.device.createBindGroup({ layout: this.layoutOf(pipeline), entries });
      this.bindGroups.set(key, bindGroup);
    }
    const prof = this.profiler;
    if (prof) {
      // One pass per dispatch, timed at its start and end.
      this.endPass();
      const i = prof.labels.length;
      prof.labels.push(spec.label ?? `${spec.kernel}:${spec.entry ?? "main"}`);
      this.pass = this.getEncoder().beginComputePass({ timestampWrites: { querySet: prof.querySet, beginningOfPassWriteIndex: 2 * i, endOfPassWriteIndex: 2 * i + 1 } });
    } else if (!this.pass) this.pass = this.getEncoder().beginComputePass();
    this.pass.setPipeline(pipeline);
    this.pass.setBindGroup(0, bindGroup);
    this.pass.dispatchWorkgroups(gx, gy, gz);
    this.dispatchesInBatch++;
    this.dispatches++;
    if (prof) {
      this.endPass();
      if (prof.labels.length === prof.capacity) this.flush();
    }
  }

  /**
   * Starts timing every dispatch on the GPU (needs the timestamp-query feature). Each dispatch gets
   * its own compute pass while profiling, so the total is slower than normal: compare kernels with
   * each other, not with unprofiled runs. stopProfile() returns the time per kernel entry point.
   */
  startProfile(): void {
    if (!this.features.timestampQuery) throw new GpuError("startProfile: this device has no timestamp-query feature");
    if (this.profiler) return;
    this.flush();
    const capacity = 2048;
    this.profiler = { querySet: this.device.createQuerySet({ type: "timestamp", count: 2 * capacity }), capacity, labels: [], pending: [] };
  }

  /** Ends profiling; kernels sorted by total time. */
  async stopProfile(): Promise<KernelProfile[]> {
    const prof = this.profiler;
    if (!prof) throw new GpuError("stopProfile: no profile was started");
    this.flush();
    this.profiler = null;
    const byName = new Map<string, KernelProfile>();
    for (const part of await this.guard(Promise.all(prof.pending))) {
      for (const [name, ms] of part) {
        const k = byName.get(name) ?? { name, dispatches: 0, ms: 0 };
        k.dispatches++;
        k.ms += ms;
        byName.set(name, k);
      }
    }
    prof.querySet.destroy();
    return [...byName.values()].sort((a, b) => b.ms - a.ms);
  }

  /** Records the resolve of this batch's timestamps; the returned function (called after the submit) queues their readback. */
  private resolveProfile(prof: Profiler): (() => void) | null {
    const n = prof.labels.length;
    if (n === 0) return null;
    const labels = prof.labels.splice(0);
    const bytes = 2 * n * 8;
    const resolved = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.QUERY_RESOLVE | GPUBufferUsage.COPY_SRC });
    const staging = this.device.createBuffer({ size: bytes, usage: GPUBufferUsage.MAP_READ | GPUBufferUsage.COPY_DST });
    const enc = this.getEncoder();
    enc.resolveQuerySet(prof.querySet, 0, 2 * n, resolved, 0);
    enc.copyBufferToBuffer(resolved, 0, staging, 0, bytes);
    return () =>
      void prof.pending.push(
        staging.mapAsync(GPUMapMode.READ).then(() => {
          const t = new BigUint64Array(staging.getMappedRange().slice(0));
          staging.destroy();
          resolved.destroy();
          return labels.map((name, i) => [name, Number(t[2 * i + 1] - t[2 * i]) / 1e6] as [string, number]);
        }),
      );
  }

  /** A number per GPU object, for bind-group cache keys. */
  private idOf(o: object): number {
    let id = this.ids.get(o);
    if (id === undefined) this.ids.set(o, (id = this.nextId++));
    return id;
  }

  private layoutOf(p: GPUComputePipeline): GPUBindGroupLayout {
    let l = this.layouts.get(p);
    if (!l) this.layouts.set(p, (l = p.getBindGroupLayout(0)));
    return l;
  }

  private uniformChunk(i: number): UniformChunk {
    while (this.uniformChunks.length <= i) {
      const data = new ArrayBuffer(UNIFORM_SLOT * UNIFORM_SLOTS);
      const buffer = this.device.createBuffer({ size: data.byteLength, usage: GPUBufferUsage.UNIFORM | GPUBufferUsage.COPY_DST, label: `hearth-params-${this.uniformChunks.length}` });
      this.uniformChunks.push({ buffer, data, u32: new Uint32Array(data), i32: new Int32Array(data), f32: new Float32Array(data) });
    }
    return this.uniformChunks[i];
  }

  /** Copies `src` into `dst` (both whole tensors of equal size). */
  copy(src: Tensor, dst: Tensor): void {
    if (src.size !== dst.size) throw new GpuError(`copy: sizes differ: src ${formatShape(src.shape)}, dst ${formatShape(dst.shape)}`);
    this.endPass();
    this.getEncoder().copyBufferToBuffer(src.buffer, 0, dst.buffer, 0, align4(src.byteLength));
  }

  getEncoder(): GPUCommandEncoder {
    this.assertAlive();
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }

  /** Submits everything recorded so far as one command buffer. */
  flush(): void {
    this.assertAlive();
    this.endPass();
    if (!this.encoder) return;
    const readProfile = this.profiler ? this.resolveProfile(this.profiler) : null;
    // queue.writeBuffer lands before the command buffer submitted next: every slot is in place.
    for (let c = 0; c * UNIFORM_SLOTS < this.uniformSlots; c++) {
      const used = Math.min(UNIFORM_SLOTS, this.uniformSlots - c * UNIFORM_SLOTS);
      this.device.queue.writeBuffer(this.uniformChunks[c].buffer, 0, this.uniformChunks[c].data, 0, used * UNIFORM_SLOT);
    }
    this.device.queue.submit([this.encoder.finish()]);
    readProfile?.();
    this.submits++;
    this.encoder = null;
    this.uniformSlots = 0;
    this.dispatchesInBatch = 0;
  }

  /** Flushes and waits until the GPU finished all submitted work. */
  async sync(): Promise<void> {
    this.flush();
    await this.guard(this.device.queue.onSubmittedWorkDone());
    await this.throwPendingErrors();
  }

  // ---------- readback ----------

  async read<D extends DType>(t: Tensor<D>): Promise<TypedArrayFor<D>> {
    return (await this.readMany([t]))[0];
  }

  /** Reads several tensors with a single submit and wait. */
  async readMany<D extends DType>(ts: Tensor<D>[]): Promise<TypedArrayFor<D>[]> {
    this.assertAlive();
    const stagings: Storage[] = [];
    this.allocatingFor = "readback";
    this.endPass();
    const enc = this.getEncoder();
    for (const t of ts) {
      const s = this.stagingPool.acquire(Math.max(4, align4(t.byteLength)));
      stagings.push(s);
      if (t.byteLength > 0) enc.copyBufferToBuffer(t.buffer, 0, s.buffer, 0, align4(t.byteLength));
    }
    this.flush();
    try {
      await this.guard(Promise.all(stagings.map((s) => s.buffer.mapAsync(GPUMapMode.READ))));
      await this.throwPendingErrors();
      return ts.map((t, i) => {
        const range = stagings[i].buffer.getMappedRange(0, Math.max(4, align4(t.byteLength)));
        const Ctor = t.dtype === "f32" ? Float32Array : t.dtype === "i32" ? Int32Array : Uint32Array;
        const out = new Ctor(t.size);
        out.set(new Ctor(range, 0, t.size));
        return out as TypedArrayFor<D>;
      });
    } finally {
      for (const s of stagings) {
        if (!this.lostError) {
          if (s.buffer.mapState === "mapped") s.buffer.unmap();
          this.stagingPool.put(s);
        }
      }
    }
  }

  /** Rejects with the device-lost error instead of hanging if the device goes away. */
  guard<T>(p: Promise<T>): Promise<T> {
    return this.waitHook(Promise.race([p, this.lostPromise]));
  }

  private async throwPendingErrors(): Promise<void> {
    if (this.pendingChecks.length) {
      const failed = (await this.guard(Promise.all(this.pendingChecks.splice(0)))).filter((e) => e !== null);
      if (failed.length) throw failed[0];
    }
    if (this.pendingErrors.length) {
      const errs = this.pendingErrors.splice(0);
      throw errs.length === 1 ? errs[0] : new GpuError(errs.map((e) => e.message).join("\n"));
    }
  }

  private assertAlive(): void {
    if (this.lostError) throw this.lostError;
  }

  destroy(): void {
    this.pool.trim();
    this.stagingPool.trim();
    this.device.destroy();
  }
}

export function align4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** The browser/worker entry: navigator.gpu. */
export function requestBrowserGpuContext(options: GpuContextOptions = {}): Promise<GpuContext> {
  const nav = (globalThis as { navigator?: { gpu?: GPU } }).navigator;
  return requestGpuContext(nav?.gpu, options);
}
