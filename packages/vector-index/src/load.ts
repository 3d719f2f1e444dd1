/** Creating and loading an index without naming the backend class. */
import { ExactIndex, type ExactIndexOptions } from './exact-index.js';
import { HnswIndex, type HnswIndexOptions } from './hnsw-index.js';
import { readMeta } from './persist.js';
import type { VectorIndex } from './types.js';

/** Options of {@link createIndex}: the backend and its options. */
export type CreateIndexOptions =
  | ({ backend: 'exact' } & ExactIndexOptions)
  | ({ backend: 'hnsw' } & HnswIndexOptions);

/** A new empty index of the chosen backend. */
export function createIndex(options: CreateIndexOptions): VectorIndex {
  if (options?.backend === 'exact') return new ExactIndex(options);
  if (options?.backend === 'hnsw') return new HnswIndex(options);
  throw new RangeError(
    `options.backend: expected 'exact' or 'hnsw', got ${String((options as { backend?: unknown })?.backend)}`,
  );
}

/** Loads an index saved by any backend's `save`, with its ids and parameters. */
export async function loadIndex(path: string): Promise<VectorIndex> {
  const meta = await readMeta(path);
  return meta.kind === 'exact' ? ExactIndex.load(path) : HnswIndex.load(path);
}
