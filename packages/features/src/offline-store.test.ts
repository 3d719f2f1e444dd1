/**
 * Offline store: point-in-time golden tests (hand-worked), ingestion validation and idempotency,
 * migrations on reopen, and counters recomputed from the event log.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@mlsd/core';
import { afterEach, describe, expect, it } from 'vitest';
import {
  defineFeatureService,
  defineFeatureView,
  defineWindowedCounter,
  type OfflineStore,
  openOfflineStore,
} from './index.js';

const H = 3_600_000;
const users = defineFeatureView({
  name: 'users',
  entities: ['user_id'],
  features: { age: 'int', spend: 'float', country: 'string', premium: 'bool' },
  ttlMs: 10 * H,
});
const ads = defineFeatureView({
  name: 'ads',
  entities: ['ad_id'],
  features: { ctr: 'float', country: 'string' },
  ttlMs: 2 * H,
});
const pairs = defineFeatureView({ name: 'pairs', entities: ['user_id', 'ad_id'], features: { seen: 'int' } });
const clicks = defineWindowedCounter({
  name: 'ad_clicks',
  entities: ['ad_id'],
  windows: { '1h': H, '24h': 24 * H },
});

let store: OfflineStore | undefined;
afterEach(() => {
  store?.close();
  store = undefined;
});

function seeded(): OfflineStore {
  const s = openOfflineStore({ views: [users, ads, pairs, clicks] });
  const rep = s.ingest('users', [
    { user_id: 'u1', event_ts: 10 * H, age: 30, spend: 1.5, country: 'fr', premium: false },
    { user_id: 'u1', event_ts: 20 * H, age: 31, spend: 2.5, country: 'fr', premium: true },
    // Late arrival: describes 25h but only became known at 40h.
    { user_id: 'u1', event_ts: 25 * H, created_ts: 40 * H, age: 32, spend: 9, country: 'de', premium: true },
    { user_id: 'u2', event_ts: 5 * H, age: 50, spend: null, country: 'us', premium: false },
  ]);
  expect(rep).toEqual({ written: 4, unchanged: 0, rejected: [] });
  s.ingest('ads', [
    { ad_id: 'a1', event_ts: 10 * H, ctr: 0.1, country: 'fr' },
    { ad_id: 'a1', event_ts: 12 * H, ctr: 0.2, country: 'fr' },
  ]);
  s.ingest('pairs', [{ user_id: 'u1', ad_id: 'a1', event_ts: 1, seen: 3 }]);
  return s;
}

describe('getHistoricalFeatures (point in time)', () => {
  it('golden cases: before any value, exactly at, inside and outside the TTL, late arrivals', () => {
    store = seeded();
    const rows = [
      { user_id: 'u1', event_ts: 10 * H - 1 }, // before any value
      { user_id: 'u1', event_ts: 10 * H }, // exactly at the first value
      { user_id: 'u1', event_ts: 19 * H }, // inside TTL of the first
      { user_id: 'u1', event_ts: 20 * H + 1 }, // second value
      { user_id: 'u1', event_ts: 30 * H }, // exactly at TTL edge (age 10h): still valid; late row not yet known
      { user_id: 'u1', event_ts: 30 * H + 1 }, // TTL passed (the late row is still unknown)
      { user_id: 'u1', event_ts: 40 * H }, // late row now known, age 15h > TTL: null
      { user_id: 'u2', event_ts: 6 * H }, // other entity, null feature value
      { user_id: 'u3', event_ts: 6 * H }, // unknown entity
    ];
    const h = store.getHistoricalFeatures(rows, ['users:age', 'users:spend', 'users:premium']);
    expect(h.columns.age).toEqual([null, 30, 30, 31, 31, null, null, 50, null]);
    expect(h.columns.spend).toEqual([null, 1.5, 1.5, 2.5, 2.5, null, null, null, null]);
    expect(h.columns.premium).toEqual([null, false, false, true, true, null, null, false, null]);
  });

  it('a late value becomes visible once created, within the TTL', () => {
    store = seeded();
    const h = store.getHistoricalFeatures(
      [
        { user_id: 'u1', event_ts: 26 * H },
        { user_id: 'u1', event_ts: 39 * H },
        { user_id: 'u1', event_ts: 40 * H },
      ],
      ['users:country'],
      { ttlMs: 100 * H },
    );
    expect(h.columns.country).toEqual(['fr', 'fr', 'de']);
  });

  it('joins several views with their own TTLs and entity keys; composite keys', () => {
    store = seeded();
    const rows = [
      { user_id: 'u1', ad_id: 'a1', event_ts: 13 * H },
      { user_id: 'u1', ad_id: 'a1', event_ts: 14 * H + 1 }, // ads TTL (2h) passed since 12h
      { user_id: 'u2', ad_id: 'a1', event_ts: 11 * H },
    ];
    const h = store.getHistoricalFeatures(
      rows,
      ['users:age', 'ads:ctr', 'users:country', 'ads:country', 'pairs:seen'],
      {
        fullFeatureNames: true,
      },
    );
    expect(h.names).toEqual(['users__age', 'ads__ctr', 'users__country', 'ads__country', 'pairs__seen']);
    expect(h.columns.users__age).toEqual([30, 30, 50]);
    expect(h.columns.ads__ctr).toEqual([0.2, null, 0.1]);
    expect(h.columns.ads__country).toEqual(['fr', null, 'fr']);
    expect(h.columns.pairs__seen).toEqual([3, 3, null]);
    expect(h.toRows()[0]).toEqual({
      user_id: 'u1',
      ad_id: 'a1',
      event_ts: 13 * H,
      users__age: 30,
      ads__ctr: 0.2,
      users__country: 'fr',
      ads__country: 'fr',
      pairs__seen: 3,
    });
  });

  it('accepts a feature service and refuses ambiguous names, unknown features and missing keys', () => {
    store = seeded();
    const svc = defineFeatureService({
      name: 'ctr_model',
      views: [
        { view: users, features: ['age'] },
        { view: ads, features: ['ctr'] },
      ],
    });
    expect(
      store.getHistoricalFeatures([{ user_id: 'u1', ad_id: 'a1', event_ts: 12 * H }], svc).columns,
    ).toEqual({ age: [30], ctr: [0.2] });
    expect(() =>
      store?.getHistoricalFeatures([{ user_id: 'u1', event_ts: 1 }], ['users:country', 'ads:country']),
    ).toThrow(/fullFeatureNames/);
    expect(() => store?.getHistoricalFeatures([{ user_id: 'u1', event_ts: 1 }], ['users:height'])).toThrow(
      /feature users:height: unknown feature/,
    );
    expect(() => store?.getHistoricalFeatures([{ user_id: 'u1', event_ts: 1 }], ['shops:x'])).toThrow(
      /unknown view shops/,
    );
    expect(() => store?.getHistoricalFeatures([{ event_ts: 1 }], ['users:age'])).toThrow(
      /entity key user_id of view users at row 0: .*missing/,
    );
    expect(() => store?.getHistoricalFeatures([{ user_id: 'u1', event_ts: '2024' }], ['users:age'])).toThrow(
      /entityRows\[0\]\.event_ts/,
    );
  });

  it('counts counter events in (t - w, t]', () => {
    store = seeded();
    const rep = store.ingestEvents('ad_clicks', [
      { ad_id: 'a1', event_ts: 10 * H, event_id: 'c1' },
      { ad_id: 'a1', event_ts: 10 * H + 30 * 60_000, event_id: 'c2' },
      { ad_id: 'a1', event_ts: 11 * H, event_id: 'c3' },
      { ad_id: 'a1', event_ts: 11 * H, event_id: 'c3' }, // duplicate id: counted once
      { ad_id: 'a2', event_ts: 11 * H, event_id: 'c4' },
      { ad_id: 'a1', event_ts: 'late', event_id: 'c5' },
    ]);
    expect(rep.written).toBe(4);
    expect(rep.unchanged).toBe(1);
    expect(rep.rejected.map((r) => r.index)).toEqual([5]);
    const t = [10 * H - 1, 10 * H, 11 * H - 1, 11 * H, 11 * H + 30 * 60_000, 34 * H, 35 * H];
    const h = store.getHistoricalFeatures(
      t.map((event_ts) => ({ ad_id: 'a1', event_ts })),
      ['ad_clicks:count_1h', 'ad_clicks:count_24h'],
    );
    // At 11h the 1h window is (10h, 11h]: c1 (exactly 1h old) has left, c2 and c3 are in.
    expect(h.columns.count_1h).toEqual([0, 1, 2, 2, 1, 0, 0]);
    expect(h.columns.count_24h).toEqual([0, 1, 2, 3, 3, 2, 0]);
  });
});

describe('getHistoricalFeatures (typed columns and the scan)', () => {
  it('numericColumn: NaN for null, bools as 1/0, counters as counts; columns and toRows agree', () => {
    store = seeded();
    store.ingestEvents('ad_clicks', [{ ad_id: 'a1', event_ts: 10 * H, event_id: 'c1' }]);
    const rows = [
      { user_id: 'u1', ad_id: 'a1', event_ts: 10 * H - 1 },
      { user_id: 'u1', ad_id: 'a1', event_ts: 20 * H + 1 },
      { user_id: 'u2', ad_id: 'a1', event_ts: 10 * H + 1 },
    ];
    const h = store.getHistoricalFeatures(rows, [
      'users:age',
      'users:spend',
      'users:premium',
      'users:country',
      'ad_clicks:count_24h',
    ]);
    expect(Array.from(h.numericColumn('age'))).toEqual([Number.NaN, 31, 50]);
    expect(Array.from(h.numericColumn('spend'))).toEqual([Number.NaN, 2.5, Number.NaN]);
    expect(Array.from(h.numericColumn('premium'))).toEqual([Number.NaN, 1, 0]);
    expect(Array.from(h.numericColumn('count_24h'))).toEqual([0, 1, 1]);
    expect(h.columns.premium).toEqual([null, true, false]);
    expect(h.columns.country).toEqual([null, 'fr', 'us']);
    expect(h.columns.count_24h).toEqual([0, 1, 1]);
    expect(h.toRows()[1]).toEqual({
      ...rows[1],
      age: 31,
      spend: 2.5,
      premium: true,
      country: 'fr',
      count_24h: 1,
    });
    expect(() => h.numericColumn('country')).toThrow(/country is a string feature/);
    expect(() => h.numericColumn('height')).toThrow(/unknown column "height"/);
    const empty = store.getHistoricalFeatures([], ['users:age']);
    expect(empty.numericColumn('age').length).toBe(0);
    expect(empty.columns.age).toEqual([]);
  });

  it('agrees with a brute-force point-in-time reference on random data (late rows, TTL, unknown entities)', () => {
    const view = defineFeatureView({
      name: 'rand',
      entities: ['k'],
      features: { x: 'float', s: 'string', b: 'bool' },
      ttlMs: 5 * H,
    });
    store = openOfflineStore({ views: [view] });
    const rng = createRng(11);
    const stored: Array<{
      k: string;
      event_ts: number;
      created_ts: number;
      x: number | null;
      s: string;
      b: boolean;
    }> = [];
    const seen = new Set<string>();
    // More rows than the scan's first buffer (1,024), so the typed columns grow.
    while (stored.length < 3000) {
      const k = `e${rng.int(40)}`;
      const event_ts = rng.int(200) * 600_000;
      if (seen.has(`${k}@${event_ts}`)) continue;
      seen.add(`${k}@${event_ts}`);
      const late = rng.float() < 0.2 ? rng.int(6) * H : 0;
      stored.push({
        k,
        event_ts,
        created_ts: event_ts + late,
        x: rng.float() < 0.1 ? null : rng.normal(),
        s: `v${rng.int(5)}`,
        b: rng.float() < 0.5,
      });
    }
    expect(store.ingest('rand', stored).rejected).toEqual([]);
    const rows = Array.from({ length: 2000 }, () => ({
      k: `e${rng.int(45)}`,
      event_ts: rng.int(210 * 600_000),
    }));
    const h = store.getHistoricalFeatures(rows, ['rand:x', 'rand:s', 'rand:b']);
    const x = h.numericColumn('x');
    rows.forEach((r, i) => {
      let best: (typeof stored)[number] | undefined;
      for (const c of stored) {
        if (c.k !== r.k || c.event_ts > r.event_ts || c.created_ts > r.event_ts) continue;
        if (!best || c.event_ts > best.event_ts) best = c;
      }
      if (best && r.event_ts - best.event_ts > 5 * H) best = undefined;
      expect(Number.isNaN(x[i]) ? null : x[i]).toBe(best ? best.x : null);
      expect(h.columns.s[i]).toBe(best ? best.s : null);
      expect(h.columns.b[i]).toBe(best ? best.b : null);
    });
  });
});

describe('ingest', () => {
  it('reports bad rows with reasons and keeps the good ones', () => {
    store = openOfflineStore({ views: [users] });
    const rep = store.ingest('users', [
      { user_id: 'u1', event_ts: 1, age: 30 },
      { user_id: 'u2', event_ts: 1, age: 'thirty' },
      { user_id: 'u3', event_ts: 1, spend: Number.NaN },
      { event_ts: 1, age: 3 },
      { user_id: 'u5', event_ts: 1, height: 180 },
      { user_id: 'u6', event_ts: 1.5 },
      { user_id: 'u7', event_ts: 2, premium: 'yes' },
    ]);
    expect(rep.written).toBe(1);
    expect(rep.rejected).toEqual([
      { index: 1, reason: 'feature users:age: expected a safe integer, got "thirty"' },
      { index: 2, reason: 'feature users:spend: expected a finite float, got NaN (use null for missing)' },
      {
        index: 3,
        reason:
          'entity key user_id of view users: expected a non-empty string or a safe integer, got nothing (missing key)',
      },
      { index: 4, reason: 'feature users:height: unknown feature' },
      { index: 5, reason: 'event_ts: expected epoch milliseconds as an integer, got 1.5' },
      { index: 6, reason: 'feature users:premium: expected a boolean, got "yes"' },
    ]);
    expect(store.count('users')).toBe(1);
    expect(() => store?.ingest('nope', [])).toThrow(/unknown view "nope"/);
  });

  it('is idempotent on (entity, event_ts); new values for the same key are a correction', () => {
    store = openOfflineStore({ views: [users] });
    const rows = [
      { user_id: 'u1', event_ts: 1, age: 30 },
      { user_id: 'u1', event_ts: 2, age: 31 },
    ];
    expect(store.ingest('users', rows).written).toBe(2);
    expect(store.ingest('users', rows)).toEqual({ written: 0, unchanged: 2, rejected: [] });
    expect(store.count('users')).toBe(2);
    expect(store.ingest('users', [{ user_id: 'u1', event_ts: 2, age: 40 }]).written).toBe(1);
    expect(store.getHistoricalFeatures([{ user_id: 'u1', event_ts: 5 }], ['users:age']).columns.age).toEqual([
      40,
    ]);
  });

  it('migrates on reopen: keeps data, adds new feature columns, refuses a type change', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlsd-features-'));
    const path = join(dir, 'offline.db');
    try {
      const s1 = openOfflineStore({ path, views: [users] });
      s1.ingest('users', [{ user_id: 'u1', event_ts: 1, age: 30 }]);
      s1.close();
      const users2 = defineFeatureView({
        name: 'users',
        entities: ['user_id'],
        features: { age: 'int', height: 'float' },
        ttlMs: 10 * H,
      });
      const s2 = openOfflineStore({ path, views: [users2] });
      expect(
        s2.getHistoricalFeatures([{ user_id: 'u1', event_ts: 2 }], ['users:age', 'users:height']).columns,
      ).toEqual({ age: [30], height: [null] });
      expect((s2.storedDefinition('users') as { features: unknown[] }).features).toHaveLength(2);
      s2.close();
      const users3 = defineFeatureView({ name: 'users', entities: ['user_id'], features: { age: 'string' } });
      expect(() => openOfflineStore({ path, views: [users3] })).toThrow(
        /feature age: stored as INTEGER, defined as string/,
      );
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('definitions', () => {
  it('rejects bad views with the offending name', () => {
    expect(() => defineFeatureView({ name: 'v', entities: [], features: { a: 'int' } })).toThrow(
      /view v: entities/,
    );
    expect(() =>
      defineFeatureView({ name: 'v', entities: ['k'], features: { a: 'double' as never } }),
    ).toThrow(/view v: feature a: type/);
    expect(() => defineFeatureView({ name: 'v', entities: ['k'], features: { k: 'int' } })).toThrow(
      /feature k: clashes/,
    );
    expect(() => defineFeatureView({ name: 'v', entities: ['k'], features: { a: 'int' }, ttlMs: 0 })).toThrow(
      /ttlMs/,
    );
    expect(() => defineFeatureService({ name: 's', views: [{ view: users, features: ['nope'] }] })).toThrow(
      /users:nope: unknown feature/,
    );
  });
});
