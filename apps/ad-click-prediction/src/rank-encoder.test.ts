import type { Row } from '@mlsd/features';
import { describe, expect, it } from 'vitest';
import { generateAdWorld, SMALL_WORLD } from './data.js';
import {
  buildWorldTable,
  ctrTransforms,
  encodeRows,
  fitCtrSpec,
  pickRows,
  WORLD_CROSSES,
} from './features.js';
import { AD_COLUMNS, CONTEXT_COLUMNS, createRankEncoder, USER_COLUMNS } from './rank-encoder.js';

describe('rank encoder', () => {
  const world = generateAdWorld({ ...SMALL_WORLD, seed: 11 });
  const table = buildWorldTable(world);
  const all = Int32Array.from({ length: table.rows }, (_, i) => i);
  const rows = pickRows(table, all);
  const spec = fitCtrSpec('t', rows.slice(0, 20_000), ctrTransforms(table, { numericBuckets: 0 }));
  const pick = (row: Row, columns: readonly string[]) => Object.fromEntries(columns.map((c) => [c, row[c]]));

  it('gives the inputs of encodeRows, ids and dense, for seen, rare and missing values', () => {
    const counterColumns = table.numericNames;
    const encoder = createRankEncoder(spec, counterColumns);
    expect(encoder).toBeDefined();
    const countsOf = (rs: Row[]) =>
      Float64Array.from(rs.flatMap((r) => counterColumns.map((c) => (r[c] as number | null) ?? Number.NaN)));
    // The last rows (not fitted on: new users and ads fall in the out-of-vocabulary id), a row
    // with its static attributes missing, and a row with an unseen user.
    const chosen = rows.slice(-300);
    chosen.push({ ...chosen[0], age: null, gender: null, category: null, creative: null });
    chosen.push({ ...chosen[1], user_id: 'nobody', country: 'XX' });
    const expected = encodeRows(spec, chosen);
    const got = encoder!.encode(
      encoder!.encodePart('user', pick(chosen[0], USER_COLUMNS)),
      encoder!.encodePart('context', pick(chosen[0], CONTEXT_COLUMNS)),
      chosen.map((r) => encoder!.encodePart('ad', pick(r, AD_COLUMNS))),
      countsOf(chosen),
    );
    // Each row as the encoder sees it: the first row's user and context with each row's ad.
    const asServed = chosen.map((r) => ({
      ...r,
      ...pick(chosen[0], USER_COLUMNS),
      ...pick(chosen[0], CONTEXT_COLUMNS),
    }));
    const reference = encodeRows(spec, asServed);
    expect(Array.from(got.ids)).toEqual(Array.from(reference.ids));
    expect(Array.from(got.dense)).toEqual(Array.from(reference.dense));
    expect(got.fields).toBe(expected.fields);
    // And a request whose user and context match every row's own gives encodeRows' ids exactly.
    const own = chosen.map((r) =>
      encoder!.encode(
        encoder!.encodePart('user', pick(r, USER_COLUMNS)),
        encoder!.encodePart('context', pick(r, CONTEXT_COLUMNS)),
        [encoder!.encodePart('ad', pick(r, AD_COLUMNS))],
        countsOf([r]),
      ),
    );
    expect(own.flatMap((x) => Array.from(x.ids))).toEqual(Array.from(expected.ids));
  });

  it('declines specs whose id fields mix parts (crosses, count buckets)', () => {
    const sample = rows.slice(0, 5_000);
    expect(
      createRankEncoder(
        fitCtrSpec('c', sample, ctrTransforms(table, { crosses: WORLD_CROSSES, numericBuckets: 0 })),
        table.numericNames,
      ),
    ).toBeUndefined();
    expect(
      createRankEncoder(
        fitCtrSpec('b', sample, ctrTransforms(table, { numericBuckets: 10 })),
        table.numericNames,
      ),
    ).toBeUndefined();
  });
});
