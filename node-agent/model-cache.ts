// Model versions a node keeps loaded on one GPU device: the most recently used `capacity` of them,
// the oldest released before another is loaded. Serving keeps two on its own device; eval jobs keep
// the last one on the jobs' device (suite after suite against one version skips the reload).

export class LoadedModelCache<T extends { release(): void }> {
  private readonly held = new Map<string, T>();

  constructor(private readonly capacity: number) {}

  ids(): string[] {
    return [...this.held.keys()];
  }

  /** The loaded model version, loading it with `load` (which may throw: nothing is kept) when absent. */
  async get(modelVersionId: string, load: () => Promise<T>): Promise<T> {
    const cached = this.held.get(modelVersionId);
    if (cached) {
      // Most recently used last, so eviction takes the oldest.
      this.held.delete(modelVersionId);
      this.held.set(modelVersionId, cached);
      return cached;
    }
    // Room first, so the device never holds capacity + 1 models (a job's memory fit counts one).
    while (this.held.size >= this.capacity) {
      const [oldest, evicted] = this.held.entries().next().value!;
      this.held.delete(oldest);
      evicted.release();
    }
    const loaded = await load();
    this.held.set(modelVersionId, loaded);
    return loaded;
  }

  release(): void {
    for (const loaded of this.held.values()) loaded.release();
    this.held.clear();
  }
}
