/**
 * The feature store: one set of views over an offline store (SQLite) and an online store (memory by
 * default, Redis when a URL is given), with materialization from the first to the second.
 *
 * Materialization of a window (from, to] copies, for each entity of each view, the latest row known
 * at `to` that became visible inside the window (see OfflineStore.rowsForMaterialization), in
 * pipelined chunks; the online store keeps the newer record by event time, so windows may overlap
 * or repeat. The watermark `to` is stored in the online store, beside the data it describes, and
 * `materializeIncremental` starts from it.
 */
import type { FeatureService, FeatureValue, FeatureView, Row } from './definitions.js';
import {
  type HistoricalFeatures,
  type HistoricalOptions,
  type IngestReport,
  OfflineStore,
} from './offline-store.js';
import type { OnlineReadOptions, OnlineRecord, OnlineStore, OnlineWriteReport } from './online-store.js';
import { createMemoryOnlineStore } from './online-store-memory.js';
import { createRedisOnlineStore } from './online-store-redis.js';

/** Options of `createFeatureStore`. */
export interface FeatureStoreOptions {
  views: readonly FeatureView[];
  /** SQLite file of the offline store (default ':memory:'). */
  offlinePath?: string;
  /** Redis URL for the online store; without it the online store is in memory. */
  redisUrl?: string;
  /** Redis key prefix (default `mlsd:fs:`). */
  keyPrefix?: string;
  /** Passed to the Redis store (see RedisOnlineStoreOptions.expireKeys). */
  expireKeys?: boolean;
  /** Or bring your own online store. */
  online?: OnlineStore;
}

/** Result of a materialization run, per view. */
export interface MaterializeReport {
  from: number;
  to: number;
  views: Record<string, { rows: number; written: number; stale: number }>;
}

/** Offline + online stores over one set of views. */
export class FeatureStore {
  readonly offline: OfflineStore;
  readonly online: OnlineStore;
  readonly views: readonly FeatureView[];

  /** @internal use `createFeatureStore`. */
  constructor(options: FeatureStoreOptions) {
    this.views = options.views;
    this.offline = new OfflineStore({ path: options.offlinePath, views: options.views });
    this.online =
      options.online ??
      (options.redisUrl
        ? createRedisOnlineStore({
            views: options.views,
            url: options.redisUrl,
            keyPrefix: options.keyPrefix,
            expireKeys: options.expireKeys,
          })
        : createMemoryOnlineStore({ views: options.views }));
  }

  /** Ingests feature rows of a view into the offline store (see OfflineStore.ingest). */
  ingest(viewName: string, rows: readonly Row[]): IngestReport {
    return this.offline.ingest(viewName, rows);
  }

  /** Records counter events in both stores: the offline log (training) and the online counters (serving). */
  async recordEvents(
    counterName: string,
    events: readonly Row[],
  ): Promise<{ offline: IngestReport; online: OnlineWriteReport }> {
    const offline = this.offline.ingestEvents(counterName, events);
    const online = await this.online.recordEvents(counterName, events);
    return { offline, online };
  }

  /** Point-in-time correct training set (see OfflineStore.getHistoricalFeatures). */
  getHistoricalFeatures(
    entityRows: readonly Row[],
    featureRefs: readonly string[] | FeatureService,
    options?: HistoricalOptions,
  ): HistoricalFeatures {
    return this.offline.getHistoricalFeatures(entityRows, featureRefs, options);
  }

  /** Online features for many entities in one round trip. */
  getOnlineFeatures(
    entities: readonly Row[],
    featureRefs: readonly string[] | FeatureService,
    options?: OnlineReadOptions,
  ): Promise<Array<Record<string, FeatureValue>>> {
    return this.online.read(entities, featureRefs, options);
  }

  /** Copies the rows that became visible in (from, to] to the online store and stores `to` as watermark. */
  async materialize(from: number, to: number, viewNames?: string[]): Promise<MaterializeReport> {
    if (!Number.isSafeInteger(from) && from !== Number.NEGATIVE_INFINITY)
      throw new TypeError(`materialize: from: expected epoch ms, got ${from}`);
    if (!Number.isSafeInteger(to)) throw new TypeError(`materialize: to: expected epoch ms, got ${to}`);
    if (from > to) throw new RangeError(`materialize: from (${from}) is after to (${to})`);
    const report: MaterializeReport = { from, to, views: {} };
    for (const view of this.selectViews(viewNames)) {
      const lower = from === Number.NEGATIVE_INFINITY ? Number.MIN_SAFE_INTEGER : from;
      const rows = this.offline.rowsForMaterialization(view.name, lower, to);
      const records: OnlineRecord[] = rows.map((r) => {
        const values: Record<string, FeatureValue> = {};
        for (const f of view.features) values[f.name] = r[f.name] as FeatureValue;
        return { entityKey: r.entity_key as string, eventTs: r.event_ts as number, values };
      });
      const res = await this.online.writeRecords(view.name, records);
      await this.online.setWatermark(view.name, to);
      report.views[view.name] = { rows: rows.length, ...res };
    }
    return report;
  }

  /** Materializes each view from its stored watermark (or from the beginning) to `to` (default now). */
  async materializeIncremental(to: number = Date.now(), viewNames?: string[]): Promise<MaterializeReport[]> {
    const reports: MaterializeReport[] = [];
    for (const view of this.selectViews(viewNames)) {
      const from = (await this.online.getWatermark(view.name)) ?? Number.NEGATIVE_INFINITY;
      if (from >= to) continue;
      reports.push(await this.materialize(from, to, [view.name]));
    }
    return reports;
  }

  private selectViews(names?: string[]): FeatureView[] {
    const all = this.views.filter((v) => v.kind === 'view');
    if (!names) return all;
    return names.map((n) => {
      const v = all.find((x) => x.name === n);
      if (!v)
        throw new RangeError(
          `materialize: unknown (or counter) view ${JSON.stringify(n)}; views: ${all.map((x) => x.name).join(', ')}`,
        );
      return v;
    });
  }

  async close(): Promise<void> {
    await this.online.close();
    this.offline.close();
  }
}

/** Creates a feature store: SQLite offline, memory or Redis online. */
export function createFeatureStore(options: FeatureStoreOptions): FeatureStore {
  if (!options || !Array.isArray(options.views))
    throw new TypeError('createFeatureStore: options.views: expected an array of feature views');
  return new FeatureStore(options);
}
