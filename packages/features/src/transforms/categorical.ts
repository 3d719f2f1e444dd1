/**
 * Categorical transforms: a vocabulary fitted with top-N and a minimum count (id 0 is the
 * out-of-vocabulary bucket, missing included), encoded as ids or one-hot; hashing of a column into a
 * fixed number of buckets; and crosses of several categoricals hashed the same way.
 *
 * Hashing is MurmurHash3 x86 32-bit (seed 0 by default) over the UTF-8 bytes, and the bucket is
 * |signed hash| mod n: the same bucket scikit-learn's FeatureHasher and HashingVectorizer give.
 */
/// <reference path="../types/murmurhash3js-revisited.d.ts" />
import murmur from 'murmurhash3js-revisited';
import type { Row } from '../definitions.js';
import { FeatureValueError, readCategory } from './common.js';

/** Vocabulary lookup. */
export interface VocabularyDef {
  kind: 'vocabulary';
  name: string;
  input: string;
  column: string;
  /** Fixed vocabulary (no fit needed); otherwise fitted from the rows. */
  values?: string[];
  /** Keep only the N most frequent values (ties broken by value, ascending). */
  topN?: number;
  /** Drop values seen fewer times than this (default 1). */
  minCount?: number;
  encoding: 'id' | 'onehot';
  state?: { vocabulary: string[] };
}

/** Hash of one column (`columns.length === 1`) or a cross of several, into `numBuckets` ids. */
export interface HashDef {
  kind: 'hash';
  name: string;
  input: string;
  columns: string[];
  numBuckets: number;
  seed: number;
}

const utf8 = new TextEncoder();

/** MurmurHash3 x86 32-bit of a string's UTF-8 bytes, as a signed 32-bit integer. */
export function murmur3Signed(text: string, seed = 0): number {
  return murmur.x86.hash32(utf8.encode(text), seed) | 0;
}

/** The bucket of a string: |signed MurmurHash3| mod n, as scikit-learn's hashing vectorizers. */
export function hashBucketOf(text: string, numBuckets: number, seed = 0): number {
  const h = murmur3Signed(text, seed);
  // abs(-2^31) does not fit in 32 bits; scikit-learn special-cases it to 2^31.
  return (h === -2147483648 ? 2147483648 : Math.abs(h)) % numBuckets;
}

export function checkVocabulary(d: VocabularyDef): void {
  if (typeof d.column !== 'string' || d.column === '')
    throw new TypeError(
      `transform ${d.name}: column: expected a column name, got ${JSON.stringify(d.column)}`,
    );
  if (d.values !== undefined) {
    if (!Array.isArray(d.values) || d.values.some((v) => typeof v !== 'string')) {
      throw new TypeError(
        `transform ${d.name}: values: expected an array of strings, got ${JSON.stringify(d.values)}`,
      );
    }
    if (new Set(d.values).size !== d.values.length)
      throw new RangeError(`transform ${d.name}: values: duplicates`);
  }
  if (d.topN !== undefined && !(Number.isInteger(d.topN) && d.topN >= 1)) {
    throw new RangeError(`transform ${d.name}: topN: expected an integer >= 1, got ${d.topN}`);
  }
  if (d.minCount !== undefined && !(Number.isInteger(d.minCount) && d.minCount >= 1)) {
    throw new RangeError(`transform ${d.name}: minCount: expected an integer >= 1, got ${d.minCount}`);
  }
}

export function fitVocabulary(d: VocabularyDef, rows: readonly Row[]): { vocabulary: string[] } {
  if (d.values) return { vocabulary: [...d.values] };
  const counts = new Map<string, number>();
  for (let i = 0; i < rows.length; i++) {
    const v = readCategory(rows[i], d.column, d.name, i);
    if (v !== null) counts.set(v, (counts.get(v) ?? 0) + 1);
  }
  const min = d.minCount ?? 1;
  const entries = [...counts].filter(([, c]) => c >= min);
  entries.sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
  return { vocabulary: entries.slice(0, d.topN ?? entries.length).map(([v]) => v) };
}

/** Runtime lookup tables, built once per spec and cached. */
const lookups = new WeakMap<VocabularyDef, Map<string, number>>();

function lookupOf(d: VocabularyDef): Map<string, number> {
  let m = lookups.get(d);
  if (!m) {
    m = new Map((d.state?.vocabulary ?? []).map((v, i) => [v, i + 1]));
    lookups.set(d, m);
  }
  return m;
}

export function vocabularyCardinality(d: VocabularyDef): number {
  return (d.state?.vocabulary.length ?? 0) + 1;
}

export function writeVocabulary(
  d: VocabularyDef,
  row: Row,
  rowIndex: number,
  out: Float64Array,
  off: number,
): void {
  const v = readCategory(row, d.column, d.name, rowIndex);
  const id = v === null ? 0 : (lookupOf(d).get(v) ?? 0);
  if (d.encoding === 'onehot') {
    const w = vocabularyCardinality(d);
    for (let j = 0; j < w; j++) out[off + j] = 0;
    out[off + id] = 1;
  } else out[off] = id;
}

export function checkHash(d: HashDef): void {
  if (
    !Array.isArray(d.columns) ||
    d.columns.length === 0 ||
    d.columns.some((c) => typeof c !== 'string' || c === '')
  ) {
    throw new TypeError(
      `transform ${d.name}: columns: expected one or more column names, got ${JSON.stringify(d.columns)}`,
    );
  }
  if (!(Number.isInteger(d.numBuckets) && d.numBuckets >= 1 && d.numBuckets <= 2 ** 31)) {
    throw new RangeError(
      `transform ${d.name}: numBuckets: expected an integer in [1, 2^31], got ${d.numBuckets}`,
    );
  }
  if (!(Number.isInteger(d.seed) && d.seed >= 0 && d.seed < 2 ** 32)) {
    throw new RangeError(`transform ${d.name}: seed: expected an unsigned 32-bit integer, got ${d.seed}`);
  }
}

/**
 * The hashed key of a row: the value itself for one column; for a cross the JSON array of the values,
 * which cannot collide the way joining with a separator can. Missing values hash as the empty string
 * (alone) or as null (inside a cross).
 */
export function hashKey(d: HashDef, row: Row, rowIndex: number): string {
  if (d.columns.length === 1) return readCategory(row, d.columns[0], d.name, rowIndex) ?? '';
  return JSON.stringify(d.columns.map((c) => readCategory(row, c, d.name, rowIndex)));
}

export function writeHash(d: HashDef, row: Row, rowIndex: number, out: Float64Array, off: number): void {
  out[off] = hashBucketOf(hashKey(d, row, rowIndex), d.numBuckets, d.seed);
}

export { FeatureValueError };
