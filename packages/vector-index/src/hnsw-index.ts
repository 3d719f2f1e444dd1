/**
 * Approximate nearest-neighbour search with HNSW through hnswlib-node. hnswlib knows only numeric
 * labels, so this class maps the application's ids to labels (persisted with the index), reuses the
 * labels of removed items, grows the graph when it is full, and keeps its own copy of the vectors
 * so that selective filters can fall back to an exact scan over the allowed items (HNSW recall
 * collapses when a filter keeps only a small share of the graph).
 */
import { randomBytes } from 'node:crypto';
import { rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import hnswlib from 'hnswlib-node';
import { InvalidRowsError } from './errors.js';
import { type NormalisedFilter, normaliseFilter, rowsOf } from './filter.js';
import {
  checkFraction,
  checkIdList,
  checkMetric,
  checkPositiveInt,
  parseBatch,
  parseQueries,
  parseQuery,
} from './input.js';
import { readFloat32, readMeta, type SavedMeta, writeFloat32, writeIndexDir } from './persist.js';
import { scanAll, scanRows } from './scan.js';
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

type Graph = InstanceType<typeof hnswlib.HierarchicalNSW>;

type SearchParam =
  | 'ef'
  | 'filteredEf'
  | 'exactFilterShare'
  | 'exactFilterCount'
  | 'graphFilter'
  | 'overfetch';

function checkGraphFilter(value: unknown): 'overfetch' | 'callback' {
  if (value !== 'overfetch' && value !== 'callback') {
    throw new RangeError(`options.graphFilter: expected 'overfetch' or 'callback', got ${String(value)}`);
  }
  return value;
}

function checkOverfetch(value: unknown): number {
  if (typeof value !== 'number' || !(value >= 1 && value <= 1000)) {
    throw new RangeError(`options.overfetch: expected a number in [1, 1000], got ${String(value)}`);
  }
  return value;
}

/**
 * Default search breadth. Measured on 1,000,000 clustered 64-d vectors with M=16,
 * efConstruction=200 (bench/ann.bench.ts, README): recall@10 against exact search was 0.943 at
 * ef=32, 0.977 at ef=48 and 0.990 at ef=64 (8,178 QPS, 400x exact). 48 is the smallest measured
 * ef above 0.95; 64 keeps a margin for data less tidy than the benchmark's.
 */
export const DEFAULT_EF = 64;

/** Options of {@link HnswIndex}. */
export interface HnswIndexOptions {
  dimension: number;
  /** Default 'cosine'. */
  metric?: Metric;
  /** Links per node (hnswlib M). Default 16. */
  M?: number;
  /** Candidate list size while building. Default 200. */
  efConstruction?: number;
  /** Candidate list size while searching (at least k is used). Default {@link DEFAULT_EF}. */
  ef?: number;
  /**
   * A filtered search scans the allowed items exactly when they are at most this many. Default
   * 5,000: measured, an exact scan of up to about 5,000 allowed items beat searching the graph at
   * both 100,000 and 1,000,000 items, and lost from 20,000 on (README).
   */
  exactFilterCount?: number;
  /**
   * ...or at most this share of the index, however many: below it over-fetching must fetch more
   * than overfetch * k / share items and its recall falls. Default 0.005 (0.5 %).
   */
  exactFilterShare?: number;
  /**
   * How a filter that keeps more than that is applied in the graph. 'overfetch' (default): an
   * unfiltered search for overfetch * k / share items, then the filter; hnswlib's filter callback
   * only if that leaves fewer than k. 'callback': hnswlib's filter callback at `filteredEf`.
   * At 1,000,000 clustered vectors (README) over-fetching was 3-5x faster than the callback at
   * 2-50 % shares, with recall@10 >= 0.99.
   */
  graphFilter?: 'overfetch' | 'callback';
  /** Over-fetch factor of the 'overfetch' strategy. Default 2. */
  overfetch?: number;
  /** ef of searches through hnswlib's filter callback. Default 2 * ef. */
  filteredEf?: number;
  /** Elements allocated up front; the graph grows by doubling. Default 1024. */
  capacity?: number;
  /** Seed of hnswlib's level generator. Default 100. */
  seed?: number;
}

interface Params {
  M: number;
  efConstruction: number;
  ef: number;
  filteredEf: number;
  exactFilterShare: number;
  exactFilterCount: number;
  graphFilter: 'overfetch' | 'callback';
  overfetch: number;
  seed: number;
}

/** Items sampled to estimate how much of the index a predicate keeps. */
const PREDICATE_SAMPLE = 256;

/** Approximate index (HNSW, hnswlib-node); see {@link HnswIndexOptions} for the parameters. */
export class HnswIndex implements VectorIndex {
  readonly kind = 'hnsw' as const;
  readonly dimension: number;
  readonly metric: Metric;
  private readonly params: Params;
  private graph: Graph;
  private capacity: number;
  /** Vectors by label (normalised under cosine); rows of free labels are stale. */
  private data: Float32Array;
  /** Id of each label ever used; undefined for a free (removed) label. */
  private labelIds: (VectorId | undefined)[] = [];
  private readonly labelOf = new Map<VectorId, number>();
  private readonly freeLabels: number[] = [];

  constructor(options: HnswIndexOptions, graph?: Graph) {
    if (options === null || typeof options !== 'object')
      throw new TypeError('options: expected { dimension, metric?, M?, ... }');
    this.dimension = checkPositiveInt('options.dimension', options.dimension, 65536);
    this.metric = checkMetric(options.metric ?? 'cosine');
    const ef = checkPositiveInt('options.ef', options.ef ?? DEFAULT_EF, 1 << 20);
    this.params = {
      M: checkPositiveInt('options.M', options.M ?? 16, 1024),
      efConstruction: checkPositiveInt('options.efConstruction', options.efConstruction ?? 200, 1 << 20),
      ef,
      filteredEf: checkPositiveInt('options.filteredEf', options.filteredEf ?? 2 * ef, 1 << 20),
      exactFilterShare: checkFraction('options.exactFilterShare', options.exactFilterShare ?? 0.005),
      exactFilterCount: checkPositiveInt('options.exactFilterCount', options.exactFilterCount ?? 5000),
      graphFilter: checkGraphFilter(options.graphFilter ?? 'overfetch'),
      overfetch: checkOverfetch(options.overfetch ?? 2),
      seed: options.seed ?? 100,
    };
    if (!Number.isInteger(this.params.seed))
      throw new RangeError(`options.seed: expected an integer, got ${options.seed}`);
    // hnswlib's cosine space normalises again on every call; vectors are normalised once here, so 'ip' is the same distance.
    const space = this.metric === 'l2' ? 'l2' : 'ip';
    if (graph === undefined) {
      this.capacity = checkPositiveInt('options.capacity', options.capacity ?? 1024, 0xffffffff);
      this.graph = new hnswlib.HierarchicalNSW(space, this.dimension);
      this.graph.initIndex({
        maxElements: this.capacity,
        m: this.params.M,
        efConstruction: this.params.efConstruction,
        randomSeed: this.params.seed,
      });
    } else {
      this.graph = graph;
      this.capacity = graph.getMaxElements();
    }
    this.graph.setEf(this.params.ef);
    this.data = new Float32Array(this.capacity * this.dimension);
  }

  get size(): number {
    return this.labelOf.size;
  }

  /** Search breadth of unfiltered searches; may be changed at any time. */
  get ef(): number {
    return this.params.ef;
  }

  set ef(value: number) {
    this.params.ef = checkPositiveInt('ef', value, 1 << 20);
    this.graph.setEf(value);
  }

  /** Changes the search-time parameters (ef, the filter thresholds and strategy). */
  configure(options: Partial<Pick<HnswIndexOptions, SearchParam>>): void {
    const p = { ...this.params };
    if (options.ef !== undefined) p.ef = checkPositiveInt('options.ef', options.ef, 1 << 20);
    if (options.filteredEf !== undefined)
      p.filteredEf = checkPositiveInt('options.filteredEf', options.filteredEf, 1 << 20);
    if (options.exactFilterShare !== undefined)
      p.exactFilterShare = checkFraction('options.exactFilterShare', options.exactFilterShare);
    if (options.exactFilterCount !== undefined)
      p.exactFilterCount = checkPositiveInt('options.exactFilterCount', options.exactFilterCount);
    if (options.graphFilter !== undefined) p.graphFilter = checkGraphFilter(options.graphFilter);
    if (options.overfetch !== undefined) p.overfetch = checkOverfetch(options.overfetch);
    Object.assign(this.params, p);
    this.graph.setEf(this.params.ef);
  }

  /** The parameters in force (M, efConstruction, ef, filter thresholds, seed). */
  get parameters(): Readonly<Params> {
    return { ...this.params };
  }

  add(ids: readonly VectorId[], vectors: VectorsInput, options: AddOptions = {}): AddReport {
    const batch = parseBatch(ids, vectors, this.dimension, this.metric, (id) => this.labelOf.has(id));
    if (batch.rejected.length > 0 && !options.skipInvalid) throw new InvalidRowsError('add', batch.rejected);
    this.insert(batch.ids, batch.rows);
    return { added: batch.ids.length, rejected: batch.rejected };
  }

  private insert(ids: VectorId[], rows: Float32Array): void {
    const d = this.dimension;
    const fresh = Math.max(0, ids.length - this.freeLabels.length);
    this.reserve(this.labelIds.length + fresh);
    for (let i = 0; i < ids.length; i++) {
      const reused = this.freeLabels.pop();
      const label = reused ?? this.labelIds.length;
      const row = rows.subarray(i * d, (i + 1) * d);
      // A removed label is marked deleted in the graph; adding it again updates it in place.
      this.graph.addPoint(Array.from(row), label);
      this.data.set(row, label * d);
      if (reused === undefined) this.labelIds.push(ids[i]);
      else this.labelIds[label] = ids[i];
      this.labelOf.set(ids[i], label);
    }
  }

  /** Grows the graph and the vector copy so `labels` labels fit. */
  private reserve(labels: number): void {
    if (labels <= this.capacity) return;
    const next = Math.max(labels, this.capacity * 2);
    this.graph.resizeIndex(next);
    const grown = new Float32Array(next * this.dimension);
    grown.set(this.data);
    this.data = grown;
    this.capacity = next;
  }

  remove(ids: readonly VectorId[]): RemoveReport {
    checkIdList('ids', ids);
    const missing: VectorId[] = [];
    let removed = 0;
    for (const i of ids) {
      const label = this.labelOf.get(i);
      if (label === undefined) {
        missing.push(i);
        continue;
      }
      this.graph.markDelete(label);
      this.labelOf.delete(i);
      this.labelIds[label] = undefined;
      this.freeLabels.push(label);
      removed++;
    }
    return { removed, missing };
  }

  has(id: VectorId): boolean {
    return this.labelOf.has(id);
  }

  getVector(id: VectorId): Float32Array | undefined {
    const label = this.labelOf.get(id);
    if (label === undefined) return undefined;
    return this.data.slice(label * this.dimension, (label + 1) * this.dimension);
  }

  ids(): VectorId[] {
    return [...this.labelOf.keys()];
  }

  search(query: QueryInput, k: number, options: SearchOptions = {}): SearchHit[] {
    const q = parseQuery('query', query, this.dimension, this.metric);
    checkPositiveInt('k', k);
    return this.searchNormalised(q, k, normaliseFilter(options.filter));
  }

  searchBatch(queries: VectorsInput, k: number, options: SearchOptions = {}): SearchHit[][] {
    const qs = parseQueries('queries', queries, this.dimension, this.metric);
    checkPositiveInt('k', k);
    const d = this.dimension;
    const filter = normaliseFilter(options.filter);
    const out: SearchHit[][] = [];
    for (let i = 0; i < qs.length / d; i++)
      out.push(this.searchNormalised(qs.subarray(i * d, (i + 1) * d), k, filter));
    return out;
  }

  private searchNormalised(q: Float32Array, k: number, filter: NormalisedFilter): SearchHit[] {
    const live = this.labelOf.size;
    if (live === 0) return [];
    if (filter.kind === 'none') return this.searchGraph(q, Math.min(k, live), this.params.ef);
    const { exactFilterShare, exactFilterCount } = this.params;
    const d = this.dimension;
    if (filter.kind === 'set') {
      // The set's size bounds the allowed count without touching every id.
      const upper = filter.ids.size;
      if (upper === 0) return [];
      if (upper <= exactFilterCount || upper <= exactFilterShare * live) {
        const labels = rowsOf(filter.ids, (i) => this.labelOf.get(i));
        if (labels.length === 0) return [];
        const heap = new TopK(Math.min(k, labels.length));
        scanRows(this.data, labels, d, this.metric, q, 0, heap);
        return this.hits(heap);
      }
      const ids = filter.ids;
      return this.searchFiltered(q, k, Math.min(1, upper / live), (i) => ids.has(i));
    }
    const keep = filter.keep;
    const share = this.estimateShare(keep);
    if (share * live <= exactFilterCount || share <= exactFilterShare) {
      const heap = new TopK(Math.min(k, live));
      const labelIds = this.labelIds;
      scanAll(this.data, labelIds.length, d, this.metric, q, 0, heap, (label) => {
        const i = labelIds[label];
        return i === undefined || !keep(i);
      });
      return this.hits(heap);
    }
    return this.searchFiltered(q, k, share, keep);
  }

  /** Graph search under a filter that keeps about `share` of the items. */
  private searchFiltered(
    q: Float32Array,
    k: number,
    share: number,
    keep: (id: VectorId) => boolean,
  ): SearchHit[] {
    const live = this.labelOf.size;
    const want = Math.min(k, live);
    if (this.params.graphFilter === 'overfetch') {
      const fetch = Math.min(live, Math.ceil((this.params.overfetch * want) / Math.max(share, 1e-9)));
      const hits = this.searchGraph(q, fetch, Math.max(this.params.ef, fetch)).filter((h) => keep(h.id));
      if (hits.length >= want || fetch === live) return hits.slice(0, want);
    }
    const labelIds = this.labelIds;
    return this.searchGraph(q, want, this.params.filteredEf, (label) => keep(labelIds[label] as VectorId));
  }

  /** Share of the stored items a predicate keeps, from an evenly spread sample of labels. */
  private estimateShare(keep: (id: VectorId) => boolean): number {
    const used = this.labelIds.length;
    const step = Math.max(1, Math.floor(used / PREDICATE_SAMPLE));
    let seen = 0;
    let kept = 0;
    for (let label = 0; label < used; label += step) {
      const i = this.labelIds[label];
      if (i === undefined) continue;
      seen++;
      if (keep(i)) kept++;
    }
    return seen === 0 ? 0 : kept / seen;
  }

  private searchGraph(
    q: Float32Array,
    k: number,
    ef: number,
    allow?: (label: number) => boolean,
  ): SearchHit[] {
    if (ef !== this.params.ef) this.graph.setEf(ef);
    try {
      const res = this.graph.searchKnn(Array.from(q), k, allow);
      const out: SearchHit[] = new Array(res.neighbors.length);
      for (let i = 0; i < res.neighbors.length; i++) {
        out[i] = { id: this.labelIds[res.neighbors[i]] as VectorId, distance: res.distances[i] };
      }
      return out;
    } finally {
      if (ef !== this.params.ef) this.graph.setEf(this.params.ef);
    }
  }

  private hits(heap: TopK): SearchHit[] {
    return heap.sorted().map((h) => ({ id: this.labelIds[h.slot] as VectorId, distance: h.distance }));
  }

  /** Copies the graph through a temporary file (hnswlib has no in-memory copy). */
  clone(): HnswIndex {
    const file = join(tmpdir(), `mlsd-hnsw-clone-${process.pid}-${randomBytes(6).toString('hex')}.bin`);
    try {
      this.graph.writeIndexSync(file);
      const graph = new hnswlib.HierarchicalNSW(this.metric === 'l2' ? 'l2' : 'ip', this.dimension);
      graph.readIndexSync(file);
      return this.withState(
        graph,
        this.labelIds.slice(),
        this.data.slice(0, this.labelIds.length * this.dimension),
      );
    } finally {
      rmSync(file, { force: true });
    }
  }

  private withState(graph: Graph, labelIds: (VectorId | undefined)[], rows: Float32Array): HnswIndex {
    const copy = new HnswIndex({ dimension: this.dimension, metric: this.metric, ...this.params }, graph);
    copy.restore(labelIds, rows);
    return copy;
  }

  private restore(labelIds: (VectorId | undefined)[], rows: Float32Array): void {
    this.reserve(labelIds.length);
    this.data.set(rows);
    this.labelIds = labelIds;
    for (let label = labelIds.length - 1; label >= 0; label--) {
      const i = labelIds[label];
      if (i === undefined) this.freeLabels.push(label);
      else this.labelOf.set(i, label);
    }
  }

  async save(path: string): Promise<void> {
    const meta: SavedMeta = {
      format: 'mlsd-vector-index',
      version: 1,
      kind: 'hnsw',
      metric: this.metric,
      dimension: this.dimension,
      ids: this.labelIds.map((i) => (i === undefined ? null : i)),
      params: { ...this.params },
    };
    const rows = this.data.slice(0, this.labelIds.length * this.dimension);
    const graph = this.graph;
    await writeIndexDir(path, meta, async (dir) => {
      // Synchronous on purpose: the graph must not change under hnswlib's writer.
      graph.writeIndexSync(join(dir, 'graph.hnsw'));
      await writeFloat32(join(dir, 'vectors.f32'), rows);
    });
  }

  /** Loads an index written by {@link HnswIndex.save}, with its id map and parameters. */
  static async load(path: string): Promise<HnswIndex> {
    const meta = await readMeta(path, 'hnsw');
    const rows = await readFloat32(join(path, 'vectors.f32'), meta.ids.length * meta.dimension);
    const graph = new hnswlib.HierarchicalNSW(meta.metric === 'l2' ? 'l2' : 'ip', meta.dimension);
    graph.readIndexSync(join(path, 'graph.hnsw'));
    const index = new HnswIndex(
      { dimension: meta.dimension, metric: meta.metric, ...(meta.params ?? {}) },
      graph,
    );
    index.restore(
      meta.ids.map((i) => (i === null ? undefined : i)),
      rows,
    );
    return index;
  }
}
