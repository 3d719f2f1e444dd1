/**
 * The /ads/rank encoder: the same model inputs as `encodeRows(spec, rows)`, built without a row
 * object per candidate.
 *
 * A ranking request scores one user against up to hundreds of ads. The id fields of the user
 * (user_profile and the user id), of each ad (ad_attributes and the ad id) and of the request
 * context (position, hour, weekday) do not depend on each other when every id field is a plain
 * vocabulary of one column, as in FM, DeepFM and DCN-v2. Each part is then encoded once by the
 * spec's own `apply` (on a row holding only that part's columns), cached (users and ads) and
 * copied into place per candidate; the counters, the only per-candidate values, arrive as one
 * numeric matrix (the online store's `readNumeric`) and go through the spec's dense transforms
 * row by row (`inputWriter`) on one reused row object. The values are those of `encodeRows` by
 * construction: `apply` and `inputWriter` compute each column from its own transform and input
 * columns.
 *
 * Specs with crosses or count buckets among the ids (the logistic-regression baselines) mix
 * parts within one id column; `createRankEncoder` returns undefined for them and the service
 * builds full rows as before.
 */
import { apply, type FeatureSpec, inputWriter, type Row } from '@mlsd/features';
import { type CtrInputs, inputShape } from './features.js';

/** Columns of each part of a ranking row. */
export const USER_COLUMNS = ['user_id', 'age', 'gender', 'country', 'language', 'device'] as const;
export const AD_COLUMNS = [
  'ad_id',
  'advertiser_id',
  'campaign_id',
  'ad_group_id',
  'category',
  'subcategory',
  'creative',
] as const;
export const CONTEXT_COLUMNS = ['position', 'hour', 'hour_bucket', 'weekday'] as const;

type Part = 'user' | 'ad' | 'context';

export interface RankEncoder {
  fields: number;
  denseWidth: number;
  /** The id fields of one part's row (already offset into the global id space), by position. */
  encodePart(part: Part, row: Row): Int32Array;
  /**
   * Model inputs of `n` candidates: the user's and the context's encoded parts, each candidate's
   * ad part, and the candidates' counters, row-major `n x counterColumns.length` (NaN counts as 0,
   * a counter never incremented).
   */
  encode(user: Int32Array, context: Int32Array, ads: Int32Array[], counts: Float64Array): CtrInputs;
}

/**
 * An encoder for the spec whose dense input reads only `counterColumns`, or undefined when its id
 * fields are not all single-column vocabularies.
 */
export function createRankEncoder(
  spec: FeatureSpec,
  counterColumns: readonly string[],
): RankEncoder | undefined {
  const idsInfo = spec.inputs.find((i) => i.name === 'ids');
  const denseInfo = spec.inputs.find((i) => i.name === 'dense');
  if (idsInfo?.dtype !== 'int32') return undefined;
  const idTransforms = spec.transforms.filter((t) => t.input === 'ids');
  if (idTransforms.length !== idsInfo.width) return undefined;
  const partOf: Part[] = [];
  for (const t of idTransforms) {
    if (t.kind !== 'vocabulary' || t.encoding !== 'id') return undefined;
    const c = t.column;
    if ((USER_COLUMNS as readonly string[]).includes(c)) partOf.push('user');
    else if ((AD_COLUMNS as readonly string[]).includes(c)) partOf.push('ad');
    else if ((CONTEXT_COLUMNS as readonly string[]).includes(c)) partOf.push('context');
    else return undefined;
  }
  const { offsets, denseWidth } = inputShape(spec);
  const fields = idsInfo.width;
  const idsOnly: FeatureSpec = { ...spec, inputs: [idsInfo] };
  const dense = denseInfo ? inputWriter(spec, denseInfo.name) : undefined;
  // The row the dense transforms read, one per encoder, refilled per candidate: every counter
  // column is set in the same order, so the object keeps one shape.
  const counterRow: Row = {};
  for (const c of counterColumns) counterRow[c] = 0;
  const width = counterColumns.length;
  const positions: Record<Part, Int32Array> = {
    user: Int32Array.from(partOf.flatMap((p, j) => (p === 'user' ? [j] : []))),
    ad: Int32Array.from(partOf.flatMap((p, j) => (p === 'ad' ? [j] : []))),
    context: Int32Array.from(partOf.flatMap((p, j) => (p === 'context' ? [j] : []))),
  };
  const columns: Record<Part, readonly string[]> = {
    user: USER_COLUMNS,
    ad: AD_COLUMNS,
    context: CONTEXT_COLUMNS,
  };
  return {
    fields,
    denseWidth,
    encodePart(part, row) {
      // Only this part's columns: every other column is missing, and unused here.
      const only: Row = {};
      for (const c of columns[part]) only[c] = row[c] ?? null;
      const ids = apply(idsOnly, [only]).ids.data as Int32Array;
      const pos = positions[part];
      const out = new Int32Array(pos.length);
      for (let k = 0; k < pos.length; k++) out[k] = ids[pos[k]] + offsets[pos[k]];
      return out;
    },
    encode(user, context, ads, counts) {
      const n = ads.length;
      const ids = new Int32Array(n * fields);
      const up = positions.user;
      const ap = positions.ad;
      const cp = positions.context;
      for (let i = 0; i < n; i++) {
        const base = i * fields;
        for (let k = 0; k < up.length; k++) ids[base + up[k]] = user[k];
        for (let k = 0; k < cp.length; k++) ids[base + cp[k]] = context[k];
        const a = ads[i];
        for (let k = 0; k < ap.length; k++) ids[base + ap[k]] = a[k];
      }
      if (counts.length !== n * width)
        throw new RangeError(`encode: counts: expected ${n} x ${width} values, got ${counts.length}`);
      const out = new Float32Array(n * denseWidth);
      if (dense) {
        for (let i = 0; i < n; i++) {
          for (let c = 0; c < width; c++) {
            const v = counts[i * width + c];
            counterRow[counterColumns[c]] = Number.isNaN(v) ? 0 : v;
          }
          dense.write(counterRow, out, i * denseWidth, i);
        }
      }
      return { rows: n, ids, dense: out, fields, denseWidth };
    },
  };
}
