/**
 * Turns the public `filter` option into one of two shapes the backends use: a set of allowed ids,
 * or a predicate. An allow-list is resolved to rows or labels only when a scan needs them.
 */
import { describe } from './input.js';
import type { SearchFilter, VectorId } from './types.js';

export type NormalisedFilter =
  | { kind: 'none' }
  | { kind: 'set'; ids: ReadonlySet<VectorId> }
  | { kind: 'predicate'; keep: (id: VectorId) => boolean };

export function normaliseFilter(filter: SearchFilter | undefined): NormalisedFilter {
  if (filter === undefined) return { kind: 'none' };
  if (typeof filter === 'function') return { kind: 'predicate', keep: filter };
  if (filter instanceof Set) return { kind: 'set', ids: filter };
  if (Array.isArray(filter)) return { kind: 'set', ids: new Set(filter as readonly VectorId[]) };
  throw new TypeError(
    `options.filter: expected a Set or array of ids, or a predicate (id) => boolean, got ${describe(filter)}`,
  );
}

/** Rows (exact) or labels (hnsw) of the allowed ids that are stored. */
export function rowsOf(ids: ReadonlySet<VectorId>, rowOf: (id: VectorId) => number | undefined): Int32Array {
  const rows: number[] = [];
  for (const id of ids) {
    const r = rowOf(id);
    if (r !== undefined) rows.push(r);
  }
  return Int32Array.from(rows);
}
