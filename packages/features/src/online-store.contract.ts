/**
 * The contract every online store backend must meet, run against memory (unit) and Redis (slow).
 * Includes the end-to-end checks that need an online store: materialization with watermarks,
 * counters agreeing with the offline path, and the skew check.
 */
import { afterEach, expect, it } from 'vitest';
import {
  collectSkewSample,
  compareOnlineOffline,
  createFeatureStore,
  defineFeatureView,
  defineWindowedCounter,
  type FeatureStore,
  type FeatureView,
  fit,
  type OnlineStore,
  standardize,
  vocabulary,
} from './index.js';

const H = 3_600_000;
/** Synthetic clock far in the past: backends must not depend on wall time. */
const T0 = 1_600_000_000_000;

export const contractViews = {
  users: defineFeatureView({
    name: 'users',
    entities: ['user_id'],
    features: { age: 'int', spend: 'float', country: 'string', premium: 'bool' },
    ttlMs: 10 * H,
  }),
  ads: defineFeatureView({ name: 'ads', entities: ['ad_id'], features: { ctr: 'float' } }),
  clicks: defineWindowedCounter({
    name: 'ad_clicks',
    entities: ['ad_id'],
    windows: { '1h': H, '24h': 24 * H },
  }),
};
const allViews: FeatureView[] = Object.values(contractViews);

/** Registers the contract tests; `make` returns a fresh, empty store over the given views. */
export function onlineStoreContract(make: (views: FeatureView[]) => Promise<OnlineStore>): void {
  const open: Array<{ close(): Promise<void> }> = [];
  afterEach(async () => {
    while (open.length) await open.pop()?.close();
  });
  const store = async () => {
    const s = await make(allViews);
    open.push(s);
    return s;
  };
  const featureStore = async () => {
    const fs = createFeatureStore({ views: allViews, online: await make(allViews) });
    open.push(fs);
    return fs;
  };

  it('writes and reads many entities and views in one call, typed values, nulls', async () => {
    const s = await store();
    const rep = await s.write('users', [
      { user_id: 'u1', event_ts: T0, age: 30, spend: 0.1 + 0.2, country: 'fr', premium: true },
      { user_id: 'u2', event_ts: T0, age: 40, spend: null, country: 'de:x|y', premium: false },
    ]);
    expect(rep).toEqual({ written: 2, stale: 0, rejected: [] });
    await s.write('ads', [{ ad_id: 7, event_ts: T0, ctr: 1e-9 }]);
    const got = await s.read(
      [
        { user_id: 'u1', ad_id: 7 },
        { user_id: 'u2', ad_id: 8 },
        { user_id: 'u9', ad_id: 7 },
      ],
      ['users:age', 'users:spend', 'users:country', 'users:premium', 'ads:ctr'],
      { now: T0 + H },
    );
    expect(got).toEqual([
      { age: 30, spend: 0.1 + 0.2, country: 'fr', premium: true, ctr: 1e-9 },
      { age: 40, spend: null, country: 'de:x|y', premium: false, ctr: null },
      { age: null, spend: null, country: null, premium: null, ctr: 1e-9 },
    ]);
    expect(await s.read([], ['users:age'], { now: T0 })).toEqual([]);
  });

  it('keeps the newest record by event time; equal time replaces; older is stale', async () => {
    const s = await store();
    await s.write('users', [{ user_id: 'u1', event_ts: T0 + 10, age: 2, country: 'fr' }]);
    const r1 = await s.write('users', [{ user_id: 'u1', event_ts: T0 + 5, age: 1 }]);
    expect(r1).toEqual({ written: 0, stale: 1, rejected: [] });
    await s.write('users', [{ user_id: 'u1', event_ts: T0 + 10, age: 3 }]);
    // The replacing record had no country: the whole record is replaced, not merged.
    expect(await s.read([{ user_id: 'u1' }], ['users:age', 'users:country'], { now: T0 + 20 })).toEqual([
      { age: 3, country: null },
    ]);
  });

  it('enforces the TTL on read: valid up to and including age == TTL, then missing', async () => {
    const s = await store();
    await s.write('users', [{ user_id: 'u1', event_ts: T0, age: 30 }]);
    const at = async (now: number) => (await s.read([{ user_id: 'u1' }], ['users:age'], { now }))[0].age;
    expect(await at(T0 - 1)).toBe(null); // not yet valid: never a value from the future
    expect(await at(T0)).toBe(30);
    expect(await at(T0 + 10 * H)).toBe(30);
    expect(await at(T0 + 10 * H + 1)).toBe(null);
  });

  it('rejects bad rows with reasons and stores the good ones; unknown refs throw', async () => {
    const s = await store();
    const rep = await s.write('users', [
      { user_id: 'u1', event_ts: T0, age: 1.5 },
      { user_id: 'u2', event_ts: T0, age: 2 },
      { event_ts: T0, age: 3 },
      { user_id: 'u4', event_ts: T0, spend: Number.NaN },
      { user_id: 'u5', event_ts: T0, shoe: 44 },
    ]);
    expect(rep.written).toBe(1);
    expect(rep.rejected.map((r) => r.index)).toEqual([0, 2, 3, 4]);
    const prefixes = [
      'feature users:age: expected a safe integer',
      'entity key user_id of view users',
      'feature users:spend: expected a finite float',
      'feature users:shoe: unknown feature',
    ];
    rep.rejected.forEach((r, i) => {
      expect(r.reason.startsWith(prefixes[i])).toBe(true);
    });
    expect((await s.read([{ user_id: 'u2' }], ['users:age'], { now: T0 }))[0].age).toBe(2);
    await expect(s.read([{ user_id: 'u2' }], ['users:shoe'])).rejects.toThrow(/users:shoe: unknown feature/);
    await expect(s.read([{ ad_id: 'a' }], ['users:age'])).rejects.toThrow(/entity key user_id/);
    await expect(s.write('nope', [])).rejects.toThrow(/unknown view/);
  });

  it('counts events in (now - w, now], each event id once', async () => {
    const s = await store();
    const rep = await s.recordEvents('ad_clicks', [
      { ad_id: 'a1', event_ts: T0, event_id: 'c1' },
      { ad_id: 'a1', event_ts: T0 + 30 * 60_000, event_id: 'c2' },
      { ad_id: 'a1', event_ts: T0 + H, event_id: 'c3' },
      { ad_id: 'a1', event_ts: T0 + H, event_id: 'c3' },
      { ad_id: 'a1', event_ts: 'x', event_id: 'c9' },
    ]);
    expect(rep.written).toBe(3);
    expect(rep.stale).toBe(1);
    expect(rep.rejected.map((r) => r.index)).toEqual([4]);
    const at = async (now: number) =>
      await s.read([{ ad_id: 'a1' }, { ad_id: 'zz' }], ['ad_clicks:count_1h', 'ad_clicks:count_24h'], {
        now,
      });
    expect(await at(T0 + H)).toEqual([
      { count_1h: 2, count_24h: 3 },
      { count_1h: 0, count_24h: 0 },
    ]);
    expect((await at(T0 + 25 * H))[0]).toEqual({ count_1h: 0, count_24h: 0 });
  });

  it('readNumeric answers what read answers, row-major, NaN for nulls, 1/0 for bools', async () => {
    const s = await store();
    await s.write('users', [
      { user_id: 'u1', event_ts: T0, age: 30, spend: 2.5, country: 'fr', premium: true },
      { user_id: 'u2', event_ts: T0, age: 40, spend: null, country: 'de', premium: false },
      { user_id: 'u3', event_ts: T0 - 11 * H, age: 50, spend: 1, country: 'it', premium: true },
    ]);
    await s.recordEvents('ad_clicks', [
      { ad_id: 'a1', event_ts: T0, event_id: 'c1' },
      { ad_id: 'a1', event_ts: T0 - 2 * H, event_id: 'c2' },
      { ad_id: 'a2', event_ts: T0 - 30 * H, event_id: 'c3' },
    ]);
    // A counter between two view fields, repeated and unknown entities, an expired record (u3).
    const refs = ['users:age', 'ad_clicks:count_1h', 'ad_clicks:count_24h', 'users:spend', 'users:premium'];
    const entities = [
      { user_id: 'u1', ad_id: 'a1' },
      { user_id: 'u1', ad_id: 'a1' },
      { user_id: 'u2', ad_id: 'a2' },
      { user_id: 'u3', ad_id: 'zz' },
      { user_id: 'u9', ad_id: 'a1' },
    ];
    const got = await s.readNumeric(entities, refs, { now: T0 + 1 });
    expect(got).toBeInstanceOf(Float64Array);
    const n = Number.NaN;
    expect(Array.from(got)).toEqual([
      ...[30, 1, 2, 2.5, 1],
      ...[30, 1, 2, 2.5, 1],
      ...[40, 0, 0, n, 0],
      ...[n, 0, 0, n, n],
      ...[n, 1, 2, n, n],
    ]);
    // The same values as read(), whatever the backend.
    const rows = await s.read(entities, refs, { now: T0 + 1, fullFeatureNames: true });
    const asNumbers = rows.flatMap((r) =>
      refs.map((ref) => {
        const v = r[ref.replace(':', '__')];
        return v === null ? n : typeof v === 'boolean' ? Number(v) : v;
      }),
    );
    expect(Array.from(got)).toEqual(asNumbers);
    expect(await s.readNumeric([], ['users:age'], { now: T0 })).toEqual(new Float64Array(0));
    await expect(s.readNumeric(entities, ['users:country'], { now: T0 })).rejects.toThrow(
      /users:country is a string feature/,
    );
    await expect(s.readNumeric([{ ad_id: 'a1' }], ['users:age'])).rejects.toThrow(/entity key user_id/);
  });

  it('stores watermarks per view', async () => {
    const s = await store();
    expect(await s.getWatermark('users')).toBe(null);
    await s.setWatermark('users', T0);
    expect(await s.getWatermark('users')).toBe(T0);
    expect(await s.getWatermark('ads')).toBe(null);
  });

  it('materializes (from, to] and materializeIncremental continues from the watermark, late rows included', async () => {
    const fs = await featureStore();
    fs.ingest('users', [
      { user_id: 'u1', event_ts: T0, age: 30 },
      { user_id: 'u1', event_ts: T0 + H, age: 31 },
      { user_id: 'u2', event_ts: T0 + 3 * H, age: 50 },
    ]);
    const rep = await fs.materialize(T0 - 1, T0 + 2 * H, ['users']);
    expect(rep.views.users).toEqual({ rows: 1, written: 1, stale: 0 });
    const read = (now: number) =>
      fs.getOnlineFeatures([{ user_id: 'u1' }, { user_id: 'u2' }], ['users:age'], { now });
    expect(await read(T0 + 2 * H)).toEqual([{ age: 31 }, { age: null }]);
    // A late row for u1 (event T0 + 2.5h, known at T0 + 4h) and a new one for u2.
    fs.ingest('users', [{ user_id: 'u1', event_ts: T0 + 2.5 * H, created_ts: T0 + 4 * H, age: 32 }]);
    const inc = await fs.materializeIncremental(T0 + 4 * H, ['users']);
    expect(inc[0].from).toBe(T0 + 2 * H);
    expect(inc[0].views.users.rows).toBe(2);
    expect(await read(T0 + 4 * H)).toEqual([{ age: 32 }, { age: 50 }]);
    expect(await fs.online.getWatermark('users')).toBe(T0 + 4 * H);
    expect(await fs.materializeIncremental(T0 + 4 * H, ['users'])).toEqual([]);
  });

  it('online counters and materialized features equal the offline values at the same times (no skew)', async () => {
    const fs = await featureStore();
    const events = [];
    for (let i = 0; i < 60; i++)
      events.push({ ad_id: `a${i % 3}`, event_ts: T0 + ((i * 7919) % 50) * 20 * 60_000, event_id: `e${i}` });
    await fs.recordEvents('ad_clicks', events);
    fs.ingest('users', [
      { user_id: 'u1', event_ts: T0 + 10 * H, age: 30, country: 'fr' },
      { user_id: 'u2', event_ts: T0 + 12 * H, age: 41, country: 'de' },
      { user_id: 'u3', event_ts: T0, age: 60, country: 'us' },
    ]);
    const now = T0 + 17 * H;
    await fs.materialize(Number.NEGATIVE_INFINITY, now);
    const rows = ['a0', 'a1', 'a2', 'a3'].flatMap((ad_id) =>
      ['u1', 'u2', 'u3'].map((user_id) => ({ ad_id, user_id, event_ts: now })),
    );
    const refs = ['ad_clicks:count_1h', 'ad_clicks:count_24h', 'users:age', 'users:country'];
    const sample = await collectSkewSample(fs, rows, refs);
    expect(sample.offline.map((r) => r.count_24h)).toContain(20);
    const spec = fit(
      {
        name: 'm',
        transforms: [standardize('count_1h'), vocabulary('country'), standardize('age', { impute: 'mean' })],
      },
      sample.offline.map((r, i) => ({ ...rows[i], ...r })),
    );
    const report = compareOnlineOffline(spec, sample);
    expect(report).toEqual({ rows: rows.length, features: {}, mismatches: [] });
    // The check must catch skew: a changed online value is reported, raw and transformed.
    const skewed = { ...sample, online: sample.online.map((r, i) => (i === 1 ? { ...r, age: 99 } : r)) };
    const bad = compareOnlineOffline(spec, skewed);
    expect(bad.features).toEqual({ age: 2 });
    expect(bad.mismatches.map((m) => [m.row, m.feature, m.stage])).toEqual([
      [1, 'age', 'raw'],
      [1, 'age', 'transformed'],
    ]);
  });
}

export type { FeatureStore };
