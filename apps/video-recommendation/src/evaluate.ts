/**
 * Offline evaluation of recommenders, the same for the generated world and a user's MovieLens file.
 *
 * Protocol: a temporal split (train on the past, test on the future, nothing of the future visible to
 * training); full ranking over the whole catalogue known at the cut, with each user's training
 * history masked; for every test user who has a training history and at least one new relevant item
 * in the test period: precision@k and recall@k (k = 10, 50), AP@50 (mean over users: mAP), nDCG@10,
 * diversity (mean pairwise tag similarity of the top 10, lower is more diverse) and catalogue
 * coverage of the top 10 lists. Every number carries a percentile-bootstrap interval over users.
 */
import {
  createRng,
  type EvaluationReport,
  type ImplementationResult,
  type MetricValue,
  timeSplit,
} from '@mlsd/core';
import {
  averagePrecisionAtK,
  bootstrapInterval,
  intraListSimilarity,
  ndcgAtK,
  precisionAtK,
  recallAtK,
  seededRandom,
} from '@mlsd/metrics';
import type { InteractionTable } from './data.js';

// 1. The split and what a recommender sees

/** The training side of a temporal split: only rows strictly before `cutTs`. */
export interface TrainingData {
  /** The interaction table cut to its training rows (views on the same buffers, no future row). */
  table: InteractionTable;
  /** First second of the test period. */
  cutTs: number;
}

/** A fitted recommender: scores every item of the catalogue for one user, higher first. */
export interface Recommender {
  readonly id: string;
  /** Writes a score for every item into `out` (length: items); -Infinity for items it cannot rank. */
  scoreUser(user: number, out: Float64Array): void;
}

/** One implementation to compare: how to fit it on training data. */
export interface RecommenderSpec {
  id: string;
  title: string;
  role: ImplementationResult['role'];
  /** May be asynchronous (models trained with tfjs). */
  fit(data: TrainingData): Recommender | Promise<Recommender>;
}

export interface TemporalSplit {
  train: TrainingData;
  /** Rows [trainRows, rows) of the full table are the test period. */
  trainRows: number;
  testStart: number;
  full: InteractionTable;
}

/** Views of rows [from, to) of a table; no copy. */
export function sliceTable(table: InteractionTable, from: number, to: number): InteractionTable {
  return {
    ...table,
    rows: to - from,
    user: table.user.subarray(from, to),
    item: table.item.subarray(from, to),
    ts: table.ts.subarray(from, to),
    relevant: table.relevant.subarray(from, to),
    negative: table.negative.subarray(from, to),
    // The oracle is the generator's, not learnt from data: recommenders must not use it.
    oracle: undefined,
  };
}

export interface TemporalSplitOptions {
  /** Share of the rows, latest first, in the test period (default 0.15). */
  testFraction?: number;
}

/**
 * Splits by time with @mlsd/core's `timeSplit`: the test period starts at the timestamp where the
 * last `testFraction` of the rows begin; rows sharing that timestamp all go to the test side.
 */
export function temporalSplit(table: InteractionTable, options: TemporalSplitOptions = {}): TemporalSplit {
  const testFraction = options.testFraction ?? 0.15;
  if (!(testFraction > 0 && testFraction < 1))
    throw new RangeError(`testFraction: expected in (0, 1), got ${testFraction}`);
  const split = timeSplit(table.ts, {
    fractions: { train: 1 - testFraction, validation: 0, test: testFraction },
  });
  const testStart = split.testStart;
  // Rows are in time order, so the training rows are a prefix.
  let trainRows = 0;
  while (trainRows < table.rows && table.ts[trainRows] < testStart) trainRows++;
  if (trainRows !== split.train.length + split.validation.length)
    throw new RangeError('table: expected rows in time order (see checkInteractionTable)');
  return {
    train: { table: sliceTable(table, 0, trainRows), cutTs: testStart },
    trainRows,
    testStart,
    full: table,
  };
}

// 2. Test users and their relevant items

export interface TestSet {
  users: Int32Array;
  /** Per test user: items relevant in the test period, not in the training history, in the catalogue. */
  relevant: Int32Array[];
  /** Per test user: items in the training history (masked from the ranking). */
  history: Int32Array[];
  /** 1 for items known at the cut (recommendable). */
  catalogue: Uint8Array;
  catalogueSize: number;
  /** Test users left out because they have no training history (cold start). */
  coldUsers: number;
  /** Relevant test interactions on items uploaded after the cut (no offline model can rank them). */
  newItemPositives: number;
  testStart: number;
}

export interface TestSetOptions {
  /** Evaluate at most this many users, a seeded sample (default 5000). */
  maxUsers?: number;
  seed?: number;
}

export function buildTestSet(split: TemporalSplit, options: TestSetOptions = {}): TestSet {
  const t = split.full;
  const maxUsers = options.maxUsers ?? 5000;
  if (!(Number.isInteger(maxUsers) && maxUsers >= 1))
    throw new RangeError(`maxUsers: expected an integer >= 1, got ${maxUsers}`);
  const catalogue = new Uint8Array(t.items);
  let catalogueSize = 0;
  for (let i = 0; i < t.items; i++) {
    if (t.itemStart[i] < split.testStart) {
      catalogue[i] = 1;
      catalogueSize++;
    }
  }
  const history: Set<number>[] = Array.from({ length: t.users }, () => new Set<number>());
  for (let r = 0; r < split.trainRows; r++) history[t.user[r]].add(t.item[r]);
  const relevant = new Map<number, Set<number>>();
  let coldUsers = 0;
  const cold = new Set<number>();
  let newItemPositives = 0;
  for (let r = split.trainRows; r < t.rows; r++) {
    if (!t.relevant[r]) continue;
    const u = t.user[r];
    const i = t.item[r];
    if (!catalogue[i]) {
      newItemPositives++;
      continue;
    }
    if (history[u].size === 0) {
      if (!cold.has(u)) coldUsers++;
      cold.add(u);
      continue;
    }
    if (history[u].has(i)) continue;
    let set = relevant.get(u);
    if (!set) {
      set = new Set();
      relevant.set(u, set);
    }
    set.add(i);
  }
  let users = [...relevant.keys()].sort((a, b) => a - b);
  if (users.length > maxUsers) {
    const rng = createRng(options.seed ?? 0).fork('test-users');
    users = rng
      .sampleIndices(users.length, maxUsers)
      .map((k) => users[k])
      .sort((a, b) => a - b);
  }
  return {
    users: Int32Array.from(users),
    relevant: users.map((u) => Int32Array.from([...(relevant.get(u) as Set<number>)].sort((a, b) => a - b))),
    history: users.map((u) => Int32Array.from([...history[u]].sort((a, b) => a - b))),
    catalogue,
    catalogueSize,
    coldUsers,
    newItemPositives,
    testStart: split.testStart,
  };
}

// 3. Ranking and the metrics

/** Indices of the k highest finite scores, best first; ties go to the lower index. */
export function topK(scores: Float64Array, k: number): Int32Array {
  const heapIdx = new Int32Array(k);
  const heapVal = new Float64Array(k);
  let size = 0;
  // Min-heap on (score, -index): the root is the weakest kept item.
  const weaker = (va: number, ia: number, vb: number, ib: number) => va < vb || (va === vb && ia > ib);
  const siftDown = (pos: number) => {
    for (;;) {
      const l = 2 * pos + 1;
      const r = l + 1;
      let m = pos;
      if (l < size && weaker(heapVal[l], heapIdx[l], heapVal[m], heapIdx[m])) m = l;
      if (r < size && weaker(heapVal[r], heapIdx[r], heapVal[m], heapIdx[m])) m = r;
      if (m === pos) return;
      const tv = heapVal[pos];
      const ti = heapIdx[pos];
      heapVal[pos] = heapVal[m];
      heapIdx[pos] = heapIdx[m];
      heapVal[m] = tv;
      heapIdx[m] = ti;
      pos = m;
    }
  };
  for (let i = 0; i < scores.length; i++) {
    const s = scores[i];
    if (s === Number.NEGATIVE_INFINITY || Number.isNaN(s)) continue;
    if (size < k) {
      let pos = size++;
      heapVal[pos] = s;
      heapIdx[pos] = i;
      while (pos > 0) {
        const parent = (pos - 1) >> 1;
        if (!weaker(heapVal[pos], heapIdx[pos], heapVal[parent], heapIdx[parent])) break;
        const tv = heapVal[pos];
        const ti = heapIdx[pos];
        heapVal[pos] = heapVal[parent];
        heapIdx[pos] = heapIdx[parent];
        heapVal[parent] = tv;
        heapIdx[parent] = ti;
        pos = parent;
      }
    } else if (weaker(heapVal[0], heapIdx[0], s, i)) {
      heapVal[0] = s;
      heapIdx[0] = i;
      siftDown(0);
    }
  }
  const out = Array.from({ length: size }, (_, j) => j).sort(
    (a, b) => heapVal[b] - heapVal[a] || heapIdx[a] - heapIdx[b],
  );
  return Int32Array.from(out, (j) => heapIdx[j]);
}

/** Cosine similarity of two sorted tag lists seen as binary vectors (0 when either is empty). */
export function tagCosine(a: Int32Array, b: Int32Array): number {
  if (a.length === 0 || b.length === 0) return 0;
  let i = 0;
  let j = 0;
  let common = 0;
  while (i < a.length && j < b.length) {
    if (a[i] === b[j]) {
      common++;
      i++;
      j++;
    } else if (a[i] < b[j]) i++;
    else j++;
  }
  return common / Math.sqrt(a.length * b.length);
}

export const METRICS = [
  'precision@10',
  'precision@50',
  'recall@10',
  'recall@50',
  'mAP@50',
  'nDCG@10',
  'diversity@10',
  'coverage@10',
] as const;
export type MetricName = (typeof METRICS)[number];
export const PRIMARY_METRIC: MetricName = 'nDCG@10';
const LOWER_IS_BETTER = new Set<MetricName>(['diversity@10']);

/** Per-user metric values and the top lists of one recommender on one test set. */
export interface RankingRun {
  perUser: Record<Exclude<MetricName, 'coverage@10'>, Float64Array>;
  /** Top 50 of each test user, best first. */
  lists: Int32Array[];
}

const LIST = 50;

/** Ranks the whole catalogue for every test user (history masked) and scores the lists. */
export function runRanking(rec: Recommender, table: InteractionTable, test: TestSet): RankingRun {
  const n = test.users.length;
  const perUser = {
    'precision@10': new Float64Array(n),
    'precision@50': new Float64Array(n),
    'recall@10': new Float64Array(n),
    'recall@50': new Float64Array(n),
    'mAP@50': new Float64Array(n),
    'nDCG@10': new Float64Array(n),
    'diversity@10': new Float64Array(n),
  };
  const lists: Int32Array[] = [];
  const scores = new Float64Array(table.items);
  const hasTags = table.itemTags.some((t) => t.length > 0);
  for (let q = 0; q < n; q++) {
    scores.fill(0);
    rec.scoreUser(test.users[q], scores);
    for (let i = 0; i < table.items; i++) if (!test.catalogue[i]) scores[i] = Number.NEGATIVE_INFINITY;
    for (const i of test.history[q]) scores[i] = Number.NEGATIVE_INFINITY;
    const top = topK(scores, LIST);
    lists.push(top);
    // The metrics see the top list (distinct descending scores) plus every relevant item outside it,
    // tied below the list: cut-offs at or under 50 never reach them, and recall counts them as missed.
    const relevant = new Set(test.relevant[q]);
    const yTrue: number[] = [];
    const yScore: number[] = [];
    for (let r = 0; r < top.length; r++) {
      yTrue.push(relevant.has(top[r]) ? 1 : 0);
      yScore.push(LIST - r);
      relevant.delete(top[r]);
    }
    for (let k = 0; k < relevant.size; k++) {
      yTrue.push(1);
      yScore.push(-1);
    }
    perUser['precision@10'][q] = precisionAtK(yTrue, yScore, { k: 10 });
    perUser['precision@50'][q] = precisionAtK(yTrue, yScore, { k: 50 });
    perUser['recall@10'][q] = recallAtK(yTrue, yScore, { k: 10 });
    perUser['recall@50'][q] = recallAtK(yTrue, yScore, { k: 50 });
    perUser['mAP@50'][q] = averagePrecisionAtK(yTrue, yScore, { k: 50 });
    perUser['nDCG@10'][q] = ndcgAtK(yTrue, yScore, { k: 10 });
    const top10 = Array.from(top.subarray(0, 10), (i) => table.itemTags[i]);
    perUser['diversity@10'][q] = hasTags ? intraListSimilarity(top10, { similarity: tagCosine }) : Number.NaN;
  }
  return { perUser, lists };
}

function mean(values: ArrayLike<number>): number {
  let s = 0;
  for (let i = 0; i < values.length; i++) s += values[i];
  return values.length ? s / values.length : Number.NaN;
}

export interface IntervalOptions {
  resamples?: number;
  level?: number;
  seed?: number;
}

/** Mean over users with a percentile-bootstrap interval (users resampled); NaN users are left out. */
export function meanWithInterval(
  values: Float64Array,
  options: IntervalOptions = {},
): MetricValue & { higherIsBetter: boolean } {
  const kept = values.filter((v) => !Number.isNaN(v));
  const level = options.level ?? 0.95;
  if (kept.length === 0) return { value: Number.NaN, higherIsBetter: true };
  const b = bootstrapInterval(kept, new Float64Array(kept.length), {
    metric: (yTrue) => mean(yTrue),
    nResamples: options.resamples ?? 1000,
    level,
    seed: options.seed ?? 0,
  });
  return { value: b.estimate, lower: b.lower, upper: b.upper, level, higherIsBetter: true };
}

/** Catalogue coverage of the top-k lists with a bias-corrected bootstrap interval over users. */
export function coverageWithInterval(
  lists: Int32Array[],
  k: number,
  catalogueSize: number,
  options: IntervalOptions = {},
): MetricValue {
  const level = options.level ?? 0.95;
  const resamples = options.resamples ?? 1000;
  const seen = new Uint8Array(lists.reduce((m, l) => Math.max(m, ...l.subarray(0, k)), 0) + 1);
  const coverage = (pick: (j: number) => number) => {
    seen.fill(0);
    let distinct = 0;
    for (let j = 0; j < lists.length; j++) {
      const l = lists[pick(j)];
      for (let r = 0; r < Math.min(k, l.length); r++) {
        if (!seen[l[r]]) {
          seen[l[r]] = 1;
          distinct++;
        }
      }
    }
    return distinct / catalogueSize;
  };
  const value = coverage((j) => j);
  if (lists.length === 0) return { value, higherIsBetter: true };
  const random = seededRandom(options.seed ?? 0);
  const reps = new Float64Array(resamples);
  for (let r = 0; r < resamples; r++) reps[r] = coverage(() => Math.floor(random() * lists.length));
  reps.sort();
  // A resample with replacement holds fewer distinct users, so its coverage is biased low; the
  // interval is shifted by the bootstrap estimate of that bias (mean of replicates minus the value).
  let repMean = 0;
  for (const x of reps) repMean += x / resamples;
  const bias = repMean - value;
  const at = (q: number) => {
    const pos = q * (resamples - 1);
    const lo = Math.floor(pos);
    const hi = Math.min(lo + 1, resamples - 1);
    return reps[lo] + (reps[hi] - reps[lo]) * (pos - lo) - bias;
  };
  return { value, lower: at((1 - level) / 2), upper: at((1 + level) / 2), level, higherIsBetter: true };
}

/** The interval-carrying metrics of one run. */
export function summarizeRun(
  run: RankingRun,
  test: TestSet,
  options: IntervalOptions = {},
): Record<MetricName, MetricValue> {
  const out = {} as Record<MetricName, MetricValue>;
  for (const name of METRICS) {
    if (name === 'coverage@10') out[name] = coverageWithInterval(run.lists, 10, test.catalogueSize, options);
    else
      out[name] = {
        ...meanWithInterval(run.perUser[name], options),
        higherIsBetter: !LOWER_IS_BETTER.has(name),
      };
  }
  return out;
}

// 4. The oracle and the whole comparison

/** Ranks by the generator's true relevance probability at the start of the test period. */
export function oracleRecommender(table: InteractionTable, atTs: number): Recommender {
  const oracle = table.oracle;
  if (!oracle)
    throw new TypeError('table.oracle: expected the generator oracle, got none (a user file has no oracle)');
  return {
    id: 'oracle',
    scoreUser(user, out) {
      for (let i = 0; i < out.length; i++) out[i] = oracle(user, i, atTs);
    },
  };
}

export interface CompareOptions extends TemporalSplitOptions, TestSetOptions, IntervalOptions {
  /** Called with each implementation's id and how long fitting and ranking took. */
  onProgress?: (message: string) => void;
}

/**
 * Fits every implementation on the training period and evaluates it (and the oracle, when the table
 * has one) on the same test users. Returns the project's report format.
 */
export async function compareRecommenders(
  table: InteractionTable,
  specs: readonly RecommenderSpec[],
  options: CompareOptions = {},
): Promise<EvaluationReport> {
  const split = temporalSplit(table, options);
  const test = buildTestSet(split, options);
  const results: ImplementationResult[] = [];
  const all: RecommenderSpec[] = [...specs];
  if (table.oracle) {
    all.push({
      id: 'oracle',
      title: 'Oracle (true relevance probability)',
      role: 'oracle',
      fit: () => oracleRecommender(table, split.testStart),
    });
  }
  for (const spec of all) {
    const t0 = performance.now();
    const rec = await spec.fit(split.train);
    const t1 = performance.now();
    const run = runRanking(rec, table, test);
    const t2 = performance.now();
    options.onProgress?.(
      `${spec.id}: fit ${((t1 - t0) / 1000).toFixed(1)} s, ranking ${((t2 - t1) / 1000).toFixed(1)} s`,
    );
    results.push({
      implementation: spec.id,
      title: spec.title,
      role: spec.role,
      metrics: summarizeRun(run, test, options),
      trainingSeconds: (t1 - t0) / 1000,
    });
  }
  return {
    caseStudy: 'video-recommendation',
    title: 'Homepage video recommendations',
    primaryMetric: PRIMARY_METRIC,
    dataset: {
      name: table.name,
      source: table.oracle ? 'generated' : 'user',
      rows: table.rows,
      split: `temporal: train before t=${split.testStart} (${split.trainRows} rows), test after (${table.rows - split.trainRows} rows); ${test.users.length} test users, catalogue ${test.catalogueSize} items`,
    },
    results,
    createdAt: new Date().toISOString(),
    notes: [
      `${test.coldUsers} test users without training history left out (cold start)`,
      `${test.newItemPositives} relevant test interactions on items that arrived after the cut left out`,
      'diversity@10: mean pairwise tag cosine of the top 10, lower is more diverse',
    ],
  };
}
