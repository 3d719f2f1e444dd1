/**
 * The baselines every model must beat: popularity over a recent window, and item-to-item
 * collaborative filtering (cosine over co-interactions), which on public benchmarks often beats
 * neural retrievers and so is the bar the two-tower model and the pipeline have to clear.
 */
import type { InteractionTable } from './data.js';
import type { Recommender, RecommenderSpec, TrainingData } from './evaluate.js';

export interface PopularityOptions {
  /** Count relevant interactions in this many seconds before the cut (default 14 days). */
  windowSeconds?: number;
}

/** Relevant interactions per item in the window, plus a small all-time share to order the rest. */
export function popularityScores(
  table: InteractionTable,
  cutTs: number,
  windowSeconds: number,
): Float64Array {
  const recent = new Float64Array(table.items);
  const allTime = new Float64Array(table.items);
  let total = 0;
  for (let r = 0; r < table.rows; r++) {
    if (!table.relevant[r]) continue;
    allTime[table.item[r]]++;
    total++;
    if (table.ts[r] >= cutTs - windowSeconds) recent[table.item[r]]++;
  }
  // All-time counts only break ties among items with the same recent count.
  for (let i = 0; i < table.items; i++) recent[i] += allTime[i] / (total + 1);
  return recent;
}

/** The same list for everyone: the items most often relevant in the recent window. */
export function fitPopularity(data: TrainingData, options: PopularityOptions = {}): Recommender {
  const windowSeconds = options.windowSeconds ?? 14 * 86_400;
  if (!(windowSeconds > 0)) throw new RangeError(`windowSeconds: expected > 0, got ${windowSeconds}`);
  const scores = popularityScores(data.table, data.cutTs, windowSeconds);
  return {
    id: 'popularity',
    scoreUser(_user, out) {
      out.set(scores);
    },
  };
}

export interface ItemKnnOptions {
  /** Neighbours kept per item (default 100). */
  neighbours?: number;
  /** Most recent relevant items per user used for co-counts and for scoring (default 200). */
  historyLimit?: number;
  /** Shrinkage added to the cosine denominator, damping pairs seen only a few times (default 5). */
  shrink?: number;
}

/** Per-user lists of distinct relevant items, most recent last, capped at `limit`. */
export function relevantHistories(table: InteractionTable, limit: number): Int32Array[] {
  const lists: number[][] = Array.from({ length: table.users }, () => []);
  for (let r = 0; r < table.rows; r++) if (table.relevant[r]) lists[table.user[r]].push(table.item[r]);
  return lists.map((l) => {
    const seen = new Set<number>();
    const out: number[] = [];
    for (let k = l.length - 1; k >= 0 && out.length < limit; k--) {
      if (!seen.has(l[k])) {
        seen.add(l[k]);
        out.push(l[k]);
      }
    }
    return Int32Array.from(out.reverse());
  });
}

/** A sparse item-item similarity: for each item, its top neighbours and their cosines. */
export interface ItemNeighbours {
  index: Int32Array[];
  similarity: Float64Array[];
}

/**
 * Cosine similarity between items over the users who found both relevant,
 * `co(i, j) / (sqrt(n_i n_j) + shrink)`, keeping the top `neighbours` of each item.
 */
export function itemNeighbours(
  items: number,
  histories: Int32Array[],
  neighbours: number,
  shrink: number,
): ItemNeighbours {
  const usersOf: number[][] = Array.from({ length: items }, () => []);
  histories.forEach((h, u) => {
    for (const i of h) usersOf[i].push(u);
  });
  const co = new Float64Array(items);
  const touched: number[] = [];
  const index: Int32Array[] = new Array(items);
  const similarity: Float64Array[] = new Array(items);
  for (let i = 0; i < items; i++) {
    touched.length = 0;
    for (const u of usersOf[i]) {
      for (const j of histories[u]) {
        if (j === i) continue;
        if (co[j] === 0) touched.push(j);
        co[j]++;
      }
    }
    const ni = usersOf[i].length;
    const cand = touched.map((j) => ({ j, s: co[j] / (Math.sqrt(ni * usersOf[j].length) + shrink) }));
    for (const j of touched) co[j] = 0;
    cand.sort((a, b) => b.s - a.s || a.j - b.j);
    const kept = cand.slice(0, neighbours);
    index[i] = Int32Array.from(kept, (c) => c.j);
    similarity[i] = Float64Array.from(kept, (c) => c.s);
  }
  return { index, similarity };
}

/**
 * Item-to-item collaborative filtering: a user's score for an item is the sum of its similarities to
 * the items in the user's relevant history. Items no neighbour reaches are ordered by popularity far
 * below (a user with an empty neighbourhood still gets a list).
 */
export function fitItemKnn(data: TrainingData, options: ItemKnnOptions = {}): Recommender {
  const neighbours = options.neighbours ?? 100;
  const historyLimit = options.historyLimit ?? 200;
  const shrink = options.shrink ?? 5;
  for (const [name, v] of [
    ['neighbours', neighbours],
    ['historyLimit', historyLimit],
  ] as const) {
    if (!Number.isInteger(v) || v < 1) throw new RangeError(`${name}: expected an integer >= 1, got ${v}`);
  }
  if (!(shrink >= 0)) throw new RangeError(`shrink: expected >= 0, got ${shrink}`);
  const table = data.table;
  const histories = relevantHistories(table, historyLimit);
  const nb = itemNeighbours(table.items, histories, neighbours, shrink);
  const pop = popularityScores(table, data.cutTs, 14 * 86_400);
  let maxPop = 0;
  for (const p of pop) maxPop = Math.max(maxPop, p);
  const popScale = 1e-6 / (maxPop + 1);
  return {
    id: 'item-knn',
    scoreUser(user, out) {
      for (let i = 0; i < out.length; i++) out[i] = pop[i] * popScale;
      const h = user < histories.length ? histories[user] : new Int32Array(0);
      for (const i of h) {
        const idx = nb.index[i];
        const sim = nb.similarity[i];
        for (let k = 0; k < idx.length; k++) out[idx[k]] += sim[k];
      }
    },
  };
}

/** The two baselines as comparable implementations. */
export const BASELINES: readonly RecommenderSpec[] = [
  {
    id: 'popularity',
    title: 'Popularity (relevant interactions in the last 14 days)',
    role: 'baseline',
    fit: (data) => fitPopularity(data),
  },
  {
    id: 'item-knn',
    title: 'Item-to-item CF (cosine, 100 neighbours)',
    role: 'baseline',
    fit: (data) => fitItemKnn(data),
  },
];
