/**
 * Features for ad click prediction, through @mlsd/features so that training and serving compute
 * them with the same code.
 *
 * 1. Views and counters: static user and ad attributes (batch features), and sliding-window event
 *    counters of impressions and clicks per ad, advertiser, campaign, user and (user, ad) pair
 *    (online features). A click event is recorded when the click arrives, not at the impression.
 * 2. The training table of the generated world: one row per impression, every counter read as it
 *    was just before the ad was ranked (`event_ts` one millisecond before the impression), never
 *    after. The offline store's point-in-time join does the reading.
 * 3. The transforms: a rule that turns any CTR table (the generated one or a user's Criteo file)
 *    into a FeatureSpec: vocabularies for categorical fields (rare values share the
 *    out-of-vocabulary id, which is how cold-start ids are handled), log-scaled and standardised
 *    counts plus quantile buckets of the same counts as ids, and optional hand-made crosses for the
 *    logistic-regression-with-crosses baseline.
 * 4. Encoding: one function from rows to the models' two inputs, `ids` (int32, one global id
 *    space: each field's ids shifted by the sizes of the fields before it) and `dense` (float32).
 */
import {
  apply,
  cross,
  defineFeatureView,
  defineWindowedCounter,
  EVENT_ID,
  EVENT_TS,
  type FeatureSpec,
  type FeatureView,
  fit,
  numeric,
  type OfflineStore,
  openOfflineStore,
  quantileBucketize,
  type Row,
  type TransformDef,
  vocabulary,
} from '@mlsd/features';
import {
  type AdWorld,
  AGE_BUCKETS,
  CATEGORIES,
  COUNTRIES,
  CREATIVE_TYPES,
  type CtrTable,
  DEVICES,
  GENDERS,
  hourBucket,
  LANGUAGES,
  SUBCATEGORIES_PER_CATEGORY,
  timeOfDay,
} from './data.js';

/** Day 0 of the generated world, 00:00 UTC, a Monday: the world's seconds become epoch ms from here. */
export const WORLD_EPOCH_MS = Date.UTC(2026, 0, 5);

/** Epoch ms of a world timestamp (seconds since day 0). */
export function worldMs(seconds: number): number {
  return WORLD_EPOCH_MS + Math.round(seconds * 1000);
}

// 1. Views and counters

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

export const userProfileView = defineFeatureView({
  name: 'user_profile',
  entities: ['user_id'],
  features: { age: 'string', gender: 'string', country: 'string', language: 'string', device: 'string' },
  source: 'users table, daily batch',
});

export const adAttributesView = defineFeatureView({
  name: 'ad_attributes',
  entities: ['ad_id'],
  features: {
    advertiser_id: 'string',
    campaign_id: 'string',
    ad_group_id: 'string',
    category: 'string',
    subcategory: 'string',
    creative: 'string',
  },
  source: 'ads table, daily batch',
});

const shortWindows = { '1h': HOUR, '24h': DAY };
/** A week of recent activity, and four weeks (the whole generated log) of history: a user's click
 * rate and how often the user has already seen an ad (fatigue) build up over more than a week. */
const longWindows = { '7d': 7 * DAY, '28d': 28 * DAY };

/** The sliding-window counters, by name. Impression counters and click counters come in pairs. */
export const COUNTERS = {
  ad_impressions: defineWindowedCounter({
    name: 'ad_impressions',
    entities: ['ad_id'],
    windows: shortWindows,
  }),
  ad_clicks: defineWindowedCounter({ name: 'ad_clicks', entities: ['ad_id'], windows: shortWindows }),
  advertiser_impressions: defineWindowedCounter({
    name: 'advertiser_impressions',
    entities: ['advertiser_id'],
    windows: shortWindows,
  }),
  advertiser_clicks: defineWindowedCounter({
    name: 'advertiser_clicks',
    entities: ['advertiser_id'],
    windows: shortWindows,
  }),
  campaign_impressions: defineWindowedCounter({
    name: 'campaign_impressions',
    entities: ['campaign_id'],
    windows: { '24h': DAY },
  }),
  campaign_clicks: defineWindowedCounter({
    name: 'campaign_clicks',
    entities: ['campaign_id'],
    windows: { '24h': DAY },
  }),
  user_impressions: defineWindowedCounter({
    name: 'user_impressions',
    entities: ['user_id'],
    windows: longWindows,
  }),
  user_clicks: defineWindowedCounter({
    name: 'user_clicks',
    entities: ['user_id'],
    windows: longWindows,
  }),
  user_ad_impressions: defineWindowedCounter({
    name: 'user_ad_impressions',
    entities: ['user_id', 'ad_id'],
    windows: longWindows,
  }),
} as const;

export const ALL_VIEWS: FeatureView[] = [userProfileView, adAttributesView, ...Object.values(COUNTERS)];

/** Counter features read for each impression, and the numeric column each becomes. */
export const COUNTER_FEATURES: Array<{ ref: string; column: string }> = [
  { ref: 'ad_impressions:count_1h', column: 'ad_impressions_1h' },
  { ref: 'ad_clicks:count_1h', column: 'ad_clicks_1h' },
  { ref: 'ad_impressions:count_24h', column: 'ad_impressions_24h' },
  { ref: 'ad_clicks:count_24h', column: 'ad_clicks_24h' },
  { ref: 'advertiser_impressions:count_24h', column: 'advertiser_impressions_24h' },
  { ref: 'advertiser_clicks:count_24h', column: 'advertiser_clicks_24h' },
  { ref: 'campaign_impressions:count_24h', column: 'campaign_impressions_24h' },
  { ref: 'campaign_clicks:count_24h', column: 'campaign_clicks_24h' },
  { ref: 'user_impressions:count_7d', column: 'user_impressions_7d' },
  { ref: 'user_clicks:count_7d', column: 'user_clicks_7d' },
  { ref: 'user_ad_impressions:count_7d', column: 'user_ad_impressions_7d' },
  { ref: 'user_impressions:count_28d', column: 'user_impressions_28d' },
  { ref: 'user_clicks:count_28d', column: 'user_clicks_28d' },
  { ref: 'user_ad_impressions:count_28d', column: 'user_ad_impressions_28d' },
];

/** Categorical columns of the generated world's table, in order. */
export const WORLD_CATEGORICAL = [
  'user_id',
  'ad_id',
  'advertiser_id',
  'campaign_id',
  'ad_group_id',
  'category',
  'subcategory',
  'creative',
  'age',
  'gender',
  'country',
  'language',
  'device',
  'position',
  'hour',
  'hour_bucket',
  'weekday',
] as const;

/** The hand-made crosses of the generated world (what a domain expert would try first). */
export const WORLD_CROSSES: string[][] = [
  ['country', 'category'],
  ['age', 'subcategory'],
  ['gender', 'category'],
  ['device', 'creative', 'hour_bucket'],
  ['user_id', 'subcategory'],
];

// 2. The training table of the generated world

/** Static attributes of a user, as the user_profile view stores them. */
export function userProfileRow(world: AdWorld, user: number): Row {
  const u = world.users;
  return {
    user_id: String(user),
    age: AGE_BUCKETS[u.age[user]],
    gender: GENDERS[u.gender[user]],
    country: COUNTRIES[u.country[user]],
    language: LANGUAGES[u.language[user]],
    device: DEVICES[u.device[user]],
  };
}

/** The name of a global subcategory index, e.g. `travel/2`. */
function subcategoryName(sub: number): string {
  return `${CATEGORIES[Math.floor(sub / SUBCATEGORIES_PER_CATEGORY)]}/${sub % SUBCATEGORIES_PER_CATEGORY}`;
}

/** Static attributes of an ad, as the ad_attributes view stores them. */
export function adAttributesRow(world: AdWorld, ad: number): Row {
  const a = world.ads;
  return {
    ad_id: String(ad),
    advertiser_id: String(a.advertiser[ad]),
    campaign_id: String(a.campaign[ad]),
    ad_group_id: String(a.adGroup[ad]),
    category: CATEGORIES[a.category[ad]],
    subcategory: subcategoryName(a.subcategory[ad]),
    creative: CREATIVE_TYPES[a.creative[ad]],
  };
}

/** The keys an ad's counters are kept under (with the user's id for the per-user ones). */
export interface AdKeys {
  ad_id: string;
  advertiser_id: string;
  campaign_id: string;
}

export function adKeysOf(world: AdWorld, ad: number): AdKeys {
  return {
    ad_id: String(ad),
    advertiser_id: String(world.ads.advertiser[ad]),
    campaign_id: String(world.ads.campaign[ad]),
  };
}

export type CounterEvent = { counter: keyof typeof COUNTERS; event: Row };

/**
 * The counter events of one impression or one click of `ad` shown to `user` at `ts` (epoch ms):
 * one definition for the offline log (training rows) and the service's `/events`.
 */
export function counterEventsOf(
  kind: 'impression' | 'click',
  keys: AdKeys & { user_id: string },
  ts: number,
  id: string,
): CounterEvent[] {
  const at = (counter: keyof typeof COUNTERS, event: Row): CounterEvent => ({
    counter,
    event: { ...event, [EVENT_TS]: ts, [EVENT_ID]: id },
  });
  const user = keys.user_id;
  return kind === 'impression'
    ? [
        at('ad_impressions', { ad_id: keys.ad_id }),
        at('advertiser_impressions', { advertiser_id: keys.advertiser_id }),
        at('campaign_impressions', { campaign_id: keys.campaign_id }),
        at('user_impressions', { user_id: user }),
        at('user_ad_impressions', { user_id: user, ad_id: keys.ad_id }),
      ]
    : [
        at('ad_clicks', { ad_id: keys.ad_id }),
        at('advertiser_clicks', { advertiser_id: keys.advertiser_id }),
        at('campaign_clicks', { campaign_id: keys.campaign_id }),
        at('user_clicks', { user_id: user }),
      ];
}

/** Context columns of a ranking request at `ms` (epoch), slot `position`. */
export function contextRow(ms: number, position: number): Row {
  const { hour, weekday } = timeOfDay((ms - WORLD_EPOCH_MS) / 1000);
  return {
    position: String(position),
    hour: String(hour),
    hour_bucket: String(hourBucket(hour)),
    weekday: String(weekday),
  };
}

/** Events each impression and each click produce, for the counters (offline log and online store). */
export function impressionEvents(world: AdWorld, k: number): CounterEvent[] {
  const imp = world.impressions;
  const keys = { ...adKeysOf(world, imp.ad[k]), user_id: String(imp.user[k]) };
  const ts = worldMs(imp.ts[k]);
  const out = counterEventsOf('impression', keys, ts, `imp-${imp.id[k]}`);
  const delay = imp.clickDelay[k];
  // The system learns of a click when it arrives, late or not.
  if (!Number.isNaN(delay))
    out.push(...counterEventsOf('click', keys, ts + Math.round(delay * 1000), `click-${imp.id[k]}`));
  return out;
}

/** Static rows of the world's users and ads, each valid from day 0 or from when it appeared. */
export function worldStaticRows(world: AdWorld): { user_profile: Row[]; ad_attributes: Row[] } {
  const users: Row[] = [];
  for (let u = 0; u < world.users.count; u++) {
    users.push({ ...userProfileRow(world, u), [EVENT_TS]: worldMs(Math.min(0, world.users.signupTs[u])) });
  }
  const ads: Row[] = [];
  for (let a = 0; a < world.ads.count; a++) {
    ads.push({ ...adAttributesRow(world, a), [EVENT_TS]: worldMs(Math.min(0, world.ads.startTs[a])) });
  }
  return { user_profile: users, ad_attributes: ads };
}

/**
 * The counter events of the world's impressions (from `fromSeconds` on), grouped by counter.
 * Events later than `untilMs` (clicks arriving after the log ends) are left out when it is given.
 */
export function worldCounterEvents(
  world: AdWorld,
  options: { fromSeconds?: number; untilMs?: number } = {},
): Map<string, Row[]> {
  const from = options.fromSeconds ?? Number.NEGATIVE_INFINITY;
  const until = options.untilMs ?? Number.POSITIVE_INFINITY;
  const byCounter = new Map<string, Row[]>();
  for (let k = 0; k < world.impressions.count; k++) {
    if (world.impressions.ts[k] < from) continue;
    for (const { counter, event } of impressionEvents(world, k)) {
      if ((event[EVENT_TS] as number) > until) continue;
      const list = byCounter.get(counter);
      if (list) list.push(event);
      else byCounter.set(counter, [event]);
    }
  }
  return byCounter;
}

/** Loads the world's static rows and its whole event log into an offline store. */
export function loadWorldIntoStore(world: AdWorld, store: OfflineStore): void {
  for (const [view, rows] of Object.entries(worldStaticRows(world))) {
    const report = store.ingest(view, rows);
    if (report.rejected.length)
      throw new Error(
        `${view}: ${report.rejected.length} rows rejected: ${JSON.stringify(report.rejected[0])}`,
      );
  }
  for (const [counter, events] of worldCounterEvents(world)) {
    const report = store.ingestEvents(counter, events);
    if (report.rejected.length)
      throw new Error(
        `${counter}: ${report.rejected.length} events rejected: ${JSON.stringify(report.rejected[0])}`,
      );
  }
}

/**
 * The generated world as a CTR table, one row per impression, point-in-time correct: each
 * counter is read at the impression's time minus one millisecond, which is when the ad was ranked
 * (an event at exactly that time has not happened yet for the ranker).
 */
export function buildWorldTable(world: AdWorld, store?: OfflineStore): CtrTable {
  const own = store ?? openOfflineStore({ views: ALL_VIEWS });
  try {
    if (!store) loadWorldIntoStore(world, own);
    const imp = world.impressions;
    const entityRows: Row[] = new Array(imp.count);
    const adKeys = Array.from({ length: world.ads.count }, (_, a) => adKeysOf(world, a));
    for (let k = 0; k < imp.count; k++) {
      const keys = adKeys[imp.ad[k]];
      entityRows[k] = {
        user_id: String(imp.user[k]),
        ad_id: keys.ad_id,
        advertiser_id: keys.advertiser_id,
        campaign_id: keys.campaign_id,
        [EVENT_TS]: worldMs(imp.ts[k]) - 1,
      };
    }
    const refs = [
      ...userProfileView.features.map((f) => `user_profile:${f.name}`),
      ...adAttributesView.features.map((f) => `ad_attributes:${f.name}`),
      ...COUNTER_FEATURES.map((c) => c.ref),
    ];
    const hist = own.getHistoricalFeatures(entityRows, refs, { fullFeatureNames: true });
    const categorical: string[][] = WORLD_CATEGORICAL.map(() => new Array<string>(imp.count));
    const col = (name: string) =>
      categorical[WORLD_CATEGORICAL.indexOf(name as (typeof WORLD_CATEGORICAL)[number])];
    const put = (name: string, values: readonly unknown[]) => {
      const out = col(name);
      for (let k = 0; k < imp.count; k++) out[k] = values[k] == null ? '' : String(values[k]);
    };
    put(
      'user_id',
      entityRows.map((r) => r.user_id),
    );
    put(
      'ad_id',
      entityRows.map((r) => r.ad_id),
    );
    for (const f of userProfileView.features) put(f.name, hist.columns[`user_profile__${f.name}`]);
    for (const f of adAttributesView.features) put(f.name, hist.columns[`ad_attributes__${f.name}`]);
    const position = col('position');
    const hour = col('hour');
    const bucket = col('hour_bucket');
    const weekday = col('weekday');
    for (let k = 0; k < imp.count; k++) {
      const c = contextRow(worldMs(imp.ts[k]), imp.position[k]);
      position[k] = c.position as string;
      hour[k] = c.hour as string;
      bucket[k] = c.hour_bucket as string;
      weekday[k] = c.weekday as string;
    }
    const numeric = COUNTER_FEATURES.map(({ ref }) => {
      const values = hist.columns[ref.replace(':', '__')];
      return Float64Array.from(values, (v) => (v == null ? Number.NaN : Number(v)));
    });
    return {
      rows: imp.count,
      numericNames: COUNTER_FEATURES.map((c) => c.column),
      categoricalNames: [...WORLD_CATEGORICAL],
      numeric,
      categorical,
      label: imp.label,
      timestamp: Float64Array.from(imp.ts),
      oracle: imp.pLabel,
    };
  } finally {
    if (!store) own.close();
  }
}

// 3. Transforms

export interface CtrSpecOptions {
  /** Categorical columns crossed for the LR-with-crosses baseline. */
  crosses?: string[][];
  /** Buckets of each cross. Default 2^15. */
  crossBuckets?: number;
  /** Rarer values than this share the out-of-vocabulary id. Default 3. */
  minCount?: number;
  /** Quantile buckets of each numeric column, as an extra id field (0: none). Default 10. */
  numericBuckets?: number;
}

/**
 * The transforms for a CTR table: a rule, not a list, so a user's Criteo file gets the same
 * treatment as the generated world. Negative counts (Criteo has a few) are clipped at 0 before
 * the log.
 */
export function ctrTransforms(
  table: Pick<CtrTable, 'numericNames' | 'categoricalNames'>,
  options: CtrSpecOptions = {},
): TransformDef[] {
  const minCount = options.minCount ?? 3;
  const nb = options.numericBuckets ?? 10;
  const out: TransformDef[] = [];
  for (const c of table.categoricalNames) out.push(vocabulary(c, { minCount }));
  for (const c of table.numericNames) {
    out.push(
      numeric(c, {
        impute: { strategy: 'constant', value: 0, indicator: true },
        clip: [0, Number.MAX_VALUE],
        log1p: true,
        scale: 'standard',
      }),
    );
    if (nb > 0) out.push(quantileBucketize(c, nb, { name: `${c}__bucket` }));
  }
  for (const columns of options.crosses ?? []) out.push(cross(columns, options.crossBuckets ?? 2 ** 15));
  return out;
}

/** Turns rows [from, to) of a table into feature rows (plain objects) for fit and apply. */
export function tableRows(table: CtrTable, from = 0, to = table.rows): Row[] {
  const rows: Row[] = new Array(to - from);
  for (let i = from; i < to; i++) {
    const r: Row = {};
    table.categoricalNames.forEach((name, j) => {
      const v = table.categorical[j][i];
      r[name] = v === '' ? null : v;
    });
    table.numericNames.forEach((name, j) => {
      const v = table.numeric[j][i];
      r[name] = Number.isNaN(v) ? null : v;
    });
    rows[i - from] = r;
  }
  return rows;
}

/** Rows of a table picked by index. */
export function pickRows(table: CtrTable, indices: ArrayLike<number>): Row[] {
  const out: Row[] = new Array(indices.length);
  for (let k = 0; k < indices.length; k++) out[k] = tableRows(table, indices[k], indices[k] + 1)[0];
  return out;
}

/** Fits the spec on training rows. */
export function fitCtrSpec(name: string, rows: readonly Row[], transforms: TransformDef[]): FeatureSpec {
  return fit({ name, transforms, idType: 'int32' }, rows);
}

// 4. Encoding

/** Model inputs: ids in one global id space, and dense floats. */
export interface CtrInputs {
  rows: number;
  ids: Int32Array;
  dense: Float32Array;
  /** Fields (columns of `ids`) and width of `dense`. */
  fields: number;
  denseWidth: number;
}

/** Sizes the models need: per-field id counts, their total, and the dense width. */
export function inputShape(spec: FeatureSpec): {
  cardinalities: number[];
  vocabulary: number;
  offsets: Int32Array;
  denseWidth: number;
} {
  const ids = spec.inputs.find((i) => i.name === 'ids');
  const dense = spec.inputs.find((i) => i.name === 'dense');
  const cardinalities = ids?.cardinalities ?? [];
  const offsets = new Int32Array(cardinalities.length);
  let total = 0;
  cardinalities.forEach((c, j) => {
    offsets[j] = total;
    total += c;
  });
  return { cardinalities, vocabulary: total, offsets, denseWidth: dense?.width ?? 0 };
}

/** Rows -> model inputs, in chunks so a million rows never become a million objects at once. */
export function encodeRows(spec: FeatureSpec, rows: readonly Row[]): CtrInputs {
  const { cardinalities, offsets, denseWidth } = inputShape(spec);
  const fields = cardinalities.length;
  const n = rows.length;
  const tensors = apply(spec, rows);
  const ids = new Int32Array(n * fields);
  const rawIds = tensors.ids?.data as Int32Array | undefined;
  if (rawIds) {
    for (let i = 0; i < n; i++)
      for (let j = 0; j < fields; j++) ids[i * fields + j] = rawIds[i * fields + j] + offsets[j];
  }
  const dense = (tensors.dense?.data as Float32Array | undefined) ?? new Float32Array(0);
  return { rows: n, ids, dense, fields, denseWidth };
}

/** A whole table (or the rows at `indices`) -> model inputs, 50,000 rows at a time. */
export function encodeTable(spec: FeatureSpec, table: CtrTable, indices?: ArrayLike<number>): CtrInputs {
  const { cardinalities, denseWidth } = inputShape(spec);
  const fields = cardinalities.length;
  const n = indices ? indices.length : table.rows;
  const ids = new Int32Array(n * fields);
  const dense = new Float32Array(n * denseWidth);
  const chunk = 50_000;
  for (let from = 0; from < n; from += chunk) {
    const to = Math.min(n, from + chunk);
    const rows = indices
      ? pickRows(table, Array.prototype.slice.call(indices, from, to))
      : tableRows(table, from, to);
    const part = encodeRows(spec, rows);
    ids.set(part.ids, from * fields);
    dense.set(part.dense, from * denseWidth);
  }
  return { rows: n, ids, dense, fields, denseWidth };
}
