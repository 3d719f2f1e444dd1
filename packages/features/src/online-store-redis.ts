/**
 * Redis online store (ioredis). Key layout, cluster-ready: every key of one entity of one view
 * carries the hash tag `{view:entityKey}`, so it lives in one slot:
 *
 *   <prefix>{<view>:<entityKey>}        hash: `_ts` (event time, ms) + one field per non-null feature
 *   <prefix>{<counter>:<entityKey>}:ev  sorted set of event ids scored by event time
 *   <prefix>{meta}:wm:<view>            materialization watermark
 *
 * Writes go through a Lua script that keeps the newer record (by event time) atomically, and are sent
 * in pipelined chunks; a read of many entities and views is one pipeline, one round trip. TTL is
 * enforced on read from the stored event time, so an expired value is null even before Redis evicts
 * the key (keys also get PEXPIREAT at event time + TTL to reclaim memory, unless disabled).
 */
import { Redis } from 'ioredis';
import type { FeatureService, FeatureValue, FeatureView, Row, ValueType } from './definitions.js';
import { viewRegistry } from './definitions.js';
import {
  checkEvents,
  checkWriteRows,
  isFresh,
  numericValue,
  type OnlineReadOptions,
  type OnlineRecord,
  type OnlineStore,
  type OnlineWriteReport,
  planNumericRead,
  planRead,
  type ReadPlan,
  viewNamed,
} from './online-store.js';
import { maxWindow } from './streaming.js';

/** Options of `createRedisOnlineStore`: a URL (the store owns the connection) or a client (the caller does). */
export interface RedisOnlineStoreOptions {
  views: readonly FeatureView[];
  url?: string;
  client?: Redis;
  /** Prefix of every key (default `mlsd:fs:`). */
  keyPrefix?: string;
  /**
   * Set PEXPIREAT on keys from event time + TTL (or + largest window) so Redis reclaims them
   * (default true). Reads enforce TTLs either way; turn this off only to read with a `now` in the past.
   */
  expireKeys?: boolean;
  /** Commands per pipelined write chunk (default 1000). */
  chunkSize?: number;
}

const PUT_SCRIPT = `
local cur = redis.call('HGET', KEYS[1], '_ts')
if cur and tonumber(cur) > tonumber(ARGV[1]) then return 0 end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], '_ts', ARGV[1], unpack(ARGV, 3))
if ARGV[2] ~= '' then redis.call('PEXPIREAT', KEYS[1], ARGV[2]) end
return 1
`;

function encode(v: FeatureValue): string | null {
  if (v === null) return null;
  if (typeof v === 'boolean') return v ? '1' : '0';
  return String(v);
}

function decode(type: ValueType, s: string | null): FeatureValue {
  if (s === null) return null;
  if (type === 'string') return s;
  if (type === 'bool') return s === '1';
  return Number(s);
}

type PipelineResult = Array<[Error | null, unknown]>;

class RedisOnlineStore implements OnlineStore {
  readonly views: ReadonlyMap<string, FeatureView>;
  private readonly redis: Redis;
  private readonly owned: boolean;
  private readonly prefix: string;
  private readonly expireKeys: boolean;
  private readonly chunkSize: number;

  constructor(options: RedisOnlineStoreOptions) {
    this.views = viewRegistry(options.views);
    if (options.client) {
      this.redis = options.client;
      this.owned = false;
    } else if (typeof options.url === 'string' && options.url !== '') {
      this.redis = new Redis(options.url, { maxRetriesPerRequest: 2 });
      this.owned = true;
    } else
      throw new TypeError(
        `createRedisOnlineStore: expected options.url (redis://...) or options.client, got url ${JSON.stringify(options.url)}`,
      );
    this.redis.defineCommand('mlsdFeaturePut', { numberOfKeys: 1, lua: PUT_SCRIPT });
    this.prefix = options.keyPrefix ?? 'mlsd:fs:';
    this.expireKeys = options.expireKeys ?? true;
    this.chunkSize = options.chunkSize ?? 1000;
    if (!(Number.isInteger(this.chunkSize) && this.chunkSize >= 1))
      throw new RangeError(`chunkSize: expected an integer >= 1, got ${options.chunkSize}`);
  }

  private recordKey(view: string, entityKey: string): string {
    return `${this.prefix}{${view}:${entityKey}}`;
  }

  private eventKey(counter: string, entityKey: string): string {
    return `${this.prefix}{${counter}:${entityKey}}:ev`;
  }

  private async exec(pipeline: ReturnType<Redis['pipeline']>): Promise<unknown[]> {
    const res = (await pipeline.exec()) as PipelineResult | null;
    if (!res) throw new Error('redis pipeline was discarded');
    return res.map(([err, value]) => {
      if (err) throw err;
      return value;
    });
  }

  async write(viewName: string, rows: readonly Row[]): Promise<OnlineWriteReport> {
    const { records, rejected } = checkWriteRows(viewNamed(this.views, viewName), rows);
    return { ...(await this.writeRecords(viewName, records)), rejected };
  }

  async writeRecords(
    viewName: string,
    records: readonly OnlineRecord[],
  ): Promise<{ written: number; stale: number }> {
    const view = viewNamed(this.views, viewName);
    if (view.kind === 'counter')
      throw new TypeError(`writeRecords: ${viewName} is a counter; use recordEvents`);
    let written = 0;
    let stale = 0;
    for (let start = 0; start < records.length; start += this.chunkSize) {
      const p = this.redis.pipeline();
      const end = Math.min(records.length, start + this.chunkSize);
      for (let i = start; i < end; i++) {
        const r = records[i];
        const args: string[] = [
          String(r.eventTs),
          this.expireKeys && Number.isFinite(view.ttlMs) ? String(r.eventTs + view.ttlMs) : '',
        ];
        for (const f of view.features) {
          const s = encode(r.values[f.name] ?? null);
          if (s !== null) args.push(f.name, s);
        }
        (p as unknown as Record<string, (...a: string[]) => void>).mlsdFeaturePut(
          this.recordKey(view.name, r.entityKey),
          ...args,
        );
      }
      for (const v of await this.exec(p)) {
        if (v === 1) written++;
        else stale++;
      }
    }
    return { written, stale };
  }

  async recordEvents(counterName: string, rows: readonly Row[]): Promise<OnlineWriteReport> {
    const counter = viewNamed(this.views, counterName);
    const { events, rejected } = checkEvents(counter, rows);
    const horizon = maxWindow(counter);
    let written = 0;
    let stale = 0;
    for (let start = 0; start < events.length; start += this.chunkSize) {
      const chunk = events.slice(start, start + this.chunkSize);
      const latest = new Map<string, number>();
      const p = this.redis.pipeline();
      for (const e of chunk) {
        p.zadd(this.eventKey(counter.name, e.key), 'NX', e.ts, e.id);
        latest.set(e.key, Math.max(latest.get(e.key) ?? Number.NEGATIVE_INFINITY, e.ts));
      }
      // Events at or before latest - horizon can no longer be in any window: trim them.
      for (const [key, ts] of latest) {
        const k = this.eventKey(counter.name, key);
        p.zremrangebyscore(k, '-inf', ts - horizon);
        if (this.expireKeys) {
          p.pexpireat(k, ts + horizon, 'NX');
          p.pexpireat(k, ts + horizon, 'GT');
        }
      }
      const res = await this.exec(p);
      for (let i = 0; i < chunk.length; i++) {
        if (res[i] === 1) written++;
        else stale++;
      }
    }
    return { written, stale, rejected };
  }

  async read(
    entities: readonly Row[],
    featureRefs: readonly string[] | FeatureService,
    options: OnlineReadOptions = {},
  ): Promise<Array<Record<string, FeatureValue>>> {
    const plan = planRead(this.views, entities, featureRefs, options);
    const out = entities.map(() => ({}) as Record<string, FeatureValue>);
    await this.query(plan, entities.length, (i, k, value) => {
      out[i][plan.names[k]] = value;
    });
    return out;
  }

  async readNumeric(
    entities: readonly Row[],
    featureRefs: readonly string[] | FeatureService,
    options: Pick<OnlineReadOptions, 'now'> = {},
  ): Promise<Float64Array> {
    const plan = planNumericRead(this.views, entities, featureRefs, options);
    const width = plan.names.length;
    const out = new Float64Array(entities.length * width);
    await this.query(plan, entities.length, (i, k, value) => {
      out[i * width + k] = numericValue(value);
    });
    return out;
  }

  /** Runs a read plan as one pipeline and hands each value (entity i, output k) to `set`. */
  private async query(
    plan: ReadPlan,
    n: number,
    set: (i: number, k: number, value: FeatureValue) => void,
  ): Promise<void> {
    if (n === 0) return;
    const p = this.redis.pipeline();
    for (const g of plan.groups) {
      if (g.view.kind === 'counter') {
        for (const key of g.keys) {
          const k = this.eventKey(g.view.name, key);
          for (const w of g.windowsMs) p.zcount(k, `(${plan.now - w}`, plan.now);
        }
      } else {
        const fields = ['_ts', ...g.refs.map((r) => r.field.name)];
        for (const key of g.keys) p.hmget(this.recordKey(g.view.name, key), ...fields);
      }
    }
    const res = await this.exec(p);
    let at = 0;
    for (const g of plan.groups) {
      if (g.view.kind === 'counter') {
        for (let i = 0; i < g.keys.length; i++) {
          for (let j = 0; j < g.refs.length; j++) set(i, g.outIndex[j], Number(res[at++]));
        }
        continue;
      }
      for (let i = 0; i < g.keys.length; i++) {
        const vals = res[at++] as Array<string | null>;
        const fresh = vals[0] !== null && isFresh(Number(vals[0]), plan.now, g.view.ttlMs);
        for (let j = 0; j < g.refs.length; j++) {
          set(i, g.outIndex[j], fresh ? decode(g.refs[j].field.type, vals[j + 1]) : null);
        }
      }
    }
  }

  async getWatermark(viewName: string): Promise<number | null> {
    viewNamed(this.views, viewName);
    const v = await this.redis.get(`${this.prefix}{meta}:wm:${viewName}`);
    return v === null ? null : Number(v);
  }

  async setWatermark(viewName: string, ts: number): Promise<void> {
    viewNamed(this.views, viewName);
    await this.redis.set(`${this.prefix}{meta}:wm:${viewName}`, String(ts));
  }

  async close(): Promise<void> {
    if (this.owned) await this.redis.quit();
  }
}

/** Creates the Redis online store. */
export function createRedisOnlineStore(options: RedisOnlineStoreOptions): OnlineStore {
  if (!options || !Array.isArray(options.views))
    throw new TypeError('createRedisOnlineStore: options.views: expected an array of feature views');
  return new RedisOnlineStore(options);
}
