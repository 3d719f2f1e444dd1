/**
 * Feature definitions: value types, feature views (entity keys, typed features, TTL, source), feature
 * services (the features one model needs) and the checks every store applies to incoming rows.
 *
 * A view is plain data, validated once by `defineFeatureView`, and shared by training (offline store,
 * point-in-time joins) and serving (online store), so the two paths cannot drift apart.
 */

/** Value types a feature can hold. `int` values are safe integers; `float` any finite number. */
export type ValueType = 'float' | 'int' | 'string' | 'bool';

/** A feature value as stored and served; `null` means missing. */
export type FeatureValue = number | string | boolean | null;

/** A row of named values: an entity row, a feature row, or a request. */
export type Row = Record<string, unknown>;

/** Name of the timestamp column of feature rows and entity rows (epoch milliseconds). */
export const EVENT_TS = 'event_ts';
/** Name of the optional column saying when a feature row became known (epoch milliseconds). */
export const CREATED_TS = 'created_ts';

/** One feature of a view. */
export interface FeatureField {
  readonly name: string;
  readonly type: ValueType;
  /** Whether `null` is a valid value (default true). */
  readonly nullable: boolean;
  readonly description?: string;
}

/** A feature view: features of one kind of entity, produced by one source, valid for `ttlMs`. */
export interface FeatureView {
  /** `view` for stored feature rows; `counter` for sliding-window event counts (see streaming). */
  readonly kind: 'view' | 'counter';
  readonly name: string;
  /** Names of the entity key columns (for example `['user_id']` or `['user_id', 'ad_id']`). */
  readonly entities: readonly string[];
  readonly features: readonly FeatureField[];
  /** How long a value stays valid after its event timestamp, in ms; `Infinity` for ever. */
  readonly ttlMs: number;
  /** Where the rows come from (a table, a job name): documentation only. */
  readonly source?: string;
  readonly description?: string;
  /** For counters: the windows, by label (feature `count_<label>`), in ms. */
  readonly windows?: readonly WindowSpec[];
}

/** One sliding window of a counter: events with event_ts in (t - ms, t] are counted at time t. */
export interface WindowSpec {
  readonly label: string;
  readonly ms: number;
}

/** Input of `defineFeatureView`. */
export interface FeatureViewOptions {
  name: string;
  entities: string[];
  /** Feature name to type, or full field definitions. */
  features: Record<string, ValueType | { type: ValueType; nullable?: boolean; description?: string }>;
  /** TTL in ms; omit (or pass Infinity) for values that never expire. */
  ttlMs?: number;
  source?: string;
  description?: string;
}

const NAME = /^[A-Za-z_][A-Za-z0-9_]*$/;
const VALUE_TYPES: readonly ValueType[] = ['float', 'int', 'string', 'bool'];

export function checkName(what: string, name: unknown): string {
  if (typeof name !== 'string' || !NAME.test(name)) {
    throw new TypeError(`${what}: expected an identifier matching ${NAME}, got ${JSON.stringify(name)}`);
  }
  return name;
}

/** Defines and validates a feature view. */
export function defineFeatureView(options: FeatureViewOptions): FeatureView {
  const name = checkName('view name', options?.name);
  if (!Array.isArray(options.entities) || options.entities.length === 0) {
    throw new TypeError(
      `view ${name}: entities: expected a non-empty array of key names, got ${JSON.stringify(options.entities)}`,
    );
  }
  const entities = options.entities.map((e) => checkName(`view ${name}: entity`, e));
  if (new Set(entities).size !== entities.length)
    throw new RangeError(`view ${name}: entities: duplicate key names`);
  if (!options.features || typeof options.features !== 'object') {
    throw new TypeError(
      `view ${name}: features: expected an object of name -> type, got ${String(options.features)}`,
    );
  }
  const reserved = new Set([...entities, EVENT_TS, CREATED_TS]);
  const features: FeatureField[] = Object.entries(options.features).map(([fname, spec]) => {
    checkName(`view ${name}: feature`, fname);
    if (reserved.has(fname)) {
      throw new RangeError(
        `view ${name}: feature ${fname}: clashes with an entity key or a timestamp column`,
      );
    }
    const s = typeof spec === 'string' ? { type: spec } : spec;
    if (!s || !VALUE_TYPES.includes(s.type)) {
      throw new TypeError(
        `view ${name}: feature ${fname}: type: expected one of ${VALUE_TYPES.join(', ')}, got ${JSON.stringify(s?.type ?? spec)}`,
      );
    }
    return Object.freeze({
      name: fname,
      type: s.type,
      nullable: s.nullable ?? true,
      description: s.description,
    });
  });
  if (features.length === 0) throw new RangeError(`view ${name}: features: expected at least one feature`);
  const ttlMs = options.ttlMs ?? Number.POSITIVE_INFINITY;
  if (typeof ttlMs !== 'number' || Number.isNaN(ttlMs) || ttlMs <= 0) {
    throw new RangeError(`view ${name}: ttlMs: expected a positive number of ms or Infinity, got ${ttlMs}`);
  }
  return Object.freeze({
    kind: 'view',
    name,
    entities: Object.freeze(entities),
    features: Object.freeze(features),
    ttlMs,
    source: options.source,
    description: options.description,
  });
}

/** A reference to one feature, written `view:feature`. */
export type FeatureRef = `${string}:${string}`;

/** The features one model needs, drawn from one or more views. */
export interface FeatureService {
  readonly kind: 'service';
  readonly name: string;
  readonly refs: readonly FeatureRef[];
  readonly views: readonly FeatureView[];
}

/**
 * Defines a feature service: every feature of each listed view, or only the listed ones
 * (`{ view, features: ['a', 'b'] }`).
 */
export function defineFeatureService(options: {
  name: string;
  views: Array<FeatureView | { view: FeatureView; features: string[] }>;
}): FeatureService {
  const name = checkName('service name', options?.name);
  const refs: FeatureRef[] = [];
  const views: FeatureView[] = [];
  for (const entry of options.views) {
    const view = 'view' in entry ? entry.view : entry;
    const wanted = 'view' in entry ? entry.features : view.features.map((f) => f.name);
    if (views.some((v) => v.name === view.name))
      throw new RangeError(`service ${name}: view ${view.name} listed twice`);
    views.push(view);
    for (const f of wanted) {
      featureOf(view, f);
      refs.push(`${view.name}:${f}`);
    }
  }
  return Object.freeze({ kind: 'service', name, refs: Object.freeze(refs), views: Object.freeze(views) });
}

/** The field of a view named `feature`, or a RangeError naming both. */
export function featureOf(view: FeatureView, feature: string): FeatureField {
  const f = view.features.find((x) => x.name === feature);
  if (!f) {
    throw new RangeError(
      `feature ${view.name}:${feature}: unknown feature; view ${view.name} has ${view.features.map((x) => x.name).join(', ')}`,
    );
  }
  return f;
}

/** A parsed feature reference, resolved against the known views. */
export interface ResolvedRef {
  ref: FeatureRef;
  view: FeatureView;
  field: FeatureField;
}

/** Resolves `view:feature` references (or a service) against a registry of views. */
export function resolveRefs(
  views: ReadonlyMap<string, FeatureView>,
  refs: readonly string[] | FeatureService,
): ResolvedRef[] {
  const list = Array.isArray(refs) ? refs : (refs as FeatureService).refs;
  if (!Array.isArray(list) || list.length === 0) {
    throw new TypeError(
      `featureRefs: expected a non-empty array of 'view:feature' strings or a feature service`,
    );
  }
  return list.map((ref) => {
    const i = typeof ref === 'string' ? ref.indexOf(':') : -1;
    if (i <= 0) throw new TypeError(`featureRefs: expected 'view:feature', got ${JSON.stringify(ref)}`);
    const viewName = ref.slice(0, i);
    const view = views.get(viewName);
    if (!view)
      throw new RangeError(
        `feature ${ref}: unknown view ${viewName}; known views: ${[...views.keys()].join(', ')}`,
      );
    return { ref: ref as FeatureRef, view, field: featureOf(view, ref.slice(i + 1)) };
  });
}

/** Builds the registry map of views by name, rejecting duplicates. */
export function viewRegistry(views: readonly FeatureView[]): Map<string, FeatureView> {
  const map = new Map<string, FeatureView>();
  for (const v of views) {
    if (!v || (v.kind !== 'view' && v.kind !== 'counter'))
      throw new TypeError(`views: expected views from defineFeatureView, got ${JSON.stringify(v)}`);
    if (map.has(v.name)) throw new RangeError(`views: view ${v.name} given twice`);
    map.set(v.name, v);
  }
  return map;
}

/**
 * The entity key string of a row for a view: key values joined by '|'. Key values must be
 * non-empty strings or safe integers; a missing key is a TypeError naming it.
 */
export function entityKeyOf(view: FeatureView, row: Row, rowIndex?: number): string {
  const ents = view.entities;
  if (ents.length === 1) return keyPart(view, ents[0], row, rowIndex);
  let key = '';
  for (let i = 0; i < ents.length; i++) key += (i ? '|' : '') + keyPart(view, ents[i], row, rowIndex);
  return key;
}

function keyPart(view: FeatureView, name: string, row: Row, rowIndex?: number): string {
  const v = row?.[name];
  if (typeof v === 'string' && v.length > 0) return v;
  if (typeof v === 'number' && Number.isSafeInteger(v)) return String(v);
  const at = rowIndex === undefined ? '' : ` at row ${rowIndex}`;
  throw new TypeError(
    `entity key ${name} of view ${view.name}${at}: expected a non-empty string or a safe integer, got ${v === undefined ? 'nothing (missing key)' : JSON.stringify(v)}`,
  );
}

/** Checks a timestamp (epoch ms, integer); returns it or throws naming `what`. */
export function checkTimestamp(what: string, value: unknown): number {
  if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
    throw new TypeError(`${what}: expected epoch milliseconds as an integer, got ${JSON.stringify(value)}`);
  }
  return value;
}

/**
 * Checks one value against its field: returns the value to store (`null` for missing) or throws a
 * TypeError/RangeError naming the feature.
 */
export function checkValue(view: FeatureView, field: FeatureField, value: unknown): FeatureValue {
  const name = `${view.name}:${field.name}`;
  if (value === null || value === undefined) {
    if (!field.nullable)
      throw new TypeError(`feature ${name}: expected a ${field.type}, got ${String(value)} (not nullable)`);
    return null;
  }
  switch (field.type) {
    case 'float':
      if (typeof value !== 'number')
        throw new TypeError(`feature ${name}: expected a float, got ${JSON.stringify(value)}`);
      if (!Number.isFinite(value)) {
        throw new RangeError(`feature ${name}: expected a finite float, got ${value} (use null for missing)`);
      }
      return value;
    case 'int':
      if (typeof value !== 'number' || !Number.isSafeInteger(value)) {
        throw new TypeError(`feature ${name}: expected a safe integer, got ${JSON.stringify(value)}`);
      }
      return value;
    case 'string':
      if (typeof value !== 'string')
        throw new TypeError(`feature ${name}: expected a string, got ${JSON.stringify(value)}`);
      return value;
    case 'bool':
      if (typeof value !== 'boolean')
        throw new TypeError(`feature ${name}: expected a boolean, got ${JSON.stringify(value)}`);
      return value;
  }
}

/** A row that failed validation, with its position in the batch and the reason. */
export interface RejectedRow {
  index: number;
  reason: string;
}
