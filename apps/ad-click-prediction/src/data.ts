/**
 * Data for ad click prediction: the generated world, and the loader for the public Criteo format.
 *
 * The generated world is a social platform's timeline ads over about two weeks. Users, advertisers,
 * campaigns, ad groups and ads are drawn from a seed; impressions are served by the advertisers'
 * targeting rules and budgets (not by any model, so the log has no feedback loop to untangle); clicks
 * come from a hidden model with the structure that makes CTR prediction hard in practice:
 *  - per-field effects (user propensity, ad and advertiser quality, position, time of day, weekday);
 *  - pairwise interactions (country x category, age x subcategory, gender x category) and a latent
 *    user-taste x subcategory term that only id embeddings can learn;
 *  - a third-order interaction (device x creative type x time-of-day bucket);
 *  - ad fatigue: every earlier impression of the same ad to the same user lowers the odds;
 *  - a base click rate of about 2 %, long-tailed user activity, new users and new ads arriving
 *    every day (cold start), and click delays: a click counts only within `clickWindowSeconds`
 *    of the impression, and some clicks arrive later than that.
 * The generator keeps each impression's true probability of a positive label (click within the
 * window): it is the oracle every model is compared with.
 */
import { createReadStream } from 'node:fs';
import { createInterface } from 'node:readline';
import { AliasTable, createRng, type Rng } from '@mlsd/core';

// 1. Vocabularies of the generated world

export const AGE_BUCKETS = ['13-17', '18-24', '25-34', '35-44', '45-54', '55+'] as const;
const AGE_WEIGHTS = [0.06, 0.22, 0.27, 0.2, 0.14, 0.11];
export const GENDERS = ['female', 'male', 'unknown'] as const;
const GENDER_WEIGHTS = [0.48, 0.47, 0.05];
export const COUNTRIES = ['US', 'IN', 'BR', 'GB', 'DE', 'FR', 'ID', 'MX', 'JP', 'NG', 'CA', 'ES'] as const;
const COUNTRY_WEIGHTS = [0.22, 0.18, 0.1, 0.07, 0.06, 0.06, 0.07, 0.06, 0.05, 0.05, 0.04, 0.04];
const COUNTRY_LANGUAGE = ['en', 'hi', 'pt', 'en', 'de', 'fr', 'id', 'es', 'ja', 'en', 'en', 'es'];
export const LANGUAGES = ['en', 'hi', 'pt', 'de', 'fr', 'id', 'es', 'ja'] as const;
export const DEVICES = ['ios', 'android', 'web'] as const;
export const CATEGORIES = [
  'fashion',
  'electronics',
  'travel',
  'food',
  'games',
  'finance',
  'auto',
  'beauty',
  'sports',
  'home',
  'education',
  'health',
  'entertainment',
  'pets',
  'jobs',
] as const;
export const SUBCATEGORIES_PER_CATEGORY = 4;
export const CREATIVE_TYPES = ['image', 'video', 'carousel'] as const;
/** Night (0-6), morning (6-12), afternoon (12-18), evening (18-24). */
export const HOUR_BUCKETS = 4;
/** Timeline slots an ad can take; lower is nearer the top. */
export const MAX_POSITION = 5;

export const DAY_SECONDS = 86_400;

// 2. The world's shape

export interface AdWorldOptions {
  seed: number;
  users: number;
  advertisers: number;
  days: number;
  /** Mean impressions per day; weekends get 10 % more. */
  impressionsPerDay: number;
  /** A click labels an impression positive only if it comes within this many seconds. */
  clickWindowSeconds: number;
  /** Target share of impressions with a click (before the window cuts late ones). */
  targetClickRate: number;
}

export const DEFAULT_WORLD: AdWorldOptions = {
  seed: 42,
  users: 20_000,
  advertisers: 200,
  days: 14,
  impressionsPerDay: 40_000,
  clickWindowSeconds: 120,
  targetClickRate: 0.025,
};

export const SMALL_WORLD: AdWorldOptions = {
  ...DEFAULT_WORLD,
  users: 2_000,
  advertisers: 40,
  impressionsPerDay: 2_500,
};

export interface Users {
  count: number;
  age: Int32Array;
  gender: Int32Array;
  country: Int32Array;
  language: Int32Array;
  device: Int32Array;
  /** Second at which the user joined; before the log starts for most, during it for new users. */
  signupTs: Float64Array;
}

export interface Ads {
  count: number;
  advertiser: Int32Array;
  campaign: Int32Array;
  adGroup: Int32Array;
  category: Int32Array;
  /** Global subcategory index: category * SUBCATEGORIES_PER_CATEGORY + k. */
  subcategory: Int32Array;
  creative: Int32Array;
  /** Second from which the ad can be served (new ads arrive during the log). */
  startTs: Float64Array;
}

export interface Campaign {
  id: number;
  advertiser: number;
  /** Countries targeted (indices into COUNTRIES), or null for everywhere. */
  countries: Set<number> | null;
  /** Inclusive range of age buckets targeted. */
  ageRange: [number, number];
}

/** Every impression, in time order. */
export interface Impressions {
  count: number;
  id: Int32Array;
  ts: Float64Array;
  user: Int32Array;
  ad: Int32Array;
  position: Int32Array;
  /** 1 when the user clicked within the click window. */
  label: Uint8Array;
  /** Seconds from impression to click; NaN when there was no click (late clicks keep their delay). */
  clickDelay: Float32Array;
  /** 1 when the user hid the ad. */
  hidden: Uint8Array;
  /** The oracle: true probability that the label is 1, given everything the generator knows. */
  pLabel: Float32Array;
}

export interface AdWorld {
  options: AdWorldOptions;
  users: Users;
  ads: Ads;
  campaigns: Campaign[];
  impressions: Impressions;
  /** Second the log starts at (day 0, 00:00). */
  startTs: number;
}

// 3. The hidden click model

interface HiddenModel {
  intercept: number;
  userPropensity: Float64Array;
  userTaste: Float64Array; // users x TASTE_DIM
  adQuality: Float64Array;
  advertiserQuality: Float64Array;
  subcategoryTaste: Float64Array; // subcategories x TASTE_DIM
  countryCategory: Float64Array; // countries x categories
  ageSubcategory: Float64Array; // ages x subcategories
  genderCategory: Float64Array; // genders x categories
  deviceCreativeHour: Float64Array; // devices x creatives x hour buckets
}

const TASTE_DIM = 4;

function normals(rng: Rng, n: number, sd: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.normal(0, sd);
  return out;
}

/** Keeps a share of interaction cells and zeroes the rest, so interactions are sparse like real ones. */
function sparseNormals(rng: Rng, n: number, sd: number, keep: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = rng.bernoulli(keep) ? rng.normal(0, sd) : 0;
  return out;
}

export function hourBucket(hour: number): number {
  return Math.min(HOUR_BUCKETS - 1, Math.floor(hour / 6));
}

/** Hour of day (0-23) and weekday (0 = Monday) of a timestamp in seconds since day 0 (a Monday). */
export function timeOfDay(ts: number, startTs = 0): { hour: number; weekday: number } {
  const s = ts - startTs;
  const day = Math.floor(s / DAY_SECONDS);
  return { hour: Math.floor((s - day * DAY_SECONDS) / 3600), weekday: ((day % 7) + 7) % 7 };
}

function logitWithoutIntercept(
  m: HiddenModel,
  users: Users,
  ads: Ads,
  user: number,
  ad: number,
  position: number,
  hour: number,
  weekday: number,
  priorImpressions: number,
): number {
  const cat = ads.category[ad];
  const sub = ads.subcategory[ad];
  const nSub = CATEGORIES.length * SUBCATEGORIES_PER_CATEGORY;
  let taste = 0;
  for (let k = 0; k < TASTE_DIM; k++)
    taste += m.userTaste[user * TASTE_DIM + k] * m.subcategoryTaste[sub * TASTE_DIM + k];
  return (
    m.userPropensity[user] +
    m.adQuality[ad] +
    m.advertiserQuality[ads.advertiser[ad]] +
    taste +
    m.countryCategory[users.country[user] * CATEGORIES.length + cat] +
    m.ageSubcategory[users.age[user] * nSub + sub] +
    m.genderCategory[users.gender[user] * CATEGORIES.length + cat] +
    m.deviceCreativeHour[
      (users.device[user] * CREATIVE_TYPES.length + ads.creative[ad]) * HOUR_BUCKETS + hourBucket(hour)
    ] +
    // Evening peak, morning trough.
    0.25 * Math.sin((2 * Math.PI * (hour - 14)) / 24) +
    (weekday >= 5 ? 0.1 : 0) -
    0.12 * (position - 1) -
    // Ad fatigue: each repeat of the same ad to the same user lowers the odds.
    0.35 * Math.log1p(priorImpressions)
  );
}

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Click delays are log-normal: median 20 s, with a long tail past any click window. */
const DELAY_MU = Math.log(20);
const DELAY_SIGMA = 1.5;

/** P(delay <= t) for the log-normal click delay. */
export function clickWithinWindowProbability(t: number): number {
  if (t <= 0) return 0;
  return 0.5 * (1 + erf((Math.log(t) - DELAY_MU) / (DELAY_SIGMA * Math.SQRT2)));
}

/** Error function (Abramowitz and Stegun 7.1.26, max error 1.5e-7). */
function erf(x: number): number {
  const sign = x < 0 ? -1 : 1;
  const a = Math.abs(x);
  const t = 1 / (1 + 0.3275911 * a);
  const y =
    1 -
    ((((1.061405429 * t - 1.453152027) * t + 1.421413741) * t - 0.284496736) * t + 0.254829592) *
      t *
      Math.exp(-a * a);
  return sign * y;
}

// 4. Generation

function checkOptions(o: AdWorldOptions): AdWorldOptions {
  const positiveInts: Array<keyof AdWorldOptions> = ['users', 'advertisers', 'days', 'impressionsPerDay'];
  for (const key of positiveInts) {
    const v = o[key];
    if (!Number.isInteger(v) || (v as number) < 1)
      throw new RangeError(`${key}: expected an integer >= 1, got ${v}`);
  }
  if (!(o.clickWindowSeconds > 0))
    throw new RangeError(`clickWindowSeconds: expected > 0, got ${o.clickWindowSeconds}`);
  if (!(o.targetClickRate > 0 && o.targetClickRate < 0.5)) {
    throw new RangeError(`targetClickRate: expected in (0, 0.5), got ${o.targetClickRate}`);
  }
  return o;
}

function generateUsers(rng: Rng, o: AdWorldOptions): Users {
  const n = o.users;
  const ageTable = new AliasTable(AGE_WEIGHTS);
  const genderTable = new AliasTable(GENDER_WEIGHTS);
  const countryTable = new AliasTable(COUNTRY_WEIGHTS);
  const users: Users = {
    count: n,
    age: new Int32Array(n),
    gender: new Int32Array(n),
    country: new Int32Array(n),
    language: new Int32Array(n),
    device: new Int32Array(n),
    signupTs: new Float64Array(n),
  };
  for (let u = 0; u < n; u++) {
    users.age[u] = ageTable.sample(rng);
    users.gender[u] = genderTable.sample(rng);
    const c = countryTable.sample(rng);
    users.country[u] = c;
    const main = LANGUAGES.indexOf(COUNTRY_LANGUAGE[c] as (typeof LANGUAGES)[number]);
    users.language[u] = rng.bernoulli(0.85) ? main : 0;
    // Phones dominate; iOS share varies by country.
    const iosShare = ['US', 'GB', 'JP', 'CA'].includes(COUNTRIES[c]) ? 0.5 : 0.2;
    const r = rng.float();
    users.device[u] = r < iosShare ? 0 : r < 0.85 ? 1 : 2;
    // 75 % of users exist before the log; the rest join during it (cold start).
    users.signupTs[u] = rng.bernoulli(0.75)
      ? -rng.uniform(1, 365) * DAY_SECONDS
      : rng.uniform(0, o.days) * DAY_SECONDS;
  }
  return users;
}

function generateAds(rng: Rng, o: AdWorldOptions): { ads: Ads; campaigns: Campaign[]; budget: Float64Array } {
  const campaigns: Campaign[] = [];
  const adv: number[] = [];
  const camp: number[] = [];
  const group: number[] = [];
  const cat: number[] = [];
  const sub: number[] = [];
  const creative: number[] = [];
  const start: number[] = [];
  const budget: number[] = [];
  let groupId = 0;
  for (let a = 0; a < o.advertisers; a++) {
    const category = rng.int(CATEGORIES.length);
    // Advertiser spend follows a power law: a few big advertisers buy most impressions.
    const spend = 1 / (a + 1) ** 0.8;
    const nCampaigns = 1 + rng.poisson(1.5);
    for (let c = 0; c < nCampaigns; c++) {
      const campaign: Campaign = {
        id: campaigns.length,
        advertiser: a,
        countries: rng.bernoulli(0.35) ? null : new Set(rng.sampleIndices(COUNTRIES.length, 1 + rng.int(5))),
        ageRange: (() => {
          if (rng.bernoulli(0.4)) return [0, AGE_BUCKETS.length - 1] as [number, number];
          const lo = rng.int(AGE_BUCKETS.length);
          return [lo, Math.min(AGE_BUCKETS.length - 1, lo + 1 + rng.int(3))] as [number, number];
        })(),
      };
      campaigns.push(campaign);
      // Campaigns start at different times: some are new during the log.
      const campaignStart = rng.bernoulli(0.7) ? -DAY_SECONDS : rng.uniform(0, o.days - 1) * DAY_SECONDS;
      const nGroups = 1 + rng.int(3);
      for (let g = 0; g < nGroups; g++, groupId++) {
        const subcategory = category * SUBCATEGORIES_PER_CATEGORY + rng.int(SUBCATEGORIES_PER_CATEGORY);
        const nAds = 1 + rng.int(3);
        for (let k = 0; k < nAds; k++) {
          adv.push(a);
          camp.push(campaign.id);
          group.push(groupId);
          cat.push(category);
          sub.push(subcategory);
          creative.push(rng.weightedIndex([0.55, 0.3, 0.15]));
          start.push(campaignStart + (rng.bernoulli(0.2) ? rng.uniform(0, 3) * DAY_SECONDS : 0));
          budget.push((spend / nCampaigns) * rng.logNormal(0, 0.5));
        }
      }
    }
  }
  const ads: Ads = {
    count: adv.length,
    advertiser: Int32Array.from(adv),
    campaign: Int32Array.from(camp),
    adGroup: Int32Array.from(group),
    category: Int32Array.from(cat),
    subcategory: Int32Array.from(sub),
    creative: Int32Array.from(creative),
    startTs: Float64Array.from(start),
  };
  return { ads, campaigns, budget: Float64Array.from(budget) };
}

function generateHiddenModel(rng: Rng, users: Users, ads: Ads, advertisers: number): HiddenModel {
  const nSub = CATEGORIES.length * SUBCATEGORIES_PER_CATEGORY;
  return {
    intercept: 0,
    userPropensity: normals(rng.fork('propensity'), users.count, 0.6),
    userTaste: normals(rng.fork('user-taste'), users.count * TASTE_DIM, 0.55),
    adQuality: normals(rng.fork('ad-quality'), ads.count, 0.35),
    advertiserQuality: normals(rng.fork('advertiser-quality'), advertisers, 0.3),
    subcategoryTaste: normals(rng.fork('subcategory-taste'), nSub * TASTE_DIM, 0.55),
    countryCategory: sparseNormals(
      rng.fork('country-category'),
      COUNTRIES.length * CATEGORIES.length,
      0.6,
      0.5,
    ),
    ageSubcategory: sparseNormals(rng.fork('age-subcategory'), AGE_BUCKETS.length * nSub, 0.6, 0.4),
    genderCategory: sparseNormals(rng.fork('gender-category'), GENDERS.length * CATEGORIES.length, 0.4, 0.5),
    deviceCreativeHour: sparseNormals(
      rng.fork('device-creative-hour'),
      DEVICES.length * CREATIVE_TYPES.length * HOUR_BUCKETS,
      0.5,
      0.6,
    ),
  };
}

/** Share of impressions by hour of day: a trough at night, peaks at lunch and in the evening. */
const HOUR_WEIGHTS = [
  0.6, 0.4, 0.3, 0.25, 0.25, 0.35, 0.7, 1.1, 1.3, 1.2, 1.1, 1.2, 1.5, 1.4, 1.2, 1.1, 1.2, 1.4, 1.7, 2.0, 2.1,
  1.9, 1.5, 1.0,
];

function eligible(campaign: Campaign, users: Users, user: number): boolean {
  const age = users.age[user];
  if (age < campaign.ageRange[0] || age > campaign.ageRange[1]) return false;
  return campaign.countries === null || campaign.countries.has(users.country[user]);
}

/**
 * Generates the world. Deterministic: the same options give the same world, byte for byte.
 */
export function generateAdWorld(options: Partial<AdWorldOptions> = {}): AdWorld {
  const o = checkOptions({ ...DEFAULT_WORLD, ...options });
  const root = createRng(o.seed);
  const users = generateUsers(root.fork('users'), o);
  const { ads, campaigns, budget } = generateAds(root.fork('ads'), o);
  const model = generateHiddenModel(root.fork('model'), users, ads, o.advertisers);

  // 4a. Who sees which ad when: activity is long-tailed, ads are served by budget and targeting.
  const rng = root.fork('impressions');
  const activity = new Float64Array(users.count);
  for (let u = 0; u < users.count; u++) activity[u] = rng.logNormal(0, 1.2);
  const hourTable = new AliasTable(HOUR_WEIGHTS);
  const ts: number[] = [];
  const who: number[] = [];
  const what: number[] = [];
  const where: number[] = [];
  for (let day = 0; day < o.days; day++) {
    const dayEnd = (day + 1) * DAY_SECONDS;
    const userWeights = new Float64Array(users.count);
    for (let u = 0; u < users.count; u++) userWeights[u] = users.signupTs[u] < dayEnd ? activity[u] : 0;
    const adWeights = new Float64Array(ads.count);
    for (let a = 0; a < ads.count; a++) adWeights[a] = ads.startTs[a] < dayEnd ? budget[a] : 0;
    const userTable = new AliasTable(userWeights);
    const adTable = new AliasTable(adWeights);
    const weekend = day % 7 >= 5;
    const n = Math.round(o.impressionsPerDay * (weekend ? 1.1 : 1) * rng.uniform(0.95, 1.05));
    for (let i = 0; i < n; i++) {
      const user = userTable.sample(rng);
      const t0 = Math.max(
        day * DAY_SECONDS + (hourTable.sample(rng) + rng.float()) * 3600,
        users.signupTs[user],
      );
      let ad = -1;
      for (let attempt = 0; attempt < 30; attempt++) {
        const candidate = adTable.sample(rng);
        if (ads.startTs[candidate] <= t0 && eligible(campaigns[ads.campaign[candidate]], users, user)) {
          ad = candidate;
          break;
        }
      }
      if (ad < 0) continue; // no eligible ad for this user right now: no impression
      ts.push(t0);
      who.push(user);
      what.push(ad);
      where.push(1 + Math.min(MAX_POSITION - 1, Math.floor(rng.exponential(0.8))));
    }
  }

  // 4b. Time order, then the parts of the logit that depend on history (fatigue).
  const order = Array.from({ length: ts.length }, (_, i) => i).sort((a, b) => ts[a] - ts[b] || a - b);
  const count = order.length;
  const imp: Impressions = {
    count,
    id: new Int32Array(count),
    ts: new Float64Array(count),
    user: new Int32Array(count),
    ad: new Int32Array(count),
    position: new Int32Array(count),
    label: new Uint8Array(count),
    clickDelay: new Float32Array(count),
    hidden: new Uint8Array(count),
    pLabel: new Float32Array(count),
  };
  const logits = new Float64Array(count);
  const seen = new Map<number, number>();
  for (let k = 0; k < count; k++) {
    const i = order[k];
    imp.id[k] = k;
    imp.ts[k] = ts[i];
    imp.user[k] = who[i];
    imp.ad[k] = what[i];
    imp.position[k] = where[i];
    const key = who[i] * ads.count + what[i];
    const prior = seen.get(key) ?? 0;
    seen.set(key, prior + 1);
    const { hour, weekday } = timeOfDay(ts[i]);
    logits[k] = logitWithoutIntercept(model, users, ads, who[i], what[i], where[i], hour, weekday, prior);
  }

  // 4c. The intercept that gives the target click rate (bisection on the mean probability).
  let lo = -12;
  let hi = 4;
  for (let it = 0; it < 60; it++) {
    const mid = (lo + hi) / 2;
    let sum = 0;
    for (let k = 0; k < count; k++) sum += sigmoid(mid + logits[k]);
    if (sum / Math.max(1, count) < o.targetClickRate) lo = mid;
    else hi = mid;
  }
  model.intercept = (lo + hi) / 2;

  // 4d. Clicks, their delays, the label within the window, and hides.
  const within = clickWithinWindowProbability(o.clickWindowSeconds);
  const outcome = root.fork('outcomes');
  for (let k = 0; k < count; k++) {
    const p = sigmoid(model.intercept + logits[k]);
    imp.pLabel[k] = p * within;
    if (outcome.float() < p) {
      const delay = Math.exp(outcome.normal(DELAY_MU, DELAY_SIGMA));
      imp.clickDelay[k] = delay;
      imp.label[k] = delay <= o.clickWindowSeconds ? 1 : 0;
    } else {
      imp.clickDelay[k] = Number.NaN;
      // Users hide ads they care little for: more hides where the click odds are low.
      imp.hidden[k] = outcome.float() < 0.004 + 0.02 * (1 - Math.min(1, p / o.targetClickRate / 2)) ? 1 : 0;
    }
  }
  return { options: o, users, ads, campaigns, impressions: imp, startTs: 0 };
}

/**
 * A second ceiling: the oracle's probability with the user's hidden propensity and taste averaged
 * over their population distribution (everything else as the generator knows it). It is the best a
 * model can do without learning anything about the individual user from the user's history; the
 * gap from it to the oracle is what only per-user history (id weights, embeddings, the user's
 * click counters) can recover.
 */
export function populationOracle(world: AdWorld): Float32Array {
  const o = world.options;
  const { users, ads, impressions: imp } = world;
  const m = generateHiddenModel(createRng(o.seed).fork('model'), users, ads, o.advertisers);
  const within = clickWithinWindowProbability(o.clickWindowSeconds);
  const nSub = CATEGORIES.length * SUBCATEGORIES_PER_CATEGORY;
  // A standard normal on a grid of 41 points (+-5 sd), for E[sigmoid(a + sd Z)].
  const z: number[] = [];
  const w: number[] = [];
  for (let i = -20; i <= 20; i++) {
    z.push(i / 4);
    w.push(Math.exp(-((i / 4) ** 2) / 2));
  }
  const wSum = w.reduce((a, b) => a + b, 0);
  // The user part of the logit is propensity N(0, sd^2) plus taste . subcategory taste: its variance.
  const propensityVar = 0.6 ** 2;
  const tasteVar = new Float64Array(nSub);
  for (let s = 0; s < nSub; s++) {
    let v = 0;
    for (let k = 0; k < TASTE_DIM; k++) v += m.subcategoryTaste[s * TASTE_DIM + k] ** 2 * 0.55 ** 2;
    tasteVar[s] = v;
  }
  const out = new Float32Array(imp.count);
  for (let k = 0; k < imp.count; k++) {
    const user = imp.user[k];
    const sub = ads.subcategory[imp.ad[k]];
    let taste = 0;
    for (let j = 0; j < TASTE_DIM; j++)
      taste += m.userTaste[user * TASTE_DIM + j] * m.subcategoryTaste[sub * TASTE_DIM + j];
    const q = imp.pLabel[k] / within;
    const rest = Math.log(q / (1 - q)) - m.userPropensity[user] - taste;
    const sd = Math.sqrt(propensityVar + tasteVar[sub]);
    let e = 0;
    for (let i = 0; i < z.length; i++) e += w[i] * sigmoid(rest + sd * z[i]);
    out[k] = (within * e) / wSum;
  }
  return out;
}

/** Counts that describe a world, for reports and READMEs. */
export function summarizeWorld(world: AdWorld) {
  const imp = world.impressions;
  let clicks = 0;
  let late = 0;
  let labels = 0;
  let hides = 0;
  let oracle = 0;
  for (let k = 0; k < imp.count; k++) {
    if (!Number.isNaN(imp.clickDelay[k])) clicks++;
    if (imp.clickDelay[k] > world.options.clickWindowSeconds) late++;
    labels += imp.label[k];
    hides += imp.hidden[k];
    oracle += imp.pLabel[k];
  }
  return {
    users: world.users.count,
    advertisers: world.options.advertisers,
    campaigns: world.campaigns.length,
    ads: world.ads.count,
    impressions: imp.count,
    clicks,
    lateClicks: late,
    positiveRate: labels / Math.max(1, imp.count),
    oracleMeanProbability: oracle / Math.max(1, imp.count),
    hides,
  };
}

// 5. The public Criteo format

export const CRITEO_NUMERIC = 13;
export const CRITEO_CATEGORICAL = 26;

/**
 * A CTR dataset in columns: what the models train on, whether it came from the generated world
 * (after feature building) or from a user's Criteo file.
 */
export interface CtrTable {
  rows: number;
  numericNames: string[];
  categoricalNames: string[];
  /** One column per numeric feature; NaN marks a missing value. */
  numeric: Float64Array[];
  /** One column per categorical feature; '' marks a missing value. */
  categorical: string[][];
  label: Uint8Array;
  /** Seconds; when absent, row order is time order (as in Criteo's files). */
  timestamp?: Float64Array;
  /** The generator's true probability of a positive label, when known. */
  oracle?: Float32Array;
}

/** A line of the user's file that could not be read, and why. */
export interface RowError {
  line: number;
  reason: string;
}

export interface CriteoReadResult {
  table: CtrTable;
  errors: RowError[];
  /** Lines read, good and bad (blank lines are skipped and not counted). */
  linesRead: number;
}

export interface CriteoReadOptions {
  /** Stop after this many good rows. */
  maxRows?: number;
  /** Called every 100,000 lines. */
  onProgress?: (lines: number) => void;
}

const INTEGER = /^-?\d+$/;
const HASH = /^[0-9a-fA-F]{1,16}$/;

/**
 * Parses one line of the Criteo display-advertising format: label, 13 integer features and
 * 26 hashed categorical features, tab-separated, any feature may be empty.
 * Returns the parsed row, or the reason the line is malformed.
 */
export function parseCriteoLine(
  line: string,
): { label: number; numeric: number[]; categorical: string[] } | { error: string } {
  const fields = line.split('\t');
  const expected = 1 + CRITEO_NUMERIC + CRITEO_CATEGORICAL;
  if (fields.length !== expected)
    return { error: `expected ${expected} tab-separated fields, got ${fields.length}` };
  const label = fields[0];
  if (label !== '0' && label !== '1') return { error: `label: expected 0 or 1, got '${label.slice(0, 20)}'` };
  const numeric = new Array<number>(CRITEO_NUMERIC);
  for (let j = 0; j < CRITEO_NUMERIC; j++) {
    const f = fields[1 + j];
    if (f === '') numeric[j] = Number.NaN;
    else if (INTEGER.test(f)) numeric[j] = Number(f);
    else return { error: `I${j + 1}: expected an integer or empty, got '${f.slice(0, 20)}'` };
  }
  const categorical = new Array<string>(CRITEO_CATEGORICAL);
  for (let j = 0; j < CRITEO_CATEGORICAL; j++) {
    const f = fields[1 + CRITEO_NUMERIC + j];
    if (f !== '' && !HASH.test(f))
      return { error: `C${j + 1}: expected a hexadecimal hash or empty, got '${f.slice(0, 20)}'` };
    categorical[j] = f;
  }
  return { label: Number(label), numeric, categorical };
}

/**
 * Reads a Criteo-format file (train.txt of the Kaggle display-advertising challenge, or the same
 * layout). Streams the file line by line; malformed lines are counted and reported with their
 * line number and reason, and the good lines are kept. Never throws on bad content; throws only
 * when the file cannot be opened.
 */
export async function readCriteo(path: string, options: CriteoReadOptions = {}): Promise<CriteoReadResult> {
  const maxRows = options.maxRows ?? Number.POSITIVE_INFINITY;
  if (!(maxRows >= 1)) throw new RangeError(`maxRows: expected >= 1, got ${options.maxRows}`);
  const numeric: number[][] = Array.from({ length: CRITEO_NUMERIC }, () => []);
  const categorical: string[][] = Array.from({ length: CRITEO_CATEGORICAL }, () => []);
  const labels: number[] = [];
  const errors: RowError[] = [];
  let lineNo = 0;
  let linesRead = 0;
  const stream = createReadStream(path, { encoding: 'utf8' });
  const lines = createInterface({ input: stream, crlfDelay: Number.POSITIVE_INFINITY });
  try {
    for await (const raw of lines) {
      lineNo++;
      const line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
      if (line.trim() === '') continue;
      linesRead++;
      if (options.onProgress && linesRead % 100_000 === 0) options.onProgress(linesRead);
      const row = parseCriteoLine(line);
      if ('error' in row) {
        errors.push({ line: lineNo, reason: row.error });
        continue;
      }
      labels.push(row.label);
      for (let j = 0; j < CRITEO_NUMERIC; j++) numeric[j].push(row.numeric[j]);
      for (let j = 0; j < CRITEO_CATEGORICAL; j++) categorical[j].push(row.categorical[j]);
      if (labels.length >= maxRows) break;
    }
  } finally {
    lines.close();
    stream.destroy();
  }
  return {
    table: {
      rows: labels.length,
      numericNames: Array.from({ length: CRITEO_NUMERIC }, (_, j) => `I${j + 1}`),
      categoricalNames: Array.from({ length: CRITEO_CATEGORICAL }, (_, j) => `C${j + 1}`),
      numeric: numeric.map((col) => Float64Array.from(col)),
      categorical,
      label: Uint8Array.from(labels),
    },
    errors,
    linesRead,
  };
}
