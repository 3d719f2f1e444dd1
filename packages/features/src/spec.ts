/**
 * Fit and apply. `fit(options, rows)` computes every statistic and vocabulary the transforms need and
 * returns a FeatureSpec: plain JSON, versioned, with a SHA-256 content hash, saved beside the model.
 * `apply(spec, rows)` turns rows into the model's named input tensors. The same function serves a
 * million-row training batch and a single online request; each row is computed on its own, so a row
 * gives the same bytes alone and inside any batch.
 */
import { createHash } from 'node:crypto';
import type { Row } from './definitions.js';
import {
  checkHash,
  checkVocabulary,
  fitVocabulary,
  vocabularyCardinality,
  writeHash,
  writeVocabulary,
} from './transforms/categorical.js';
import type { TransformDef } from './transforms/index.js';
import {
  bucketCardinality,
  checkBucketize,
  checkNumeric,
  fitBucketize,
  fitNumeric,
  numericColumns,
  numericWidth,
  writeBucketize,
  writeNumeric,
} from './transforms/numeric.js';
import { checkText, textWidth, writeText } from './transforms/text.js';
import { checkCyclical, cyclicalColumns, writeCyclical } from './transforms/time.js';

/** Version of the FeatureSpec format; `loadFeatureSpec` refuses others. */
export const FEATURE_SPEC_VERSION = 1;

/** Element type of an input tensor, spelled as ONNX Runtime spells it. */
export type TensorDtype = 'float32' | 'int64' | 'int32';

/** One model input: name, element type, row width, and the name of each column. */
export interface InputInfo {
  name: string;
  dtype: TensorDtype;
  width: number;
  columns: string[];
  /** For id inputs: the number of distinct ids of each column (embedding table sizes). */
  cardinalities?: number[];
}

/** Everything needed to compute model inputs from raw rows, as JSON. */
export interface FeatureSpec {
  format: 'mlsd.feature-spec';
  version: number;
  name: string;
  /** Element type of id inputs. */
  idType: 'int64' | 'int32';
  transforms: TransformDef[];
  inputs: InputInfo[];
  /** Number of rows the statistics were fitted on. */
  fittedRows: number;
  /** SHA-256 (hex) of the canonical JSON of every other field. */
  hash: string;
}

/** A named tensor ready for ONNX Runtime (`new ort.Tensor(t.dtype, t.data, t.dims)`). */
export type FeatureTensor =
  | { name: string; dtype: 'float32'; dims: [number, number]; data: Float32Array }
  | { name: string; dtype: 'int64'; dims: [number, number]; data: BigInt64Array }
  | { name: string; dtype: 'int32'; dims: [number, number]; data: Int32Array };

/** Options of `fit`. */
export interface FitOptions {
  /** Name of the spec (for example the model name). */
  name: string;
  transforms: TransformDef[];
  /** Element type of id inputs (default int64, what ONNX Gather and embeddings take). */
  idType?: 'int64' | 'int32';
}

interface Shape {
  dense: boolean;
  width: number;
  columns: string[];
  cardinalities?: number[];
}

function checkTransform(t: TransformDef): void {
  if (!t || typeof t !== 'object')
    throw new TypeError(`transforms: expected transform definitions, got ${JSON.stringify(t)}`);
  if (typeof t.name !== 'string' || t.name === '')
    throw new TypeError(`transform: name: expected a non-empty string, got ${JSON.stringify(t.name)}`);
  if (typeof t.input !== 'string' || t.input === '')
    throw new TypeError(
      `transform ${t.name}: input: expected a non-empty string, got ${JSON.stringify(t.input)}`,
    );
  switch (t.kind) {
    case 'numeric':
      checkNumeric(t);
      return;
    case 'bucketize':
      checkBucketize(t);
      return;
    case 'vocabulary':
      checkVocabulary(t);
      return;
    case 'hash':
      checkHash(t);
      return;
    case 'text':
      checkText(t);
      return;
    case 'cyclical':
      checkCyclical(t);
      return;
    default:
      throw new TypeError(
        `transform ${(t as { name: string }).name}: kind: unknown kind ${JSON.stringify((t as { kind: unknown }).kind)}`,
      );
  }
}

function shapeOf(t: TransformDef): Shape {
  switch (t.kind) {
    case 'numeric':
      return { dense: true, width: numericWidth(t), columns: numericColumns(t) };
    case 'bucketize': {
      const k = bucketCardinality(t);
      return t.encoding === 'onehot'
        ? { dense: true, width: k, columns: Array.from({ length: k }, (_, j) => `${t.name}=${j}`) }
        : { dense: false, width: 1, columns: [t.name], cardinalities: [k] };
    }
    case 'vocabulary': {
      const k = vocabularyCardinality(t);
      const vocab = t.state?.vocabulary ?? [];
      return t.encoding === 'onehot'
        ? { dense: true, width: k, columns: [`${t.name}=<oov>`, ...vocab.map((v) => `${t.name}=${v}`)] }
        : { dense: false, width: 1, columns: [t.name], cardinalities: [k] };
    }
    case 'hash':
      return { dense: false, width: 1, columns: [t.name], cardinalities: [t.numBuckets] };
    case 'text': {
      const w = textWidth(t);
      const columns = Array.from({ length: w }, (_, j) => `${t.name}#${j}`);
      return t.encoding === 'counts'
        ? { dense: true, width: w, columns }
        : { dense: false, width: w, columns, cardinalities: new Array(w).fill(t.numBuckets + 1) };
    }
    case 'cyclical':
      return { dense: true, width: t.parts.length * 2, columns: cyclicalColumns(t) };
  }
}

function fitOne(t: TransformDef, rows: readonly Row[]): TransformDef {
  const copy = structuredClone(t);
  switch (copy.kind) {
    case 'numeric':
      copy.state = fitNumeric(copy, rows);
      break;
    case 'bucketize':
      copy.state = fitBucketize(copy, rows);
      break;
    case 'vocabulary':
      copy.state = fitVocabulary(copy, rows);
      break;
    default:
      break;
  }
  return copy;
}

function inputsOf(transforms: TransformDef[], idType: 'int64' | 'int32'): InputInfo[] {
  const byName = new Map<string, InputInfo & { dense: boolean }>();
  for (const t of transforms) {
    const s = shapeOf(t);
    let info = byName.get(t.input);
    if (!info) {
      info = { name: t.input, dtype: s.dense ? 'float32' : idType, width: 0, columns: [], dense: s.dense };
      if (!s.dense) info.cardinalities = [];
      byName.set(t.input, info);
    }
    if (info.dense !== s.dense) {
      throw new TypeError(
        `transform ${t.name}: input ${t.input}: mixes float and id outputs; give it another input name`,
      );
    }
    info.width += s.width;
    info.columns.push(...s.columns);
    if (s.cardinalities) info.cardinalities?.push(...s.cardinalities);
  }
  return [...byName.values()].map(({ dense: _dense, ...rest }) => rest);
}

/** JSON with object keys sorted, so equal specs hash equally whatever the key order. */
function canonicalJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const keys = Object.keys(value)
      .filter((k) => (value as Record<string, unknown>)[k] !== undefined)
      .sort();
    return `{${keys.map((k) => `${JSON.stringify(k)}:${canonicalJson((value as Record<string, unknown>)[k])}`).join(',')}}`;
  }
  return JSON.stringify(value);
}

function hashSpec(spec: Omit<FeatureSpec, 'hash'> & { hash?: string }): string {
  const { hash: _hash, ...rest } = spec;
  return createHash('sha256').update(canonicalJson(rest)).digest('hex');
}

/** Fits every transform on the training rows and returns the FeatureSpec. */
export function fit(options: FitOptions, rows: readonly Row[]): FeatureSpec {
  if (!options || typeof options.name !== 'string' || options.name === '') {
    throw new TypeError(
      `fit: options.name: expected a non-empty string, got ${JSON.stringify(options?.name)}`,
    );
  }
  if (!Array.isArray(options.transforms) || options.transforms.length === 0) {
    throw new TypeError('fit: options.transforms: expected a non-empty array of transform definitions');
  }
  if (!Array.isArray(rows)) throw new TypeError(`fit: rows: expected an array of rows, got ${typeof rows}`);
  const idType = options.idType ?? 'int64';
  if (idType !== 'int64' && idType !== 'int32')
    throw new TypeError(`fit: idType: expected int64 or int32, got ${JSON.stringify(idType)}`);
  const names = new Set<string>();
  for (const t of options.transforms) {
    checkTransform(t);
    if (names.has(t.name))
      throw new RangeError(`fit: transform name ${t.name} used twice; give one a distinct name`);
    names.add(t.name);
  }
  const transforms = options.transforms.map((t) => fitOne(t, rows));
  const body = {
    format: 'mlsd.feature-spec' as const,
    version: FEATURE_SPEC_VERSION,
    name: options.name,
    idType,
    transforms,
    inputs: inputsOf(transforms, idType),
    fittedRows: rows.length,
  };
  return { ...body, hash: hashSpec(body) };
}

/** Parses and checks a FeatureSpec (JSON text or object): format, version, transforms and hash. */
export function loadFeatureSpec(json: string | object): FeatureSpec {
  const spec = (typeof json === 'string' ? JSON.parse(json) : structuredClone(json)) as FeatureSpec;
  if (spec?.format !== 'mlsd.feature-spec') {
    throw new TypeError(
      `loadFeatureSpec: expected format 'mlsd.feature-spec', got ${JSON.stringify(spec?.format)}`,
    );
  }
  if (spec.version !== FEATURE_SPEC_VERSION) {
    throw new RangeError(
      `loadFeatureSpec: expected version ${FEATURE_SPEC_VERSION}, got ${JSON.stringify(spec.version)}`,
    );
  }
  for (const t of spec.transforms) checkTransform(t);
  const expected = hashSpec(spec);
  if (spec.hash !== expected) {
    throw new RangeError(
      `loadFeatureSpec: hash: content hashes to ${expected}, spec says ${spec.hash} (edited or corrupted)`,
    );
  }
  return spec;
}

type Writer = (row: Row, rowIndex: number, out: Float64Array, off: number) => void;

function writerOf(t: TransformDef): Writer {
  switch (t.kind) {
    case 'numeric':
      return (r, i, o, k) => writeNumeric(t, r, i, o, k);
    case 'bucketize':
      return (r, i, o, k) => writeBucketize(t, r, i, o, k);
    case 'vocabulary':
      return (r, i, o, k) => writeVocabulary(t, r, i, o, k);
    case 'hash':
      return (r, i, o, k) => writeHash(t, r, i, o, k);
    case 'text':
      return (r, i, o, k) => writeText(t, r, i, o, k);
    case 'cyclical':
      return (r, i, o, k) => writeCyclical(t, r, i, o, k);
  }
}

interface Plan {
  inputs: Array<{ info: InputInfo; parts: Array<{ write: Writer; offset: number }> }>;
}

const plans = new WeakMap<FeatureSpec, Plan>();

function planOf(spec: FeatureSpec): Plan {
  let plan = plans.get(spec);
  if (plan) return plan;
  const offsets = new Map<string, number>();
  const parts = new Map<string, Array<{ write: Writer; offset: number }>>();
  for (const t of spec.transforms) {
    const off = offsets.get(t.input) ?? 0;
    offsets.set(t.input, off + shapeOf(t).width);
    const list = parts.get(t.input) ?? [];
    list.push({ write: writerOf(t), offset: off });
    parts.set(t.input, list);
  }
  plan = { inputs: spec.inputs.map((info) => ({ info, parts: parts.get(info.name) ?? [] })) };
  plans.set(spec, plan);
  return plan;
}

/**
 * Computes the model inputs for `rows`: one tensor per input of the spec, shape [rows, width].
 * Throws a FeatureValueError naming the transform and the row for a bad value.
 */
export function apply(spec: FeatureSpec, rows: readonly Row[]): Record<string, FeatureTensor> {
  if (spec?.format !== 'mlsd.feature-spec')
    throw new TypeError('apply: spec: expected a FeatureSpec from fit or loadFeatureSpec');
  if (!Array.isArray(rows)) throw new TypeError(`apply: rows: expected an array of rows, got ${typeof rows}`);
  const n = rows.length;
  const result: Record<string, FeatureTensor> = {};
  for (const { info, parts } of planOf(spec).inputs) {
    const w = info.width;
    const scratch = new Float64Array(w);
    const dims: [number, number] = [n, w];
    if (info.dtype === 'float32') {
      const data = new Float32Array(n * w);
      for (let i = 0; i < n; i++) {
        const row = rows[i];
        if (!row || typeof row !== 'object')
          throw new TypeError(`apply: rows[${i}]: expected an object, got ${JSON.stringify(row)}`);
        for (const p of parts) p.write(row, i, scratch, p.offset);
        data.set(scratch, i * w);
      }
      result[info.name] = { name: info.name, dtype: 'float32', dims, data };
    } else {
      const data = info.dtype === 'int64' ? new BigInt64Array(n * w) : new Int32Array(n * w);
      for (let i = 0; i < n; i++) {
        const row = rows[i];
        if (!row || typeof row !== 'object')
          throw new TypeError(`apply: rows[${i}]: expected an object, got ${JSON.stringify(row)}`);
        for (const p of parts) p.write(row, i, scratch, p.offset);
        const base = i * w;
        if (data instanceof BigInt64Array) for (let j = 0; j < w; j++) data[base + j] = BigInt(scratch[j]);
        else for (let j = 0; j < w; j++) data[base + j] = scratch[j];
      }
      result[info.name] =
        data instanceof BigInt64Array
          ? { name: info.name, dtype: 'int64', dims, data }
          : { name: info.name, dtype: 'int32', dims, data: data as Int32Array };
    }
  }
  return result;
}

/** Writes one row's columns of one model input; see {@link inputWriter}. */
export interface InputWriter {
  /** The input's name and width (its columns per row). */
  readonly input: string;
  readonly width: number;
  /**
   * Writes `row`'s `width` values at `out[offset..]`, the values `apply` gives that row.
   * `rowIndex` only names the row in errors.
   * @throws FeatureValueError for a bad value, as `apply`.
   */
  write(row: Row, out: Float32Array | Float64Array | Int32Array, offset: number, rowIndex?: number): void;
}

/**
 * One input of the spec, row by row: for serving code that fills a preallocated batch (reusing one
 * row object per request) instead of building an array of rows for `apply`. Int64 inputs are not
 * supported here (their values are BigInts): use `apply`.
 */
export function inputWriter(spec: FeatureSpec, input: string): InputWriter {
  if (spec?.format !== 'mlsd.feature-spec')
    throw new TypeError('inputWriter: spec: expected a FeatureSpec from fit or loadFeatureSpec');
  const entry = planOf(spec).inputs.find((x) => x.info.name === input);
  if (!entry)
    throw new RangeError(
      `inputWriter: input: unknown input ${JSON.stringify(input)}; the spec has ${spec.inputs.map((i) => i.name).join(', ')}`,
    );
  if (entry.info.dtype === 'int64')
    throw new TypeError(`inputWriter: input ${input} is int64; use apply (BigInt values)`);
  const { parts } = entry;
  const width = entry.info.width;
  const scratch = new Float64Array(width);
  return {
    input,
    width,
    write(row, out, offset, rowIndex = 0) {
      if (!row || typeof row !== 'object')
        throw new TypeError(`inputWriter: rows[${rowIndex}]: expected an object, got ${JSON.stringify(row)}`);
      for (const p of parts) p.write(row, rowIndex, scratch, p.offset);
      for (let j = 0; j < width; j++) out[offset + j] = scratch[j];
    },
  };
}

/** The value of every output column of one row, by column name (for skew reports and debugging). */
export function applyOne(spec: FeatureSpec, row: Row): Record<string, number> {
  const tensors = apply(spec, [row]);
  const out: Record<string, number> = {};
  for (const info of spec.inputs) {
    const t = tensors[info.name];
    info.columns.forEach((c, j) => {
      out[c] = Number(t.data[j]);
    });
  }
  return out;
}
