import { describe, expect, it } from 'vitest';
import { fitItemKnn, fitPopularity, itemNeighbours, relevantHistories } from './baseline.js';
import type { InteractionTable } from './data.js';

function table(rows: [number, number, number, number][], users: number, items: number): InteractionTable {
  return {
    name: 'hand',
    users,
    items,
    userIds: [],
    itemIds: [],
    rows: rows.length,
    user: Int32Array.from(rows, (r) => r[0]),
    item: Int32Array.from(rows, (r) => r[1]),
    ts: Float64Array.from(rows, (r) => r[2]),
    relevant: Uint8Array.from(rows, (r) => r[3]),
    negative: new Uint8Array(rows.length),
    itemTags: [],
    tagNames: [],
    itemStart: new Float64Array(items),
  };
}

describe('popularity', () => {
  it('ranks by relevant interactions in the window; older counts only break ties', () => {
    // Window of 10 s before the cut at 100: item 2 has 2 recent, item 0 has 1 recent and 3 old.
    const t = table(
      [
        [0, 0, 1, 1],
        [1, 0, 2, 1],
        [2, 0, 3, 1],
        [0, 1, 4, 1],
        [0, 0, 95, 1],
        [1, 2, 96, 1],
        [2, 2, 97, 1],
        [2, 1, 98, 0],
        [1, 3, 99, 1],
      ],
      3,
      5,
    );
    const rec = fitPopularity({ table: t, cutTs: 100 }, { windowSeconds: 10 });
    const out = new Float64Array(5);
    rec.scoreUser(0, out);
    const order = Array.from(out.keys()).sort((a, b) => out[b] - out[a]);
    // recent: item 2 -> 2; item 0 -> 1 (4 all-time); item 3 -> 1 (1 all-time); item 1 -> 0 (1 all-time); item 4 -> 0.
    expect(order).toEqual([2, 0, 3, 1, 4]);
  });
});

describe('item-to-item CF', () => {
  it('computes cosine neighbours as worked by hand', () => {
    // Users' relevant items: u0 {0, 1}, u1 {0, 1, 2}, u2 {2}; every item is liked by 2 users.
    // cos(0, 1) = 2 / sqrt(2 * 2) = 1; cos(0, 2) = cos(1, 2) = 1 / 2.
    const nb = itemNeighbours(
      3,
      [Int32Array.from([0, 1]), Int32Array.from([0, 1, 2]), Int32Array.from([2])],
      10,
      0,
    );
    expect(Array.from(nb.index[0])).toEqual([1, 2]);
    expect(Array.from(nb.similarity[0])).toEqual([1, 0.5]);
    expect(Array.from(nb.index[2])).toEqual([0, 1]);
    expect(Array.from(nb.similarity[2])).toEqual([0.5, 0.5]);
    // With one neighbour kept, item 2 keeps the lower index among equals.
    expect(
      Array.from(
        itemNeighbours(3, [Int32Array.from([0, 1]), Int32Array.from([0, 1, 2]), Int32Array.from([2])], 1, 0)
          .index[2],
      ),
    ).toEqual([0]);
  });

  it('scores by summed similarity to the relevant history, ignoring non-relevant interactions', () => {
    const t = table(
      [
        [0, 0, 1, 1],
        [0, 1, 2, 1],
        [1, 0, 3, 1],
        [1, 1, 4, 1],
        [1, 2, 5, 1],
        [2, 2, 6, 1],
        [3, 0, 7, 1],
        [3, 3, 8, 0],
      ],
      4,
      4,
    );
    expect(relevantHistories(t, 10).map((h) => Array.from(h))).toEqual([[0, 1], [0, 1, 2], [2], [0]]);
    const rec = fitItemKnn({ table: t, cutTs: 10 }, { shrink: 0 });
    const out = new Float64Array(4);
    rec.scoreUser(3, out);
    // User 3's relevant history is {0}; item 0 is liked by u0, u1, u3 (3 users), item 1 by 2, item 2 by 2:
    // cos(0, 1) = 2 / sqrt(3 * 2), cos(0, 2) = 1 / sqrt(3 * 2); item 3 only gets the tiny popularity term.
    expect(out[1]).toBeCloseTo(2 / Math.sqrt(6), 5);
    expect(out[2]).toBeCloseTo(1 / Math.sqrt(6), 5);
    expect(out[3]).toBeLessThan(1e-5);
  });
});
