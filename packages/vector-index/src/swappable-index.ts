/**
 * One writer and an atomic swap. Searches always go to the current index, synchronously; writes,
 * rebuilds and saves go through one promise queue, so they never interleave. A rebuild builds a new
 * index (from scratch or on a clone of the current one) while searches keep being answered by the
 * current index, then replaces it in one assignment; writes issued meanwhile wait in the queue and
 * land on the new index.
 */
import type {
  AddOptions,
  AddReport,
  Metric,
  QueryInput,
  RemoveReport,
  SearchHit,
  SearchOptions,
  VectorId,
  VectorIndex,
  VectorsInput,
} from './types.js';

/** A handle on the current index of a service, with serialised writes and atomic rebuilds. */
export class SwappableIndex {
  private index: VectorIndex;
  private tail: Promise<void> = Promise.resolve();
  private pendingWrites = 0;

  constructor(initial: VectorIndex) {
    if (initial === null || typeof initial !== 'object' || typeof initial.search !== 'function') {
      throw new TypeError('initial: expected a VectorIndex');
    }
    this.index = initial;
  }

  /** The index searches go to right now. Do not write to it directly: use the queued methods. */
  get current(): VectorIndex {
    return this.index;
  }

  get size(): number {
    return this.index.size;
  }

  get dimension(): number {
    return this.index.dimension;
  }

  get metric(): Metric {
    return this.index.metric;
  }

  /** Writes, rebuilds and saves waiting or running. */
  get pending(): number {
    return this.pendingWrites;
  }

  search(query: QueryInput, k: number, options?: SearchOptions): SearchHit[] {
    return this.index.search(query, k, options);
  }

  searchBatch(queries: VectorsInput, k: number, options?: SearchOptions): SearchHit[][] {
    return this.index.searchBatch(queries, k, options);
  }

  has(id: VectorId): boolean {
    return this.index.has(id);
  }

  /** Queued `add` on the current index (at the time it runs). */
  add(ids: readonly VectorId[], vectors: VectorsInput, options?: AddOptions): Promise<AddReport> {
    return this.enqueue(() => this.index.add(ids, vectors, options));
  }

  /** Queued `remove` on the current index (at the time it runs). */
  remove(ids: readonly VectorId[]): Promise<RemoveReport> {
    return this.enqueue(() => this.index.remove(ids));
  }

  /**
   * Builds a replacement and swaps it in. `build` receives the current index to read from (it must
   * not write to it; call `current.clone()` to start from a copy) and may take as long as it likes,
   * yielding to the event loop between chunks so searches go on. If it throws, the current index
   * stays. Resolves to the index that was replaced.
   */
  rebuild(build: (current: VectorIndex) => VectorIndex | Promise<VectorIndex>): Promise<VectorIndex> {
    return this.enqueue(async () => {
      const next = await build(this.index);
      if (next === null || typeof next !== 'object' || typeof next.search !== 'function') {
        throw new TypeError(`rebuild: expected the builder to return a VectorIndex, got ${String(next)}`);
      }
      const previous = this.index;
      this.index = next;
      return previous;
    });
  }

  /** Applies `mutate` to a clone of the current index, then swaps the clone in. */
  update(mutate: (copy: VectorIndex) => void | Promise<void>): Promise<VectorIndex> {
    return this.rebuild(async (current) => {
      const copy = current.clone();
      await mutate(copy);
      return copy;
    });
  }

  /** Queued swap to an index built elsewhere; resolves to the replaced one. */
  swap(next: VectorIndex): Promise<VectorIndex> {
    return this.rebuild(() => next);
  }

  /** Queued save of the current index, so it never sees half a batch of writes. */
  save(path: string): Promise<void> {
    return this.enqueue(() => this.index.save(path));
  }

  /** Resolves when every write queued so far has finished. */
  async idle(): Promise<void> {
    await this.tail;
  }

  private enqueue<T>(work: () => T | Promise<T>): Promise<T> {
    this.pendingWrites++;
    const run = this.tail.then(work).finally(() => {
      this.pendingWrites--;
    });
    this.tail = run.then(
      () => undefined,
      () => undefined,
    );
    return run;
  }
}
