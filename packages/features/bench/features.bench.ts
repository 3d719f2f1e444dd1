/**
 * Benchmark of @mlsd/features (not a test): point-in-time join of 10^6 entity rows against 5 views of
 * 10 features each, and online reads of 1 and 100 entities x 20 features on the memory and Redis
 * backends (p50/p99 over 2,000 reads after 200 warm-up reads). Redis is a private redis-server started
 * here on a free port and stopped at the end.
 *
 * Run: flock /tmp/mlsd-cpu.lock npm run bench -w @mlsd/features
 */
import { createRng } from '@mlsd/core';
import { findExecutable, startPrivateRedis } from '@mlsd/test-utils';
import {
  createMemoryOnlineStore,
  createRedisOnlineStore,
  defineFeatureView,
  type FeatureView,
  type OnlineStore,
  openOfflineStore,
  type Row,
} from '../src/index.ts';

const H = 3_600_000;
const T0 = 1_700_000_000_000;
const rng = createRng(42);

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

function view(name: string, n: number, ttlMs = 48 * H): FeatureView {
  const features: Record<string, 'float'> = {};
  for (let j = 0; j < n; j++) features[`f${j}`] = 'float';
  return defineFeatureView({ name, entities: ['entity_id'], features, ttlMs });
}

async function benchJoin(): Promise<void> {
  const ENTITY_ROWS = 1_000_000;
  const ENTITIES = 50_000;
  const ROWS_PER_ENTITY = 4;
  const views = Array.from({ length: 5 }, (_, v) => view(`v${v}`, 10));
  const store = openOfflineStore({ views });
  const r = rng.fork('join');
  let t = performance.now();
  let ingested = 0;
  for (const v of views) {
    const rows: Row[] = [];
    for (let e = 0; e < ENTITIES; e++) {
      for (let k = 0; k < ROWS_PER_ENTITY; k++) {
        const row: Row = { entity_id: `e${e}`, event_ts: T0 + Math.floor(r.float() * 72 * H) };
        for (let j = 0; j < 10; j++) row[`f${j}`] = r.normal();
        rows.push(row);
      }
    }
    ingested += store.ingest(v.name, rows).written;
  }
  const ingestS = (performance.now() - t) / 1000;
  const entityRows: Row[] = new Array(ENTITY_ROWS);
  for (let i = 0; i < ENTITY_ROWS; i++)
    entityRows[i] = { entity_id: `e${r.int(ENTITIES)}`, event_ts: T0 + Math.floor(r.float() * 96 * H) };
  const refs = views.flatMap((v) => v.features.map((f) => `${v.name}:${f.name}`));
  const runs: number[] = [];
  const withColumns: number[] = [];
  let filled = 0;
  // The typed join first, three runs; then the join plus every column as JS values. The second
  // measurement leaves 5x10^7 boxed values behind each run, and V8 then runs every later join
  // about 3x slower (seen in one process: 5.8 / 15.7 / 14.2 s when the two were interleaved, even
  // with a full collection between runs), so it must not come before the typed runs.
  for (let run = 0; run < 3; run++) {
    collectGarbage();
    t = performance.now();
    const h = store.getHistoricalFeatures(entityRows, refs, { fullFeatureNames: true });
    runs.push((performance.now() - t) / 1000);
    filled = h.numericColumn('v0__f0').filter((x) => !Number.isNaN(x)).length;
  }
  for (let run = 0; run < 3; run++) {
    collectGarbage();
    t = performance.now();
    const h = store.getHistoricalFeatures(entityRows, refs, { fullFeatureNames: true });
    for (const name of h.names)
      if (h.columns[name].length !== ENTITY_ROWS) throw new Error('bench: bad column');
    withColumns.push((performance.now() - t) / 1000);
  }
  store.close();
  const best = Math.min(...runs);
  const bestColumns = Math.min(...withColumns);
  console.log(
    `ingest: ${ingested} feature rows (5 views x ${ENTITIES} entities x ${ROWS_PER_ENTITY}) in ${ingestS.toFixed(2)} s = ${Math.round(ingested / ingestS)} rows/s`,
  );
  console.log(
    `point-in-time join: ${ENTITY_ROWS} entity rows x 5 views x 10 features: runs ${runs.map((x) => x.toFixed(2)).join(' / ')} s; best ${Math.round(ENTITY_ROWS / best)} rows/s, median ${Math.round(ENTITY_ROWS / [...runs].sort((a, b) => a - b)[1])} rows/s (${((100 * filled) / ENTITY_ROWS).toFixed(1)}% rows with a value)`,
  );
  console.log(
    `  plus every column as JS values with null (h.columns): runs ${withColumns.map((x) => x.toFixed(2)).join(' / ')} s; best ${Math.round(ENTITY_ROWS / bestColumns)} rows/s`,
  );
}

/** A full garbage collection when node runs with --expose-gc (the bench script passes it). */
function collectGarbage(): void {
  (globalThis as { gc?: () => void }).gc?.();
}

async function benchReads(label: string, store: OnlineStore): Promise<void> {
  collectGarbage();
  const ENTITIES = 10_000;
  const v = store.views.get('online') as FeatureView;
  const r = rng.fork(`reads-${label}`);
  const now = Date.now();
  for (let start = 0; start < ENTITIES; start += 1000) {
    const rows: Row[] = [];
    for (let e = start; e < start + 1000; e++) {
      const row: Row = { entity_id: `e${e}`, event_ts: now - 1000 };
      for (const f of v.features) row[f.name] = r.normal();
      rows.push(row);
    }
    await store.write('online', rows);
  }
  const refs = v.features.map((f) => `online:${f.name}`);
  for (const batch of [1, 100]) {
    const times: number[] = [];
    for (let i = 0; i < 2200; i++) {
      const entities = Array.from({ length: batch }, () => ({ entity_id: `e${r.int(ENTITIES)}` }));
      const t = performance.now();
      const res = await store.read(entities, refs);
      const dt = performance.now() - t;
      if (res[0].f0 === null) throw new Error('bench: expected a value');
      if (i >= 200) times.push(dt);
    }
    times.sort((a, b) => a - b);
    const p50 = quantile(times, 0.5);
    console.log(
      `online read ${label}, ${batch} entit${batch === 1 ? 'y' : 'ies'} x 20 features: p50 ${p50.toFixed(3)} ms, p99 ${quantile(times, 0.99).toFixed(3)} ms, ${Math.round((batch * 1000) / p50)} entities/s at p50`,
    );
  }
}

async function main(): Promise<void> {
  console.log(`node ${process.version}, ${(await import('node:os')).cpus().length} cores`);
  await benchJoin();
  const online = view('online', 20);
  await benchReads('memory', createMemoryOnlineStore({ views: [online] }));
  const bin = findExecutable('redis-server');
  if (!bin) {
    console.log('redis-server not found: Redis reads skipped');
    return;
  }
  const redis = await startPrivateRedis(bin);
  try {
    const store = createRedisOnlineStore({ views: [online], url: redis.url });
    await benchReads('redis', store);
    await store.close();
  } finally {
    await redis.stop();
  }
}

await main();
