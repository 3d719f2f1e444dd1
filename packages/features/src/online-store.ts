/**
 * The online store interface, shared by the memory and Redis backends, and the validation both run
 * before touching storage.
 *
 * Semantics every backend keeps (the contract suite checks them):
 * - one record per (view, entity): the feature values with the greatest event_ts written so far; an
 *   older write never replaces a newer one, an equal one replaces it (idempotent re-writes);
 * - `read` answers many entities and views in one round trip; a value whose age `now - event_ts`
 *   exceeds the view's TTL comes back as null (expired), as does a value never written;
 * - counters count events with event_ts in (now - w, now], each event_id once;
 * - the materialization watermark of each view lives with the data it describes.
 */
import {
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
} from './definitions.js';
import { type CheckedEvent, checkEvent } from './streaming.js';

/** One stored record of a view: the entity, its event time and the feature values. */
export interface OnlineRecord {
  entityKey: string;
  eventTs: number;
  values: Record<string, FeatureValue>;
}

/** Result of a write: how many records were stored, and the rows refused with reasons. */
export interface OnlineWriteReport {
  /** Records stored (not counting those older than what was already stored). */
  written: number;
  /** Records skipped because a newer one was already stored. */
  stale: number;
  rejected: RejectedRow[];
}

/** Options of `read`. */
export interface OnlineReadOptions {
  /** Time of the read in epoch ms (default `Date.now()`); TTLs and windows are measured from it. */
  now?: number;
  /** Name outputs `view__feature` instead of `feature`. */
  fullFeatureNames?: boolean;
}

/** An online feature store backend. */
export interface OnlineStore {
  readonly views: ReadonlyMap<string, FeatureView>;
  /** Validates and writes feature rows of a view (entity keys, `event_ts`, features). */
  write(viewName: string, rows: readonly Row[]): Promise<OnlineWriteReport>;
  /** Writes already-validated records (used by materialization), chunked and pipelined. */
  writeRecords(
    viewName: string,
    records: readonly OnlineRecord[],
  ): Promise<{ written: number; stale: number }>;
  /** Records events of a counter (entity keys, `event_ts`, `event_id`). */
  recordEvents(counterName: string, events: readonly Row[]): Promise<OnlineWriteReport>;
  /**
   * Reads features for many entities in one round trip. Each entity row holds the key columns the
   * referenced views need; the answer has one object per entity with one value (or null) per ref.
   */
  read(
    entities: readonly Row[],
    featureRefs: readonly string[] | FeatureService,
    options?: OnlineReadOptions,
  ): Promise<Array<Record<string, FeatureValue>>>;
  /**
   * Reads numeric features (counters, and float, int or bool fields of views) of many entities into
   * one row-major Float64Array of `entities.length x refs.length`, in the order of the refs: the
   * fast path for serving code that builds tensors, with no object per entity. A value `read`
   * answers null for (never written, expired) is NaN; bools are 1 and 0.
   * @throws TypeError for a string feature among the refs (read it with `read`).
   */
  readNumeric(
    entities: readonly Row[],
    featureRefs: readonly string[] | FeatureService,
    options?: Pick<OnlineReadOptions, 'now'>,
  ): Promise<Float64Array>;
  /** The materialization watermark of a view (epoch ms), or null if never materialized. */
  getWatermark(viewName: string): Promise<number | null>;
  setWatermark(viewName: string, ts: number): Promise<void>;
  close(): Promise<void>;
}

/** A read plan: refs grouped by view, with each entity's key for that view. */
export interface ReadPlan {
  now: number;
  names: string[];
  groups: Array<{
    view: FeatureView;
    refs: ResolvedRef[];
    outIndex: number[];
    keys: string[];
    /** For a counter: the window of each ref, in ms. */
    windowsMs: number[];
  }>;
}

/** Validates a read and groups its refs by view; shared by the backends. */
export function planRead(
  views: ReadonlyMap<string, FeatureView>,
  entities: readonly Row[],
  featureRefs: readonly string[] | FeatureService,
  options: OnlineReadOptions = {},
): ReadPlan {
  if (!Array.isArray(entities))
    throw new TypeError(`entities: expected an array of entity rows, got ${typeof entities}`);
  const refs = resolveRefs(views, featureRefs);
  const now = options.now === undefined ? Date.now() : checkTimestamp('options.now', options.now);
  const names = refs.map((r) =>
    options.fullFeatureNames ? `${r.view.name}__${r.field.name}` : r.field.name,
  );
  if (new Set(names).size !== names.length)
    throw new RangeError('featureRefs: two refs give the same output name; pass fullFeatureNames: true');
  const byView = new Map<FeatureView, { refs: ResolvedRef[]; outIndex: number[] }>();
  refs.forEach((r, j) => {
    const g = byView.get(r.view) ?? { refs: [], outIndex: [] };
    g.refs.push(r);
    g.outIndex.push(j);
    byView.set(r.view, g);
  });
  const groups = [...byView].map(([view, g]) => ({
    view,
    ...g,
    keys: entities.map((e, i) => entityKeyOf(view, e, i)),
    windowsMs:
      view.kind === 'counter'
        ? g.refs.map(
            (r) => (view.windows ?? []).find((w) => `count_${w.label}` === r.field.name)?.ms as number,
          )
        : [],
  }));
  return { now, names, groups };
}

/** `planRead` for `readNumeric`: every ref must be numeric (a counter, or a float, int or bool field). */
export function planNumericRead(
  views: ReadonlyMap<string, FeatureView>,
  entities: readonly Row[],
  featureRefs: readonly string[] | FeatureService,
  options: Pick<OnlineReadOptions, 'now'> = {},
): ReadPlan {
  const plan = planRead(views, entities, featureRefs, { now: options?.now, fullFeatureNames: true });
  for (const g of plan.groups)
    for (const r of g.refs)
      if (r.field.type === 'string')
        throw new TypeError(
          `readNumeric: ${r.view.name}:${r.field.name} is a string feature; read it with read()`,
        );
  return plan;
}

/** A stored value as `readNumeric` answers it: numbers as they are, bools as 1/0, null as NaN. */
export function numericValue(value: FeatureValue | undefined): number {
  if (typeof value === 'number') return value;
  if (typeof value === 'boolean') return value ? 1 : 0;
  return Number.NaN;
}

/** Validates feature rows for a write: records for good rows, reasons for bad ones. */
export function checkWriteRows(
  view: FeatureView,
  rows: readonly Row[],
): { records: OnlineRecord[]; rejected: RejectedRow[] } {
  if (view.kind === 'counter') throw new TypeError(`write: ${view.name} is a counter; use recordEvents`);
  if (!Array.isArray(rows)) throw new TypeError(`write: rows: expected an array, got ${typeof rows}`);
  const known = new Set([...view.entities, EVENT_TS, 'created_ts', ...view.features.map((f) => f.name)]);
  const records: OnlineRecord[] = [];
  const rejected: RejectedRow[] = [];
  rows.forEach((row, index) => {
    try {
      if (!row || typeof row !== 'object')
        throw new TypeError(`expected an object, got ${JSON.stringify(row)}`);
      for (const k of Object.keys(row))
        if (!known.has(k)) throw new RangeError(`feature ${view.name}:${k}: unknown feature`);
      const values: Record<string, FeatureValue> = {};
      for (const f of view.features) values[f.name] = checkValue(view, f, row[f.name]);
      records.push({
        entityKey: entityKeyOf(view, row),
        eventTs: checkTimestamp(EVENT_TS, row[EVENT_TS]),
        values,
      });
    } catch (err) {
      rejected.push({ index, reason: (err as Error).message });
    }
  });
  return { records, rejected };
}

/** Validates counter events: checked events for good rows, reasons for bad ones. */
export function checkEvents(
  counter: FeatureView,
  events: readonly Row[],
): { events: CheckedEvent[]; rejected: RejectedRow[] } {
  if (counter.kind !== 'counter')
    throw new TypeError(`recordEvents: ${counter.name} is a view, not a counter; use write`);
  if (!Array.isArray(events))
    throw new TypeError(`recordEvents: events: expected an array, got ${typeof events}`);
  const good: CheckedEvent[] = [];
  const rejected: RejectedRow[] = [];
  events.forEach((row, index) => {
    try {
      good.push(checkEvent(counter, row, index));
    } catch (err) {
      rejected.push({ index, reason: (err as Error).message });
    }
  });
  return { events: good, rejected };
}

/** Looks a view up by name or throws naming the known ones. */
export function viewNamed(views: ReadonlyMap<string, FeatureView>, name: string): FeatureView {
  const v = views.get(name);
  if (!v)
    throw new RangeError(
      `view: unknown view ${JSON.stringify(name)}; known views: ${[...views.keys()].join(', ')}`,
    );
  return v;
}

/** True when a value written at `eventTs` is still valid at `now` under `ttlMs`. */
export function isFresh(eventTs: number, now: number, ttlMs: number): boolean {
  return eventTs <= now && now - eventTs <= ttlMs;
}
