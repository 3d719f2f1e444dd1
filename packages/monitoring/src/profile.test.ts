/**
 * Tests of reference profiles: bins from reference quantiles, top-K with "other", missing and
 * invalid values counted, JSON round trip, merging windows, and uniformity of merged reservoirs.
 */
import { createRng } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import {
  buildReferenceProfile,
  mergeProfiles,
  type NumericColumnProfile,
  ProfileBuilder,
  parseProfile,
} from './profile.js';

describe('buildReferenceProfile', () => {
  it('numeric: edges at the reference deciles (NumPy linear), counts per bin, moments', () => {
    const x = Array.from({ length: 101 }, (_, i) => i); // 0..100: decile i/10 is exactly 10·i
    const p = buildReferenceProfile({ x });
    const col = p.columns.x as NumericColumnProfile;
    expect(col.kind).toBe('numeric');
    expect(col.edges).toEqual([10, 20, 30, 40, 50, 60, 70, 80, 90]);
    // [0,10) has 10 values, [90, inf) 11.
    expect(col.binCounts).toEqual([10, 10, 10, 10, 10, 10, 10, 10, 10, 11]);
    expect(col.mean).toBeCloseTo(50, 12);
    expect(Math.sqrt(col.m2 / col.count)).toBeCloseTo(Math.sqrt((101 * 101 - 1) / 12), 10);
    expect(col.min).toBe(0);
    expect(col.max).toBe(100);
  });

  it('counts missing (null, undefined, NaN) and invalid values instead of dropping them', () => {
    const p = buildReferenceProfile(
      {
        x: [1, 2, 3, Number.NaN, null, undefined, 'seven', Number.POSITIVE_INFINITY, 4],
        c: ['a', 'b', null, 'a', {}, 'a', 'b', 'c', 'a'],
      },
      { kinds: { x: 'numeric' } },
    );
    expect(p.columns.x).toMatchObject({ count: 4, missing: 3, invalid: 2 });
    expect(p.columns.c).toMatchObject({ kind: 'categorical', count: 7, missing: 1, invalid: 1 });
    expect(p.rows).toBe(9);
  });

  it('categorical: top-K most frequent, the rest in "other"; 0/1 numbers are categorical', () => {
    const c = [...'aaaaabbbbccde'];
    const p = buildReferenceProfile({ c, flag: [0, 1, 1, 0, 1, 0, 0, 0, 1, 1, 0, 1, 0] }, { topK: 2 });
    expect(p.columns.c).toMatchObject({ categories: ['a', 'b'], counts: [5, 4], other: 4 });
    expect(p.columns.flag).toMatchObject({
      kind: 'categorical',
      categories: ['0', '1'],
      counts: [7, 6],
      other: 0,
    });
  });

  it('rejects columns of different lengths and bad options, naming them', () => {
    expect(() => buildReferenceProfile({ a: [1, 2], b: [1] })).toThrow(/columns.b: expected 2 values/);
    expect(() => buildReferenceProfile({ a: 'abc' as never })).toThrow(/columns.a: expected an array/);
    expect(() => buildReferenceProfile({ a: [1] }, { bins: 1 })).toThrow(/options.bins: expected at least 2/);
    expect(() => buildReferenceProfile({ a: [1] }, { predictionColumn: 'score' })).toThrow(
      /options.predictionColumn/,
    );
  });

  it('survives JSON and streams current traffic with the reference bins', () => {
    const rng = createRng(3);
    const ref = buildReferenceProfile({
      x: Array.from({ length: 500 }, () => rng.normal(0, 1)),
      c: Array.from({ length: 500 }, () => (rng.float() < 0.3 ? 'u' : 'v')),
    });
    const loaded = JSON.parse(JSON.stringify(ref));
    expect(loaded).toEqual(ref);
    const b = new ProfileBuilder(loaded);
    b.addRow({ x: 100, c: 'w' }).addRow({ x: -100, c: 'u' }).addRow({});
    const cur = b.toProfile();
    const x = cur.columns.x as NumericColumnProfile;
    expect(x.binCounts[0]).toBe(1);
    expect(x.binCounts[x.binCounts.length - 1]).toBe(1);
    expect(x.missing).toBe(1);
    expect(cur.columns.c).toMatchObject({ counts: [0, 1], other: 1, missing: 1 });
    expect(cur.rows).toBe(3);
  });
});

describe('parseProfile', () => {
  it('reads a saved profile back and rejects damaged ones with the field named', () => {
    const p = buildReferenceProfile({ x: [1, 2, 3, 4, 5], c: ['a', 'b', 'a', 'a', 'b'] });
    expect(parseProfile(JSON.stringify(p))).toEqual(p);
    expect(() => parseProfile('{"format":')).toThrow(/json: expected valid JSON/);
    expect(() => parseProfile('{"format":"other"}')).toThrow(/profile: expected a profile/);
    const broken = structuredClone(p) as unknown as { columns: { x: { binCounts: number[] } } };
    broken.columns.x.binCounts.pop();
    expect(() => parseProfile(JSON.stringify(broken))).toThrow(
      /profile.columns.x.binCounts: expected \d+ counts/,
    );
  });
});

describe('mergeProfiles', () => {
  it('two windows merge to the counts and moments of one window holding both', () => {
    const rng = createRng(11);
    const ref = buildReferenceProfile({ x: Array.from({ length: 300 }, () => rng.normal(5, 2)) });
    const all = new ProfileBuilder(ref, { sampleSize: 100 });
    const day1 = new ProfileBuilder(ref, { sampleSize: 100 });
    const day2 = new ProfileBuilder(ref, { sampleSize: 100 });
    for (let i = 0; i < 1000; i++) {
      const v = rng.normal(6, 3);
      all.addRow({ x: v });
      (i < 400 ? day1 : day2).addRow({ x: v });
    }
    const merged = mergeProfiles(day1.toProfile(), day2.toProfile());
    const m = merged.columns.x as NumericColumnProfile;
    const a = all.toProfile().columns.x as NumericColumnProfile;
    expect(m.binCounts).toEqual(a.binCounts);
    expect(m.count).toBe(1000);
    expect(m.mean).toBeCloseTo(a.mean, 10);
    expect(m.m2).toBeCloseTo(a.m2, 6);
    expect([m.min, m.max]).toEqual([a.min, a.max]);
    expect(m.sample.values).toHaveLength(100);
    expect(m.sample.seen).toBe(1000);
  });

  it('merged reservoirs are uniform over the union: share drawn from each side follows its size', () => {
    // Side A: 3000 values all 0, side B: 1000 values all 1, capacity 200. Over 200 merges, the mean
    // share of 1s must be 0.25 (sd of the mean ≈ 0.0022).
    const refProfile = buildReferenceProfile({ x: [0, 0.5, 1, 2] });
    let ones = 0;
    let total = 0;
    for (let seed = 0; seed < 200; seed++) {
      const a = new ProfileBuilder(refProfile, { sampleSize: 200, seed });
      const b = new ProfileBuilder(refProfile, { sampleSize: 200, seed: seed + 1000 });
      a.addColumns({ x: new Float64Array(3000) });
      b.addColumns({ x: new Float64Array(1000).fill(1) });
      const m = mergeProfiles(a.toProfile(), b.toProfile(), { seed }).columns.x as NumericColumnProfile;
      ones += m.sample.values.filter((v) => v === 1).length;
      total += m.sample.values.length;
    }
    expect(Math.abs(ones / total - 0.25)).toBeLessThan(0.01);
  });

  it('refuses profiles built against different references', () => {
    const a = buildReferenceProfile({ x: [1, 2, 3, 4] });
    const b = buildReferenceProfile({ x: [10, 20, 30, 40] });
    expect(() => mergeProfiles(a, b)).toThrow(/b.columns.x.edges: expected the same bin edges/);
    expect(() => mergeProfiles(a, buildReferenceProfile({ y: [1, 2, 3] }))).toThrow(
      /b: expected the same columns/,
    );
  });
});
