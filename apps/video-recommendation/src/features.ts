/**
 * Features of the two towers and of the ranking model, defined once and used by offline training,
 * offline evaluation and the service alike.
 *
 * - Side information (`SideInfo`): what the platform knows about users (demographics) and videos
 *   (tags, language, creator, length, upload time), from the generated world or a MovieLens file.
 *   Never the generator's hidden tastes or quality.
 * - Tower inputs: the user tower reads demographic tokens and the ids of the most recent relevant
 *   videos (an embedding bag, so a user with no history still gets a vector from demographics); the
 *   video tower reads the id (0 for a video the model has not seen), metadata tokens and two numbers
 *   (length, age), so a new video gets a vector from its metadata.
 * - Ranking features: one row per (user, candidate), listed in `RANKING_FEATURES`.
 */
import {
  AGE_BUCKETS,
  COUNTRIES,
  DAY_SECONDS,
  GENDERS,
  type InteractionTable,
  LANGUAGES,
  TAGS_PER_TOPIC,
  TOPICS,
  type VideoWorld,
} from './data.js';
import type { MovieLensData } from './movielens.js';

// 1. Side information

export const USER_SLOTS = 4;
export const HISTORY_SLOTS = 20;
export const VIDEO_TOKEN_SLOTS = 8;
export const VIDEO_NUMERIC = 2;

/** What the platform knows about users and videos besides the interactions. */
export interface SideInfo {
  users: number;
  items: number;
  /** users x USER_SLOTS demographic tokens in [1, userVocab); 0 pads. */
  userTokens: Int32Array;
  userVocab: number;
  /** Language index per user (-1 unknown). */
  userLanguage: Int32Array;
  /** Region (country) index per user (-1 unknown). */
  userRegion: Int32Array;
  /** items x VIDEO_TOKEN_SLOTS metadata tokens (tags, language, creator) in [1, itemVocab); 0 pads. */
  itemTokens: Int32Array;
  itemVocab: number;
  itemLanguage: Int32Array;
  /** Creator index per item (-1 unknown). */
  itemCreator: Int32Array;
  /** Standardised log length (0 when unknown). */
  itemLength: Float32Array;
  /** Name of the language vocabulary, to read `language` in requests (index = position). */
  languages: readonly string[];
  regions: readonly string[];
  /** Index of the language most users understand (English in the world), -1 when none. */
  commonLanguage: number;
}

/** Demographics as the service receives them; any field may be missing. */
export interface Demographics {
  age?: number;
  gender?: number;
  country?: number;
  language?: number;
}

const AGE_OFFSET = 1;
const GENDER_OFFSET = AGE_OFFSET + AGE_BUCKETS.length;
const COUNTRY_OFFSET = GENDER_OFFSET + GENDERS.length;
const LANGUAGE_OFFSET = COUNTRY_OFFSET + COUNTRIES.length;
const WORLD_USER_VOCAB = LANGUAGE_OFFSET + LANGUAGES.length;

/** The world's demographic tokens (0 for a missing field). */
export function demographicTokens(d: Demographics, out = new Int32Array(USER_SLOTS)): Int32Array {
  const tok = (v: number | undefined, offset: number, size: number) =>
    v !== undefined && Number.isInteger(v) && v >= 0 && v < size ? offset + v : 0;
  out[0] = tok(d.age, AGE_OFFSET, AGE_BUCKETS.length);
  out[1] = tok(d.gender, GENDER_OFFSET, GENDERS.length);
  out[2] = tok(d.country, COUNTRY_OFFSET, COUNTRIES.length);
  out[3] = tok(d.language, LANGUAGE_OFFSET, LANGUAGES.length);
  return out;
}

function standardiseLog(values: ArrayLike<number>): Float32Array {
  const out = new Float32Array(values.length);
  let mean = 0;
  let known = 0;
  for (let i = 0; i < values.length; i++) {
    if (values[i] > 0) {
      mean += Math.log(values[i]);
      known++;
    }
  }
  mean /= Math.max(1, known);
  let sd = 0;
  for (let i = 0; i < values.length; i++) if (values[i] > 0) sd += (Math.log(values[i]) - mean) ** 2;
  sd = Math.sqrt(sd / Math.max(1, known)) || 1;
  for (let i = 0; i < values.length; i++) out[i] = values[i] > 0 ? (Math.log(values[i]) - mean) / sd : 0;
  return out;
}

/** Side information of the generated world (public columns only). */
export function worldSideInfo(world: VideoWorld): SideInfo {
  const u = world.users;
  const v = world.videos;
  const userTokens = new Int32Array(u.count * USER_SLOTS);
  for (let i = 0; i < u.count; i++) {
    demographicTokens(
      { age: u.age[i], gender: u.gender[i], country: u.country[i], language: u.language[i] },
      userTokens.subarray(i * USER_SLOTS, (i + 1) * USER_SLOTS),
    );
  }
  const tagCount = TOPICS.length * TAGS_PER_TOPIC;
  const langOffset = 1 + tagCount;
  const creatorOffset = langOffset + LANGUAGES.length;
  const itemTokens = new Int32Array(v.count * VIDEO_TOKEN_SLOTS);
  for (let i = 0; i < v.count; i++) {
    const o = i * VIDEO_TOKEN_SLOTS;
    const tags = v.tags[i];
    let k = 0;
    for (; k < Math.min(tags.length, VIDEO_TOKEN_SLOTS - 2); k++) itemTokens[o + k] = 1 + tags[k];
    itemTokens[o + k] = langOffset + v.language[i];
    itemTokens[o + k + 1] = creatorOffset + v.creator[i];
  }
  return {
    users: u.count,
    items: v.count,
    userTokens,
    userVocab: WORLD_USER_VOCAB,
    userLanguage: Int32Array.from(u.language),
    userRegion: Int32Array.from(u.country),
    itemTokens,
    itemVocab: creatorOffset + world.creators,
    itemLanguage: Int32Array.from(v.language),
    itemCreator: Int32Array.from(v.creator),
    itemLength: standardiseLog(v.lengthSeconds),
    languages: LANGUAGES,
    regions: COUNTRIES,
    commonLanguage: 0,
  };
}

/** Side information of a MovieLens file: genres as tokens; age, gender, occupation when u.user is given. */
export function movieLensSideInfo(data: MovieLensData): SideInfo {
  const t = data.table;
  const users = t.users;
  const userTokens = new Int32Array(users * USER_SLOTS);
  const vocab = new Map<string, number>();
  const token = (key: string) => {
    let id = vocab.get(key);
    if (id === undefined) {
      id = vocab.size + 1;
      vocab.set(key, id);
    }
    return id;
  };
  if (data.userInfo) {
    for (let u = 0; u < users; u++) {
      const info = data.userInfo[u];
      if (!info) continue;
      const o = u * USER_SLOTS;
      userTokens[o] = token(`age:${Math.min(6, Math.floor(info.age / 10))}`);
      userTokens[o + 1] = token(`gender:${info.gender}`);
      userTokens[o + 2] = token(`occupation:${info.occupation}`);
    }
  }
  const itemTokens = new Int32Array(t.items * VIDEO_TOKEN_SLOTS);
  for (let i = 0; i < t.items; i++) {
    const tags = t.itemTags[i];
    for (let k = 0; k < Math.min(tags.length, VIDEO_TOKEN_SLOTS); k++)
      itemTokens[i * VIDEO_TOKEN_SLOTS + k] = 1 + tags[k];
  }
  return {
    users,
    items: t.items,
    userTokens,
    userVocab: vocab.size + 1,
    userLanguage: new Int32Array(users).fill(-1),
    userRegion: new Int32Array(users).fill(-1),
    itemTokens,
    itemVocab: 1 + Math.max(1, t.tagNames.length),
    itemLanguage: new Int32Array(t.items).fill(-1),
    itemCreator: new Int32Array(t.items).fill(-1),
    itemLength: new Float32Array(t.items),
    languages: [],
    regions: [],
    commonLanguage: -1,
  };
}

// 2. Histories

/**
 * Per user, the distinct relevant items of a table in time order (most recent last), at most
 * `limit`, and every item the user interacted with and disliked (for masking).
 */
export interface UserHistories {
  relevant: number[][];
  seen: Set<number>[];
  disliked: Set<number>[];
}

export function userHistories(table: InteractionTable, limit = 200): UserHistories {
  const relevant: number[][] = Array.from({ length: table.users }, () => []);
  const seen: Set<number>[] = Array.from({ length: table.users }, () => new Set());
  const disliked: Set<number>[] = Array.from({ length: table.users }, () => new Set());
  for (let r = 0; r < table.rows; r++) {
    const u = table.user[r];
    const i = table.item[r];
    seen[u].add(i);
    if (table.negative[r]) disliked[u].add(i);
    if (table.relevant[r]) pushRecent(relevant[u], i, limit);
  }
  return { relevant, seen, disliked };
}

/** Appends `item` as the most recent entry of `list` (moving it if present), keeping at most `limit`. */
export function pushRecent(list: number[], item: number, limit: number): void {
  const at = list.lastIndexOf(item);
  if (at >= 0) list.splice(at, 1);
  list.push(item);
  if (list.length > limit) list.splice(0, list.length - limit);
}

/** The history slot row of the user tower: ids + 1 of the most recent items, 0 pads. */
export function historySlots(history: readonly number[], vocabItems: number, out: Int32Array): Int32Array {
  out.fill(0);
  let k = 0;
  for (let j = history.length - 1; j >= 0 && k < out.length; j--) {
    const i = history[j];
    if (i < vocabItems) out[k++] = i + 1;
  }
  return out;
}

// 3. Video tower numbers

/** log1p of the age in days, scaled to about [0, 2]. */
export function ageFeature(uploadTs: number, ts: number): number {
  return Math.log1p(Math.max(0, ts - uploadTs) / DAY_SECONDS) / 3;
}

// 4. Ranking features

export const SOURCES = ['two-tower', 'similar', 'popular', 'trending', 'fresh'] as const;
export type Source = (typeof SOURCES)[number];

export const RANKING_FEATURES = [
  'tower_similarity',
  'similar_score',
  'similar_recent_score',
  'log_popularity_14d',
  'log_popularity_2d',
  'log_popularity_all',
  'log_engagements_14d',
  'trend',
  'log_age_days',
  'is_fresh',
  'language_match',
  'tag_affinity',
  'creator_affinity',
  'log_history_length',
  'log_creator_popularity',
  'similar_rank',
  'length',
  'from_two_tower',
  'from_similar',
  'from_popular',
  'from_trending',
  'from_fresh',
] as const;
export const RANKING_FEATURE_COUNT = RANKING_FEATURES.length;
