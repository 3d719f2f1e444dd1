/** The online store contract against the in-memory backend, and its cached window counts. */
import fc from 'fast-check';
import { describe, expect, it } from 'vitest';
import { createMemoryOnlineStore, defineWindowedCounter } from './index.js';
import { onlineStoreContract } from './online-store.contract.js';

describe('memory online store', () => {
  onlineStoreContract(async (views) => createMemoryOnlineStore({ views }));

  // The store caches each window's last count with the interval of read times over which it holds;
  // reads that move forward and back in time between writes must still answer the exact count.
  it('cached window counts equal a brute-force count over any sequence of writes and reads', async () => {
    const M = 60_000;
    const counter = defineWindowedCounter({
      name: 'c',
      entities: ['k'],
      windows: { '5m': 5 * M, '1h': 60 * M, '3h': 180 * M },
    });
    const horizon = 180 * M;
    const op = fc.oneof(
      fc.record({
        kind: fc.constant('write' as const),
        key: fc.constantFrom('a', 'b'),
        t: fc.integer({ min: 0, max: 600 }),
      }),
      fc.record({ kind: fc.constant('read' as const), t: fc.integer({ min: 0, max: 700 }) }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(op, { minLength: 1, maxLength: 80 }), async (ops) => {
        const store = createMemoryOnlineStore({ views: [counter] });
        // The reference keeps what the store keeps: each event once, and (as the store, like Redis,
        // trims) only events after the newest one of the key minus the longest window.
        const kept = new Map<string, number[]>([
          ['a', []],
          ['b', []],
        ]);
        let id = 0;
        for (const o of ops) {
          if (o.kind === 'write') {
            const ts = o.t * M + (id % 7) * 1000; // minutes, and events within a minute
            await store.recordEvents('c', [{ k: o.key, event_ts: ts, event_id: `e${id++}` }]);
            const list = kept.get(o.key) as number[];
            list.push(ts);
            const latest = Math.max(...list);
            kept.set(
              o.key,
              list.filter((x) => x > latest - horizon),
            );
            continue;
          }
          // Reads on minute boundaries and between them, at and around event times.
          for (const now of [o.t * M, o.t * M + 999, o.t * M + 1000]) {
            const got = await store.read(
              [{ k: 'a' }, { k: 'b' }, { k: 'a' }],
              ['c:count_5m', 'c:count_1h', 'c:count_3h'],
              { now },
            );
            const numeric = await store.readNumeric([{ k: 'b' }, { k: 'a' }], ['c:count_3h', 'c:count_5m'], {
              now,
            });
            const brute = (key: string, w: number) =>
              (kept.get(key) as number[]).filter((x) => x > now - w && x <= now).length;
            for (const [i, key] of ['a', 'b', 'a'].entries())
              expect(got[i]).toEqual({
                count_5m: brute(key, 5 * M),
                count_1h: brute(key, 60 * M),
                count_3h: brute(key, horizon),
              });
            expect(Array.from(numeric)).toEqual([
              brute('b', horizon),
              brute('b', 5 * M),
              brute('a', horizon),
              brute('a', 5 * M),
            ]);
          }
        }
      }),
      { numRuns: 150, seed: 4 },
    );
  });
});
