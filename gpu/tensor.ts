// Tensors are GPU storage buffers with a shape and a dtype. Buffers come from a
// size-bucketed pool so a training step that releases what it acquires allocates nothing.

export type DType = "f32" | "i32" | "u32";
export type TypedArrayFor<D extends DType> = D extends "f32" ? Float32Array : D extends "i32" ? Int32Array : Uint32Array;

export const BYTES_PER_ELEMENT = 4;

export function shapeSize(shape: readonly number[]): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: readonly number[]): string {
  return `[${shape.join(",")}]`;
}

/** Backing storage shared by a tensor and its reshaped views. */
export interface Storage {
  buffer: GPUBuffer;
  /** Allocated bytes (the pool's size class, at least the tensor's bytes). */
  capacity: number;
  released: boolean;
  pool: BufferPool | null;
  /** Creation order in its pool: free buffers are handed out lowest first. */
  serial?: number;
}

export class Tensor<D extends DType = DType> {
  constructor(
    readonly storage: Storage,
    readonly shape: readonly number[],
    readonly dtype: D,
  ) {}

  get buffer(): GPUBuffer {
    if (this.storage.released) throw new Error(`tensor ${formatShape(this.shape)} was used after release()`);
    return this.storage.buffer;
  }
  get size(): number {
    return shapeSize(this.shape);
  }
  get byteLength(): number {
    return this.size * BYTES_PER_ELEMENT;
  }
  get rank(): number {
    return this.shape.length;
  }
  get released(): boolean {
    return this.storage.released;
  }

  /** A view with another shape of the same element count, sharing the buffer. */
  reshape(shape: readonly number[]): Tensor<D> {
    if (shapeSize(shape) !== this.size) {
      throw new Error(`reshape: cannot view ${formatShape(this.shape)} as ${formatShape(shape)}: element counts differ`);
    }
    return new Tensor(this.storage, [...shape], this.dtype);
  }

  /** Returns the buffer to its pool (shared with every view of it). */
  release(): void {
    if (this.storage.released) throw new Error(`tensor ${formatShape(this.shape)} released twice`);
    this.storage.released = true;
    this.storage.pool?.put(this.storage);
  }
}

export interface PoolStats {
  /** GPU buffers ever created by this pool. */
  created: number;
  /** Buffers currently handed out. */
  inUse: number;
  /** Buffers waiting in free lists. */
  free: number;
  bytesCreated: number;
  /** Bytes of the pool's live GPU buffers (in use plus free; trim() destroys the free ones). */
  bytesHeld: number;
  /** Bytes (size classes) of the buffers currently handed out. */
  bytesInUse: number;
  /** Most bytes handed out at once since creation or the last resetPeak(). */
  peakBytesInUse: number;
}

/**
 * Hands out the free buffer of a size class that was created first. The buffers a step gets
 * then depend only on which are free, not on the order they came back: a step that repeats gets
 * the same buffers every time (so the context's cached bind groups apply).
 *
 * Buckets buffers by a size class (multiples of 256 bytes up to 64 KiB, then quarter-power-of-two
 * steps) so shapes that differ slightly still reuse buffers.
 */
export function sizeClass(bytes: number): number {
  const b = Math.max(bytes, 16);
  if (b <= 65536) return Math.ceil(b / 256) * 256;
  const p = 2 ** Math.floor(Math.log2(b));
  const step = p / 4;
  return Math.ceil(b / step) * step;
}

export class BufferPool {
  private readonly free = new Map<string, Storage[]>();
  private stats: PoolStats = { created: 0, inUse: 0, free: 0, bytesCreated: 0, bytesHeld: 0, bytesInUse: 0, peakBytesInUse: 0 };

  constructor(
    private readonly create: (bytes: number, usage: GPUBufferUsageFlags) => GPUBuffer,
    readonly usage: GPUBufferUsageFlags,
  ) {}

  acquire(bytes: number): Storage {
    const capacity = sizeClass(bytes);
    const key = String(capacity);
    const list = this.free.get(key);
    const reused = list?.pop();
    this.stats.inUse++;
    this.stats.bytesInUse += capacity;
    if (this.stats.bytesInUse > this.stats.peakBytesInUse) this.stats.peakBytesInUse = this.stats.bytesInUse;
    if (reused) {
      this.stats.free--;
      reused.released = false;
      return reused;
    }
    const buffer = this.create(capacity, this.usage);
    this.stats.created++;
    this.stats.bytesCreated += capacity;
    this.stats.bytesHeld += capacity;
    return { buffer, capacity, released: false, pool: this, serial: this.stats.created };
  }

  put(storage: Storage): void {
    const key = String(storage.capacity);
    let list = this.free.get(key);
    if (!list) this.free.set(key, (list = []));
    // kept in descending serial order: pop() returns the oldest buffer
    const serial = storage.serial ?? 0;
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if ((list[mid].serial ?? 0) > serial) lo = mid + 1;
      else hi = mid;
    }
    list.splice(lo, 0, storage);
    this.stats.inUse--;
    this.stats.bytesInUse -= storage.capacity;
    this.stats.free++;
  }

  getStats(): PoolStats {
    return { ...this.stats };
  }

  /** Starts a new peak measurement from what is handed out now. */
  resetPeak(): void {
    this.stats.peakBytesInUse = this.stats.bytesInUse;
  }

  /** Destroys the free buffers (buffers in use stay valid). */
  trim(): void {
    for (const list of this.free.values()) {
      for (const s of list) {
        s.buffer.destroy();
        this.stats.bytesHeld -= s.capacity;
      }
    }
    this.stats.free = 0;
    this.free.clear();
  }
}
