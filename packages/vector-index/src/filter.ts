/** Turns the public `filter` option into what the scans use: no filter, allowed rows, or a predicate. */
import { describe } from './input.js';
import type { SearchFilter, VectorId } from './types.js';

export type ResolvedFilter =
  | { kind: 'none' }
  /** Rows (exact) or labels (hnsw) of the allowed ids that are stored, without repeats. */
  | { kind: 'allow'; rows: Int32Array }
  | { kind: 'predicate'; keep: (id: VectorId) => boolean };

export function resolveFilter(
  filter: SearchFilter | undefined,
  rowOf: (id: VectorId) => number | undefined,
): ResolvedFilter {
  if (filter === undefined) return { kind: 'none' };
  if (typeof filter === 'function') return { kind: 'predicate', keep: filter };
  const list: Iterable<VectorId> | undefined =
    filter instanceof Set
      ? filter
      : Array.isArray(filter)
        ? new Set(filter as readonly VectorId[])
        : undefined;
  if (list === undefined) {
    throw new TypeError(
      `options.filter: expected a Set or array of ids, or a predicate (id) => boolean, got ${describe(filter)}`,
    );
  }
  const rows: number[] = [];
  for (const id of list) {
    const r = rowOf(id);
    if (r !== undefined) rows.push(r);
  }
  return { kind: 'allow', rows: Int32Array.from(rows) };
}
