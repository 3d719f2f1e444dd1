/**
 * The one interface every nearest-neighbour backend implements (exact and HNSW), and the value
 * types that cross it: ids, metrics, filters, hits and the report of a batch write.
 */

/** Similarity measure. `cosine` is served by normalising every stored vector and query. */
export type Metric = 'ip' | 'cosine' | 'l2';

/** The application's own id of a stored vector. `1` and `'1'` are different ids. */
export type VectorId = string | number;

/**
 * Vectors handed to `add` or `searchBatch`: one packed row-major Float32Array (length a multiple
 * of the dimension), or one row per element as a number array or Float32Array.
 */
export type VectorsInput = Float32Array | readonly (readonly number[] | Float32Array)[];

/** One query vector. */
export type QueryInput = Float32Array | readonly number[];

/**
 * Which stored items a search may return: an allow-list of ids (a Set or an array), or a
 * predicate over the id.
 */
export type SearchFilter = ReadonlySet<VectorId> | readonly VectorId[] | ((id: VectorId) => boolean);

/** Options of one search. */
export interface SearchOptions {
  /** Only items the filter keeps are returned. */
  filter?: SearchFilter;
}

/**
 * One neighbour. `distance` is smaller for nearer items and is the same number in every backend:
 * `l2` squared Euclidean distance, `ip` 1 - dot product, `cosine` 1 - cosine similarity.
 */
export interface SearchHit {
  id: VectorId;
  distance: number;
}

/** A row of a batch that was not stored, and why. */
export interface RejectedRow {
  /** Position of the row in the batch. */
  row: number;
  id: unknown;
  reason: string;
}

/** What a batch `add` stored and what it rejected. */
export interface AddReport {
  added: number;
  rejected: RejectedRow[];
}

/** Options of a batch `add`. */
export interface AddOptions {
  /**
   * `false` (default): one bad row (duplicate id, NaN, wrong length, zero vector under cosine)
   * rejects the whole batch with an {@link InvalidRowsError} listing every bad row, and nothing is
   * stored. `true`: the good rows are stored and the bad ones are listed in the returned report.
   */
  skipInvalid?: boolean;
}

/** What `remove` did. */
export interface RemoveReport {
  removed: number;
  /** Ids that were not in the index (removing them is not an error). */
  missing: VectorId[];
}

/** Backend name, stored in the saved files so `loadIndex` can pick the class. */
export type IndexKind = 'exact' | 'hnsw';

/** Nearest-neighbour search over vectors keyed by the application's ids. */
export interface VectorIndex {
  readonly kind: IndexKind;
  readonly dimension: number;
  readonly metric: Metric;
  /** Number of stored (not removed) vectors. */
  readonly size: number;
  /** Stores vectors under new ids; an id already stored is a duplicate (remove it first). */
  add(ids: readonly VectorId[], vectors: VectorsInput, options?: AddOptions): AddReport;
  /** Removes ids; unknown ids are listed in the report, not thrown. */
  remove(ids: readonly VectorId[]): RemoveReport;
  has(id: VectorId): boolean;
  /** The stored vector (normalised under cosine), or undefined. */
  getVector(id: VectorId): Float32Array | undefined;
  /** Every stored id, in no particular order. */
  ids(): VectorId[];
  /** The k nearest stored items, nearest first. */
  search(query: QueryInput, k: number, options?: SearchOptions): SearchHit[];
  /** `search` for each query; queries packed or one per element like `add`'s vectors. */
  searchBatch(queries: VectorsInput, k: number, options?: SearchOptions): SearchHit[][];
  /** An independent copy: writes to it do not touch this index. */
  clone(): VectorIndex;
  /** Writes the index to a directory (replaced as a whole, never half-written). */
  save(path: string): Promise<void>;
}
