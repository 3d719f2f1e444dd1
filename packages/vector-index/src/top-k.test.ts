/** The bounded heap against a full sort (the obvious, trusted way to take the k smallest). */
import { createRng } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import { TopK } from './top-k.js';

describe('TopK', () => {
  it.each([1, 3, 10, 64])('keeps the %i smallest of 5,000 values, as a full sort does', (k) => {
    const rng = createRng(k);
    // Few distinct values, so ties are common and their order (by slot) is checked too.
    const values = Array.from({ length: 5000 }, () => rng.int(400) / 7);
    const heap = new TopK(k);
    for (const [i, v] of values.entries()) heap.push(v, i);
    const want = values
      .map((distance, slot) => ({ slot, distance }))
      .sort((a, b) => a.distance - b.distance || a.slot - b.slot)
      .slice(0, k);
    // Which of several tied slots survives is not specified; the distances and the order are.
    const got = heap.sorted();
    expect(got.map((h) => h.distance)).toEqual(want.map((h) => h.distance));
    expect(new Set(got.map((h) => h.slot)).size).toBe(k);
    for (const h of got) expect(values[h.slot]).toBe(h.distance);
  });

  it('reports Infinity as its bound until full, then the k-th smallest', () => {
    const heap = new TopK(2);
    heap.push(5, 0);
    expect(heap.bound).toBe(Number.POSITIVE_INFINITY);
    heap.push(3, 1);
    expect(heap.bound).toBe(5);
    heap.push(4, 2);
    expect(heap.bound).toBe(4);
    expect(heap.sorted()).toEqual([
      { slot: 1, distance: 3 },
      { slot: 2, distance: 4 },
    ]);
  });
});
