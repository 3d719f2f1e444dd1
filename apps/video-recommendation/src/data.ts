/**
 * Data for video recommendation: the generated world, and the common interaction table that every
 * recommender and the evaluation read (built from the world here, or from MovieLens files in
 * `movielens.ts`).
 *
 * The generated world is a video platform's homepage and search over a few months:
 *  - users with demographics (age, gender, country, language, time zone), long-tailed activity, and
 *    hidden tastes over topics drawn from a sparse Dirichlet whose prior depends on demographics
 *    (so a cold-start model can guess from demographics alone); tastes drift slowly over the log;
 *  - creators with very different reach (log-normal), videos with a primary and a secondary topic,
 *    tags, title words, length, language, a hidden quality and a hidden "clickbait" pull;
 *  - new videos and new users arriving throughout the log;
 *  - impressions served by a legacy system that is not a model of this project (popular videos,
 *    videos from topics the user likes, fresh videos, search results), so exposure is skewed towards
 *    popular creators: the log has the popularity bias real logs have;
 *  - outcomes per impression: click, watch time, like, dislike. An impression is relevant, as the
 *    book defines it, when the video was liked or watched at least half.
 * The generator keeps the true probability that an impression is relevant for any (user, video,
 * time): `relevanceProbability` is the oracle every recommender is compared with.
 */
import { AliasTable, createRng, type Rng } from '@mlsd/core';

// 1. Vocabularies

export const TOPICS = [
  'music',
  'gaming',
  'cooking',
  'fitness',
  'travel',
  'comedy',
  'news',
  'science',
  'tech',
  'fashion',
  'beauty',
  'sports',
  'cars',
  'pets',
  'kids',
  'education',
  'finance',
  'diy',
  'movies',
  'anime',
  'history',
  'nature',
  'dance',
  'vlogs',
] as const;
/** Tags per topic: the topic's own name (index 0) and sub-tags `topic-1` ... `topic-(n-1)`. */
export const TAGS_PER_TOPIC = 8;
export const AGE_BUCKETS = ['13-17', '18-24', '25-34', '35-44', '45-54', '55+'] as const;
const AGE_WEIGHTS = [0.09, 0.24, 0.26, 0.19, 0.13, 0.09];
export const GENDERS = ['female', 'male', 'unknown'] as const;
const GENDER_WEIGHTS = [0.47, 0.48, 0.05];
export const COUNTRIES = ['US', 'IN', 'BR', 'GB', 'DE', 'FR', 'ID', 'MX', 'JP', 'NG', 'CA', 'ES'] as const;
const COUNTRY_WEIGHTS = [0.2, 0.18, 0.1, 0.07, 0.06, 0.06, 0.07, 0.06, 0.06, 0.05, 0.05, 0.04];
export const LANGUAGES = ['en', 'hi', 'pt', 'de', 'fr', 'id', 'es', 'ja'] as const;
const COUNTRY_LANGUAGE = [0, 1, 2, 0, 3, 4, 5, 6, 7, 0, 0, 6];
/** UTC offset of each country, in hours (one zone per country keeps the world simple). */
export const COUNTRY_UTC_OFFSET = [-5, 5.5, -3, 0, 1, 1, 7, -6, 9, 1, -5, 1];
const GENERIC_TITLE_WORDS = [
  'best',
  'how',
  'to',
  'why',
  'top',
  '10',
  'live',
  'review',
  'vs',
  'first',
  'time',
  'ultimate',
  'guide',
  'new',
  'official',
  'reaction',
  'day',
  'in',
  'my',
  'life',
];

export const DAY_SECONDS = 86_400;

// 2. The world's shape

export interface VideoWorldOptions {
  seed: number;
  users: number;
  /** Videos uploaded before or during the log. */
  videos: number;
  days: number;
  /** Mean homepage and search impressions per day. */
  impressionsPerDay: number;
  /** Share of users who join during the log (the rest exist before it starts). */
  newUserShare: number;
  /** Share of videos uploaded during the log (the rest before it). */
  newVideoShare: number;
  /** Target share of impressions that are relevant (sets the intercept of the hidden model). */
  targetRelevantRate: number;
  /** How far tastes move towards a second taste vector by the end of the log, in [0, 1]. */
  tasteDrift: number;
}

export const DEFAULT_WORLD: VideoWorldOptions = {
  seed: 42,
  users: 20_000,
  videos: 12_000,
  days: 90,
  impressionsPerDay: 33_000,
  newUserShare: 0.2,
  newVideoShare: 0.35,
  targetRelevantRate: 0.06,
  tasteDrift: 0.3,
};

export const SMALL_WORLD: VideoWorldOptions = {
  ...DEFAULT_WORLD,
  users: 1_500,
  videos: 1_200,
  days: 60,
  impressionsPerDay: 2_500,
};

export interface Users {
  count: number;
  age: Int32Array;
  gender: Int32Array;
  country: Int32Array;
  language: Int32Array;
  /** Hours from UTC. */
  utcOffset: Float64Array;
  /** Second the user joined (negative: before the log). */
  signupTs: Float64Array;
}

export interface Videos {
  count: number;
  creator: Int32Array;
  language: Int32Array;
  /** Seconds. */
  lengthSeconds: Float64Array;
  /** Second the video was uploaded (negative: before the log). */
  uploadTs: Float64Array;
  /** Tag ids (topic * TAGS_PER_TOPIC + k), see `tagName`. */
  tags: Int32Array[];
  title: string[];
}

/** Every impression, in time order, with what the user did with it. */
export interface Impressions {
  count: number;
  ts: Float64Array;
  user: Int32Array;
  video: Int32Array;
  /** 1-based slot in the homepage or the result list. */
  position: Int32Array;
  /** 0 homepage, 1 search. */
  source: Uint8Array;
  clicked: Uint8Array;
  watchSeconds: Float32Array;
  liked: Uint8Array;
  disliked: Uint8Array;
  /** Liked, or watched at least half (the book's relevance). */
  relevant: Uint8Array;
  /** The oracle: the true probability that this impression is relevant. */
  pRelevant: Float32Array;
}

export interface Searches {
  count: number;
  ts: Float64Array;
  user: Int32Array;
  query: string[];
}

/** What the generator knows and no recommender may read: tastes, quality, the relevance model. */
export interface HiddenModel {
  intercept: number;
  /** users x TOPICS: taste at the start of the log. */
  tasteStart: Float64Array;
  /** users x TOPICS: the taste the user drifts towards. */
  tasteEnd: Float64Array;
  userBias: Float64Array;
  primaryTopic: Int32Array;
  secondaryTopic: Int32Array;
  /** Weight of the primary topic in the video's topic mixture. */
  primaryWeight: Float64Array;
  quality: Float64Array;
  clickbait: Float64Array;
  creatorReach: Float64Array;
}

export interface VideoWorld {
  options: VideoWorldOptions;
  users: Users;
  videos: Videos;
  creators: number;
  impressions: Impressions;
  searches: Searches;
  hidden: HiddenModel;
  /** Second the log starts at (day 0, 00:00 UTC); the log ends at `days * DAY_SECONDS`. */
  startTs: number;
  endTs: number;
}

export function tagName(tag: number): string {
  const topic = TOPICS[Math.floor(tag / TAGS_PER_TOPIC)];
  const k = tag % TAGS_PER_TOPIC;
  return k === 0 ? topic : `${topic}-${k}`;
}

// 3. The hidden relevance model

const T = TOPICS.length;

function sigmoid(x: number): number {
  return 1 / (1 + Math.exp(-x));
}

/** Taste-video affinity in [0, 1]: the user's taste at `ts` against the video's topic mixture. */
function affinity(world: Pick<VideoWorld, 'hidden' | 'options'>, user: number, video: number, ts: number) {
  const h = world.hidden;
  const w = world.options.tasteDrift * Math.min(1, Math.max(0, ts / (world.options.days * DAY_SECONDS)));
  const t1 = user * T + h.primaryTopic[video];
  const t2 = user * T + h.secondaryTopic[video];
  const p1 = (1 - w) * h.tasteStart[t1] + w * h.tasteEnd[t1];
  const p2 = (1 - w) * h.tasteStart[t2] + w * h.tasteEnd[t2];
  return h.primaryWeight[video] * p1 + (1 - h.primaryWeight[video]) * p2;
}

function relevanceLogitWithoutIntercept(
  world: Omit<VideoWorld, 'impressions' | 'searches'>,
  user: number,
  video: number,
  ts: number,
) {
  const aff = affinity(world, user, video, ts);
  const uLang = world.users.language[user];
  const vLang = world.videos.language[video];
  // A video in another language is rarely relevant; English is understood by many.
  const lang = uLang === vLang ? 0 : vLang === 0 ? -0.8 : -2;
  const ageDays = Math.max(0, ts - world.videos.uploadTs[video]) / DAY_SECONDS;
  return (
    1.2 * Math.log(0.02 + T * aff) +
    world.hidden.quality[video] +
    world.hidden.userBias[user] +
    lang -
    0.15 * Math.log1p(ageDays / 30)
  );
}

/**
 * The oracle: the true probability that showing `video` to `user` at second `ts` leads to a
 * relevant outcome (liked, or watched at least half). Defined for any time, also before the upload.
 */
export function relevanceProbability(world: VideoWorld, user: number, video: number, ts: number): number {
  return sigmoid(world.hidden.intercept + relevanceLogitWithoutIntercept(world, user, video, ts));
}

// 4. Generation

function checkOptions(o: VideoWorldOptions): VideoWorldOptions {
  for (const key of ['users', 'videos', 'days', 'impressionsPerDay'] as const) {
    const v = o[key];
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${key}: expected an integer >= 1, got ${v}`);
  }
  if (!Number.isInteger(o.seed)) throw new TypeError(`seed: expected an integer, got ${o.seed}`);
  for (const key of ['newUserShare', 'newVideoShare', 'tasteDrift'] as const) {
    if (!(o[key] >= 0 && o[key] <= 1)) throw new RangeError(`${key}: expected in [0, 1], got ${o[key]}`);
  }
  if (!(o.targetRelevantRate > 0 && o.targetRelevantRate < 0.5)) {
    throw new RangeError(`targetRelevantRate: expected in (0, 0.5), got ${o.targetRelevantRate}`);
  }
  return o;
}

function generateUsers(rng: Rng, o: VideoWorldOptions, hidden: HiddenModel) {
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
    utcOffset: new Float64Array(n),
    signupTs: new Float64Array(n),
  };
  // Demographic priors over topics: each age bucket, gender and country leans to some topics.
  const prior = rng.fork('priors');
  const ageLean = Array.from({ length: AGE_BUCKETS.length * T }, () => prior.normal(0, 0.8));
  const genderLean = Array.from({ length: GENDERS.length * T }, () => prior.normal(0, 0.6));
  const countryLean = Array.from({ length: COUNTRIES.length * T }, () => prior.normal(0, 0.5));
  const topicBase = Array.from({ length: T }, () => prior.normal(0, 0.5));
  const alpha = new Array<number>(T);
  const activity = new Float64Array(n);
  for (let u = 0; u < n; u++) {
    const age = ageTable.sample(rng);
    const gender = genderTable.sample(rng);
    const c = countryTable.sample(rng);
    users.age[u] = age;
    users.gender[u] = gender;
    users.country[u] = c;
    users.language[u] = rng.bernoulli(0.85) ? COUNTRY_LANGUAGE[c] : 0;
    users.utcOffset[u] = COUNTRY_UTC_OFFSET[c];
    users.signupTs[u] = rng.bernoulli(o.newUserShare)
      ? rng.uniform(0, o.days) * DAY_SECONDS
      : -rng.uniform(1, 720) * DAY_SECONDS;
    activity[u] = rng.logNormal(0, 1.1);
    let sum = 0;
    for (let t = 0; t < T; t++) {
      alpha[t] = Math.exp(
        topicBase[t] + ageLean[age * T + t] + genderLean[gender * T + t] + countryLean[c * T + t],
      );
      sum += alpha[t];
    }
    // A concentration of 2 over 24 topics makes most users care about two or three topics.
    for (let t = 0; t < T; t++) alpha[t] = Math.max(1e-3, (2 * alpha[t]) / sum);
    const start = rng.dirichlet(alpha);
    const end = rng.dirichlet(alpha);
    for (let t = 0; t < T; t++) {
      hidden.tasteStart[u * T + t] = start[t];
      hidden.tasteEnd[u * T + t] = end[t];
    }
    hidden.userBias[u] = rng.normal(0, 0.4);
  }
  return { users, activity };
}

/** Typical video length by topic, in minutes (log-normal around it). */
const TOPIC_MINUTES = [
  4, 20, 10, 15, 14, 6, 8, 16, 12, 9, 11, 10, 13, 5, 7, 18, 14, 15, 12, 20, 22, 12, 4, 11,
];

function generateVideos(rng: Rng, o: VideoWorldOptions, hidden: HiddenModel) {
  const n = o.videos;
  const creators = Math.max(1, Math.round(n / 8));
  const creatorTopic = new Int32Array(creators);
  const creatorLanguage = new Int32Array(creators);
  const langWeights = [0.5, 0.13, 0.08, 0.05, 0.05, 0.06, 0.08, 0.05];
  const langTable = new AliasTable(langWeights);
  for (let c = 0; c < creators; c++) {
    creatorTopic[c] = rng.int(T);
    creatorLanguage[c] = langTable.sample(rng);
    // Reach is long-tailed: a few creators are seen by everyone, most by almost no one.
    hidden.creatorReach[c] = rng.logNormal(0, 1.4);
  }
  // Prolific creators upload more: videos go to creators by a Zipf-like table.
  const creatorTable = new AliasTable(Float64Array.from({ length: creators }, (_, c) => 1 / (c + 1) ** 0.7));
  const videos: Videos = {
    count: n,
    creator: new Int32Array(n),
    language: new Int32Array(n),
    lengthSeconds: new Float64Array(n),
    uploadTs: new Float64Array(n),
    tags: new Array(n),
    title: new Array(n),
  };
  const uploads = new Float64Array(n);
  for (let v = 0; v < n; v++) {
    uploads[v] = rng.bernoulli(o.newVideoShare)
      ? rng.uniform(0, o.days) * DAY_SECONDS
      : -(rng.uniform(0, 365) ** 1.3 * DAY_SECONDS) / 365 ** 0.3;
  }
  // Ids in upload order, as a platform assigns them.
  uploads.sort();
  for (let v = 0; v < n; v++) {
    const c = creatorTable.sample(rng);
    videos.creator[v] = c;
    videos.language[v] = creatorLanguage[c];
    videos.uploadTs[v] = uploads[v];
    const t1 = rng.bernoulli(0.75) ? creatorTopic[c] : rng.int(T);
    let t2 = rng.int(T);
    if (t2 === t1) t2 = (t1 + 1 + rng.int(T - 1)) % T;
    hidden.primaryTopic[v] = t1;
    hidden.secondaryTopic[v] = t2;
    hidden.primaryWeight[v] = rng.uniform(0.6, 1);
    hidden.quality[v] = rng.normal(0, 0.5);
    hidden.clickbait[v] = rng.beta(1, 10);
    videos.lengthSeconds[v] = Math.round(Math.max(15, 60 * TOPIC_MINUTES[t1] * rng.logNormal(0, 0.6)));
    const tags = new Set<number>([t1 * TAGS_PER_TOPIC]);
    const nSub = 1 + rng.int(3);
    for (let k = 0; k < nSub; k++) tags.add(t1 * TAGS_PER_TOPIC + 1 + rng.int(TAGS_PER_TOPIC - 1));
    if (hidden.primaryWeight[v] < 0.85) tags.add(t2 * TAGS_PER_TOPIC + rng.int(TAGS_PER_TOPIC));
    // Tags are manual: some are missing or wrong.
    if (rng.bernoulli(0.1)) tags.add(rng.int(T * TAGS_PER_TOPIC));
    videos.tags[v] = Int32Array.from([...tags].sort((a, b) => a - b));
    const words: string[] = [];
    const nWords = 3 + rng.int(5);
    for (let k = 0; k < nWords; k++) {
      words.push(
        rng.bernoulli(0.45)
          ? tagName(t1 * TAGS_PER_TOPIC + rng.int(TAGS_PER_TOPIC))
          : rng.choice(GENERIC_TITLE_WORDS),
      );
    }
    videos.title[v] = words.join(' ');
  }
  return { videos, creators };
}

/** Share of sessions by local hour: quiet at night, peaks at lunch and in the evening. */
const HOUR_WEIGHTS = [
  0.5, 0.3, 0.2, 0.15, 0.15, 0.25, 0.6, 0.9, 1.0, 1.0, 1.0, 1.2, 1.4, 1.3, 1.1, 1.1, 1.2, 1.5, 1.9, 2.2, 2.3,
  2.0, 1.5, 0.9,
];
const HOMEPAGE_SLATE = 8;
const SEARCH_RESULTS = 6;

function newImpressionColumns() {
  return {
    ts: [] as number[],
    user: [] as number[],
    video: [] as number[],
    position: [] as number[],
    source: [] as number[],
  };
}

/**
 * Generates the world. Deterministic: the same options give the same world, byte for byte.
 * The default size (20,000 users, 12,000 videos, about 3 million impressions) takes seconds.
 */
export function generateVideoWorld(options: Partial<VideoWorldOptions> = {}): VideoWorld {
  const o = checkOptions({ ...DEFAULT_WORLD, ...options });
  const root = createRng(o.seed);
  const hidden: HiddenModel = {
    intercept: 0,
    tasteStart: new Float64Array(o.users * T),
    tasteEnd: new Float64Array(o.users * T),
    userBias: new Float64Array(o.users),
    primaryTopic: new Int32Array(o.videos),
    secondaryTopic: new Int32Array(o.videos),
    primaryWeight: new Float64Array(o.videos),
    quality: new Float64Array(o.videos),
    clickbait: new Float64Array(o.videos),
    creatorReach: new Float64Array(Math.max(1, Math.round(o.videos / 8))),
  };
  const { users, activity } = generateUsers(root.fork('users'), o, hidden);
  const { videos, creators } = generateVideos(root.fork('videos'), o, hidden);
  const endTs = o.days * DAY_SECONDS;
  const partial = { options: o, users, videos, creators, hidden, startTs: 0, endTs };

  // 4a. Exposure: who is shown what, by a legacy system that favours popular creators.
  const rng = root.fork('impressions');
  const exposure = new Float64Array(videos.count);
  for (let v = 0; v < videos.count; v++)
    exposure[v] = hidden.creatorReach[videos.creator[v]] * Math.exp(0.5 * hidden.quality[v]);
  const hourTable = new AliasTable(HOUR_WEIGHTS);
  const cols = newImpressionColumns();
  const search = { ts: [] as number[], user: [] as number[], query: [] as string[] };
  const byTopic: number[][] = Array.from({ length: T }, () => []);
  let uploaded = 0; // videos are in upload order: [0, uploaded) are online
  const taste = new Float64Array(T);
  for (let day = 0; day < o.days; day++) {
    const dayStart = day * DAY_SECONDS;
    const dayEnd = dayStart + DAY_SECONDS;
    while (uploaded < videos.count && videos.uploadTs[uploaded] < dayStart) {
      byTopic[hidden.primaryTopic[uploaded]].push(uploaded);
      uploaded++;
    }
    if (uploaded === 0) continue;
    // Tables for the day over videos online at its start; fresh ones get a push for a week.
    const weightOf = (v: number) => exposure[v] * (dayStart - videos.uploadTs[v] < 7 * DAY_SECONDS ? 3 : 1);
    const popular = new AliasTable(Float64Array.from({ length: uploaded }, (_, v) => weightOf(v)));
    const topicTables = byTopic.map((list) =>
      list.length ? new AliasTable(Float64Array.from(list, weightOf)) : null,
    );
    let freshFrom = uploaded;
    while (freshFrom > 0 && videos.uploadTs[freshFrom - 1] >= dayStart - 7 * DAY_SECONDS) freshFrom--;
    const userWeights = new Float64Array(users.count);
    for (let u = 0; u < users.count; u++) userWeights[u] = users.signupTs[u] < dayEnd ? activity[u] : 0;
    const userTable = new AliasTable(userWeights);
    const sessions = Math.round((o.impressionsPerDay / HOMEPAGE_SLATE) * rng.uniform(0.9, 1.1));
    const sessionUser = new Int32Array(sessions);
    const sessionTs = new Float64Array(sessions);
    for (let s = 0; s < sessions; s++) {
      const u = userTable.sample(rng);
      sessionUser[s] = u;
      // Sessions follow the user's local clock.
      const local = (hourTable.sample(rng) + rng.float()) * 3600 - users.utcOffset[u] * 3600;
      sessionTs[s] = Math.max(users.signupTs[u], Math.min(dayEnd - 1, Math.max(dayStart, dayStart + local)));
    }
    const order = Array.from({ length: sessions }, (_, s) => s).sort(
      (a, b) => sessionTs[a] - sessionTs[b] || a - b,
    );
    for (const s of order) {
      const u = sessionUser[s];
      const ts = sessionTs[s];
      const w = o.tasteDrift * (ts / endTs);
      for (let t = 0; t < T; t++)
        taste[t] = (1 - w) * hidden.tasteStart[u * T + t] + w * hidden.tasteEnd[u * T + t];
      const shown = new Set<number>();
      const push = (v: number, src: number) => {
        shown.add(v);
        cols.ts.push(ts);
        cols.user.push(u);
        cols.video.push(v);
        cols.position.push(shown.size);
        cols.source.push(src);
      };
      if (rng.bernoulli(0.25)) {
        // A search: words from one of the user's topics; results are videos of that topic with the tag.
        const topic = rng.weightedIndex(taste);
        const tag = topic * TAGS_PER_TOPIC + rng.int(TAGS_PER_TOPIC);
        search.ts.push(ts);
        search.user.push(u);
        search.query.push(
          rng.bernoulli(0.5) ? tagName(tag) : `${rng.choice(GENERIC_TITLE_WORDS)} ${tagName(tag)}`,
        );
        const table = topicTables[topic];
        if (!table) continue;
        const list = byTopic[topic];
        for (let attempt = 0; attempt < 40 && shown.size < SEARCH_RESULTS; attempt++) {
          const v = list[table.sample(rng)];
          if (shown.has(v)) continue;
          if (tag % TAGS_PER_TOPIC !== 0 && !videos.tags[v].includes(tag) && attempt < 30) continue;
          push(v, 1);
        }
        continue;
      }
      for (let attempt = 0; attempt < 40 && shown.size < HOMEPAGE_SLATE; attempt++) {
        const r = rng.float();
        let v: number;
        if (r < 0.4) v = popular.sample(rng);
        else if (r < 0.85) {
          const topic = rng.weightedIndex(taste);
          const table = topicTables[topic];
          if (!table) continue;
          v = byTopic[topic][table.sample(rng)];
        } else v = freshFrom < uploaded ? freshFrom + rng.int(uploaded - freshFrom) : rng.int(uploaded);
        if (shown.has(v)) continue;
        // The legacy system mostly keeps to the user's language or English.
        const lang = videos.language[v];
        if (lang !== users.language[u] && lang !== 0 && rng.bernoulli(0.8)) continue;
        push(v, 0);
      }
    }
  }

  // 4b. The intercept that gives the target relevant rate (bisection on the mean probability).
  const count = cols.ts.length;
  const logits = new Float64Array(count);
  for (let k = 0; k < count; k++)
    logits[k] = relevanceLogitWithoutIntercept(partial, cols.user[k], cols.video[k], cols.ts[k]);
  let lo = -15;
  let hi = 5;
  for (let it = 0; it < 50; it++) {
    const mid = (lo + hi) / 2;
    let sum = 0;
    for (let k = 0; k < count; k++) sum += sigmoid(mid + logits[k]);
    if (sum / Math.max(1, count) < o.targetRelevantRate) lo = mid;
    else hi = mid;
  }
  hidden.intercept = (lo + hi) / 2;

  // 4c. Outcomes. Relevant with exactly the oracle's probability; clicks also come from curiosity and
  // clickbait without relevance, and those clicks end in short watches and some dislikes.
  const out = root.fork('outcomes');
  const imp: Impressions = {
    count,
    ts: Float64Array.from(cols.ts),
    user: Int32Array.from(cols.user),
    video: Int32Array.from(cols.video),
    position: Int32Array.from(cols.position),
    source: Uint8Array.from(cols.source),
    clicked: new Uint8Array(count),
    watchSeconds: new Float32Array(count),
    liked: new Uint8Array(count),
    disliked: new Uint8Array(count),
    relevant: new Uint8Array(count),
    pRelevant: new Float32Array(count),
  };
  for (let k = 0; k < count; k++) {
    const v = imp.video[k];
    const p = sigmoid(hidden.intercept + logits[k]);
    imp.pRelevant[k] = p;
    const length = videos.lengthSeconds[v];
    if (out.float() < p) {
      imp.clicked[k] = 1;
      imp.relevant[k] = 1;
      if (out.bernoulli(0.85)) {
        imp.watchSeconds[k] = length * Math.min(1, 0.5 + out.beta(2, 1.2) * 0.5);
        imp.liked[k] = out.bernoulli(0.3) ? 1 : 0;
      } else {
        // Liked, but left early (saved for later, or liked at a glance).
        imp.watchSeconds[k] = length * out.uniform(0.02, 0.49);
        imp.liked[k] = 1;
      }
    } else {
      // Clicks without relevance: curiosity, clickbait titles, and positions near the top.
      const pClick = (0.04 + hidden.clickbait[v]) / (1 + 0.15 * (imp.position[k] - 1));
      if (out.float() < pClick) {
        imp.clicked[k] = 1;
        imp.watchSeconds[k] = length * 0.49 * out.beta(1, 4);
        imp.disliked[k] = out.bernoulli(0.12 + hidden.clickbait[v]) ? 1 : 0;
      }
    }
  }
  const searches: Searches = {
    count: search.ts.length,
    ts: Float64Array.from(search.ts),
    user: Int32Array.from(search.user),
    query: search.query,
  };
  return { ...partial, impressions: imp, searches };
}

/** Counts that describe a world, for reports and READMEs. */
export function summarizeWorld(world: VideoWorld) {
  const imp = world.impressions;
  let clicks = 0;
  let relevant = 0;
  let likes = 0;
  let dislikes = 0;
  let oracle = 0;
  const perVideo = new Float64Array(world.videos.count);
  for (let k = 0; k < imp.count; k++) {
    clicks += imp.clicked[k];
    relevant += imp.relevant[k];
    likes += imp.liked[k];
    dislikes += imp.disliked[k];
    oracle += imp.pRelevant[k];
    perVideo[imp.video[k]]++;
  }
  const sorted = Float64Array.from(perVideo).sort().reverse();
  let top = 0;
  for (let i = 0; i < Math.ceil(sorted.length / 100); i++) top += sorted[i];
  let newVideos = 0;
  for (let v = 0; v < world.videos.count; v++) if (world.videos.uploadTs[v] >= 0) newVideos++;
  let newUsers = 0;
  for (let u = 0; u < world.users.count; u++) if (world.users.signupTs[u] >= 0) newUsers++;
  return {
    users: world.users.count,
    newUsers,
    videos: world.videos.count,
    newVideos,
    creators: world.creators,
    impressions: imp.count,
    searches: world.searches.count,
    clicks,
    relevant,
    likes,
    dislikes,
    relevantRate: relevant / Math.max(1, imp.count),
    oracleMeanProbability: oracle / Math.max(1, imp.count),
    /** Share of impressions that went to the most-shown 1 % of videos. */
    topPercentShare: top / Math.max(1, imp.count),
  };
}

// 5. The interaction table every recommender reads

/**
 * Interactions in time order, one row per engagement (a click in the world, a rating in MovieLens),
 * with dense user and item indices. This is all a recommender may learn from.
 */
export interface InteractionTable {
  name: string;
  users: number;
  items: number;
  /** External ids, by dense index. */
  userIds: string[];
  itemIds: string[];
  rows: number;
  user: Int32Array;
  item: Int32Array;
  /** Seconds. */
  ts: Float64Array;
  /** 1 when the interaction is relevant (liked or watched at least half; rating >= threshold). */
  relevant: Uint8Array;
  /** 1 for explicit negative feedback (a dislike; a rating at or below the negative threshold). */
  negative: Uint8Array;
  /** Tag ids of each item (topics/tags; MovieLens genres), for diversity. */
  itemTags: Int32Array[];
  tagNames: string[];
  /** First second each item can be recommended (upload time; first rating for MovieLens). */
  itemStart: Float64Array;
  /**
   * The true relevance probability of (user, item) at second ts, when the data was generated.
   * Absent for users' files.
   */
  oracle?: (user: number, item: number, ts: number) => number;
}

/** Checks that rows are in time order and indices in range; throws a RangeError naming the first bad row. */
export function checkInteractionTable(table: InteractionTable): InteractionTable {
  for (let r = 0; r < table.rows; r++) {
    if (!(table.user[r] >= 0 && table.user[r] < table.users))
      throw new RangeError(`user[${r}]: expected an index in [0, ${table.users}), got ${table.user[r]}`);
    if (!(table.item[r] >= 0 && table.item[r] < table.items))
      throw new RangeError(`item[${r}]: expected an index in [0, ${table.items}), got ${table.item[r]}`);
    if (!Number.isFinite(table.ts[r]))
      throw new RangeError(`ts[${r}]: expected a finite number, got ${table.ts[r]}`);
    if (r > 0 && table.ts[r] < table.ts[r - 1])
      throw new RangeError(`ts[${r}]: expected time order, got ${table.ts[r]} after ${table.ts[r - 1]}`);
  }
  return table;
}

/** The world's engagements (clicked impressions) as an interaction table, with the oracle attached. */
export function worldInteractions(world: VideoWorld): InteractionTable {
  const imp = world.impressions;
  const rows: number[] = [];
  for (let k = 0; k < imp.count; k++) if (imp.clicked[k]) rows.push(k);
  const n = rows.length;
  const table: InteractionTable = {
    name: `generated world (seed ${world.options.seed})`,
    users: world.users.count,
    items: world.videos.count,
    userIds: Array.from({ length: world.users.count }, (_, u) => `u${u}`),
    itemIds: Array.from({ length: world.videos.count }, (_, v) => `v${v}`),
    rows: n,
    user: Int32Array.from(rows, (k) => imp.user[k]),
    item: Int32Array.from(rows, (k) => imp.video[k]),
    ts: Float64Array.from(rows, (k) => imp.ts[k]),
    relevant: Uint8Array.from(rows, (k) => imp.relevant[k]),
    negative: Uint8Array.from(rows, (k) => imp.disliked[k]),
    itemTags: world.videos.tags,
    tagNames: Array.from({ length: T * TAGS_PER_TOPIC }, (_, t) => tagName(t)),
    itemStart: world.videos.uploadTs,
    oracle: (user, item, ts) => relevanceProbability(world, user, item, ts),
  };
  return table;
}
