import { ExactIndex } from '@mlsd/vector-index';
import { describe, expect, it } from 'vitest';
import { DAY_SECONDS } from './data.js';
import { RANKING_FEATURE_COUNT, RANKING_FEATURES, type SideInfo, VIDEO_TOKEN_SLOTS } from './features.js';
import {
  type Candidate,
  generateCandidates,
  type RecommenderState,
  rankingFeatures,
  rebuildLists,
  rerank,
  sourceBit,
  type UserContext,
} from './pipeline.js';

/**
 * A hand-made state: 10 videos in 2 dimensions, now = day 30.
 * - videos 0-3 point along x (the user's direction), 4-7 along y, 8-9 are new (uploaded 1 and 2 days ago);
 * - language: all 0 except video 6 (language 2); creators: 0,0,0,0,1,1,2,2,3,3;
 * - item-item neighbours: 0 -> 5 (0.9), 1 -> 6 (0.5);
 * - relevant counts in the last 14 days: video 4 most, then 5; in the last 2 days video 7 rises.
 */
function handState(): RecommenderState {
  const items = 10;
  const dim = 2;
  const now = 30 * DAY_SECONDS;
  const emb = new Float32Array(items * dim);
  for (let i = 0; i < items; i++) {
    const angle = i < 4 ? 0.1 * i : i < 8 ? Math.PI / 2 - 0.1 * (i - 4) : Math.PI / 4;
    emb[i * dim] = Math.cos(angle);
    emb[i * dim + 1] = Math.sin(angle);
  }
  const index = new ExactIndex({ dimension: dim, metric: 'ip' });
  index.add(
    Array.from({ length: items }, (_, i) => i),
    Array.from({ length: items }, (_, i) => Array.from(emb.subarray(i * dim, (i + 1) * dim))),
  );
  const side: SideInfo = {
    users: 2,
    items,
    userTokens: new Int32Array(8),
    userVocab: 2,
    userLanguage: Int32Array.from([0, 1]),
    userRegion: Int32Array.from([0, 1]),
    itemTokens: new Int32Array(items * VIDEO_TOKEN_SLOTS),
    itemVocab: 2,
    itemLanguage: Int32Array.from([0, 0, 0, 0, 0, 0, 2, 0, 0, 0]),
    itemCreator: Int32Array.from([0, 0, 0, 0, 1, 1, 2, 2, 3, 3]),
    itemLength: new Float32Array(items),
    languages: ['en', 'x', 'y'],
    regions: ['A', 'B'],
    commonLanguage: 0,
  };
  const upload = Float64Array.from({ length: items }, (_, i) =>
    i === 8 ? now - DAY_SECONDS : i === 9 ? now - 2 * DAY_SECONDS : now - 100 * DAY_SECONDS,
  );
  const state: RecommenderState = {
    side,
    ts: now,
    items,
    uploadTs: upload,
    itemTags: Array.from({ length: items }, (_, i) => Int32Array.from([i < 4 ? 1 : 2])),
    histories: {
      relevant: [[0, 1], []],
      seen: [new Set([0, 1]), new Set()],
      disliked: [new Set(), new Set()],
    },
    neighbours: {
      index: Array.from({ length: items }, (_, i) =>
        i === 0 ? Int32Array.from([5]) : i === 1 ? Int32Array.from([6]) : new Int32Array(0),
      ),
      similarity: Array.from({ length: items }, (_, i) =>
        i === 0 ? Float64Array.from([0.9]) : i === 1 ? Float64Array.from([0.5]) : new Float64Array(0),
      ),
    },
    pop14: Float64Array.from([1, 1, 1, 1, 50, 40, 5, 10, 0, 0]),
    pop2: Float64Array.from([0, 0, 0, 0, 2, 2, 0, 9, 0, 0]),
    popAll: Float64Array.from([9, 9, 9, 9, 90, 80, 9, 20, 0, 0]),
    eng14: Float64Array.from([2, 2, 2, 2, 70, 60, 9, 15, 1, 0]),
    creatorPop: Float64Array.from([36, 170, 29, 0]),
    popularList: new Int32Array(0),
    trendingList: new Int32Array(0),
    freshList: new Int32Array(0),
    catalogue: new Uint8Array(items).fill(1),
    dim,
    itemEmbeddings: emb,
    index,
  };
  rebuildLists(state);
  return state;
}

function ctxOf(state: RecommenderState, patch: Partial<UserContext> = {}): UserContext {
  return {
    user: 0,
    tokens: new Int32Array(4),
    history: state.histories.relevant[0],
    seen: state.histories.seen[0],
    disliked: new Set(),
    language: 0,
    region: 0,
    ts: state.ts,
    ...patch,
  };
}

const alongX = Float32Array.from([1, 0]);
const none = { twoTower: 0, similar: 0, popular: 0, trending: 0, fresh: 0 };
const only = (c: Candidate[], source: Parameters<typeof sourceBit>[0]) =>
  c.filter((x) => x.sources & sourceBit(source)).map((x) => x.item);

describe('candidate generators', () => {
  const state = handState();

  it('two-tower: the nearest videos to the user embedding, watched ones dropped', () => {
    const c = generateCandidates(state, ctxOf(state), alongX, { ...none, twoTower: 2 });
    // 0 and 1 are nearest but watched; 2 and 3 come next.
    expect(only(c, 'two-tower')).toEqual([2, 3]);
    expect(c[0].towerSimilarity).toBeCloseTo(Math.cos(0.2), 5);
  });

  it('similar: neighbours of the relevant history, by summed similarity', () => {
    const c = generateCandidates(state, ctxOf(state), alongX, { ...none, similar: 5 });
    expect(only(c, 'similar')).toEqual([5, 6]);
    expect(c.find((x) => x.item === 5)?.similarScore).toBeCloseTo(0.9, 12);
    expect(c.find((x) => x.item === 5)?.similarRank).toBe(1);
  });

  it('popular: most relevant interactions in 14 days, in a language the user reads', () => {
    const c = generateCandidates(state, ctxOf(state), alongX, { ...none, popular: 3 });
    expect(only(c, 'popular')).toEqual([4, 5, 7]);
    // A user who reads language 2 also gets video 6 (language 2) and the common language.
    const c2 = generateCandidates(state, ctxOf(state, { language: 2 }), alongX, { ...none, popular: 4 });
    expect(only(c2, 'popular')).toEqual([4, 5, 7, 6]);
  });

  it('trending: the last two days against the two weeks, at least two recent interactions', () => {
    const c = generateCandidates(state, ctxOf(state), alongX, { ...none, trending: 1 });
    expect(only(c, 'trending')).toEqual([7]);
  });

  it('fresh: videos uploaded in the last week, newest first', () => {
    const c = generateCandidates(state, ctxOf(state), alongX, { ...none, fresh: 5 });
    expect(only(c, 'fresh')).toEqual([8, 9]);
  });

  it('merges a video proposed by several generators into one candidate with every source', () => {
    const c = generateCandidates(state, ctxOf(state), Float32Array.from([0, 1]), {
      ...none,
      twoTower: 3,
      similar: 3,
      popular: 2,
    });
    const ids = c.map((x) => x.item);
    expect(new Set(ids).size).toBe(ids.length);
    const five = c.find((x) => x.item === 5) as Candidate;
    expect(five.sources).toBe(sourceBit('two-tower') | sourceBit('similar') | sourceBit('popular'));
  });

  it('a cold-start user (no history) still gets two-tower, popular and fresh candidates', () => {
    const c = generateCandidates(
      state,
      ctxOf(state, { user: undefined, history: [], seen: new Set() }),
      alongX,
      { twoTower: 2, similar: 5, popular: 1, trending: 1, fresh: 1 },
    );
    expect(only(c, 'similar')).toEqual([]);
    expect(only(c, 'two-tower')).toEqual([0, 1]);
    expect(only(c, 'popular')).toEqual([4]);
    expect(only(c, 'fresh')).toEqual([8]);
  });
});

describe('ranking features', () => {
  it('one row per candidate in the declared order', () => {
    const state = handState();
    const ctx = ctxOf(state);
    const c = generateCandidates(state, ctx, alongX, { ...none, similar: 1, fresh: 1 });
    const x = rankingFeatures(state, ctx, c);
    expect(x.length).toBe(c.length * RANKING_FEATURE_COUNT);
    const col = (name: (typeof RANKING_FEATURES)[number], row: number) =>
      x[row * RANKING_FEATURE_COUNT + RANKING_FEATURES.indexOf(name)];
    const r5 = c.findIndex((y) => y.item === 5);
    const r8 = c.findIndex((y) => y.item === 8);
    expect(col('similar_score', r5)).toBeCloseTo(Math.log1p(0.9), 6);
    expect(col('log_popularity_14d', r5)).toBeCloseTo(Math.log1p(40), 6);
    expect(col('log_engagements_14d', r5)).toBeCloseTo(Math.log1p(60), 6);
    expect(col('trend', r5)).toBeCloseTo(Math.log((2 / 2 + 0.5) / (40 / 14 + 0.5)), 6);
    expect(col('is_fresh', r5)).toBe(0);
    expect(col('is_fresh', r8)).toBe(1);
    expect(col('from_fresh', r8)).toBe(1);
    expect(col('from_similar', r8)).toBe(0);
    // The user's history (videos 0, 1) is all tag 1 and creator 0; video 5 has tag 2, creator 1.
    expect(col('tag_affinity', r5)).toBe(0);
    expect(col('creator_affinity', r5)).toBe(0);
    expect(col('log_history_length', r5)).toBeCloseTo(Math.log1p(2), 6);
  });
});

describe('re-ranking rules', () => {
  const state = handState();
  const cand = (item: number): Candidate => ({
    item,
    sources: sourceBit('two-tower'),
    towerSimilarity: 0,
    similarScore: 0,
    similarRecent: 0,
    similarRank: 0,
  });
  const noExplore = { explorationSlot: -1, freshBoost: 0, maxPerCreator: 0 };

  it('removes watched and disliked videos and duplicates', () => {
    const ctx = ctxOf(state, { disliked: new Set([3]) });
    const list = rerank(state, ctx, [0, 2, 3, 2, 4].map(cand), [5, 4, 3, 2, 1], { k: 10, ...noExplore });
    expect(list.map((r) => r.item)).toEqual([2, 4]);
  });

  it('drops videos blocked in the user region', () => {
    const restrictions = new Map([[4, new Set([0])]]);
    const list = rerank(state, ctxOf(state), [4, 5].map(cand), [2, 1], { k: 10, ...noExplore, restrictions });
    expect(list.map((r) => r.item)).toEqual([5]);
    const elsewhere = rerank(state, ctxOf(state, { region: 1 }), [4, 5].map(cand), [2, 1], {
      k: 10,
      ...noExplore,
      restrictions,
    });
    expect(elsewhere.map((r) => r.item)).toEqual([4, 5]);
  });

  it('keeps at most maxPerCreator videos of a creator ahead of the others', () => {
    // Videos 2, 3 (creator 0) outscore 4, 5 (creator 1): with a cap of 1, 4 moves up.
    const list = rerank(state, ctxOf(state), [2, 3, 4, 5].map(cand), [4, 3, 2, 1], {
      k: 4,
      ...noExplore,
      maxPerCreator: 1,
    });
    expect(list.map((r) => r.item)).toEqual([2, 4, 3, 5]);
  });

  it('boosts fresh videos, more the newer they are', () => {
    const base = rerank(state, ctxOf(state), [8, 4].map(cand), [0, 0.1], { k: 2, ...noExplore });
    expect(base.map((r) => r.item)).toEqual([4, 8]);
    const boosted = rerank(state, ctxOf(state), [8, 4].map(cand), [0, 0.1], {
      k: 2,
      ...noExplore,
      freshBoost: 0.3,
    });
    expect(boosted.map((r) => r.item)).toEqual([8, 4]);
    expect(boosted[0].score).toBeCloseTo(0.3 * (1 - 1 / 7), 6);
    expect(boosted[0].reasons).toContain('fresh boost');
  });

  it('reserves the exploration slot for a new video that would not make the list', () => {
    const list = rerank(state, ctxOf(state), [2, 3, 4, 5, 9].map(cand), [5, 4, 3, 2, 1], {
      k: 3,
      freshBoost: 0,
      maxPerCreator: 0,
      explorationSlot: 1,
    });
    expect(list.map((r) => r.item)).toEqual([2, 9, 3]);
    expect(list[1].reasons).toContain('exploration slot for a new video');
    // No slot is taken when a new video is already in the list.
    const already = rerank(state, ctxOf(state), [9, 2, 3].map(cand), [5, 4, 3], {
      k: 2,
      freshBoost: 0,
      maxPerCreator: 0,
      explorationSlot: 1,
    });
    expect(already.map((r) => r.item)).toEqual([9, 2]);
  });

  it('gives each item its sources and human-readable reasons', () => {
    const c = { ...cand(5), sources: sourceBit('similar') | sourceBit('popular') };
    const [r] = rerank(state, ctxOf(state), [c], [1], { k: 1, ...noExplore });
    expect(r.sources).toEqual(['similar', 'popular']);
    expect(r.reasons).toEqual(['similar to videos you watched', 'popular now']);
  });
});
