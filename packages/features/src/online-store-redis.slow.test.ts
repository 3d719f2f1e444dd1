/** The online store contract against a real redis-server (started by the slow project's setup). */
import { describeWithRedis, uniquePrefix } from '@mlsd/test-utils';
import { Redis } from 'ioredis';
import { afterAll, expect, it } from 'vitest';
import { createRedisOnlineStore, defineFeatureView } from './index.js';
import { onlineStoreContract } from './online-store.contract.js';

describeWithRedis('redis online store', (url) => {
  // Synthetic past clocks: key expiry from event time would delete the keys at once.
  onlineStoreContract(async (views) =>
    createRedisOnlineStore({ views, url, keyPrefix: uniquePrefix('fs'), expireKeys: false }),
  );

  const client = new Redis(url);
  afterAll(async () => {
    await client.quit();
  });

  it('lays keys out with one hash tag per entity and expires them from event time + TTL', async () => {
    const view = defineFeatureView({
      name: 'users',
      entities: ['user_id'],
      features: { age: 'int' },
      ttlMs: 60_000,
    });
    const prefix = uniquePrefix('fs');
    const store = createRedisOnlineStore({ views: [view], client, keyPrefix: prefix });
    const now = Date.now();
    await store.write('users', [{ user_id: 'u1', event_ts: now, age: 3 }]);
    const key = `${prefix}{users:u1}`;
    expect(await client.hgetall(key)).toEqual({ _ts: String(now), age: '3' });
    const pttl = await client.pttl(key);
    expect(pttl).toBeGreaterThan(50_000);
    expect(pttl).toBeLessThanOrEqual(60_000);
    await store.write('users', [{ user_id: 'u2', event_ts: now - 120_000, age: 4 }]);
    expect(await client.exists(`${prefix}{users:u2}`)).toBe(0);
    expect(await store.read([{ user_id: 'u1' }, { user_id: 'u2' }], ['users:age'])).toEqual([
      { age: 3 },
      { age: null },
    ]);
    await store.close();
  });
});
