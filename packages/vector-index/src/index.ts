/**
 * @mlsd/vector-index: nearest-neighbour search, exact and approximate (HNSW), behind one interface,
 * saved to and loaded from disk, with a swappable handle for rebuilds under traffic.
 */
export { InvalidRowsError } from './errors.js';
export { ExactIndex, type ExactIndexOptions } from './exact-index.js';
export { DEFAULT_EF, HnswIndex, type HnswIndexOptions } from './hnsw-index.js';
export { type CreateIndexOptions, createIndex, loadIndex } from './load.js';
export { SwappableIndex } from './swappable-index.js';
export type {
  AddOptions,
  AddReport,
  IndexKind,
  Metric,
  QueryInput,
  RejectedRow,
  RemoveReport,
  SearchFilter,
  SearchHit,
  SearchOptions,
  VectorId,
  VectorIndex,
  VectorsInput,
} from './types.js';
