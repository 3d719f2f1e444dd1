/**
 * The transform building blocks as typed constructors. Each returns a plain JSON definition; `fit`
 * turns a list of them into a FeatureSpec. `input` names the ONNX input a transform writes to:
 * transforms sharing an input are concatenated along the columns in the order given.
 */

import type { HashDef, VocabularyDef } from './categorical.js';
import { type NumericSource, sourceName } from './common.js';
import type { BucketizeDef, ImputeOptions, NumericDef } from './numeric.js';
import type { TextHashDef } from './text.js';
import type { CyclicalDef, CyclicalPart } from './time.js';

export type {
  BucketizeDef,
  CyclicalDef,
  HashDef,
  ImputeOptions,
  NumericDef,
  NumericSource,
  TextHashDef,
  VocabularyDef,
};

/** Any transform definition. */
export type TransformDef = NumericDef | BucketizeDef | VocabularyDef | HashDef | TextHashDef | CyclicalDef;

/** Options every constructor takes. */
export interface OutputOptions {
  /** Name of the output (used in column names and skew reports); defaults to the source column. */
  name?: string;
  /** ONNX input this transform writes to; default `dense` for float outputs, `ids` for ids. */
  input?: string;
}

/** A float column: impute, then clip, then log1p, then scale (each optional). */
export function numeric(
  source: NumericSource,
  options: OutputOptions & {
    impute?: ImputeOptions | ImputeOptions['strategy'];
    clip?: [number, number];
    log1p?: boolean;
    scale?: 'standard' | 'minmax' | 'none';
  } = {},
): NumericDef {
  const impute = typeof options.impute === 'string' ? { strategy: options.impute } : options.impute;
  return {
    kind: 'numeric',
    name: options.name ?? sourceName(source),
    input: options.input ?? 'dense',
    source,
    ...(impute ? { impute } : {}),
    ...(options.clip ? { clip: options.clip } : {}),
    ...(options.log1p ? { log1p: true } : {}),
    scale: options.scale ?? 'none',
  };
}

/** Standardized number: (x - mean) / std, fitted on the training rows. */
export function standardize(
  source: NumericSource,
  options: OutputOptions & { impute?: ImputeOptions | ImputeOptions['strategy'] } = {},
): NumericDef {
  return numeric(source, { ...options, scale: 'standard' });
}

/** Min-max scaled number: (x - min) / (max - min), fitted on the training rows. */
export function minMax(
  source: NumericSource,
  options: OutputOptions & { impute?: ImputeOptions | ImputeOptions['strategy'] } = {},
): NumericDef {
  return numeric(source, { ...options, scale: 'minmax' });
}

/** Buckets with explicit boundaries: id 0 missing, id k+1 for boundaries[k-1] <= x < boundaries[k]. */
export function bucketize(
  source: NumericSource,
  boundaries: number[],
  options: OutputOptions & { encoding?: 'id' | 'onehot' } = {},
): BucketizeDef {
  const encoding = options.encoding ?? 'id';
  return {
    kind: 'bucketize',
    name: options.name ?? sourceName(source),
    input: options.input ?? (encoding === 'id' ? 'ids' : 'dense'),
    source,
    boundaries: [...boundaries],
    encoding,
  };
}

/** Buckets with boundaries at the quantiles of the training rows (as KBinsDiscretizer 'quantile'). */
export function quantileBucketize(
  source: NumericSource,
  numBuckets: number,
  options: OutputOptions & { encoding?: 'id' | 'onehot' } = {},
): BucketizeDef {
  const encoding = options.encoding ?? 'id';
  return {
    kind: 'bucketize',
    name: options.name ?? sourceName(source),
    input: options.input ?? (encoding === 'id' ? 'ids' : 'dense'),
    source,
    quantiles: numBuckets,
    encoding,
  };
}

/** Time since an event (`column`, epoch ms) at `now` (another column), cut at edges given in seconds. */
export function timeSinceBuckets(
  column: string,
  now: string,
  edgesSeconds: number[],
  options: OutputOptions & { encoding?: 'id' | 'onehot' } = {},
): BucketizeDef {
  return bucketize({ secondsSince: column, now }, edgesSeconds, { name: `${column}__age`, ...options });
}

/** Haversine distance in km between two lat/lon pairs (degrees), as a numeric source. */
export function haversineKm(lat1: string, lon1: string, lat2: string, lon2: string): NumericSource {
  return { haversineKm: [lat1, lon1, lat2, lon2] };
}

/** Smoothed ratio (num + alpha) / (den + beta), for rates such as click-through, as a numeric source. */
export function ratio(
  numerator: string,
  denominator: string,
  smoothing: { alpha?: number; beta?: number } = {},
): NumericSource {
  return { ratio: [numerator, denominator], ...smoothing };
}

/** Seconds from an event (`column`) to `now` (another column), both epoch ms, as a numeric source. */
export function secondsSince(column: string, now: string): NumericSource {
  return { secondsSince: column, now };
}

/** Vocabulary ids: fitted values by frequency (top N, min count), id 0 for out-of-vocabulary and missing. */
export function vocabulary(
  column: string,
  options: OutputOptions & {
    topN?: number;
    minCount?: number;
    values?: string[];
    encoding?: 'id' | 'onehot';
  } = {},
): VocabularyDef {
  const encoding = options.encoding ?? 'id';
  return {
    kind: 'vocabulary',
    name: options.name ?? column,
    input: options.input ?? (encoding === 'id' ? 'ids' : 'dense'),
    column,
    ...(options.values ? { values: [...options.values] } : {}),
    ...(options.topN !== undefined ? { topN: options.topN } : {}),
    ...(options.minCount !== undefined ? { minCount: options.minCount } : {}),
    encoding,
  };
}

/** One-hot floats: column 0 for out-of-vocabulary/missing, then one per value (given or fitted). */
export function oneHot(
  column: string,
  options: OutputOptions & { topN?: number; minCount?: number; values?: string[] } = {},
): VocabularyDef {
  return vocabulary(column, { ...options, encoding: 'onehot' });
}

/** Hashes a column into `numBuckets` ids (MurmurHash3, as scikit-learn's FeatureHasher). */
export function hashBucket(
  column: string,
  numBuckets: number,
  options: OutputOptions & { seed?: number } = {},
): HashDef {
  return {
    kind: 'hash',
    name: options.name ?? column,
    input: options.input ?? 'ids',
    columns: [column],
    numBuckets,
    seed: options.seed ?? 0,
  };
}

/** Cross of several categoricals, hashed into `numBuckets` ids. */
export function cross(
  columns: string[],
  numBuckets: number,
  options: OutputOptions & { seed?: number } = {},
): HashDef {
  return {
    kind: 'hash',
    name: options.name ?? columns.join('_x_'),
    input: options.input ?? 'ids',
    columns: [...columns],
    numBuckets,
    seed: options.seed ?? 0,
  };
}

/** Text to hashed word and/or character n-grams, as bucket counts or as a padded id list. */
export function textHash(
  column: string,
  options: OutputOptions & {
    numBuckets: number;
    wordNgrams?: [number, number] | null;
    charNgrams?: [number, number] | null;
    encoding?: 'counts' | 'ids';
    maxLength?: number;
    seed?: number;
  },
): TextHashDef {
  const encoding = options.encoding ?? 'counts';
  return {
    kind: 'text',
    name: options.name ?? column,
    input: options.input ?? (encoding === 'ids' ? 'ids' : 'dense'),
    column,
    numBuckets: options.numBuckets,
    wordNgrams: options.wordNgrams === undefined ? [1, 1] : options.wordNgrams,
    charNgrams: options.charNgrams ?? null,
    encoding,
    maxLength: options.maxLength ?? 0,
    seed: options.seed ?? 0,
  };
}

/** Sine/cosine of hour of day and/or day of week of a timestamp column (epoch ms). */
export function cyclicalTime(
  column: string,
  options: OutputOptions & { parts?: CyclicalPart[]; utcOffsetMinutes?: number } = {},
): CyclicalDef {
  return {
    kind: 'cyclical',
    name: options.name ?? column,
    input: options.input ?? 'dense',
    column,
    parts: options.parts ?? ['hour', 'weekday'],
    utcOffsetMinutes: options.utcOffsetMinutes ?? 0,
  };
}
