/**
 * Transforms, fit and apply: reference values from scikit-learn (fixtures/features/make-reference.py),
 * hand-worked cases, the one-row-vs-batch byte identity property, spec hashing and bad input.
 */
import { readFileSync } from 'node:fs';
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import {
  apply,
  bucketize,
  cross,
  cyclicalTime,
  FeatureValueError,
  fit,
  hashBucket,
  hashBucketOf,
  haversineKm,
  inputWriter,
  loadFeatureSpec,
  murmur3Signed,
  numeric,
  oneHot,
  quantileBucketize,
  ratio,
  standardize,
  type TransformDef,
  textHash,
  timeSinceBuckets,
  vocabulary,
} from './index.js';

const ref = JSON.parse(
  readFileSync(new URL('../../../fixtures/features/reference.json', import.meta.url), 'utf8'),
);
const nums = (d: Float32Array | Int32Array | BigInt64Array): number[] =>
  Array.from(d as ArrayLike<number>, Number);
const rowsOf = (xs: Array<number | null>) => xs.map((x) => ({ x }));

describe('numeric transforms against scikit-learn', () => {
  const strategies = { mean: 'mean', median: 'median', most_frequent: 'mode' } as const;
  for (const [sk, ours] of Object.entries(strategies)) {
    for (const scale of ['standard', 'minmax'] as const) {
      it(`SimpleImputer(${sk}) + ${scale} scaler`, () => {
        const expected = ref.numeric[`${sk}/${scale}`];
        const spec = fit(
          { name: 't', transforms: [numeric('x', { impute: ours, scale })] },
          rowsOf(ref.train),
        );
        const t = spec.transforms[0];
        expect(t.kind === 'numeric' && t.state?.fill).toBeCloseTo(expected.fill, 12);
        const out = apply(spec, rowsOf(ref.test)).dense.data;
        expected.transformed.forEach((v: number, i: number) => {
          expect(out[i]).toBeCloseTo(v, 5);
        });
      });
    }
  }
  it('median impute, log1p, standardize', () => {
    const expected = ref.numeric['median/log1p/standard'];
    const spec = fit(
      { name: 't', transforms: [numeric('x', { impute: 'median', log1p: true, scale: 'standard' })] },
      rowsOf(ref.train),
    );
    const out = apply(spec, rowsOf(ref.test)).dense.data;
    expected.transformed.forEach((v: number, i: number) => {
      expect(out[i]).toBeCloseTo(v, 5);
    });
  });
  it('missing indicator and constant impute (hand-worked)', () => {
    const spec = fit(
      {
        name: 't',
        transforms: [
          numeric('x', { impute: { strategy: 'constant', value: -1, indicator: true }, clip: [0, 10] }),
        ],
      },
      rowsOf([1, null]),
    );
    expect(spec.inputs[0].columns).toEqual(['x', 'x__missing']);
    // -1 is clipped to 0 after imputation; 50 is clipped to 10.
    expect(nums(apply(spec, rowsOf([null, 50, 3])).dense.data)).toEqual([0, 1, 10, 0, 3, 0]);
  });
});

describe('buckets', () => {
  it('quantile boundaries and bucket ids match KBinsDiscretizer (id = ordinal + 1)', () => {
    const q = ref.quantile;
    const spec = fit({ name: 't', transforms: [quantileBucketize('x', q.numBuckets)] }, rowsOf(ref.train));
    const t = spec.transforms[0];
    const got = t.kind === 'bucketize' ? (t.state?.boundaries ?? []) : [];
    expect(got.length).toBe(q.innerEdges.length);
    q.innerEdges.forEach((e: number, i: number) => {
      expect(got[i]).toBeCloseTo(e, 10);
    });
    expect(Array.from(apply(spec, rowsOf(q.probe)).ids.data, Number)).toEqual(
      q.ordinal.map((o: number) => o + 1),
    );
  });
  it('explicit boundaries: missing 0, left-closed buckets, one-hot (hand-worked)', () => {
    const spec = fit(
      {
        name: 't',
        transforms: [
          bucketize('x', [0, 10], { encoding: 'id' }),
          bucketize('x', [0, 10], { name: 'x1h', encoding: 'onehot' }),
        ],
      },
      [],
    );
    const r = apply(spec, rowsOf([null, -5, 0, 9.99, 10, 1e9]));
    expect(Array.from(r.ids.data, Number)).toEqual([0, 1, 2, 2, 3, 3]);
    expect(nums(r.dense.data.slice(0, 8))).toEqual([1, 0, 0, 0, 0, 1, 0, 0]);
    expect(spec.inputs.find((i) => i.name === 'ids')?.cardinalities).toEqual([4]);
  });
  it('time since an event with bucket edges (seconds)', () => {
    const spec = fit(
      { name: 't', transforms: [timeSinceBuckets('last_click', 'event_ts', [60, 3600, 86400])] },
      [],
    );
    const now = 1_700_000_000_000;
    const rows = [null, 0, 59_999, 60_000, 3_600_000, 90_000_000].map((age) => ({
      last_click: age === null ? null : now - age,
      event_ts: now,
    }));
    expect(Array.from(apply(spec, rows).ids.data, Number)).toEqual([0, 1, 1, 2, 3, 4]);
  });
});

describe('categorical and hashing', () => {
  it('MurmurHash3 x86 32 matches sklearn.utils.murmurhash3_32', () => {
    for (const c of ref.murmur3) expect(murmur3Signed(c.text, c.seed)).toBe(c.signed);
  });
  it('hash buckets match FeatureHasher', () => {
    const h = ref.featureHasher;
    h.values.forEach((v: string, i: number) => {
      expect(hashBucketOf(v, h.numBuckets)).toBe(h.buckets[i]);
    });
    const spec = fit({ name: 't', transforms: [hashBucket('c', h.numBuckets)] }, []);
    expect(
      Array.from(
        apply(
          spec,
          h.values.map((c: string) => ({ c })),
        ).ids.data,
        Number,
      ),
    ).toEqual(h.buckets);
  });
  it('vocabulary: top-N by count, ties by value, OOV and missing at 0', () => {
    const rows = ['b', 'a', 'c', 'b', 'a', 'd', 'b'].map((c) => ({ c }));
    const spec = fit(
      {
        name: 't',
        transforms: [vocabulary('c', { topN: 2 }), oneHot('c', { name: 'c1h', values: ['x', 'a'] })],
      },
      rows,
    );
    const t = spec.transforms[0];
    expect(t.kind === 'vocabulary' && t.state?.vocabulary).toEqual(['b', 'a']);
    const r = apply(spec, [{ c: 'a' }, { c: 'b' }, { c: 'c' }, { c: null }]);
    expect(Array.from(r.ids.data, Number)).toEqual([2, 1, 0, 0]);
    expect(nums(r.dense.data.slice(0, 3))).toEqual([0, 0, 1]);
    expect(spec.inputs.find((i) => i.name === 'dense')?.columns).toEqual(['c1h=<oov>', 'c1h=x', 'c1h=a']);
  });
  it('cross hashes the JSON array of values', () => {
    const spec = fit({ name: 't', transforms: [cross(['a', 'b'], 100)] }, []);
    const got = Number(apply(spec, [{ a: 'x', b: 7 }]).ids.data[0]);
    expect(got).toBe(hashBucketOf('["x","7"]', 100));
    expect(Number(apply(spec, [{ a: 'x|7', b: '' }]).ids.data[0])).toBe(hashBucketOf('["x|7",""]', 100));
  });
});

describe('text, time and geo', () => {
  it('word 1-2 grams match HashingVectorizer', () => {
    const t = ref.text;
    const spec = fit(
      { name: 't', transforms: [textHash('q', { numBuckets: t.numBuckets, wordNgrams: [1, 2] })] },
      [],
    );
    const out = apply(
      spec,
      t.docs.map((q: string) => ({ q })),
    ).dense.data;
    expect(nums(out)).toEqual(t.word_1_2.flat());
  });
  it('char 2-3 grams match HashingVectorizer(analyzer=char)', () => {
    const t = ref.text;
    const spec = fit(
      {
        name: 't',
        transforms: [textHash('q', { numBuckets: t.numBuckets, wordNgrams: null, charNgrams: [2, 3] })],
      },
      [],
    );
    expect(
      nums(
        apply(
          spec,
          t.docs.map((q: string) => ({ q })),
        ).dense.data,
      ),
    ).toEqual(t.char_2_3.flat());
  });
  it('id encoding pads with 0 and truncates', () => {
    const spec = fit(
      { name: 't', transforms: [textHash('q', { numBuckets: 50, encoding: 'ids', maxLength: 3 })] },
      [],
    );
    const r = Array.from(apply(spec, [{ q: 'hello world' }, { q: 'one two three four' }]).ids.data, Number);
    expect(r.slice(0, 3)).toEqual([hashBucketOf('hello', 50) + 1, hashBucketOf('world', 50) + 1, 0]);
    expect(r.slice(3)).toEqual(['one', 'two', 'three'].map((w) => hashBucketOf(w, 50) + 1));
  });
  it('haversine matches sklearn haversine_distances', () => {
    const h = ref.haversine;
    const spec = fit({ name: 't', transforms: [numeric(haversineKm('la', 'lo', 'lb', 'lob'))] }, []);
    for (let i = 0; i < h.points.length; i++) {
      for (let j = 0; j < h.points.length; j++) {
        const [la, lo] = h.points[i];
        const [lb, lob] = h.points[j];
        expect(apply(spec, [{ la, lo, lb, lob }]).dense.data[0]).toBeCloseTo(h.km[i][j], 1);
      }
    }
  });
  it('cyclical hour and weekday (hand-worked: 2024-01-01 was a Monday)', () => {
    const spec = fit({ name: 't', transforms: [cyclicalTime('ts')] }, []);
    const monday6am = Date.UTC(2024, 0, 1, 6);
    const d = apply(spec, [{ ts: monday6am }]).dense.data;
    expect(d[0]).toBeCloseTo(1, 6); // sin(2*pi*6/24)
    expect(d[1]).toBeCloseTo(0, 6);
    expect(d[2]).toBeCloseTo(Math.sin((2 * Math.PI) / 7), 6);
    expect(d[3]).toBeCloseTo(Math.cos((2 * Math.PI) / 7), 6);
    const local = fit(
      { name: 't', transforms: [cyclicalTime('ts', { parts: ['weekday'], utcOffsetMinutes: -420 })] },
      [],
    );
    // 06:00 UTC Monday is 23:00 Sunday at UTC-7.
    expect(apply(local, [{ ts: monday6am }]).dense.data[0]).toBeCloseTo(0, 6);
  });
  it('smoothed ratio source', () => {
    const spec = fit(
      {
        name: 't',
        transforms: [
          numeric(ratio('clicks', 'imps', { alpha: 1, beta: 10 }), {
            name: 'ctr',
            impute: { strategy: 'constant', value: 0.5 },
          }),
        ],
      },
      [],
    );
    // (3 + 1) / (30 + 10) = 0.1; zero denominator -> missing -> imputed 0.5.
    const r = apply(spec, [
      { clicks: 3, imps: 30 },
      { clicks: 0, imps: -10 },
      { clicks: null, imps: 3 },
    ]).dense.data;
    expect(nums(r)).toEqual([Math.fround(0.1), 0.5, 0.5]);
  });
});

const transforms: TransformDef[] = [
  standardize('age', { impute: { strategy: 'median', indicator: true } }),
  numeric('income', { impute: 'mean', clip: [0, 1e6], log1p: true, scale: 'minmax' }),
  quantileBucketize('age', 4, { name: 'age_bucket' }),
  vocabulary('country', { topN: 3 }),
  oneHot('device'),
  hashBucket('ad_id', 1000),
  cross(['country', 'device'], 500),
  textHash('query', { numBuckets: 32, wordNgrams: [1, 2], charNgrams: [3, 3] }),
  textHash('query', { name: 'query_ids', numBuckets: 32, encoding: 'ids', maxLength: 6 }),
  cyclicalTime('event_ts'),
  timeSinceBuckets('last_click', 'event_ts', [60, 3600]),
  numeric(ratio('clicks', 'imps', { alpha: 1, beta: 20 }), {
    name: 'ctr',
    impute: { strategy: 'constant', value: 0.05 },
  }),
];

const rowArb = fc.record({
  age: fc.option(fc.integer({ min: 0, max: 100 }), { nil: null }),
  income: fc.option(fc.double({ min: 0, max: 2e6, noNaN: true }), { nil: null }),
  country: fc.option(fc.constantFrom('fr', 'de', 'us', 'jp', 'br'), { nil: null }),
  device: fc.constantFrom('ios', 'android', 'web'),
  ad_id: fc.string({ minLength: 1, maxLength: 8 }),
  query: fc.option(fc.string({ maxLength: 30 }), { nil: null }),
  event_ts: fc.integer({ min: 1_600_000_000_000, max: 1_800_000_000_000 }),
  last_click: fc.option(fc.integer({ min: 1_500_000_000_000, max: 1_600_000_000_000 }), { nil: null }),
  clicks: fc.nat(50),
  imps: fc.nat(1000),
});

describe('apply', () => {
  const train = fc.sample(rowArb, { numRuns: 300, seed: 1 });
  const spec = fit({ name: 'ctr', transforms }, train);

  it('gives identical bytes for a row alone and inside a batch', () => {
    fc.assert(
      fc.property(fc.array(rowArb, { minLength: 1, maxLength: 40 }), fc.nat(), (rows, pick) => {
        const i = pick % rows.length;
        const batch = apply(spec, rows);
        const one = apply(spec, [rows[i]]);
        for (const info of spec.inputs) {
          const b = batch[info.name];
          const o = one[info.name];
          expect(o.dims).toEqual([1, info.width]);
          expect(b.dims).toEqual([rows.length, info.width]);
          const bytes = (t: typeof b, from: number, n: number) =>
            Buffer.from(
              t.data.buffer,
              t.data.byteOffset + from * t.data.BYTES_PER_ELEMENT,
              n * t.data.BYTES_PER_ELEMENT,
            );
          expect(bytes(o, 0, info.width).equals(bytes(b, i * info.width, info.width))).toBe(true);
        }
      }),
      { numRuns: 150, seed: 2 },
    );
  });

  it('outputs float32 dense and int64 ids (or int32 when asked), widths matching the spec', () => {
    const out = apply(spec, train.slice(0, 5));
    expect(out.dense.dtype).toBe('float32');
    expect(out.dense.data).toBeInstanceOf(Float32Array);
    expect(out.ids.data).toBeInstanceOf(BigInt64Array);
    expect(out.dense.dims[1]).toBe(spec.inputs.find((i) => i.name === 'dense')?.columns.length);
    const s32 = fit({ name: 'ctr', transforms, idType: 'int32' }, train);
    expect(apply(s32, train.slice(0, 5)).ids.data).toBeInstanceOf(Int32Array);
  });

  it('spec round-trips through JSON with a stable content hash, and edits are detected', () => {
    const again = fit({ name: 'ctr', transforms }, train);
    expect(again.hash).toBe(spec.hash);
    expect(spec.hash).toMatch(/^[0-9a-f]{64}$/);
    const loaded = loadFeatureSpec(JSON.stringify(spec));
    const a = apply(loaded, train.slice(0, 20));
    const b = apply(spec, train.slice(0, 20));
    expect(Buffer.from(a.dense.data.buffer).equals(Buffer.from(b.dense.data.buffer))).toBe(true);
    const edited = JSON.parse(JSON.stringify(spec));
    edited.transforms[0].state.mean += 1;
    expect(() => loadFeatureSpec(edited)).toThrow(/hash/);
    expect(() => loadFeatureSpec({ ...spec, version: 99 })).toThrow(/version/);
    expect(fit({ name: 'ctr', transforms }, train.slice(1)).hash).not.toBe(spec.hash);
  });

  it('inputWriter writes, row by row into one buffer, the values apply gives the batch', () => {
    const s32 = fit({ name: 'ctr', transforms, idType: 'int32' }, train);
    fc.assert(
      fc.property(fc.array(rowArb, { minLength: 1, maxLength: 30 }), (rows) => {
        const batch = apply(s32, rows);
        for (const info of s32.inputs) {
          const w = inputWriter(s32, info.name);
          expect(w.width).toBe(info.width);
          const out =
            info.dtype === 'float32'
              ? new Float32Array(rows.length * w.width)
              : new Int32Array(rows.length * w.width);
          // One reused row object, as a serving path fills it.
          const scratch: Record<string, unknown> = {};
          rows.forEach((r, i) => {
            for (const k of Object.keys(scratch)) delete scratch[k];
            Object.assign(scratch, r);
            w.write(scratch as (typeof rows)[number], out, i * w.width, i);
          });
          expect(Array.from(out)).toEqual(Array.from(batch[info.name].data as ArrayLike<number>));
        }
      }),
      { numRuns: 60, seed: 3 },
    );
    expect(() => inputWriter(s32, 'nope')).toThrow(/unknown input "nope"; the spec has/);
    expect(() => inputWriter(spec, 'ids')).toThrow(/int64; use apply/);
    const w = inputWriter(s32, 'dense');
    expect(() => w.write({ ...train[0], age: 'old' }, new Float32Array(w.width), 0, 7)).toThrow(
      /feature age at row 7: column age: expected a number/,
    );
  });

  it('names the feature and the row for bad values', () => {
    expect(() => apply(spec, [train[0], { ...train[1], age: 'old' }])).toThrow(
      /feature age at row 1: column age: expected a number/,
    );
    expect(() => apply(spec, [{ ...train[0], income: Number.NaN }])).toThrow(FeatureValueError);
    expect(() => apply(spec, [{ ...train[0], income: Number.NaN }])).toThrow(/income.*NaN/);
    expect(() => apply(spec, [{ ...train[0], country: { a: 1 } }])).toThrow(/feature country at row 0/);
    const strict = fit({ name: 's', transforms: [numeric('x')] }, [{ x: 1 }]);
    expect(() => apply(strict, [{ x: 1 }, {}])).toThrow(
      /feature x at row 1: missing value and no impute option/,
    );
    expect(() => fit({ name: 's', transforms: [numeric('x', { scale: 'zscore' as never })] }, [])).toThrow(
      /transform x: scale/,
    );
    expect(() => fit({ name: 's', transforms: [bucketize('x', [3, 1])] }, [])).toThrow(/boundaries/);
    expect(() => fit({ name: 's', transforms: [numeric('x'), numeric('x')] }, [])).toThrow(/used twice/);
  });
});
