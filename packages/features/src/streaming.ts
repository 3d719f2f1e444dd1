/**
 * Streaming features: sliding-window event counters (impressions, clicks, registrations in the last
 * 1 h / 24 h / 7 d) kept by both online backends and recomputed by the offline store from its event
 * log, with one definition of the window so the two agree:
 *
 *   count_w(entity, t) = number of events of the entity with event_ts in (t - w, t].
 *
 * An event exactly w ms old has left the window; an event at t is inside it. Events carry an
 * `event_id`, so recording an event twice counts it once, online and offline. Rates (click-through)
 * are ratios of two counters, computed by the `ratio` transform source.
 */
import { randomUUID } from 'node:crypto';
import {
  checkName,
  checkTimestamp,
  EVENT_TS,
  entityKeyOf,
  type FeatureField,
  type FeatureView,
  type Row,
  type WindowSpec,
} from './definitions.js';

/** Common windows, in ms. */
export const WINDOWS = { '1h': 3_600_000, '24h': 86_400_000, '7d': 604_800_000 } as const;

/** Name of the optional event id column of events. */
export const EVENT_ID = 'event_id';

/**
 * Defines a sliding-window counter over events of an entity. Its features are `count_<label>`
 * (non-null ints), readable online and offline like the features of a view (`name:count_1h`).
 */
export function defineWindowedCounter(options: {
  name: string;
  entities: string[];
  /** Window label to length in ms; default 1h, 24h and 7d. */
  windows?: Record<string, number>;
  description?: string;
}): FeatureView {
  const name = checkName('counter name', options?.name);
  if (!Array.isArray(options.entities) || options.entities.length === 0) {
    throw new TypeError(
      `counter ${name}: entities: expected a non-empty array of key names, got ${JSON.stringify(options.entities)}`,
    );
  }
  const entities = options.entities.map((e) => checkName(`counter ${name}: entity`, e));
  const windows: WindowSpec[] = Object.entries(options.windows ?? WINDOWS).map(([label, ms]) => {
    if (!/^[A-Za-z0-9_]+$/.test(label))
      throw new TypeError(
        `counter ${name}: window label: expected [A-Za-z0-9_]+, got ${JSON.stringify(label)}`,
      );
    if (!Number.isSafeInteger(ms) || ms <= 0)
      throw new RangeError(`counter ${name}: window ${label}: expected a positive integer of ms, got ${ms}`);
    return Object.freeze({ label, ms });
  });
  if (windows.length === 0) throw new RangeError(`counter ${name}: windows: expected at least one window`);
  const features: FeatureField[] = windows.map((w) =>
    Object.freeze({ name: `count_${w.label}`, type: 'int' as const, nullable: false }),
  );
  return Object.freeze({
    kind: 'counter',
    name,
    entities: Object.freeze(entities),
    features: Object.freeze(features),
    ttlMs: Number.POSITIVE_INFINITY,
    windows: Object.freeze(windows),
    description: options.description,
  });
}

/** Largest window of a counter, in ms. */
export function maxWindow(counter: FeatureView): number {
  return Math.max(...(counter.windows ?? []).map((w) => w.ms));
}

/** A checked event: entity key, event time, id. */
export interface CheckedEvent {
  key: string;
  ts: number;
  id: string;
}

/** Checks one event row of a counter (entity keys, `event_ts`, optional `event_id`). */
export function checkEvent(counter: FeatureView, row: Row, index?: number): CheckedEvent {
  if (!row || typeof row !== 'object')
    throw new TypeError(`event: expected an object, got ${JSON.stringify(row)}`);
  const key = entityKeyOf(counter, row, index);
  const ts = checkTimestamp(`${counter.name}.${EVENT_TS}`, row[EVENT_TS]);
  const raw = row[EVENT_ID];
  let id: string;
  if (raw === undefined || raw === null) id = randomUUID();
  else if ((typeof raw === 'string' && raw !== '') || (typeof raw === 'number' && Number.isSafeInteger(raw)))
    id = String(raw);
  else
    throw new TypeError(
      `${counter.name}.${EVENT_ID}: expected a non-empty string or an integer, got ${JSON.stringify(raw)}`,
    );
  return { key, ts, id };
}

/** Number of sorted timestamps in (to - windowMs, to]. */
export function countInWindow(
  sorted: ArrayLike<number>,
  start: number,
  end: number,
  to: number,
  windowMs: number,
): number {
  return upperBound(sorted, start, end, to) - upperBound(sorted, start, end, to - windowMs);
}

/** First index in [lo, hi) whose value is > x. */
export function upperBound(a: ArrayLike<number>, lo: number, hi: number, x: number): number {
  let l = lo;
  let h = hi;
  while (l < h) {
    const m = (l + h) >>> 1;
    if (a[m] <= x) l = m + 1;
    else h = m;
  }
  return l;
}
