/**
 * Brute-force scans over a packed row-major Float32Array: the exact backend's search and the HNSW
 * backend's fallback for selective filters. Batches are scanned block by block (a matrix times
 * several vectors) so each block of rows is read from memory once for all queries.
 */
import { dot, l2sq } from './distance.js';
import type { TopK } from './top-k.js';
import type { Metric } from './types.js';

/** Rows per block of a batch scan: 512 rows of 64 floats are 128 KiB, inside a core's L2 cache. */
const BLOCK_BYTES = 128 * 1024;

/**
 * Pushes rows [0, n) into heap. `skip(row)` (holes, predicates) is asked only for rows close
 * enough to enter the heap, so an expensive predicate runs on few rows.
 */
export function scanAll(
  data: Float32Array,
  n: number,
  d: number,
  metric: Metric,
  q: Float32Array,
  qo: number,
  heap: TopK,
  skip?: (row: number) => boolean,
): void {
  scanRange(data, 0, n, d, metric, q, qo, heap, skip);
}

function scanRange(
  data: Float32Array,
  from: number,
  to: number,
  d: number,
  metric: Metric,
  q: Float32Array,
  qo: number,
  heap: TopK,
  skip?: (row: number) => boolean,
): void {
  let bound = heap.bound;
  if (metric === 'l2') {
    for (let r = from, off = from * d; r < to; r++, off += d) {
      const dist = l2sq(data, off, q, qo, d);
      if (dist < bound && (skip === undefined || !skip(r))) {
        heap.push(dist, r);
        bound = heap.bound;
      }
    }
  } else {
    for (let r = from, off = from * d; r < to; r++, off += d) {
      const dist = 1 - dot(data, off, q, qo, d);
      if (dist < bound && (skip === undefined || !skip(r))) {
        heap.push(dist, r);
        bound = heap.bound;
      }
    }
  }
}

/** Pushes the listed rows into heap. */
export function scanRows(
  data: Float32Array,
  rows: Int32Array,
  d: number,
  metric: Metric,
  q: Float32Array,
  qo: number,
  heap: TopK,
): void {
  let bound = heap.bound;
  const l2 = metric === 'l2';
  for (let i = 0; i < rows.length; i++) {
    const r = rows[i];
    const dist = l2 ? l2sq(data, r * d, q, qo, d) : 1 - dot(data, r * d, q, qo, d);
    if (dist < bound) {
      heap.push(dist, r);
      bound = heap.bound;
    }
  }
}

/** Scans rows [0, n) for every query of a packed batch, one cache-sized block of rows at a time. */
export function scanAllBatch(
  data: Float32Array,
  n: number,
  d: number,
  metric: Metric,
  queries: Float32Array,
  heaps: TopK[],
  skip?: (row: number) => boolean,
): void {
  const block = Math.max(1, Math.floor(BLOCK_BYTES / (4 * d)));
  for (let from = 0; from < n; from += block) {
    const to = Math.min(n, from + block);
    for (let qi = 0; qi < heaps.length; qi++)
      scanRange(data, from, to, d, metric, queries, qi * d, heaps[qi], skip);
  }
}
