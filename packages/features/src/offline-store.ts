/**
 * Offline store: one SQLite table per feature view (drizzle schema built from the view definition,
 * migrated by code when the store opens), batch ingestion idempotent on (entity, event timestamp), and
 * the point-in-time join that builds training sets.
 *
 * Point-in-time rule, for an entity row at time t and a view with TTL `ttl`: the value is the one with
 * the greatest event_ts such that event_ts <= t, t - event_ts <= ttl, and created_ts <= t; otherwise
 * null. created_ts is when the value became known; it defaults to event_ts, so only rows ingested
 * with a later created_ts ("late arrivals") are hidden before they arrived. No value from the future,
 * and no value the serving path could not have seen at t.
 */
import Database from 'better-sqlite3';
import { and, eq, gt, lte, or, sql } from 'drizzle-orm';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import {
  type AnySQLiteColumn,
  integer,
  primaryKey,
  real,
  type SQLiteTableWithColumns,
  sqliteTable,
  text,
} from 'drizzle-orm/sqlite-core';
import {
  CREATED_TS,
  checkTimestamp,
  checkValue,
  EVENT_TS,
  entityKeyOf,
  type FeatureService,
  type FeatureValue,
  type FeatureView,
  type RejectedRow,
  type ResolvedRef,
  type Row,
  resolveRefs,
  type ValueType,
  viewRegistry,
} from './definitions.js';
import { checkEvent, countInWindow } from './streaming.js';

// biome-ignore lint/suspicious/noExplicitAny: tables are built at run time from view definitions.
type AnyTable = SQLiteTableWithColumns<any>;

/** Fixed metadata tables, migrated in order; `mlsd_migrations` records which ran. */
const META_MIGRATIONS: Array<{ id: number; sql: string[] }> = [
  {
    id: 1,
    sql: [
      `CREATE TABLE IF NOT EXISTS mlsd_views (name TEXT PRIMARY KEY NOT NULL, definition TEXT NOT NULL, updated_at INTEGER NOT NULL)`,
    ],
  },
];

/** drizzle schema of the view registry table. */
export const viewsTable = sqliteTable('mlsd_views', {
  name: text('name').primaryKey(),
  definition: text('definition').notNull(),
  updatedAt: integer('updated_at').notNull(),
});

const SQL_TYPES: Record<ValueType, string> = {
  float: 'REAL',
  int: 'INTEGER',
  string: 'TEXT',
  bool: 'INTEGER',
};

/** Name of the SQLite table holding a view. */
export function viewTableName(view: FeatureView): string {
  return `fv_${view.name}`;
}

/** Name of the SQLite event log table of a counter. */
export function eventTableName(counter: FeatureView): string {
  return `ev_${counter.name}`;
}

function buildEventTable(counter: FeatureView): AnyTable {
  return sqliteTable(
    eventTableName(counter),
    {
      entity_key: text('entity_key').notNull(),
      event_id: text('event_id').notNull(),
      event_ts: integer('event_ts').notNull(),
    },
    (t) => [primaryKey({ columns: [t.entity_key, t.event_id] })],
  ) as unknown as AnyTable;
}

function columnName(feature: string): string {
  return `f_${feature}`;
}

function buildTable(view: FeatureView): AnyTable {
  const cols: Record<string, AnySQLiteColumn> = {
    entity_key: text('entity_key').notNull() as unknown as AnySQLiteColumn,
    event_ts: integer('event_ts').notNull() as unknown as AnySQLiteColumn,
    created_ts: integer('created_ts').notNull() as unknown as AnySQLiteColumn,
  };
  for (const f of view.features) {
    const c = columnName(f.name);
    cols[c] = (f.type === 'float'
      ? real(c)
      : f.type === 'string'
        ? text(c)
        : f.type === 'bool'
          ? integer(c, { mode: 'boolean' })
          : integer(c)) as unknown as AnySQLiteColumn;
  }
  // biome-ignore lint/suspicious/noExplicitAny: dynamic column set.
  return sqliteTable(viewTableName(view), cols as any, (t: any) => [
    primaryKey({ columns: [t.entity_key, t.event_ts] }),
  ]) as AnyTable;
}

/** Result of one ingestion batch. */
export interface IngestReport {
  /** Rows inserted, or updated because their values changed. */
  written: number;
  /** Rows already stored with identical values (re-ingestion is a no-op). */
  unchanged: number;
  /** Rows refused, with their index in the batch and the reason; the others were stored. */
  rejected: RejectedRow[];
}

/** Options of `getHistoricalFeatures`. */
export interface HistoricalOptions {
  /** Override of every view's TTL, in ms. */
  ttlMs?: number;
  /** Name outputs `view__feature` instead of `feature` (needed when two views share a feature name). */
  fullFeatureNames?: boolean;
}

/** A point-in-time correct training set, column by column, aligned with the entity rows. */
export interface HistoricalFeatures {
  readonly length: number;
  /** Output column names, in the order of the feature refs. */
  readonly names: string[];
  /**
   * Values by output name; `null` where no value was valid at the row's time. Built from the typed
   * columns on first access of each name (one boxed value per cell: for millions of rows prefer
   * `numericColumn`).
   */
  readonly columns: Record<string, FeatureValue[]>;
  /**
   * A numeric (`float`, `int` or `bool`, as 1/0; counters) output column as float64, `NaN` where
   * the value is null (stored values are always finite, so NaN is unambiguous). No copy: the array
   * is the join's own result. A string column or an unknown name is a TypeError/RangeError.
   */
  numericColumn(name: string): Float64Array;
  /** The entity rows as given. */
  readonly entityRows: readonly Row[];
  /** Each entity row merged with its features (allocates one object per row). */
  toRows(): Row[];
}

/** Options of `openOfflineStore`. */
export interface OfflineStoreOptions {
  /** SQLite file path, or ':memory:' (the default). */
  path?: string;
  /** The views this store holds; their tables are created or extended on open. */
  views: readonly FeatureView[];
}

/** A joined column: float64 with NaN for null (numeric and bool features), or strings. */
type JoinedColumn =
  | { kind: 'number'; bool: boolean; values: Float64Array }
  | { kind: 'string'; values: Array<string | null> };

/** Rows of one view as columns: sorted by entity key then event time, grouped by entity. */
interface ViewScan {
  groups: Map<string, [start: number, end: number]>;
  eventTs: Float64Array;
  createdTs: Float64Array;
  values: FeatureValue[][];
}

/** The offline store. Open with `openOfflineStore`, close with `close()`. */
export class OfflineStore {
  readonly views: ReadonlyMap<string, FeatureView>;
  private readonly sqlite: Database.Database;
  private readonly db: BetterSQLite3Database;
  private readonly tables = new Map<string, AnyTable>();
  private readonly upserts = new Map<string, (row: Record<string, unknown>) => number>();

  /** @internal use `openOfflineStore`. */
  constructor(options: OfflineStoreOptions) {
    this.views = viewRegistry(options.views);
    this.sqlite = new Database(options.path ?? ':memory:');
    this.sqlite.pragma('journal_mode = WAL');
    this.sqlite.pragma('synchronous = NORMAL');
    this.db = drizzle(this.sqlite);
    this.migrate();
  }

  /** The underlying better-sqlite3 handle (for the streaming event log living in the same file). */
  get database(): Database.Database {
    return this.sqlite;
  }

  private migrate(): void {
    this.sqlite.exec(
      'CREATE TABLE IF NOT EXISTS mlsd_migrations (id INTEGER PRIMARY KEY NOT NULL, applied_at INTEGER NOT NULL)',
    );
    const done = new Set(
      (this.sqlite.prepare('SELECT id FROM mlsd_migrations').all() as Array<{ id: number }>).map((r) => r.id),
    );
    for (const m of META_MIGRATIONS) {
      if (done.has(m.id)) continue;
      this.sqlite.transaction(() => {
        for (const s of m.sql) this.sqlite.exec(s);
        this.sqlite
          .prepare('INSERT INTO mlsd_migrations (id, applied_at) VALUES (?, ?)')
          .run(m.id, Date.now());
      })();
    }
    for (const view of this.views.values()) this.migrateView(view);
  }

  /** Creates the view's table, or adds the columns of new features; a changed type is an error. */
  private migrateView(view: FeatureView): void {
    if (view.kind === 'counter') {
      const ev = eventTableName(view);
      this.sqlite.exec(
        `CREATE TABLE IF NOT EXISTS "${ev}" (entity_key TEXT NOT NULL, event_id TEXT NOT NULL, event_ts INTEGER NOT NULL, PRIMARY KEY (entity_key, event_id)) WITHOUT ROWID`,
      );
      this.sqlite.exec(`CREATE INDEX IF NOT EXISTS "${ev}_ts" ON "${ev}" (entity_key, event_ts)`);
      this.tables.set(view.name, buildEventTable(view));
      return;
    }
    const name = viewTableName(view);
    const existing = this.sqlite.prepare(`SELECT name, type FROM pragma_table_info(?)`).all(name) as Array<{
      name: string;
      type: string;
    }>;
    this.sqlite.transaction(() => {
      if (existing.length === 0) {
        const cols = view.features.map((f) => `"${columnName(f.name)}" ${SQL_TYPES[f.type]}`);
        this.sqlite.exec(
          `CREATE TABLE "${name}" (entity_key TEXT NOT NULL, event_ts INTEGER NOT NULL, created_ts INTEGER NOT NULL, ${cols.join(', ')}, PRIMARY KEY (entity_key, event_ts)) WITHOUT ROWID`,
        );
        this.sqlite.exec(`CREATE INDEX "${name}_created" ON "${name}" (created_ts)`);
      } else {
        const have = new Map(existing.map((c) => [c.name, c.type]));
        for (const f of view.features) {
          const c = columnName(f.name);
          const t = have.get(c);
          if (t === undefined)
            this.sqlite.exec(`ALTER TABLE "${name}" ADD COLUMN "${c}" ${SQL_TYPES[f.type]}`);
          else if (t !== SQL_TYPES[f.type]) {
            throw new TypeError(
              `view ${view.name}: feature ${f.name}: stored as ${t}, defined as ${f.type}; rename the feature or the view`,
            );
          }
        }
      }
      this.db
        .insert(viewsTable)
        .values({ name: view.name, definition: JSON.stringify(view), updatedAt: Date.now() })
        .onConflictDoUpdate({
          target: viewsTable.name,
          set: { definition: JSON.stringify(view), updatedAt: Date.now() },
        })
        .run();
    })();
    this.tables.set(view.name, buildTable(view));
  }

  private view(name: string): FeatureView {
    const v = this.views.get(name);
    if (!v)
      throw new RangeError(
        `view: unknown view ${JSON.stringify(name)}; known views: ${[...this.views.keys()].join(', ')}`,
      );
    return v;
  }

  /** drizzle table of a view (for custom queries). */
  table(viewName: string): AnyTable {
    this.view(viewName);
    return this.tables.get(viewName) as AnyTable;
  }

  private upsertOf(view: FeatureView): (row: Record<string, unknown>) => number {
    let fn = this.upserts.get(view.name);
    if (fn) return fn;
    const t = this.table(view.name);
    const values: Record<string, unknown> = {
      entity_key: sql.placeholder('entity_key'),
      event_ts: sql.placeholder('event_ts'),
      created_ts: sql.placeholder('created_ts'),
    };
    const set: Record<string, unknown> = { created_ts: sql.raw('excluded.created_ts') };
    const differs = [];
    for (const f of view.features) {
      const c = columnName(f.name);
      values[c] = sql.placeholder(c);
      set[c] = sql.raw(`excluded."${c}"`);
      differs.push(sql.raw(`"${viewTableName(view)}"."${c}" IS NOT excluded."${c}"`));
    }
    // Identical re-ingestion changes nothing (not even created_ts): ingestion is idempotent.
    const stmt = this.db
      .insert(t)
      .values(values)
      .onConflictDoUpdate({ target: [t.entity_key, t.event_ts], set, setWhere: or(...differs) })
      .prepare();
    fn = (row) => stmt.run(row).changes;
    this.upserts.set(view.name, fn);
    return fn;
  }

  /**
   * Ingests feature rows of a view: entity key columns, `event_ts`, optional `created_ts` (default
   * event_ts) and the features. Bad rows are reported with their reason; good rows are stored in one
   * transaction. Re-ingesting a row is a no-op; a row with new values for the same (entity,
   * event_ts) replaces the old one (a correction).
   */
  ingest(viewName: string, rows: readonly Row[]): IngestReport {
    const view = this.view(viewName);
    if (view.kind === 'counter') throw new TypeError(`ingest: ${viewName} is a counter; use ingestEvents`);
    if (!Array.isArray(rows)) throw new TypeError(`ingest: rows: expected an array, got ${typeof rows}`);
    const upsert = this.upsertOf(view);
    const known = new Set([...view.entities, EVENT_TS, CREATED_TS, ...view.features.map((f) => f.name)]);
    const report: IngestReport = { written: 0, unchanged: 0, rejected: [] };
    const good: Record<string, unknown>[] = [];
    rows.forEach((row, index) => {
      try {
        if (!row || typeof row !== 'object')
          throw new TypeError(`expected an object, got ${JSON.stringify(row)}`);
        for (const k of Object.keys(row)) {
          if (!known.has(k)) throw new RangeError(`feature ${view.name}:${k}: unknown feature`);
        }
        const rec: Record<string, unknown> = { entity_key: entityKeyOf(view, row) };
        rec.event_ts = checkTimestamp(EVENT_TS, row[EVENT_TS]);
        rec.created_ts =
          row[CREATED_TS] === undefined ? rec.event_ts : checkTimestamp(CREATED_TS, row[CREATED_TS]);
        for (const f of view.features) {
          const v = checkValue(view, f, row[f.name]);
          rec[columnName(f.name)] = typeof v === 'boolean' ? (v ? 1 : 0) : v;
        }
        good.push(rec);
      } catch (err) {
        report.rejected.push({ index, reason: (err as Error).message });
      }
    });
    this.sqlite.transaction(() => {
      for (const rec of good) {
        if (upsert(rec) > 0) report.written++;
        else report.unchanged++;
      }
    })();
    return report;
  }

  /**
   * Appends events of a counter to its log (entity keys, `event_ts`, `event_id`). Idempotent on
   * (entity, event_id); bad events are reported, good ones stored.
   */
  ingestEvents(counterName: string, events: readonly Row[]): IngestReport {
    const counter = this.view(counterName);
    if (counter.kind !== 'counter')
      throw new TypeError(`ingestEvents: ${counterName} is a view, not a counter; use ingest`);
    if (!Array.isArray(events))
      throw new TypeError(`ingestEvents: events: expected an array, got ${typeof events}`);
    const t = this.table(counterName);
    const stmt = this.db
      .insert(t)
      .values({
        entity_key: sql.placeholder('k'),
        event_id: sql.placeholder('id'),
        event_ts: sql.placeholder('ts'),
      })
      .onConflictDoNothing()
      .prepare();
    const report: IngestReport = { written: 0, unchanged: 0, rejected: [] };
    const good: Array<{ k: string; id: string; ts: number }> = [];
    events.forEach((row, index) => {
      try {
        const e = checkEvent(counter, row, index);
        good.push({ k: e.key, id: e.id, ts: e.ts });
      } catch (err) {
        report.rejected.push({ index, reason: (err as Error).message });
      }
    });
    this.sqlite.transaction(() => {
      for (const e of good) {
        if (stmt.run(e).changes > 0) report.written++;
        else report.unchanged++;
      }
    })();
    return report;
  }

  private counterColumns(
    counter: FeatureView,
    wanted: Array<{ ref: ResolvedRef; name: string }>,
    keys: string[],
    ts: Float64Array,
    minTs: number,
    maxTs: number,
    columns: Map<string, JoinedColumn>,
  ): void {
    const t = this.table(counter.name);
    const windows = wanted.map(
      (w) => (counter.windows ?? []).find((x) => `count_${x.label}` === w.ref.field.name)?.ms as number,
    );
    const lower = minTs - Math.max(...windows);
    const raw = this.rawRows(
      this.db
        .select({ k: t.entity_key, e: t.event_ts })
        .from(t)
        .where(and(lte(t.event_ts, maxTs), gt(t.event_ts, lower)))
        .orderBy(t.entity_key, t.event_ts),
    );
    const evTs = new Float64Array(raw.length);
    const groups = new Map<string, [number, number]>();
    let current = '';
    let range: [number, number] | undefined;
    for (let i = 0; i < raw.length; i++) {
      const key = raw[i][0] as string;
      if (key !== current || !range) {
        range = [i, i + 1];
        groups.set(key, range);
        current = key;
      } else range[1] = i + 1;
      evTs[i] = raw[i][1] as number;
    }
    const outs = wanted.map((w) => {
      const values = new Float64Array(keys.length);
      columns.set(w.name, { kind: 'number', bool: false, values });
      return values;
    });
    for (let i = 0; i < keys.length; i++) {
      const g = groups.get(keys[i]);
      for (let j = 0; j < outs.length; j++)
        outs[j][i] = g ? countInWindow(evTs, g[0], g[1], ts[i], windows[j]) : 0;
    }
  }

  /** Runs a drizzle-built select with raw arrays (drizzle's object mapping is too slow for millions of rows). */
  private rawRows(query: { toSQL(): { sql: string; params: unknown[] } }): unknown[][] {
    const q = query.toSQL();
    return this.sqlite
      .prepare(q.sql)
      .raw(true)
      .all(...(q.params as unknown[])) as unknown[][];
  }

  private scan(view: FeatureView, fields: readonly string[], where: ReturnType<typeof and>): ViewScan {
    const t = this.table(view.name);
    const sel: Record<string, AnySQLiteColumn> = { k: t.entity_key, e: t.event_ts, c: t.created_ts };
    fields.forEach((f, j) => {
      sel[`v${j}`] = t[columnName(f)];
    });
    const raw = this.rawRows(this.db.select(sel).from(t).where(where).orderBy(t.entity_key, t.event_ts));
    const n = raw.length;
    const eventTs = new Float64Array(n);
    const createdTs = new Float64Array(n);
    const bools = fields.map((f) => view.features.find((x) => x.name === f)?.type === 'bool');
    const values: FeatureValue[][] = fields.map(() => new Array(n));
    const groups = new Map<string, [number, number]>();
    let current = '';
    let range: [number, number] | undefined;
    for (let i = 0; i < n; i++) {
      const r = raw[i];
      const key = r[0] as string;
      if (key !== current || !range) {
        range = [i, i + 1];
        groups.set(key, range);
        current = key;
      } else range[1] = i + 1;
      eventTs[i] = r[1] as number;
      createdTs[i] = r[2] as number;
      for (let j = 0; j < fields.length; j++) {
        const v = r[3 + j] as FeatureValue;
        values[j][i] = bools[j] && v !== null ? v === 1 : v;
      }
    }
    return { groups, eventTs, createdTs, values };
  }

  /**
   * Point-in-time join: for each entity row (entity keys + `event_ts`), the value of each feature
   * as it was known at the row's time (see the header of this file), or null.
   */
  getHistoricalFeatures(
    entityRows: readonly Row[],
    featureRefs: readonly string[] | FeatureService,
    options: HistoricalOptions = {},
  ): HistoricalFeatures {
    if (!Array.isArray(entityRows))
      throw new TypeError(`entityRows: expected an array, got ${typeof entityRows}`);
    const refs = resolveRefs(this.views, featureRefs);
    if (options.ttlMs !== undefined && !(options.ttlMs > 0)) {
      throw new RangeError(`options.ttlMs: expected a positive number of ms, got ${options.ttlMs}`);
    }
    const n = entityRows.length;
    const ts = new Float64Array(n);
    let minTs = Number.POSITIVE_INFINITY;
    let maxTs = Number.NEGATIVE_INFINITY;
    for (let i = 0; i < n; i++) {
      const t = entityRows[i]?.[EVENT_TS];
      if (typeof t !== 'number' || !Number.isSafeInteger(t)) {
        throw new TypeError(
          `entityRows[${i}].${EVENT_TS}: expected epoch milliseconds as an integer, got ${JSON.stringify(t)}`,
        );
      }
      ts[i] = t;
      if (t < minTs) minTs = t;
      if (t > maxTs) maxTs = t;
    }
    const names = refs.map((r) =>
      options.fullFeatureNames ? `${r.view.name}__${r.field.name}` : r.field.name,
    );
    const seen = new Map<string, string>();
    refs.forEach((r, j) => {
      const other = seen.get(names[j]);
      if (other)
        throw new RangeError(
          `featureRefs: ${other} and ${r.ref} both give column ${names[j]}; pass fullFeatureNames: true`,
        );
      seen.set(names[j], r.ref);
    });
    const columns = new Map<string, JoinedColumn>();

    const byView = new Map<FeatureView, Array<{ ref: ResolvedRef; name: string }>>();
    refs.forEach((ref, j) => {
      const list = byView.get(ref.view) ?? [];
      list.push({ ref, name: names[j] });
      byView.set(ref.view, list);
    });
    // Views keyed by the same entity columns share one key array, and one dense id per distinct key,
    // so each view maps its scanned groups to ids once instead of hashing a string per entity row.
    const keyCache = new Map<string, { keys: string[]; ids: Int32Array; idOf: Map<string, number> }>();
    const match = new Int32Array(n);
    for (const [view, wanted] of byView) {
      if (n === 0) break;
      const sig = view.entities.join('|');
      let cached = keyCache.get(sig);
      if (!cached) {
        const keyList: string[] = new Array(n);
        const ids = new Int32Array(n);
        const idOf = new Map<string, number>();
        for (let i = 0; i < n; i++) {
          const key = entityKeyOf(view, entityRows[i], i);
          keyList[i] = key;
          let id = idOf.get(key);
          if (id === undefined) {
            id = idOf.size;
            idOf.set(key, id);
          }
          ids[i] = id;
        }
        cached = { keys: keyList, ids, idOf };
        keyCache.set(sig, cached);
      }
      if (view.kind === 'counter') {
        this.counterColumns(view, wanted, cached.keys, ts, minTs, maxTs, columns);
        continue;
      }
      const ttl = options.ttlMs ?? view.ttlMs;
      const t = this.table(view.name);
      const lower = Number.isFinite(ttl) ? minTs - ttl : Number.MIN_SAFE_INTEGER;
      const fields = wanted.map((w) => w.ref.field.name);
      const scan = this.scanForJoin(
        view,
        fields,
        and(lte(t.event_ts, maxTs), sql`${t.event_ts} >= ${lower}`, lte(t.created_ts, maxTs)),
        cached.idOf,
      );
      const { eventTs, createdTs, starts, ends } = scan;
      const ids = cached.ids;
      // Row index of each entity row's value in the scan, or -1.
      for (let i = 0; i < n; i++) {
        match[i] = -1;
        const id = ids[i];
        const g0 = starts[id];
        if (g0 < 0) continue;
        const at = ts[i];
        // Last index in [g0, g1) with eventTs <= at.
        let lo = g0;
        let hi = ends[id];
        while (lo < hi) {
          const mid = (lo + hi) >>> 1;
          if (eventTs[mid] <= at) lo = mid + 1;
          else hi = mid;
        }
        let k = lo - 1;
        // Skip values not yet known at `at` (late arrivals); stop at the TTL horizon.
        while (k >= g0 && createdTs[k] > at) k--;
        if (k < g0 || at - eventTs[k] > ttl) continue;
        match[i] = k;
      }
      // Numeric fields: the scan keeps them row-major (`numbers`, `nn` per row), so each entity
      // row's values are read from one place and written to the columns in order.
      const nn = scan.numericFields.length;
      const outs = scan.numericFields.map(() => new Float64Array(n));
      const numbers = scan.numbers;
      for (let i = 0; i < n; i++) {
        const k = match[i];
        if (k < 0) {
          for (let j = 0; j < nn; j++) outs[j][i] = Number.NaN;
        } else {
          const base = k * nn;
          for (let j = 0; j < nn; j++) outs[j][i] = numbers[base + j];
        }
      }
      scan.numericFields.forEach((j, c) => {
        const w = wanted[j];
        columns.set(w.name, { kind: 'number', bool: w.ref.field.type === 'bool', values: outs[c] });
      });
      scan.stringFields.forEach((j, c) => {
        const src = scan.strings[c];
        const out: Array<string | null> = new Array(n);
        for (let i = 0; i < n; i++) {
          const k = match[i];
          out[i] = k < 0 ? null : src[k];
        }
        columns.set(wanted[j].name, { kind: 'string', values: out });
      });
    }
    return joinedFeatures(entityRows, names, columns);
  }

  /**
   * The join's scan of a view: one pass over the rows in (entity, event_ts) order, copied straight
   * into typed arrays (numeric fields row-major in one float64 array with NaN for null, string
   * fields as arrays); each entity's row range is
   * stored under its dense id, and entities no entity row asks for are skipped. Rows are iterated,
   * not collected, so each row's JS array dies young.
   */
  private scanForJoin(
    view: FeatureView,
    fields: readonly string[],
    where: ReturnType<typeof and>,
    idOf: ReadonlyMap<string, number>,
  ): {
    starts: Int32Array;
    ends: Int32Array;
    eventTs: Float64Array;
    createdTs: Float64Array;
    /** Indexes (into `fields`) of the numeric fields, in the order of their values in a row of `numbers`. */
    numericFields: number[];
    /** Row-major values of the numeric fields: row k's are `numbers[k * numericFields.length + c]`. */
    numbers: Float64Array;
    /** Indexes (into `fields`) of the string fields, and their values per row. */
    stringFields: number[];
    strings: Array<Array<string | null>>;
  } {
    const t = this.table(view.name);
    const sel: Record<string, AnySQLiteColumn> = { k: t.entity_key, e: t.event_ts, c: t.created_ts };
    fields.forEach((f, j) => {
      sel[`v${j}`] = t[columnName(f)];
    });
    const q = this.db.select(sel).from(t).where(where).orderBy(t.entity_key, t.event_ts).toSQL();
    const stmt = this.sqlite.prepare(q.sql).raw(true);
    const isString = fields.map((f) => view.features.find((x) => x.name === f)?.type === 'string');
    const numericFields = fields.flatMap((_, j) => (isString[j] ? [] : [j]));
    const stringFields = fields.flatMap((_, j) => (isString[j] ? [j] : []));
    const nn = numericFields.length;
    const ns = stringFields.length;
    // Column positions in the raw row: entity key, event_ts, created_ts, then the fields.
    const numericAt = Int32Array.from(numericFields, (j) => 3 + j);
    const stringAt = stringFields.map((j) => 3 + j);
    let cap = 1024;
    let eventTs: Float64Array = new Float64Array(cap);
    let createdTs: Float64Array = new Float64Array(cap);
    let numbers: Float64Array = new Float64Array(cap * nn);
    const strings: Array<Array<string | null>> = stringFields.map(() => []);
    const starts = new Int32Array(idOf.size).fill(-1);
    const ends = new Int32Array(idOf.size);
    let size = 0;
    let current: string | undefined;
    let id: number | undefined;
    for (const r of stmt.iterate(...(q.params as unknown[])) as IterableIterator<unknown[]>) {
      const key = r[0] as string;
      if (key !== current) {
        current = key;
        id = idOf.get(key);
        if (id !== undefined) starts[id] = size;
      }
      if (id === undefined) continue;
      if (size === cap) {
        cap *= 2;
        eventTs = grow(eventTs, cap);
        createdTs = grow(createdTs, cap);
        numbers = grow(numbers, cap * nn);
      }
      eventTs[size] = r[1] as number;
      createdTs[size] = r[2] as number;
      const base = size * nn;
      for (let c = 0; c < nn; c++) {
        const v = r[numericAt[c]];
        numbers[base + c] = v === null ? Number.NaN : (v as number);
      }
      for (let c = 0; c < ns; c++) strings[c][size] = r[stringAt[c]] as string | null;
      size++;
      ends[id] = size;
    }
    return { starts, ends, eventTs, createdTs, numericFields, numbers, stringFields, strings };
  }

  /**
   * Rows to materialize for the window (from, to]: for each entity the latest row known at `to`
   * (event_ts <= to and created_ts <= to) that became visible inside the window (created_ts > from
   * or event_ts > from), so late arrivals are picked up by the next window.
   */
  rowsForMaterialization(viewName: string, from: number, to: number): Row[] {
    const view = this.view(viewName);
    if (view.kind === 'counter')
      throw new TypeError(
        `rowsForMaterialization: ${viewName} is a counter; counters are updated from events`,
      );
    const t = this.table(view.name);
    const fields = view.features.map((f) => f.name);
    const scan = this.scan(
      view,
      fields,
      and(lte(t.event_ts, to), lte(t.created_ts, to), or(gt(t.created_ts, from), gt(t.event_ts, from))),
    );
    const out: Row[] = [];
    for (const [key, [, end]] of scan.groups) {
      const k = end - 1;
      const row: Row = { entity_key: key, [EVENT_TS]: scan.eventTs[k] };
      fields.forEach((f, j) => {
        row[f] = scan.values[j][k];
      });
      out.push(row);
    }
    return out;
  }

  /** Number of stored rows of a view. */
  count(viewName: string): number {
    const t = this.table(viewName);
    return this.db.select({ n: sql<number>`count(*)` }).from(t).get()?.n ?? 0;
  }

  /** The stored definition of a view, as registered in `mlsd_views`. */
  storedDefinition(viewName: string): unknown {
    const row = this.db.select().from(viewsTable).where(eq(viewsTable.name, viewName)).get();
    return row ? JSON.parse(row.definition) : undefined;
  }

  close(): void {
    this.sqlite.close();
  }
}

/** Opens (creating or migrating) an offline store. */
export function openOfflineStore(options: OfflineStoreOptions): OfflineStore {
  if (!options || !Array.isArray(options.views))
    throw new TypeError('openOfflineStore: options.views: expected an array of feature views');
  return new OfflineStore(options);
}

function grow(a: Float64Array, cap: number): Float64Array {
  const b = new Float64Array(cap);
  b.set(a);
  return b;
}

/** The join's result over its typed columns; `columns` converts a column to JS values on first use. */
function joinedFeatures(
  entityRows: readonly Row[],
  names: string[],
  typed: ReadonlyMap<string, JoinedColumn>,
): HistoricalFeatures {
  const n = entityRows.length;
  const columns: Record<string, FeatureValue[]> = {};
  for (const name of names) {
    let cache: FeatureValue[] | undefined;
    Object.defineProperty(columns, name, {
      enumerable: true,
      get(): FeatureValue[] {
        if (cache) return cache;
        const col = typed.get(name);
        if (!col) cache = new Array(n).fill(null);
        else if (col.kind === 'string') cache = col.values;
        else {
          const out: FeatureValue[] = new Array(n);
          const v = col.values;
          for (let i = 0; i < n; i++) {
            const x = v[i];
            out[i] = Number.isNaN(x) ? null : col.bool ? x === 1 : x;
          }
          cache = out;
        }
        return cache;
      },
    });
  }
  return {
    length: n,
    names,
    columns,
    entityRows,
    numericColumn(name: string): Float64Array {
      const col = typed.get(name);
      if (col?.kind === 'number') return col.values;
      if (col) throw new TypeError(`numericColumn: ${name} is a string feature; read it from columns`);
      if (names.includes(name)) return new Float64Array(n).fill(Number.NaN);
      throw new RangeError(
        `numericColumn: unknown column ${JSON.stringify(name)}; columns: ${names.join(', ')}`,
      );
    },
    toRows() {
      const cols = names.map((name) => columns[name]);
      return entityRows.map((r, i) => {
        const out: Row = { ...r };
        for (let j = 0; j < names.length; j++) out[names[j]] = cols[j][i];
        return out;
      });
    },
  };
}
