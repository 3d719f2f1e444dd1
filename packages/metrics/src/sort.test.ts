/** The radix sort agrees with a comparison sort on finite doubles of every sign and magnitude. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { sortFloat64 } from './sort.js';

describe('sortFloat64', () => {
  it('sorts like a numeric comparison sort (above the radix cut-over of 512)', () => {
    fc.assert(
      fc.property(
        fc.array(
          fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer({ min: -3, max: 3 })),
          {
            minLength: 512,
            maxLength: 2000,
          },
        ),
        (xs) => {
          const a = Float64Array.from(xs, (x) => x + 0);
          const expected = Array.from(a).sort((p, q) => p - q);
          expect(Array.from(sortFloat64(a))).toEqual(expected);
        },
      ),
      { numRuns: 30 },
    );
  });
  it('handles infinities and a large random array', () => {
    const a = new Float64Array(100_000);
    for (let i = 0; i < a.length; i++) a[i] = Math.sin(i) * 10 ** ((i % 40) - 20);
    a[5] = Infinity;
    a[6] = -Infinity;
    const expected = Float64Array.from(a).sort();
    expect(sortFloat64(a)).toEqual(expected);
  });
});
