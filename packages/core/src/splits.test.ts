import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createRng } from './rng.js';
import { groupSplit, randomSplit, splitSizes, timeSplit } from './splits.js';

function union(...parts: ArrayLike<number>[]): number[] {
  return parts.flatMap((p) => Array.from(p)).sort((a, b) => a - b);
}

describe('splitSizes', () => {
  it('rounds validation and test and gives train the rest', () => {
    expect(splitSizes(10, { train: 0.8, validation: 0.1, test: 0.1 })).toEqual([8, 1, 1]);
    expect(splitSizes(7, { train: 0.5, validation: 0.25, test: 0.25 })).toEqual([3, 2, 2]);
    expect(splitSizes(0, { train: 0.8, validation: 0.1, test: 0.1 })).toEqual([0, 0, 0]);
  });

  it('rejects fractions that do not sum to one or fall outside [0, 1]', () => {
    expect(() => splitSizes(10, { train: 0.8, validation: 0.1, test: 0.2 })).toThrow(
      /train \+ validation \+ test = 1/,
    );
    expect(() => splitSizes(10, { train: 1.2, validation: -0.1, test: -0.1 })).toThrow(/fractions.train/);
    expect(() => splitSizes(-1, { train: 1, validation: 0, test: 0 })).toThrow(RangeError);
  });
});

describe('randomSplit', () => {
  it('puts every row in exactly one part, in the requested proportions', () => {
    const s = randomSplit(1000, { seed: 1, fractions: { train: 0.7, validation: 0.2, test: 0.1 } });
    expect([s.train.length, s.validation.length, s.test.length]).toEqual([700, 200, 100]);
    expect(union(s.train, s.validation, s.test)).toEqual(Array.from({ length: 1000 }, (_, i) => i));
  });

  it('is deterministic by seed and differs across seeds', () => {
    const a = randomSplit(500, { seed: 42 });
    const b = randomSplit(500, { seed: 42 });
    const c = randomSplit(500, { seed: 43 });
    expect(Array.from(a.test)).toEqual(Array.from(b.test));
    expect(Array.from(a.test)).not.toEqual(Array.from(c.test));
  });

  it('keeps each label in proportion when stratified', () => {
    // 5 % positives, the imbalance of a click log.
    const labels = Array.from({ length: 2000 }, (_, i) => (i % 20 === 0 ? 1 : 0));
    const s = randomSplit(labels.length, { seed: 3, stratify: labels });
    const positives = (idx: Int32Array) => Array.from(idx).filter((i) => labels[i] === 1).length;
    expect(positives(s.train)).toBe(80);
    expect(positives(s.validation)).toBe(10);
    expect(positives(s.test)).toBe(10);
  });

  it('holds the partition property for any size and seed', () => {
    fc.assert(
      fc.property(fc.integer({ min: 0, max: 300 }), fc.integer(), (n, seed) => {
        const s = randomSplit(n, { seed });
        const all = union(s.train, s.validation, s.test);
        return all.length === n && all.every((v, i) => v === i);
      }),
    );
  });
});

describe('timeSplit', () => {
  const rng = createRng(7);
  const timestamps = Array.from({ length: 1000 }, () => Math.floor(rng.uniform(0, 14 * 86_400)));

  it('never lets a training row come at or after a validation or test row', () => {
    const s = timeSplit(timestamps, { fractions: { train: 0.7, validation: 0.15, test: 0.15 } });
    const max = (idx: Int32Array) => Math.max(...Array.from(idx, (i) => timestamps[i]));
    const min = (idx: Int32Array) => Math.min(...Array.from(idx, (i) => timestamps[i]));
    expect(max(s.train)).toBeLessThan(min(s.validation));
    expect(max(s.validation)).toBeLessThan(min(s.test));
    expect(s.train.length + s.validation.length + s.test.length).toBe(1000);
    expect(Math.abs(s.train.length - 700)).toBeLessThanOrEqual(2);
  });

  it('keeps rows that share a timestamp on the same side of a cut', () => {
    // Ten rows at each of ten times: a cut inside a group of ties would leak.
    const ts = Array.from({ length: 100 }, (_, i) => Math.floor(i / 10));
    const s = timeSplit(ts, { fractions: { train: 0.55, validation: 0.25, test: 0.2 } });
    const trainTimes = new Set(Array.from(s.train, (i) => ts[i]));
    const validationTimes = new Set(Array.from(s.validation, (i) => ts[i]));
    const testTimes = new Set(Array.from(s.test, (i) => ts[i]));
    for (const t of trainTimes) expect(validationTimes.has(t) || testTimes.has(t)).toBe(false);
    for (const t of validationTimes) expect(testTimes.has(t)).toBe(false);
  });

  it('uses explicit cut times and drops the embargo gap before each cut', () => {
    const ts = [0, 10, 20, 29, 30, 40, 49, 50, 60];
    const s = timeSplit(ts, { validationStart: 30, testStart: 50, gap: 5 });
    expect(Array.from(s.train)).toEqual([0, 1, 2]);
    expect(Array.from(s.dropped)).toEqual([3, 6]);
    expect(Array.from(s.validation)).toEqual([4, 5]);
    expect(Array.from(s.test)).toEqual([7, 8]);
  });

  it('does not depend on the input order', () => {
    const shuffled = createRng(1).shuffle(timestamps.map((t, i) => ({ t, i })));
    const a = timeSplit(timestamps);
    const b = timeSplit(shuffled.map((r) => r.t));
    expect(b.validationStart).toBe(a.validationStart);
    expect(b.testStart).toBe(a.testStart);
  });

  it('rejects non-finite timestamps and reversed cuts', () => {
    expect(() => timeSplit([1, Number.NaN, 3])).toThrow(/timestamps\[1\]/);
    expect(() => timeSplit([1, 2, 3], { validationStart: 3, testStart: 2 })).toThrow(/testStart/);
  });
});

describe('groupSplit', () => {
  const rng = createRng(11);
  // 300 users with a long tail of activity: a few heavy users, many light ones.
  const groups: string[] = [];
  for (let u = 0; u < 300; u++) {
    const rows = 1 + Math.floor(rng.exponential(1 / 5));
    for (let r = 0; r < rows; r++) groups.push(`user-${u}`);
  }

  it('puts every row of a group in the same part', () => {
    const s = groupSplit(groups, { seed: 5 });
    const partOf = new Map<string, string>();
    for (const [name, idx] of Object.entries(s)) {
      for (const i of idx as Int32Array) {
        const g = groups[i];
        if (partOf.has(g)) expect(partOf.get(g)).toBe(name);
        partOf.set(g, name);
      }
    }
    expect(union(s.train, s.validation, s.test)).toEqual(Array.from({ length: groups.length }, (_, i) => i));
  });

  it('comes close to the requested shares of rows', () => {
    const s = groupSplit(groups, { seed: 5, fractions: { train: 0.6, validation: 0.2, test: 0.2 } });
    expect(s.train.length / groups.length).toBeCloseTo(0.6, 1);
    expect(s.validation.length / groups.length).toBeCloseTo(0.2, 1);
    expect(s.test.length / groups.length).toBeCloseTo(0.2, 1);
  });

  it('is deterministic by seed', () => {
    expect(Array.from(groupSplit(groups, { seed: 9 }).test)).toEqual(
      Array.from(groupSplit(groups, { seed: 9 }).test),
    );
    expect(Array.from(groupSplit(groups, { seed: 9 }).test)).not.toEqual(
      Array.from(groupSplit(groups, { seed: 10 }).test),
    );
  });

  it('rejects missing group keys', () => {
    expect(() => groupSplit(['a', undefined as unknown as string], { seed: 1 })).toThrow(/groups\[1\]/);
  });
});
