/**
 * The single writer and the atomic swap: searches answered by the current index while a rebuild
 * runs, writes queued in order and landing on the new index, failed rebuilds leaving things as
 * they were.
 */
import { describe, expect, it } from 'vitest';
import { InvalidRowsError } from './errors.js';
import { ExactIndex } from './exact-index.js';
import { HnswIndex } from './hnsw-index.js';
import { SwappableIndex } from './swappable-index.js';
import type { VectorIndex } from './types.js';

const unit = (i: number): number[] => [Math.cos(i), Math.sin(i)];

function indexWith(
  ids: string[],
  make: () => VectorIndex = () => new ExactIndex({ dimension: 2, metric: 'cosine' }),
): VectorIndex {
  const index = make();
  index.add(
    ids,
    ids.map((_, i) => unit(i)),
  );
  return index;
}

/** A promise with its resolve function, to hold a rebuild open. */
function gate(): { promise: Promise<void>; open: () => void } {
  let open = () => {};
  const promise = new Promise<void>((resolve) => {
    open = resolve;
  });
  return { promise, open };
}

describe('SwappableIndex', () => {
  it('answers searches from the current index during a rebuild and from the new one after the swap', async () => {
    const handle = new SwappableIndex(indexWith(['old-a', 'old-b']));
    const held = gate();
    const rebuilt = handle.rebuild(async () => {
      await held.promise;
      return indexWith(['new-a', 'new-b']);
    });
    await Promise.resolve();
    expect(handle.search(unit(0), 1)[0].id).toBe('old-a');
    expect(handle.pending).toBe(1);
    held.open();
    const previous = await rebuilt;
    expect(handle.search(unit(0), 1)[0].id).toBe('new-a');
    expect(previous.has('old-a')).toBe(true);
    expect(handle.pending).toBe(0);
  });

  it('queues writes issued during a rebuild and applies them, in order, to the new index', async () => {
    const handle = new SwappableIndex(indexWith(['a']));
    const held = gate();
    const order: string[] = [];
    const rebuilt = handle.rebuild(async (current) => {
      await held.promise;
      order.push('rebuild');
      return current.clone();
    });
    const added = handle.add(['b'], [unit(1)]).then((r) => order.push('add b') && r);
    const removed = handle.remove(['a']).then((r) => order.push('remove a') && r);
    await Promise.resolve();
    // Nothing written yet: the writer is busy with the rebuild.
    expect(handle.has('b')).toBe(false);
    expect(handle.has('a')).toBe(true);
    held.open();
    const old = await rebuilt;
    expect(await added).toEqual({ added: 1, rejected: [] });
    expect(await removed).toEqual({ removed: 1, missing: [] });
    expect(order).toEqual(['rebuild', 'add b', 'remove a']);
    expect(handle.current.ids()).toEqual(['b']);
    // The replaced index was never written to.
    expect(old.ids()).toEqual(['a']);
  });

  it('keeps the current index when a rebuild fails, and goes on with the next writes', async () => {
    const first = indexWith(['a']);
    const handle = new SwappableIndex(first);
    const failed = handle.rebuild(() => {
      throw new Error('embedding job failed');
    });
    const next = handle.add(['b'], [unit(1)]);
    await expect(failed).rejects.toThrow('embedding job failed');
    await expect(next).resolves.toEqual({ added: 1, rejected: [] });
    expect(handle.current).toBe(first);
    await expect(handle.rebuild(() => null as unknown as VectorIndex)).rejects.toThrow(
      /expected the builder to return a VectorIndex/,
    );
    expect(handle.current).toBe(first);
  });

  it('serialises writes: of two concurrent adds of one id, the second is rejected and nothing is lost', async () => {
    const handle = new SwappableIndex(indexWith([]));
    const results = await Promise.allSettled([
      handle.add(['x'], [unit(1)]),
      handle.add(['x', 'y'], [unit(2), unit(3)]),
    ]);
    expect(results[0].status).toBe('fulfilled');
    expect(results[1].status).toBe('rejected');
    expect((results[1] as PromiseRejectedResult).reason).toBeInstanceOf(InvalidRowsError);
    expect(handle.current.ids()).toEqual(['x']);
    expect(handle.search(unit(1), 1)[0].id).toBe('x');
  });

  it('update() writes to a clone of an HNSW index and swaps it in, leaving the old graph untouched', async () => {
    const ids = Array.from({ length: 50 }, (_, i) => `n${i}`);
    const original = indexWith(ids, () => new HnswIndex({ dimension: 2, metric: 'cosine', capacity: 4 }));
    const handle = new SwappableIndex(original);
    let seenDuringUpdate: string | undefined;
    await handle.update(async (copy) => {
      copy.remove(['n0']);
      copy.add(['fresh'], [unit(0)]);
      await Promise.resolve();
      seenDuringUpdate = String(handle.search(unit(0), 1)[0].id);
    });
    expect(seenDuringUpdate).toBe('n0');
    expect(handle.search(unit(0), 1)[0].id).toBe('fresh');
    expect(original.has('n0')).toBe(true);
    expect(original.has('fresh')).toBe(false);
    expect(handle.size).toBe(50);
  });

  it('rejects a value that is not an index', () => {
    expect(() => new SwappableIndex({} as VectorIndex)).toThrow(/initial: expected a VectorIndex/);
  });
});
