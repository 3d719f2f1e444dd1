/**
 * The multi-stage recommendation pipeline, shared by the offline evaluation and the service:
 *
 *   candidate generators (two-tower ANN, similar-to-watched, popular, trending, fresh), each
 *   candidate tagged with its sources -> ranking features -> one batched ranking call ->
 *   re-ranking rules (remove watched and disliked, de-duplicate, region restriction, at most N per
 *   creator, freshness boost, an exploration slot for a new video) -> the list with reasons.
 *
 * `RecommenderState` holds what the stages read at one point in time (histories, item-item
 * neighbours, popularity counts, the video embeddings and their HNSW index). The service mutates
 * its histories and counts as events arrive; a re-indexing job swaps its index.
 *
 * `fitPipeline` trains the whole thing from a training view: the ranking model learns from a
 * second, earlier cut inside the training period (features at that cut, labels = videos that became
 * relevant after it), so no label of the evaluation's test period is ever seen.
 */
import { HnswIndex, type VectorIndex } from '@mlsd/vector-index';
import { type ItemNeighbours, itemNeighbours, popularityScores, relevantHistories } from './baseline.js';
import { DAY_SECONDS, type InteractionTable } from './data.js';
import { type Recommender, type RecommenderSpec, sliceTable, type TrainingData, topK } from './evaluate.js';
import {
  RANKING_FEATURE_COUNT,
  RANKING_FEATURES,
  type SideInfo,
  SOURCES,
  type Source,
  USER_SLOTS,
  type UserHistories,
  userHistories,
} from './features.js';
import {
  embedUsers,
  embedVideos,
  type MlpWeights,
  mlpForward,
  mlpWeights,
  type RankerOptions,
  type TwoTower,
  type TwoTowerOptions,
  trainRanker,
  trainTwoTower,
} from './model.js';

// 1. State

export interface CandidateSizes {
  twoTower: number;
  similar: number;
  popular: number;
  trending: number;
  fresh: number;
}

export const DEFAULT_SIZES: CandidateSizes = {
  twoTower: 150,
  similar: 150,
  popular: 40,
  trending: 30,
  fresh: 30,
};
const FRESH_DAYS = 7;
const HISTORY_LIMIT = 200;

export interface RecommenderState {
  side: SideInfo;
  /** Time the state describes (the cut offline; "now" when served). */
  ts: number;
  items: number;
  uploadTs: Float64Array;
  itemTags: Int32Array[];
  histories: UserHistories;
  neighbours: ItemNeighbours;
  pop14: Float64Array;
  pop2: Float64Array;
  popAll: Float64Array;
  /** Engagements of any kind (clicks, relevant or not) in the last 14 days: how much a video is being shown. */
  eng14: Float64Array;
  /** Relevant interactions per creator (all time), -1 creators excluded. */
  creatorPop: Float64Array;
  popularList: Int32Array;
  trendingList: Int32Array;
  /** Videos uploaded in the last FRESH_DAYS, newest first. */
  freshList: Int32Array;
  /** 1 for recommendable videos. */
  catalogue: Uint8Array;
  dim: number;
  /** Video embeddings, items x dim (zero rows for videos outside the catalogue). */
  itemEmbeddings: Float32Array;
  /** ANN index over the catalogue's embeddings, ids = video indices. */
  index: Pick<VectorIndex, 'search'>;
}

function countsInWindow(table: InteractionTable, from: number, to: number): Float64Array {
  const out = new Float64Array(table.items);
  for (let r = 0; r < table.rows; r++) {
    if (table.relevant[r] && table.ts[r] >= from && table.ts[r] < to) out[table.item[r]]++;
  }
  return out;
}

function engagementsInWindow(table: InteractionTable, from: number, to: number): Float64Array {
  const out = new Float64Array(table.items);
  for (let r = 0; r < table.rows; r++) if (table.ts[r] >= from && table.ts[r] < to) out[table.item[r]]++;
  return out;
}

/** Popular, trending and fresh lists from the counts (catalogue only). */
export function rebuildLists(state: RecommenderState): void {
  const score = new Float64Array(state.items);
  const only = (f: (i: number) => number) => {
    for (let i = 0; i < state.items; i++) score[i] = state.catalogue[i] ? f(i) : Number.NEGATIVE_INFINITY;
    return topK(score, 500);
  };
  state.popularList = only((i) => state.pop14[i] + state.popAll[i] * 1e-6);
  // Trending: the last two days' rate against the two weeks', damped so a single view is no trend.
  state.trendingList = only((i) =>
    state.pop2[i] >= 2
      ? Math.log((state.pop2[i] / 2 + 0.5) / (state.pop14[i] / 14 + 0.5))
      : -1e9 + state.pop2[i],
  );
  const fresh: number[] = [];
  for (let i = 0; i < state.items; i++) {
    const age = state.ts - state.uploadTs[i];
    if (state.catalogue[i] && age >= 0 && age < FRESH_DAYS * DAY_SECONDS) fresh.push(i);
  }
  fresh.sort((a, b) => state.uploadTs[b] - state.uploadTs[a] || a - b);
  state.freshList = Int32Array.from(fresh);
}

/** Builds an HNSW index over the catalogue rows of `embeddings`. */
export function buildIndex(embeddings: Float32Array, catalogue: Uint8Array, dim: number): HnswIndex {
  const ids: number[] = [];
  for (let i = 0; i < catalogue.length; i++) if (catalogue[i]) ids.push(i);
  const packed = new Float32Array(ids.length * dim);
  ids.forEach((i, k) => {
    packed.set(embeddings.subarray(i * dim, (i + 1) * dim), k * dim);
  });
  const index = new HnswIndex({ dimension: dim, metric: 'ip', capacity: Math.max(16, ids.length), ef: 200 });
  index.add(ids, packed);
  return index;
}

/**
 * The state at `ts` from a training view. `embed` gives the embeddings of the catalogue's videos
 * (the video tower, tfjs offline or ONNX in the service).
 */
export async function buildState(
  table: InteractionTable,
  side: SideInfo,
  ts: number,
  dim: number,
  embed: (items: Int32Array, ts: number) => Float32Array | Promise<Float32Array>,
): Promise<RecommenderState> {
  const catalogue = new Uint8Array(table.items);
  const catalogueItems: number[] = [];
  for (let i = 0; i < table.items; i++) {
    if (table.itemStart[i] < ts) {
      catalogue[i] = 1;
      catalogueItems.push(i);
    }
  }
  const itemEmbeddings = new Float32Array(table.items * dim);
  const emb = await embed(Int32Array.from(catalogueItems), ts);
  catalogueItems.forEach((i, k) => {
    itemEmbeddings.set(emb.subarray(k * dim, (k + 1) * dim), i * dim);
  });
  const state: RecommenderState = {
    side,
    ts,
    items: table.items,
    uploadTs: Float64Array.from(table.itemStart),
    itemTags: table.itemTags,
    histories: userHistories(table, HISTORY_LIMIT),
    neighbours: itemNeighbours(table.items, relevantHistories(table, HISTORY_LIMIT), 100, 5),
    pop14: countsInWindow(table, ts - 14 * DAY_SECONDS, ts),
    pop2: countsInWindow(table, ts - 2 * DAY_SECONDS, ts),
    popAll: popularityScores(table, ts, Number.POSITIVE_INFINITY).map(Math.floor),
    eng14: engagementsInWindow(table, ts - 14 * DAY_SECONDS, ts),
    creatorPop: new Float64Array(0),
    popularList: new Int32Array(0),
    trendingList: new Int32Array(0),
    freshList: new Int32Array(0),
    catalogue,
    dim,
    itemEmbeddings,
    index: buildIndex(itemEmbeddings, catalogue, dim),
  };
  state.creatorPop = creatorCounts(state);
  rebuildLists(state);
  return state;
}

/** Relevant interactions per creator, from the per-video counts. */
export function creatorCounts(state: RecommenderState): Float64Array {
  let creators = 0;
  for (let i = 0; i < state.items; i++) creators = Math.max(creators, state.side.itemCreator[i] + 1);
  const out = new Float64Array(creators);
  for (let i = 0; i < state.items; i++) {
    const c = state.side.itemCreator[i];
    if (c >= 0) out[c] += state.popAll[i];
  }
  return out;
}

// 2. Candidate generation

/** Who is asking, with what they have done. */
export interface UserContext {
  /** Index of a known user; undefined for a new one. */
  user?: number;
  tokens: Int32Array;
  /** Recent relevant videos, most recent last. */
  history: readonly number[];
  seen: ReadonlySet<number>;
  disliked: ReadonlySet<number>;
  language: number;
  region: number;
  ts: number;
}

export function userContext(state: RecommenderState, user: number, ts = state.ts): UserContext {
  const s = state.side;
  return {
    user,
    tokens: s.userTokens.subarray(user * USER_SLOTS, (user + 1) * USER_SLOTS),
    history: state.histories.relevant[user] ?? [],
    seen: state.histories.seen[user] ?? new Set(),
    disliked: state.histories.disliked[user] ?? new Set(),
    language: s.userLanguage[user] ?? -1,
    region: s.userRegion[user] ?? -1,
    ts,
  };
}

export interface Candidate {
  item: number;
  /** Bit k set when SOURCES[k] proposed it. */
  sources: number;
  towerSimilarity: number;
  similarScore: number;
  similarRecent: number;
  /** 1-based rank in the similar-to-watched list (0 when not in it). */
  similarRank: number;
}

export function sourceBit(source: Source): number {
  return 1 << SOURCES.indexOf(source);
}

export function sourceNames(bits: number): Source[] {
  return SOURCES.filter((_, k) => bits & (1 << k));
}

function dot(a: Float32Array, ao: number, b: Float32Array, d: number): number {
  let s = 0;
  for (let k = 0; k < d; k++) s += a[ao + k] * b[k];
  return s;
}

/** Dense scratch arrays for item-to-item scores, reused across requests (cleared after each). */
const scratchByState = new WeakMap<RecommenderState, { all: Float64Array; recent: Float64Array }>();

/**
 * Item-to-item scores of a history: sum of neighbour similarities (over the whole history, and over
 * its last five videos). Returns the touched videos; `release()` must be called when done.
 */
export function similarScores(state: RecommenderState, history: readonly number[]) {
  let scratch = scratchByState.get(state);
  if (!scratch || scratch.all.length < state.items) {
    scratch = { all: new Float64Array(state.items), recent: new Float64Array(state.items) };
    scratchByState.set(state, scratch);
  }
  const { all, recent } = scratch;
  const touched: number[] = [];
  for (let h = 0; h < history.length; h++) {
    const i = history[h];
    if (i >= state.neighbours.index.length) continue;
    const idx = state.neighbours.index[i];
    const sim = state.neighbours.similarity[i];
    const isRecent = h >= history.length - 5;
    for (let k = 0; k < idx.length; k++) {
      const j = idx[k];
      if (all[j] === 0) touched.push(j);
      all[j] += sim[k];
      if (isRecent) recent[j] += sim[k];
    }
  }
  return {
    touched,
    all,
    recent,
    release() {
      for (const j of touched) {
        all[j] = 0;
        recent[j] = 0;
      }
    },
  };
}

/**
 * Runs every generator for one user and merges their candidates (one entry per video, with the
 * sources that proposed it). Watched and disliked videos and videos outside the catalogue are not
 * proposed.
 */
export function generateCandidates(
  state: RecommenderState,
  ctx: UserContext,
  userEmbedding: Float32Array,
  sizes: CandidateSizes = DEFAULT_SIZES,
): Candidate[] {
  const byItem = new Map<number, Candidate>();
  const similar = similarScores(state, ctx.history);
  try {
    const eligible = (i: number) => state.catalogue[i] === 1 && !ctx.seen.has(i) && !ctx.disliked.has(i);
    const add = (i: number, source: Source) => {
      let c = byItem.get(i);
      if (!c) {
        c = {
          item: i,
          sources: 0,
          towerSimilarity: dot(state.itemEmbeddings, i * state.dim, userEmbedding, state.dim),
          similarScore: similar.all[i],
          similarRecent: similar.recent[i],
          similarRank: 0,
        };
        byItem.set(i, c);
      }
      c.sources |= sourceBit(source);
    };
    // Two-tower: nearest videos to the user's embedding (over-fetch, then drop the watched ones).
    if (sizes.twoTower > 0) {
      const hits = state.index.search(
        userEmbedding,
        Math.min(sizes.twoTower + Math.min(ctx.seen.size, sizes.twoTower), 1000),
      );
      let kept = 0;
      for (const h of hits) {
        const i = h.id as number;
        if (!eligible(i)) continue;
        add(i, 'two-tower');
        if (++kept >= sizes.twoTower) break;
      }
    }
    if (sizes.similar > 0 && similar.touched.length > 0) {
      // The best `sizes.similar` eligible videos by score (a bounded heap, not a sort of them all).
      const scores = new Float64Array(similar.touched.length);
      similar.touched.forEach((j, k) => {
        scores[k] = eligible(j) ? similar.all[j] : Number.NEGATIVE_INFINITY;
      });
      const best = topK(scores, sizes.similar);
      best.forEach((k, r) => {
        add(similar.touched[k], 'similar');
        (byItem.get(similar.touched[k]) as Candidate).similarRank = r + 1;
      });
    }
    const fromList = (
      list: Int32Array,
      n: number,
      source: Source,
      keep: (i: number) => boolean = () => true,
    ) => {
      let kept = 0;
      for (let k = 0; k < list.length && kept < n; k++) {
        const i = list[k];
        if (!eligible(i) || !keep(i)) continue;
        add(i, source);
        kept++;
      }
    };
    const speaks = (i: number) => {
      const lang = state.side.itemLanguage[i];
      return ctx.language < 0 || lang < 0 || lang === ctx.language || lang === state.side.commonLanguage;
    };
    fromList(state.popularList, sizes.popular, 'popular', speaks);
    fromList(state.trendingList, sizes.trending, 'trending', speaks);
    fromList(state.freshList, sizes.fresh, 'fresh', speaks);
    return [...byItem.values()];
  } finally {
    // The scratch arrays are shared: leave them zeroed even if a generator throws.
    similar.release();
  }
}

// 3. Ranking features

/** Column of each ranking feature, by name. */
const F = Object.fromEntries(RANKING_FEATURES.map((name, k) => [name, k])) as Record<
  (typeof RANKING_FEATURES)[number],
  number
>;
const SOURCE_INDEX = (['two_tower', 'similar', 'popular', 'trending', 'fresh'] as const).map(
  (s) => F[`from_${s}`],
);

/** One row of RANKING_FEATURES per candidate. */
export function rankingFeatures(
  state: RecommenderState,
  ctx: UserContext,
  candidates: Candidate[],
): Float32Array {
  const f = RANKING_FEATURE_COUNT;
  const x = new Float32Array(candidates.length * f);
  const side = state.side;
  const tagProfile = new Map<number, number>();
  const creators = new Map<number, number>();
  for (const i of ctx.history) {
    for (const t of state.itemTags[i] ?? []) tagProfile.set(t, (tagProfile.get(t) ?? 0) + 1);
    const c = side.itemCreator[i];
    if (c >= 0) creators.set(c, (creators.get(c) ?? 0) + 1);
  }
  let profileNorm = 0;
  for (const v of tagProfile.values()) profileNorm += v * v;
  profileNorm = Math.sqrt(profileNorm);
  const histLen = ctx.history.length;
  for (let r = 0; r < candidates.length; r++) {
    const c = candidates[r];
    const i = c.item;
    const o = r * f;
    const ageDays = Math.max(0, ctx.ts - state.uploadTs[i]) / DAY_SECONDS;
    const lang = side.itemLanguage[i];
    let tagAff = 0;
    const tags = state.itemTags[i] ?? [];
    if (profileNorm > 0 && tags.length > 0) {
      for (const t of tags) tagAff += tagProfile.get(t) ?? 0;
      tagAff /= profileNorm * Math.sqrt(tags.length);
    }
    const creator = side.itemCreator[i];
    x[o + F.tower_similarity] = c.towerSimilarity;
    x[o + F.similar_score] = Math.log1p(c.similarScore);
    x[o + F.similar_recent_score] = Math.log1p(c.similarRecent);
    x[o + F.log_popularity_14d] = Math.log1p(state.pop14[i]);
    x[o + F.log_popularity_2d] = Math.log1p(state.pop2[i]);
    x[o + F.log_popularity_all] = Math.log1p(state.popAll[i]);
    x[o + F.log_engagements_14d] = Math.log1p(state.eng14[i]);
    x[o + F.trend] = Math.log((state.pop2[i] / 2 + 0.5) / (state.pop14[i] / 14 + 0.5));
    x[o + F.log_age_days] = Math.log1p(ageDays);
    x[o + F.is_fresh] = ageDays < FRESH_DAYS ? 1 : 0;
    x[o + F.language_match] =
      ctx.language < 0 || lang < 0 ? 0.5 : lang === ctx.language ? 1 : lang === side.commonLanguage ? 0.5 : 0;
    x[o + F.tag_affinity] = tagAff;
    x[o + F.creator_affinity] = creator >= 0 && histLen > 0 ? (creators.get(creator) ?? 0) / histLen : 0;
    x[o + F.log_history_length] = Math.log1p(histLen);
    x[o + F.log_creator_popularity] = Math.log1p(creator >= 0 ? (state.creatorPop[creator] ?? 0) : 0);
    x[o + F.similar_rank] = c.similarRank > 0 ? 1 / Math.sqrt(c.similarRank) : 0;
    x[o + F.length] = side.itemLength[i];
    for (let k = 0; k < SOURCES.length; k++) x[o + SOURCE_INDEX[k]] = c.sources & (1 << k) ? 1 : 0;
  }
  return x;
}

/** Mean and standard deviation per feature, to standardise the ranking model's inputs. */
export interface FeatureScaler {
  mean: number[];
  std: number[];
}

export function fitScaler(x: Float32Array, f: number): FeatureScaler {
  const n = x.length / f;
  const mean = new Array<number>(f).fill(0);
  const std = new Array<number>(f).fill(0);
  for (let r = 0; r < n; r++) for (let j = 0; j < f; j++) mean[j] += x[r * f + j] / n;
  for (let r = 0; r < n; r++) for (let j = 0; j < f; j++) std[j] += (x[r * f + j] - mean[j]) ** 2 / n;
  return { mean, std: std.map((s) => Math.sqrt(s) || 1) };
}

export function applyScaler(x: Float32Array, scaler: FeatureScaler): Float32Array {
  const f = scaler.mean.length;
  const out = new Float32Array(x.length);
  const inv = scaler.std.map((s) => 1 / s);
  for (let o = 0; o < x.length; o += f) {
    for (let j = 0; j < f; j++) out[o + j] = (x[o + j] - scaler.mean[j]) * inv[j];
  }
  return out;
}

// 4. Re-ranking rules

export interface RerankOptions {
  k: number;
  /** At most this many videos of one creator in the list (default 3; 0 disables). */
  maxPerCreator?: number;
  /** Added to the score of a video younger than FRESH_DAYS, falling linearly with age (default 0.3). */
  freshBoost?: number;
  /** 0-based position reserved for one new video the user would not otherwise see (default 4; -1 disables). */
  explorationSlot?: number;
  /** Videos blocked in some regions: video -> blocked region indices. */
  restrictions?: ReadonlyMap<number, ReadonlySet<number>>;
}

export interface Recommendation {
  item: number;
  score: number;
  sources: Source[];
  reasons: string[];
}

const REASON: Record<Source, string> = {
  'two-tower': 'matches your interests',
  similar: 'similar to videos you watched',
  popular: 'popular now',
  trending: 'trending',
  fresh: 'new',
};

/**
 * Applies the re-ranking rules to scored candidates: removes watched, disliked and region-blocked
 * videos and duplicates, boosts fresh videos, keeps at most `maxPerCreator` per creator (the rest
 * move below), and reserves one slot for a new video.
 */
export function rerank(
  state: RecommenderState,
  ctx: UserContext,
  candidates: readonly Candidate[],
  scores: ArrayLike<number>,
  options: RerankOptions,
): Recommendation[] {
  const maxPerCreator = options.maxPerCreator ?? 3;
  const freshBoost = options.freshBoost ?? 0.3;
  const slot = options.explorationSlot ?? 4;
  const seenIds = new Set<number>();
  const pool: { c: Candidate; score: number; boosted: boolean; isNew: boolean }[] = [];
  candidates.forEach((c, k) => {
    const i = c.item;
    if (seenIds.has(i) || ctx.seen.has(i) || ctx.disliked.has(i)) return;
    if (ctx.region >= 0 && options.restrictions?.get(i)?.has(ctx.region)) return;
    seenIds.add(i);
    const ageDays = (ctx.ts - state.uploadTs[i]) / DAY_SECONDS;
    const isNew = ageDays >= 0 && ageDays < FRESH_DAYS;
    const boost = isNew ? freshBoost * (1 - ageDays / FRESH_DAYS) : 0;
    pool.push({ c, score: scores[k] + boost, boosted: boost > 0, isNew });
  });
  pool.sort((a, b) => b.score - a.score || a.c.item - b.c.item);
  const perCreator = new Map<number, number>();
  const list: typeof pool = [];
  const deferred: typeof pool = [];
  for (const p of pool) {
    const creator = state.side.itemCreator[p.c.item];
    const n = creator >= 0 ? (perCreator.get(creator) ?? 0) : 0;
    if (maxPerCreator > 0 && creator >= 0 && n >= maxPerCreator) {
      deferred.push(p);
      continue;
    }
    if (creator >= 0) perCreator.set(creator, n + 1);
    list.push(p);
  }
  list.push(...deferred);
  const top = list.slice(0, options.k);
  let explored: (typeof pool)[number] | undefined;
  if (slot >= 0 && slot < options.k && !top.some((p) => p.isNew)) {
    explored = list.slice(options.k).find((p) => p.isNew);
    if (explored) {
      top.splice(Math.min(slot, top.length), 0, explored);
      if (top.length > options.k) top.pop();
    }
  }
  return top.map((p) => {
    const sources = sourceNames(p.c.sources);
    const reasons = sources.map((s) => REASON[s]);
    if (p.boosted) reasons.push('fresh boost');
    if (p === explored) reasons.push('exploration slot for a new video');
    return { item: p.c.item, score: p.score, sources, reasons };
  });
}

// 5. Training and the offline recommenders

export interface PipelineOptions {
  tower?: TwoTowerOptions;
  ranker?: RankerOptions;
  sizes?: CandidateSizes;
  /** Share of the training rows, latest first, whose new relevant videos label the ranker (default 0.15). */
  labelFraction?: number;
  /** Users sampled to build the ranker's training set (default 4000). */
  rankerUsers?: number;
  /** Negatives kept per user in the ranker's training set (default 100). */
  negativesPerUser?: number;
  seed?: number;
  log?: (message: string) => void;
}

export interface FittedPipeline {
  state: RecommenderState;
  tower: TwoTower;
  ranker: MlpWeights;
  rankerModel: import('@tensorflow/tfjs').LayersModel;
  scaler: FeatureScaler;
  /** The towers and state the ranker was trained at (the inner cut). */
  inner: { tower: TwoTower; cutTs: number };
  rankerRows: number;
  rankerPositives: number;
}

export async function fitStage(
  table: InteractionTable,
  side: SideInfo,
  cutTs: number,
  options: PipelineOptions,
  tower?: TwoTower,
) {
  const tw = tower ?? (await trainTwoTower(table, side, { seed: options.seed, ...options.tower }));
  const state = await buildState(table, side, cutTs, tw.shape.dim, (items, ts) =>
    embedVideos(tw, side, items, ts, table.itemStart),
  );
  return { tower: tw, state };
}

/** Embedding of one user from the state's history (tfjs tower). */
export function towerUserEmbedding(tower: TwoTower, ctx: UserContext): Float32Array {
  return embedUsers(tower, Int32Array.from(ctx.tokens), [ctx.history]);
}

/** Ranker training rows at the inner cut: candidates of sampled users, labelled by what became relevant after it. */
export function rankerTrainingSet(
  state: RecommenderState,
  tower: TwoTower,
  future: InteractionTable,
  options: PipelineOptions,
) {
  const positives = new Map<number, Set<number>>();
  for (let r = 0; r < future.rows; r++) {
    if (!future.relevant[r]) continue;
    const u = future.user[r];
    const i = future.item[r];
    if (!state.catalogue[i] || state.histories.seen[u]?.has(i) || (state.histories.seen[u]?.size ?? 0) === 0)
      continue;
    let set = positives.get(u);
    if (!set) {
      set = new Set();
      positives.set(u, set);
    }
    set.add(i);
  }
  let users = [...positives.keys()].sort((a, b) => a - b);
  const maxUsers = options.rankerUsers ?? 4000;
  const negatives = options.negativesPerUser ?? 100;
  let seed = (options.seed ?? 0) * 7919 + 17;
  const random = () => {
    seed = (seed * 1103515245 + 12345) % 2147483648;
    return seed / 2147483648;
  };
  if (users.length > maxUsers) {
    for (let k = users.length - 1; k > 0; k--) {
      const j = Math.floor(random() * (k + 1));
      [users[k], users[j]] = [users[j], users[k]];
    }
    users = users.slice(0, maxUsers).sort((a, b) => a - b);
  }
  const f = RANKING_FEATURE_COUNT;
  const rows: Float32Array[] = [];
  const labels: number[] = [];
  const ctxs = users.map((u) => userContext(state, u));
  const emb = embedUsers(
    tower,
    Int32Array.from(ctxs.flatMap((c) => Array.from(c.tokens))),
    ctxs.map((c) => c.history),
  );
  users.forEach((u, q) => {
    const ctx = ctxs[q];
    const cands = generateCandidates(
      state,
      ctx,
      emb.subarray(q * state.dim, (q + 1) * state.dim),
      options.sizes,
    );
    const pos = positives.get(u) as Set<number>;
    const keep: Candidate[] = [];
    const neg: Candidate[] = [];
    for (const c of cands) (pos.has(c.item) ? keep : neg).push(c);
    if (keep.length === 0) return;
    const nKeep = keep.length;
    for (let k = neg.length - 1; k > 0; k--) {
      const j = Math.floor(random() * (k + 1));
      [neg[k], neg[j]] = [neg[j], neg[k]];
    }
    keep.push(...neg.slice(0, negatives));
    rows.push(rankingFeatures(state, ctx, keep));
    for (let k = 0; k < keep.length; k++) labels.push(k < nKeep ? 1 : 0);
  });
  const x = new Float32Array(labels.length * f);
  let o = 0;
  for (const r of rows) {
    x.set(r, o);
    o += r.length;
  }
  return { x, y: Float32Array.from(labels), users: users.length };
}

/** Trains the two towers and the ranker on a training view and builds the state at its cut. */
export async function fitPipeline(
  data: TrainingData,
  side: SideInfo,
  options: PipelineOptions = {},
  outerTower?: TwoTower,
): Promise<FittedPipeline> {
  const log = options.log ?? (() => {});
  const table = data.table;
  const labelFraction = options.labelFraction ?? 0.15;
  const innerRows = Math.floor(table.rows * (1 - labelFraction));
  const innerCut = table.ts[innerRows];
  let cutRow = 0;
  while (cutRow < table.rows && table.ts[cutRow] < innerCut) cutRow++;
  const innerTable = sliceTable(table, 0, cutRow);
  const future = sliceTable(table, cutRow, table.rows);
  const t0 = performance.now();
  const inner = await fitStage(innerTable, side, innerCut, options);
  log(`inner two-tower trained (${((performance.now() - t0) / 1000).toFixed(1)} s)`);
  const set = rankerTrainingSet(inner.state, inner.tower, future, options);
  const f = RANKING_FEATURE_COUNT;
  const scaler = fitScaler(set.x, f);
  const positives = set.y.reduce((a, b) => a + b, 0);
  log(`ranker rows ${set.y.length} (${positives} positive) from ${set.users} users`);
  const ranker = await trainRanker(applyScaler(set.x, scaler), set.y, f, {
    seed: options.seed,
    ...options.ranker,
  });
  const t1 = performance.now();
  const outer = await fitStage(table, side, data.cutTs, options, outerTower);
  log(`outer two-tower trained (${((performance.now() - t1) / 1000).toFixed(1)} s)`);
  return {
    state: outer.state,
    tower: outer.tower,
    ranker: mlpWeights(ranker.model),
    rankerModel: ranker.model,
    scaler,
    inner: { tower: inner.tower, cutTs: innerCut },
    rankerRows: set.y.length,
    rankerPositives: positives,
  };
}

export interface RecommendOptions extends Partial<RerankOptions> {
  sizes?: CandidateSizes;
  /** Skip the re-ranking rules (the ranked candidates as they come). */
  rawRanking?: boolean;
}

/** The full pipeline for one user, with the ranker in plain JS (offline). */
export function recommendOffline(
  p: FittedPipeline,
  ctx: UserContext,
  userEmbedding: Float32Array,
  options: RecommendOptions = {},
): Recommendation[] {
  const cands = generateCandidates(p.state, ctx, userEmbedding, options.sizes);
  const x = applyScaler(rankingFeatures(p.state, ctx, cands), p.scaler);
  const logits = mlpForward(p.ranker, x, cands.length);
  const k = options.k ?? 50;
  if (options.rawRanking) {
    const order = cands
      .map((_, j) => j)
      .sort((a, b) => logits[b] - logits[a] || cands[a].item - cands[b].item);
    return order.slice(0, k).map((j) => ({
      item: cands[j].item,
      score: logits[j],
      sources: sourceNames(cands[j].sources),
      reasons: [],
    }));
  }
  return rerank(p.state, ctx, cands, logits, { ...options, k });
}

/** A fitted pipeline as a full-ranking recommender: its list first, everything else below. */
export function pipelineRecommender(
  p: FittedPipeline,
  id: string,
  options: RecommendOptions = {},
): Recommender {
  return {
    id,
    scoreUser(user, out) {
      out.fill(Number.NEGATIVE_INFINITY);
      const ctx = userContext(p.state, user);
      const emb = towerUserEmbedding(p.tower, ctx);
      const list = recommendOffline(p, ctx, emb, options);
      list.forEach((rec, r) => {
        out[rec.item] = list.length - r;
      });
    },
  };
}

/** The two-tower model alone: every catalogue video scored by its dot product with the user. */
export function twoTowerRecommender(state: RecommenderState, tower: TwoTower): Recommender {
  return {
    id: 'two-tower',
    scoreUser(user, out) {
      const emb = towerUserEmbedding(tower, userContext(state, user));
      for (let i = 0; i < out.length; i++)
        out[i] = state.catalogue[i]
          ? dot(state.itemEmbeddings, i * state.dim, emb, state.dim)
          : Number.NEGATIVE_INFINITY;
    },
  };
}

/**
 * The two-tower model and the full pipeline as comparable implementations. They share one fit per
 * cut (the pipeline reuses the two-tower model the two-tower row trained).
 */
export function modelSpecs(side: SideInfo, options: PipelineOptions = {}): RecommenderSpec[] {
  let cached: { cutTs: number; rows: number; fitted: FittedPipeline } | undefined;
  const fitted = async (data: TrainingData) => {
    if (cached && cached.cutTs === data.cutTs && cached.rows === data.table.rows) return cached.fitted;
    const p = await fitPipeline(data, side, options);
    cached = { cutTs: data.cutTs, rows: data.table.rows, fitted: p };
    return p;
  };
  return [
    {
      id: 'two-tower',
      title: 'Two-tower (in-batch softmax, logQ), exact scores',
      role: 'alternative',
      fit: async (data) => {
        const p = await fitted(data);
        return twoTowerRecommender(p.state, p.tower);
      },
    },
    {
      id: 'ranked-candidates',
      title: 'Generators + ranking model, no re-ranking rules',
      role: 'alternative',
      fit: async (data) =>
        pipelineRecommender(await fitted(data), 'ranked-candidates', {
          rawRanking: true,
          sizes: options.sizes,
        }),
    },
    {
      id: 'pipeline',
      title: 'Full pipeline: generators, ranking model, re-ranking rules',
      role: 'chosen',
      fit: async (data) => pipelineRecommender(await fitted(data), 'pipeline', { sizes: options.sizes }),
    },
  ];
}
