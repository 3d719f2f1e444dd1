/**
 * Checks of everything that enters an index: ids, vectors, queries, k and options. Structural
 * mistakes (wrong type, packed length not a multiple of the dimension) throw at once; problems of
 * single rows (duplicate id, NaN, wrong length, zero vector under cosine) are collected per row so
 * a batch can be rejected with every reason listed, or stored without its bad rows.
 */
import type { Metric, QueryInput, RejectedRow, VectorId, VectorsInput } from './types.js';

/** A short description of a value for error messages. */
export function describe(value: unknown): string {
  if (value === null) return 'null';
  if (Array.isArray(value)) return `an array of length ${value.length}`;
  if (value instanceof Float32Array) return `a Float32Array of length ${value.length}`;
  if (ArrayBuffer.isView(value)) return `a ${value.constructor.name}`;
  if (typeof value === 'string')
    return `the string ${JSON.stringify(value.length > 40 ? `${value.slice(0, 40)}...` : value)}`;
  if (typeof value === 'object') return `an object (${value.constructor?.name ?? 'no prototype'})`;
  return `${typeof value} ${String(value)}`;
}

const METRICS: readonly Metric[] = ['ip', 'cosine', 'l2'];

export function checkMetric(metric: unknown): Metric {
  if (!METRICS.includes(metric as Metric)) {
    throw new RangeError(`metric: expected one of 'ip', 'cosine', 'l2', got ${describe(metric)}`);
  }
  return metric as Metric;
}

export function checkPositiveInt(name: string, value: unknown, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number' || !Number.isInteger(value) || value < 1 || value > max) {
    throw new RangeError(`${name}: expected an integer in [1, ${max}], got ${describe(value)}`);
  }
  return value;
}

export function checkFraction(name: string, value: unknown): number {
  if (typeof value !== 'number' || !(value >= 0 && value <= 1)) {
    throw new RangeError(`${name}: expected a number in [0, 1], got ${describe(value)}`);
  }
  return value;
}

/** Why an id is not usable, or undefined when it is. */
export function idProblem(id: unknown): string | undefined {
  if (typeof id === 'string') return undefined;
  if (typeof id === 'number') return Number.isFinite(id) ? undefined : `id must be finite, got ${id}`;
  return `id must be a string or a number, got ${describe(id)}`;
}

export function checkIdList(name: string, ids: unknown): readonly VectorId[] {
  if (!Array.isArray(ids))
    throw new TypeError(`${name}: expected an array of string or number ids, got ${describe(ids)}`);
  return ids as readonly VectorId[];
}

/** Scales v[off..off+d) to unit length; returns false when the row has zero length. */
export function normaliseInPlace(v: Float32Array, off: number, d: number): boolean {
  let s = 0;
  for (let j = 0; j < d; j++) s += v[off + j] * v[off + j];
  if (!(s > 0)) return false;
  const inv = 1 / Math.sqrt(s);
  for (let j = 0; j < d; j++) v[off + j] *= inv;
  return true;
}

/** Splits vectors into rows without copying, checking only their structure. */
function rowsOf(
  name: string,
  vectors: unknown,
  dimension: number,
): { count: number; row: (i: number) => ArrayLike<number> } {
  if (vectors instanceof Float32Array) {
    if (vectors.length % dimension !== 0) {
      throw new RangeError(
        `${name}: expected a packed Float32Array whose length is a multiple of the dimension ${dimension}, got length ${vectors.length}`,
      );
    }
    return {
      count: vectors.length / dimension,
      row: (i) => vectors.subarray(i * dimension, (i + 1) * dimension),
    };
  }
  if (Array.isArray(vectors)) return { count: vectors.length, row: (i) => vectors[i] as ArrayLike<number> };
  throw new TypeError(
    `${name}: expected a packed Float32Array or an array of rows, got ${describe(vectors)}`,
  );
}

/** Why a row cannot be stored (copied into out at off when it can), or undefined. */
function copyRow(
  row: unknown,
  dimension: number,
  metric: Metric,
  out: Float32Array,
  off: number,
): string | undefined {
  if (!(Array.isArray(row) || row instanceof Float32Array))
    return `expected a number array or Float32Array, got ${describe(row)}`;
  if (row.length !== dimension)
    return `expected ${dimension} values (the index dimension), got ${row.length}`;
  for (let j = 0; j < dimension; j++) {
    const x = row[j];
    if (typeof x !== 'number' || !Number.isFinite(x))
      return `value ${j} is ${describe(x)}, expected a finite number`;
    out[off + j] = x;
  }
  // Values finite in float64 can overflow to Infinity in float32.
  for (let j = 0; j < dimension; j++)
    if (!Number.isFinite(out[off + j])) return `value ${j} overflows float32`;
  if (metric === 'cosine' && !normaliseInPlace(out, off, dimension))
    return 'zero vector has no direction (metric cosine)';
  return undefined;
}

/** A batch after checks: the good rows packed (normalised under cosine) and the rejected ones. */
export interface ParsedBatch {
  ids: VectorId[];
  rows: Float32Array;
  rejected: RejectedRow[];
}

export function parseBatch(
  ids: unknown,
  vectors: VectorsInput,
  dimension: number,
  metric: Metric,
  isStored: (id: VectorId) => boolean,
): ParsedBatch {
  const idList = checkIdList('ids', ids);
  const { count, row } = rowsOf('vectors', vectors, dimension);
  if (count !== idList.length) {
    throw new RangeError(`vectors: expected ${idList.length} rows (one per id), got ${count}`);
  }
  const rows = new Float32Array(count * dimension);
  const goodIds: VectorId[] = [];
  const rejected: RejectedRow[] = [];
  const seen = new Set<VectorId>();
  for (let i = 0; i < count; i++) {
    const id = idList[i];
    let reason = idProblem(id);
    if (reason === undefined && seen.has(id)) reason = `duplicate id ${JSON.stringify(id)} within the batch`;
    if (reason === undefined && isStored(id))
      reason = `duplicate id ${JSON.stringify(id)}: already in the index (remove it first)`;
    if (reason === undefined) reason = copyRow(row(i), dimension, metric, rows, goodIds.length * dimension);
    if (reason === undefined) {
      seen.add(id);
      goodIds.push(id);
    } else {
      rejected.push({ row: i, id, reason });
    }
  }
  return { ids: goodIds, rows: rows.subarray(0, goodIds.length * dimension), rejected };
}

/** One query, copied (and normalised under cosine). */
export function parseQuery(name: string, query: QueryInput, dimension: number, metric: Metric): Float32Array {
  const out = new Float32Array(dimension);
  const reason = copyRow(query, dimension, metric, out, 0);
  if (reason !== undefined) {
    const E = reason.startsWith('expected a number array') ? TypeError : RangeError;
    throw new E(`${name}: ${reason}`);
  }
  return out;
}

/** Several queries, packed; any bad query throws (nothing is stored by a search). */
export function parseQueries(
  name: string,
  queries: VectorsInput,
  dimension: number,
  metric: Metric,
): Float32Array {
  const { count, row } = rowsOf(name, queries, dimension);
  const out = new Float32Array(count * dimension);
  for (let i = 0; i < count; i++) {
    const reason = copyRow(row(i), dimension, metric, out, i * dimension);
    if (reason !== undefined) throw new RangeError(`${name}: query ${i}: ${reason}`);
  }
  return out;
}
