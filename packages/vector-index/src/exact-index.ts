/**
 * Exact nearest-neighbour search: every vector in one packed Float32Array, every query a full scan
 * with a bounded top-k heap. The ground truth for the approximate backend, and the right choice
 * below some tens of thousands of vectors.
 */
import { join } from 'node:path';
import { InvalidRowsError } from './errors.js';
import { normaliseFilter, rowsOf } from './filter.js';
import { checkIdList, checkMetric, checkPositiveInt, parseBatch, parseQueries, parseQuery } from './input.js';
import { readFloat32, readMeta, type SavedMeta, writeFloat32, writeIndexDir } from './persist.js';
import { scanAll, scanAllBatch, scanRows } from './scan.js';
import { TopK } from './top-k.js';
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

/** Options of {@link ExactIndex}. */
export interface ExactIndexOptions {
  dimension: number;
  /** Default 'cosine'. */
  metric?: Metric;
  /** Rows to allocate up front; the matrix grows by doubling. Default 1024. */
  capacity?: number;
}

/** Brute-force index over a packed Float32Array; rows stay dense (a removal moves the last row into the hole). */
export class ExactIndex implements VectorIndex {
  readonly kind = 'exact' as const;
  readonly dimension: number;
  readonly metric: Metric;
  private data: Float32Array;
  private rowIds: VectorId[] = [];
  private readonly rowOf = new Map<VectorId, number>();

  constructor(options: ExactIndexOptions) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('options: expected { dimension, metric?, capacity? }');
    this.dimension = checkPositiveInt('options.dimension', options.dimension, 65536);
    this.metric = checkMetric(options.metric ?? 'cosine');
    const capacity = checkPositiveInt('options.capacity', options.capacity ?? 1024);
    this.data = new Float32Array(capacity * this.dimension);
  }

  get size(): number {
    return this.rowIds.length;
  }

  add(ids: readonly VectorId[], vectors: VectorsInput, options: AddOptions = {}): AddReport {
    const batch = parseBatch(ids, vectors, this.dimension, this.metric, (id) => this.rowOf.has(id));
    if (batch.rejected.length > 0 && !options.skipInvalid) throw new InvalidRowsError('add', batch.rejected);
    this.appendRows(batch.ids, batch.rows);
    return { added: batch.ids.length, rejected: batch.rejected };
  }

  /** Appends already checked (and normalised) rows. */
  private appendRows(ids: VectorId[], rows: Float32Array): void {
    const d = this.dimension;
    const n = this.rowIds.length;
    const need = (n + ids.length) * d;
    if (need > this.data.length) {
      const grown = new Float32Array(Math.max(need, this.data.length * 2));
      grown.set(this.data.subarray(0, n * d));
      this.data = grown;
    }
    this.data.set(rows, n * d);
    for (let i = 0; i < ids.length; i++) {
      this.rowOf.set(ids[i], n + i);
      this.rowIds.push(ids[i]);
    }
  }

  remove(ids: readonly VectorId[]): RemoveReport {
    checkIdList('ids', ids);
    const d = this.dimension;
    const missing: VectorId[] = [];
    let removed = 0;
    for (const id of ids) {
      const row = this.rowOf.get(id);
      if (row === undefined) {
        missing.push(id);
        continue;
      }
      const last = this.rowIds.length - 1;
      if (row !== last) {
        this.data.copyWithin(row * d, last * d, (last + 1) * d);
        const moved = this.rowIds[last];
        this.rowIds[row] = moved;
        this.rowOf.set(moved, row);
      }
      this.rowIds.pop();
      this.rowOf.delete(id);
      removed++;
    }
    return { removed, missing };
  }

  has(id: VectorId): boolean {
    return this.rowOf.has(id);
  }

  getVector(id: VectorId): Float32Array | undefined {
    const row = this.rowOf.get(id);
    if (row === undefined) return undefined;
    return this.data.slice(row * this.dimension, (row + 1) * this.dimension);
  }

  ids(): VectorId[] {
    return this.rowIds.slice();
  }

  search(query: QueryInput, k: number, options: SearchOptions = {}): SearchHit[] {
    const q = parseQuery('query', query, this.dimension, this.metric);
    checkPositiveInt('k', k);
    return this.searchNormalised(q, k, options);
  }

  private searchNormalised(q: Float32Array, k: number, options: SearchOptions): SearchHit[] {
    const n = this.rowIds.length;
    if (n === 0) return [];
    const heap = new TopK(Math.min(k, n));
    const filter = normaliseFilter(options.filter);
    const d = this.dimension;
    if (filter.kind === 'none') scanAll(this.data, n, d, this.metric, q, 0, heap);
    else if (filter.kind === 'set') scanRows(this.data, this.rowsOf(filter.ids), d, this.metric, q, 0, heap);
    else scanAll(this.data, n, d, this.metric, q, 0, heap, (row) => !filter.keep(this.rowIds[row]));
    return this.hits(heap);
  }

  searchBatch(queries: VectorsInput, k: number, options: SearchOptions = {}): SearchHit[][] {
    const qs = parseQueries('queries', queries, this.dimension, this.metric);
    checkPositiveInt('k', k);
    const d = this.dimension;
    const nq = qs.length / d;
    const n = this.rowIds.length;
    if (n === 0) return Array.from({ length: nq }, () => []);
    const filter = normaliseFilter(options.filter);
    const heaps = Array.from({ length: nq }, () => new TopK(Math.min(k, n)));
    if (filter.kind === 'set') {
      const rows = this.rowsOf(filter.ids);
      for (let i = 0; i < nq; i++) scanRows(this.data, rows, d, this.metric, qs, i * d, heaps[i]);
    } else {
      const skip = filter.kind === 'predicate' ? (row: number) => !filter.keep(this.rowIds[row]) : undefined;
      scanAllBatch(this.data, n, d, this.metric, qs, heaps, skip);
    }
    return heaps.map((h) => this.hits(h));
  }

  private rowsOf(ids: ReadonlySet<VectorId>): Int32Array {
    return rowsOf(ids, (id) => this.rowOf.get(id));
  }

  private hits(heap: TopK): SearchHit[] {
    return heap.sorted().map((h) => ({ id: this.rowIds[h.slot], distance: h.distance }));
  }

  clone(): ExactIndex {
    const copy = new ExactIndex({
      dimension: this.dimension,
      metric: this.metric,
      capacity: Math.max(1, this.rowIds.length),
    });
    copy.appendRows(this.rowIds.slice(), this.data.subarray(0, this.rowIds.length * this.dimension));
    return copy;
  }

  async save(path: string): Promise<void> {
    const meta: SavedMeta = {
      format: 'mlsd-vector-index',
      version: 1,
      kind: 'exact',
      metric: this.metric,
      dimension: this.dimension,
      ids: this.rowIds.slice(),
    };
    const rows = this.data.slice(0, this.rowIds.length * this.dimension);
    await writeIndexDir(path, meta, (dir) => writeFloat32(join(dir, 'vectors.f32'), rows));
  }

  /** Loads an index written by {@link ExactIndex.save}. */
  static async load(path: string): Promise<ExactIndex> {
    const meta = await readMeta(path, 'exact');
    const rows = await readFloat32(join(path, 'vectors.f32'), meta.ids.length * meta.dimension);
    const index = new ExactIndex({
      dimension: meta.dimension,
      metric: meta.metric,
      capacity: Math.max(1, meta.ids.length),
    });
    index.appendRows(meta.ids as VectorId[], rows);
    return index;
  }
}
