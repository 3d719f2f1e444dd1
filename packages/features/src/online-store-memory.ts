/**
 * In-memory online store: the default when no Redis URL is configured. Same semantics as the Redis
 * backend (see online-store.ts), in one process.
 */
import type { FeatureService, FeatureValue, FeatureView, Row } from './definitions.js';
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
import { maxWindow, upperBound } from './streaming.js';

interface EventLog {
  ts: number[];
  ids: Set<string>;
  /**
   * The last count of each window of the view (by its index in `view.windows`), as three numbers:
   * the count and the interval [from, until) of read times over which it holds. A count changes
   * only when an event enters the window (now reaches its time) or leaves it (now reaches its time
   * plus the window), so a read at a time inside the interval answers without searching the log.
   * Dropped whenever the log changes.
   */
  counts?: Float64Array;
}

/**
 * Events of `log` in (now - w, now], the window at index `slot` of its view (of `slots` windows),
 * from the log's cached counts when `now` lies where the cached count holds.
 */
function countAt(log: EventLog, slot: number, slots: number, now: number, w: number): number {
  let c = log.counts;
  if (c === undefined) {
    c = new Float64Array(3 * slots).fill(Number.NaN);
    log.counts = c;
  }
  const k = 3 * slot;
  if (now >= c[k + 1] && now < c[k + 2]) return c[k];
  const ts = log.ts;
  const n = ts.length;
  const hi = upperBound(ts, 0, n, now); // first event after now: enters at its time
  const lo = upperBound(ts, 0, hi, now - w); // first event in the window: leaves at its time + w
  c[k] = hi - lo;
  // Going back in time, the latest event in the window leaves it before its time, and the latest
  // event that aged out comes back before its time + w.
  c[k + 1] = Math.max(
    hi > 0 ? ts[hi - 1] : Number.NEGATIVE_INFINITY,
    lo > 0 ? ts[lo - 1] + w : Number.NEGATIVE_INFINITY,
  );
  c[k + 2] = Math.min(
    hi < n ? ts[hi] : Number.POSITIVE_INFINITY,
    lo < n ? ts[lo] + w : Number.POSITIVE_INFINITY,
  );
  return c[k];
}

/** For each counter ref of a read group, the index of its window in the view's windows. */
function windowSlots(view: FeatureView, windowsMs: readonly number[]): number[] {
  const ws = view.windows ?? [];
  return windowsMs.map((ms) => ws.findIndex((w) => w.ms === ms));
}

/** Options of `createMemoryOnlineStore`. */
export interface MemoryOnlineStoreOptions {
  views: readonly FeatureView[];
}

class MemoryOnlineStore implements OnlineStore {
  readonly views: ReadonlyMap<string, FeatureView>;
  private readonly records = new Map<string, Map<string, OnlineRecord>>();
  private readonly events = new Map<string, Map<string, EventLog>>();
  private readonly watermarks = new Map<string, number>();

  constructor(options: MemoryOnlineStoreOptions) {
    this.views = viewRegistry(options.views);
    for (const v of this.views.values()) {
      if (v.kind === 'counter') this.events.set(v.name, new Map());
      else this.records.set(v.name, new Map());
    }
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
    const table = this.records.get(view.name);
    if (!table) throw new TypeError(`writeRecords: ${viewName} is a counter; use recordEvents`);
    let written = 0;
    let stale = 0;
    for (const r of records) {
      const cur = table.get(r.entityKey);
      if (cur && cur.eventTs > r.eventTs) {
        stale++;
        continue;
      }
      table.set(r.entityKey, { entityKey: r.entityKey, eventTs: r.eventTs, values: { ...r.values } });
      written++;
    }
    return { written, stale };
  }

  async recordEvents(counterName: string, rows: readonly Row[]): Promise<OnlineWriteReport> {
    const counter = viewNamed(this.views, counterName);
    const { events, rejected } = checkEvents(counter, rows);
    const logs = this.events.get(counter.name) as Map<string, EventLog>;
    const horizon = maxWindow(counter);
    let written = 0;
    let stale = 0;
    for (const e of events) {
      let log = logs.get(e.key);
      if (!log) {
        log = { ts: [], ids: new Set() };
        logs.set(e.key, log);
      }
      if (log.ids.has(e.id)) {
        stale++;
        continue;
      }
      log.ids.add(e.id);
      log.counts = undefined;
      let i = log.ts.length;
      while (i > 0 && log.ts[i - 1] > e.ts) i--;
      log.ts.splice(i, 0, e.ts);
      written++;
      // Events at or before latest - horizon can no longer be inside any window (as Redis trims).
      const cut = log.ts[log.ts.length - 1] - horizon;
      if (log.ts[0] <= cut) {
        let k = 0;
        while (k < log.ts.length && log.ts[k] <= cut) k++;
        log.ts.splice(0, k);
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
    // Every answer has the same keys in the same order, so the objects share one shape: start each
    // from a template with all names set to null (one clone) instead of adding keys one by one.
    const template: Record<string, FeatureValue> = {};
    for (const name of plan.names) template[name] = null;
    const out: Array<Record<string, FeatureValue>> = new Array(entities.length);
    for (let i = 0; i < entities.length; i++) out[i] = { ...template };
    this.scan(plan, entities.length, (i, k, value) => {
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
    this.scan(plan, entities.length, (i, k, value) => {
      out[i * width + k] = numericValue(value);
    });
    return out;
  }

  /** Answers a read plan: hands each value (entity i, output k) to `set`; null when missing. */
  private scan(plan: ReadPlan, n: number, set: (i: number, k: number, value: FeatureValue) => void): void {
    for (const g of plan.groups) {
      const m = g.refs.length;
      const at = g.outIndex;
      if (g.view.kind === 'counter') {
        const logs = this.events.get(g.view.name) as Map<string, EventLog>;
        const windows = g.windowsMs;
        const slots = windowSlots(g.view, windows);
        const nSlots = g.view.windows?.length ?? 0;
        let prevKey: string | undefined;
        let log: EventLog | undefined;
        for (let i = 0; i < n; i++) {
          const key = g.keys[i];
          // Consecutive equal entities (a ranking request's user) are looked up once.
          if (key !== prevKey) {
            log = logs.get(key);
            prevKey = key;
          }
          for (let j = 0; j < m; j++)
            set(i, at[j], log === undefined ? 0 : countAt(log, slots[j], nSlots, plan.now, windows[j]));
        }
        continue;
      }
      const table = this.records.get(g.view.name) as Map<string, OnlineRecord>;
      const fields = g.refs.map((r) => r.field.name);
      for (let i = 0; i < n; i++) {
        const rec = table.get(g.keys[i]);
        const fresh = rec !== undefined && isFresh(rec.eventTs, plan.now, g.view.ttlMs);
        for (let j = 0; j < m; j++) set(i, at[j], fresh ? (rec.values[fields[j]] ?? null) : null);
      }
    }
  }

  async getWatermark(viewName: string): Promise<number | null> {
    viewNamed(this.views, viewName);
    return this.watermarks.get(viewName) ?? null;
  }

  async setWatermark(viewName: string, ts: number): Promise<void> {
    viewNamed(this.views, viewName);
    this.watermarks.set(viewName, ts);
  }

  async close(): Promise<void> {
    this.records.clear();
    this.events.clear();
  }
}

/** Creates the in-memory online store. */
export function createMemoryOnlineStore(options: MemoryOnlineStoreOptions): OnlineStore {
  if (!options || !Array.isArray(options.views))
    throw new TypeError('createMemoryOnlineStore: options.views: expected an array of feature views');
  return new MemoryOnlineStore(options);
}
