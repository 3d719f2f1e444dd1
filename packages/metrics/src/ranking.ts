/**
 * Ranking and retrieval metrics, per query and averaged over queries: precision / recall / hit rate
 * at k, reciprocal rank, average precision, DCG and nDCG, rank of a target item, and the
 * beyond-accuracy measures of recommenders (catalogue coverage, intra-list similarity, novelty).
 *
 * One query is `(yTrue, yScore)`: the relevance of each candidate (0 = not relevant, graded
 * relevance allowed) and the score the system gave it; the ranking is by decreasing score.
 * Ties in score are averaged over every order of the tied items (McSherry & Najork 2008), which is
 * what scikit-learn's `dcg_score` / `ndcg_score` do; the same rule is applied to every metric here
 * so that a tie never favours the system by the accident of input order.
 */
import {
  checkArrayOfArrays,
  checkFiniteArray,
  checkK,
  checkNonNegative,
  checkOneOf,
  checkPositiveInteger,
  checkSameLength,
  describe,
  type NumberArray,
  type UndefinedHandler,
  undefinedResult,
} from './check.js';

/**
 * What to do with a query that has no relevant item, where a metric is 0/0 (recall, AP, nDCG, ...):
 * 'zero' scores it 0 (scikit-learn's `ndcg_score` does this), 'skip' leaves it out of the mean
 * (a single query returns NaN), 'error' throws a RangeError.
 */
export type NoRelevantPolicy = 'zero' | 'skip' | 'error';

/** Options shared by the per-query ranking metrics. */
export interface RankingOptions {
  /** Cut-off: only the top k positions count (integer >= 1; default: the whole list). */
  k?: number;
  /** Queries with no relevant item (default 'zero'). */
  noRelevant?: NoRelevantPolicy;
  /** Called with the reason when a result is NaN. */
  onUndefined?: UndefinedHandler;
}

/** Options of the DCG family. */
export interface DcgOptions extends RankingOptions {
  /** 'linear' gain `rel` (default, scikit-learn's) or 'exponential' gain `2^rel - 1` (Burges et al.). */
  gain?: 'linear' | 'exponential';
}

interface Ranked {
  /** Candidate indices by decreasing score (ties by index). */
  order: Uint32Array;
  /** Start offset of each tie group in `order`, plus a final `n`. */
  groupStart: number[];
  n: number;
}

function rank(yTrue: unknown, yScore: unknown): { rel: NumberArray; ranked: Ranked } {
  const rel = checkNonNegative('yTrue', yTrue);
  const s = checkFiniteArray('yScore', yScore);
  checkSameLength('yTrue', rel, 'yScore', s);
  const n = rel.length;
  const order = new Uint32Array(n);
  for (let i = 0; i < n; i++) order[i] = i;
  order.sort((a, b) => s[b] - s[a] || a - b);
  const groupStart: number[] = [];
  for (let i = 0; i < n; i++) if (i === 0 || s[order[i]] !== s[order[i - 1]]) groupStart.push(i);
  groupStart.push(n);
  return { rel, ranked: { order, groupStart, n } };
}

function cutoff(k: number | undefined, n: number): number {
  if (k === undefined) return n;
  return Math.min(checkK('options.k', k), n);
}

function countRelevant(rel: NumberArray): number {
  let r = 0;
  for (let i = 0; i < rel.length; i++) if (rel[i] > 0) r++;
  return r;
}

/** Applies the no-relevant policy; returns the value for such a query. */
function noRelevantValue(options: RankingOptions, metric: string): number {
  const policy = checkOneOf('options.noRelevant', options.noRelevant ?? 'zero', [
    'zero',
    'skip',
    'error',
  ] as const);
  if (policy === 'error') {
    throw new RangeError(
      `yTrue: ${metric} needs at least one relevant item (yTrue > 0), got none (options.noRelevant is 'error')`,
    );
  }
  if (policy === 'skip')
    return undefinedResult(options.onUndefined, `${metric}: the query has no relevant item`);
  return 0;
}

/** Expected number of relevant items in the top `kk` positions, averaging over tie orders. */
function expectedRelevantInTop(rel: NumberArray, r: Ranked, kk: number): number {
  let total = 0;
  for (let g = 0; g + 1 < r.groupStart.length; g++) {
    const a = r.groupStart[g];
    if (a >= kk) break;
    const b = r.groupStart[g + 1];
    let relevant = 0;
    for (let i = a; i < b; i++) if (rel[r.order[i]] > 0) relevant++;
    const inside = Math.min(b, kk) - a;
    total += (relevant * inside) / (b - a);
  }
  return total;
}

/**
 * Precision at k (higher is better): expected number of relevant items (yTrue > 0) in the top k,
 * divided by k (as trec_eval's P_k: a list shorter than k is not rewarded). Ties averaged. A query
 * with no relevant item scores 0 (precision is defined). Empty query: NaN.
 */
export function precisionAtK(yTrue: NumberArray, yScore: NumberArray, options: RankingOptions = {}): number {
  const { rel, ranked } = rank(yTrue, yScore);
  const k = options.k === undefined ? ranked.n : checkK('options.k', options.k);
  if (ranked.n === 0) return undefinedResult(options.onUndefined, 'precisionAtK: empty query');
  const kk = Math.min(k, ranked.n);
  return expectedRelevantInTop(rel, ranked, kk) / (k === Number.POSITIVE_INFINITY ? ranked.n : k);
}

/**
 * Recall at k (higher is better): expected share of the relevant items found in the top k. Ties
 * averaged. No relevant item: `options.noRelevant`.
 */
export function recallAtK(yTrue: NumberArray, yScore: NumberArray, options: RankingOptions = {}): number {
  const { rel, ranked } = rank(yTrue, yScore);
  const kk = cutoff(options.k, ranked.n);
  const total = countRelevant(rel);
  if (total === 0) return noRelevantValue(options, 'recallAtK');
  return expectedRelevantInTop(rel, ranked, kk) / total;
}

/**
 * Hit rate at k (higher is better): 1 when a relevant item is in the top k, else 0; with ties
 * straddling the cut-off, the probability of a hit over the orders of the tied items. A query with no
 * relevant item scores 0 unless `noRelevant` says otherwise.
 */
export function hitRateAtK(yTrue: NumberArray, yScore: NumberArray, options: RankingOptions = {}): number {
  const { rel, ranked } = rank(yTrue, yScore);
  const kk = cutoff(options.k, ranked.n);
  if (countRelevant(rel) === 0) return noRelevantValue(options, 'hitRateAtK');
  for (let g = 0; g + 1 < ranked.groupStart.length; g++) {
    const a = ranked.groupStart[g];
    if (a >= kk) break;
    const b = ranked.groupStart[g + 1];
    const m = b - a;
    let relevant = 0;
    for (let i = a; i < b; i++) if (rel[ranked.order[i]] > 0) relevant++;
    if (relevant === 0) continue;
    const c = Math.min(b, kk) - a;
    // P(no relevant among c draws without replacement from m items of which `relevant` are relevant).
    let miss = 1;
    for (let i = 0; i < c; i++) miss *= Math.max(m - relevant - i, 0) / (m - i);
    return 1 - miss;
  }
  return 0;
}

/**
 * Reciprocal rank (higher is better): 1 / the rank of the first relevant item, 0 when none is in the
 * top k. Ties: the expectation over the orders of the tied items. No relevant item: `noRelevant`
 * ('zero' by default, the usual MRR convention).
 */
export function reciprocalRank(
  yTrue: NumberArray,
  yScore: NumberArray,
  options: RankingOptions = {},
): number {
  const { rel, ranked } = rank(yTrue, yScore);
  const kk = cutoff(options.k, ranked.n);
  if (countRelevant(rel) === 0) return noRelevantValue(options, 'reciprocalRank');
  for (let g = 0; g + 1 < ranked.groupStart.length; g++) {
    const a = ranked.groupStart[g];
    if (a >= kk) break;
    const b = ranked.groupStart[g + 1];
    const m = b - a;
    let r = 0;
    for (let i = a; i < b; i++) if (rel[ranked.order[i]] > 0) r++;
    if (r === 0) continue;
    // X = position of the first relevant item inside the group: P(X = 1) = r / m, P(X = j + 1) = P(X = j) (m - j - r + 1) / (m - j).
    let pj = r / m;
    let expected = 0;
    for (let j = 1; j <= m - r + 1 && a + j <= kk; j++) {
      expected += pj / (a + j);
      pj *= (m - j - r + 1) / (m - j);
    }
    return expected;
  }
  return 0;
}

/**
 * Average precision at k (higher is better): `sum over relevant items in the top k of precision at
 * their rank`, divided by `min(R, k)` where R is the number of relevant items (so a perfect ranking
 * scores 1). With k at least the list length this is scikit-learn's `average_precision_score` on the
 * binarized relevance, ties included (a tie group is one threshold step). No relevant item: `noRelevant`.
 */
export function averagePrecisionAtK(
  yTrue: NumberArray,
  yScore: NumberArray,
  options: RankingOptions = {},
): number {
  const { rel, ranked } = rank(yTrue, yScore);
  const kk = cutoff(options.k, ranked.n);
  const total = countRelevant(rel);
  if (total === 0) return noRelevantValue(options, 'averagePrecisionAtK');
  let cumRel = 0;
  let sum = 0;
  for (let g = 0; g + 1 < ranked.groupStart.length; g++) {
    const a = ranked.groupStart[g];
    if (a >= kk) break;
    const b = ranked.groupStart[g + 1];
    let r = 0;
    for (let i = a; i < b; i++) if (rel[ranked.order[i]] > 0) r++;
    const end = Math.min(b, kk);
    const relIn = (r * (end - a)) / (b - a);
    cumRel += relIn;
    if (relIn > 0) sum += relIn * (cumRel / end);
  }
  return sum / Math.min(total, kk);
}

function gainOf(rel: number, gain: 'linear' | 'exponential'): number {
  return gain === 'linear' ? rel : 2 ** rel - 1;
}

function dcgRanked(rel: NumberArray, ranked: Ranked, kk: number, gain: 'linear' | 'exponential'): number {
  let dcg = 0;
  for (let g = 0; g + 1 < ranked.groupStart.length; g++) {
    const a = ranked.groupStart[g];
    if (a >= kk) break;
    const b = ranked.groupStart[g + 1];
    let sumGain = 0;
    for (let i = a; i < b; i++) sumGain += gainOf(rel[ranked.order[i]], gain);
    let discount = 0;
    for (let p = a; p < Math.min(b, kk); p++) discount += 1 / Math.log2(p + 2);
    dcg += (sumGain / (b - a)) * discount;
  }
  return dcg;
}

function idealDcg(rel: NumberArray, kk: number, gain: 'linear' | 'exponential'): number {
  const sorted = Float64Array.from(rel).sort().reverse();
  let dcg = 0;
  for (let p = 0; p < kk; p++) dcg += gainOf(sorted[p], gain) / Math.log2(p + 2);
  return dcg;
}

/**
 * Discounted cumulative gain at k (higher is better): `sum_i gain(rel_i) / log2(i + 1)` over ranks
 * i = 1..k, linear gain by default (scikit-learn's `dcg_score`), ties averaged as scikit-learn.
 * Book example: relevances [0, 5, 1, 4, 2] in rank order give 6.151.
 */
export function dcgAtK(yTrue: NumberArray, yScore: NumberArray, options: DcgOptions = {}): number {
  const { rel, ranked } = rank(yTrue, yScore);
  const kk = cutoff(options.k, ranked.n);
  const gain = checkOneOf('options.gain', options.gain ?? 'linear', ['linear', 'exponential'] as const);
  return dcgRanked(rel, ranked, kk, gain);
}

/**
 * Ideal DCG at k: the DCG of the candidates sorted by true relevance (the nDCG denominator).
 * Book example: relevances [0, 5, 1, 4, 2] give 8.9543.
 */
export function idealDcgAtK(yTrue: NumberArray, options: DcgOptions = {}): number {
  const rel = checkNonNegative('yTrue', yTrue);
  const kk = cutoff(options.k, rel.length);
  const gain = checkOneOf('options.gain', options.gain ?? 'linear', ['linear', 'exponential'] as const);
  return idealDcg(rel, kk, gain);
}

/**
 * Normalized DCG at k, in [0, 1] (higher is better; 1 for an ideal ordering): DCG@k / ideal DCG@k,
 * ties averaged as scikit-learn's `ndcg_score`. No relevant item (ideal DCG 0): `noRelevant`
 * ('zero' by default, as scikit-learn). Book example: [0, 5, 1, 4, 2] in rank order give 0.6869.
 */
export function ndcgAtK(yTrue: NumberArray, yScore: NumberArray, options: DcgOptions = {}): number {
  const { rel, ranked } = rank(yTrue, yScore);
  const kk = cutoff(options.k, ranked.n);
  const gain = checkOneOf('options.gain', options.gain ?? 'linear', ['linear', 'exponential'] as const);
  const ideal = idealDcg(rel, kk, gain);
  if (ideal === 0) return noRelevantValue(options, 'ndcgAtK');
  return dcgRanked(rel, ranked, kk, gain) / ideal;
}

/**
 * Rank (1-based) of the single target item, marked 1 in `yTrue` (lower is better). Ties: the
 * expected rank over the orders of the tied items, `higher + (tied + 1) / 2`. No target: NaN (a
 * rank of 0 would flatter the mean, so 'zero' acts as 'skip'), or a RangeError with `noRelevant:
 * 'error'`; more than one target: RangeError. Average over queries with {@link averageOverQueries}
 * for the mean rank of, e.g., the booked listing.
 */
export function rankOfTarget(yTrue: NumberArray, yScore: NumberArray, options: RankingOptions = {}): number {
  const t = checkNonNegative('yTrue', yTrue);
  const s = checkFiniteArray('yScore', yScore);
  checkSameLength('yTrue', t, 'yScore', s);
  let target = -1;
  for (let i = 0; i < t.length; i++) {
    if (t[i] > 0) {
      if (target >= 0)
        throw new RangeError(
          `yTrue: expected exactly one target (one non-zero entry), got another at index ${i}`,
        );
      target = i;
    }
  }
  if (target < 0) {
    const v = noRelevantValue(options, 'rankOfTarget');
    return v === 0 ? Number.NaN : v;
  }
  let higher = 0;
  let tied = 0;
  const st = s[target];
  for (let i = 0; i < s.length; i++) {
    if (s[i] > st) higher++;
    else if (s[i] === st) tied++;
  }
  return higher + (tied + 1) / 2;
}

// Averaging over queries ----------------------------------------------------------------------

/** A per-query metric with the house signature. */
export type QueryMetric<O> = (yTrue: NumberArray, yScore: NumberArray, options?: O) => number;

/**
 * Mean of a per-query metric over queries: `yTrue[q]`, `yScore[q]` is query q. Queries with no
 * relevant item follow `options.noRelevant` ('zero' counts them as 0, 'skip' leaves them out,
 * 'error' throws naming the query). No query left: NaN and `onUndefined`. Errors in a query are
 * rethrown with the query index.
 */
export function averageOverQueries<O extends RankingOptions>(
  metric: QueryMetric<O>,
  yTrue: readonly NumberArray[],
  yScore: readonly NumberArray[],
  options: O = {} as O,
): number {
  const t = checkArrayOfArrays('yTrue', yTrue);
  const s = checkArrayOfArrays('yScore', yScore);
  checkSameLength('yTrue', t, 'yScore', s);
  let sum = 0;
  let n = 0;
  for (let q = 0; q < t.length; q++) {
    let v: number;
    try {
      v = metric(t[q], s[q], { ...options, onUndefined: undefined });
    } catch (err) {
      if (err instanceof RangeError) throw new RangeError(`query ${q}: ${err.message}`);
      if (err instanceof TypeError) throw new TypeError(`query ${q}: ${err.message}`);
      throw err;
    }
    if (Number.isNaN(v)) continue;
    sum += v;
    n++;
  }
  if (n === 0) return undefinedResult(options.onUndefined, 'averageOverQueries: no query to average');
  return sum / n;
}

/** Mean reciprocal rank over queries (higher is better); see {@link reciprocalRank} and {@link averageOverQueries}. */
export function meanReciprocalRank(
  yTrue: readonly NumberArray[],
  yScore: readonly NumberArray[],
  options: RankingOptions = {},
): number {
  return averageOverQueries(reciprocalRank, yTrue, yScore, options);
}

/** Mean average precision (at k) over queries (higher is better); see {@link averagePrecisionAtK}. */
export function meanAveragePrecision(
  yTrue: readonly NumberArray[],
  yScore: readonly NumberArray[],
  options: RankingOptions = {},
): number {
  return averageOverQueries(averagePrecisionAtK, yTrue, yScore, options);
}

/** Options of {@link ndcgScore} and {@link dcgScore}. */
export interface NdcgScoreOptions {
  /** Cut-off (default: whole list). */
  k?: number;
  /** Break ties by candidate index instead of averaging them (scikit-learn's `ignore_ties`, faster). */
  ignoreTies?: boolean;
}

function ignoreTiesScore(yScore: NumberArray): NumberArray {
  // Distinct scores that keep the by-score, then by-index order: rank positions as scores.
  const n = yScore.length;
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => yScore[b] - yScore[a] || a - b);
  const out = new Float64Array(n);
  for (let p = 0; p < n; p++) out[order[p]] = n - p;
  return out;
}

/**
 * scikit-learn's `ndcg_score(y_true, y_score, k=k)`: mean nDCG over rows, linear gain, ties averaged,
 * rows with no relevant item scoring 0. Higher is better, in [0, 1].
 */
export function ndcgScore(
  yTrue: readonly NumberArray[],
  yScore: readonly NumberArray[],
  options: NdcgScoreOptions = {},
): number {
  const s = options.ignoreTies ? checkArrayOfArrays('yScore', yScore).map(ignoreTiesScore) : yScore;
  return averageOverQueries(ndcgAtK, yTrue, s, { k: options.k, noRelevant: 'zero' });
}

/** scikit-learn's `dcg_score(y_true, y_score, k=k)`: mean DCG over rows, linear gain, ties averaged. */
export function dcgScore(
  yTrue: readonly NumberArray[],
  yScore: readonly NumberArray[],
  options: NdcgScoreOptions = {},
): number {
  const s = options.ignoreTies ? checkArrayOfArrays('yScore', yScore).map(ignoreTiesScore) : yScore;
  return averageOverQueries(dcgAtK, yTrue, s, { k: options.k });
}

// Beyond accuracy ------------------------------------------------------------------------------

/** An item identifier in a recommendation list. */
export type ItemId = string | number;

function checkLists(name: string, lists: unknown): readonly (readonly ItemId[])[] {
  if (!Array.isArray(lists))
    throw new TypeError(`${name}: expected an array of recommendation lists, got ${describe(lists)}`);
  for (let i = 0; i < lists.length; i++) {
    if (!Array.isArray(lists[i]))
      throw new TypeError(`${name}[${i}]: expected an array of item ids, got ${describe(lists[i])}`);
  }
  return lists as readonly (readonly ItemId[])[];
}

/**
 * Catalogue coverage (higher means more of the catalogue is ever recommended): distinct items across
 * all recommendation lists divided by `catalogSize`. No list: 0.
 */
export function catalogCoverage(
  recommendations: readonly (readonly ItemId[])[],
  options: { catalogSize: number },
): number {
  const lists = checkLists('recommendations', recommendations);
  const size = checkPositiveInteger('options.catalogSize', options?.catalogSize);
  const seen = new Set<ItemId>();
  for (const l of lists) for (const item of l) seen.add(item);
  if (seen.size > size) {
    throw new RangeError(
      `options.catalogSize: expected at least the ${seen.size} distinct items recommended, got ${size}`,
    );
  }
  return seen.size / size;
}

/** Cosine similarity of two vectors (0 when either is all zeros). */
export function cosineSimilarity(a: NumberArray, b: NumberArray): number {
  checkSameLength('a', a, 'b', b);
  let dot = 0;
  let na = 0;
  let nb = 0;
  for (let i = 0; i < a.length; i++) {
    dot += a[i] * b[i];
    na += a[i] * a[i];
    nb += b[i] * b[i];
  }
  return na === 0 || nb === 0 ? 0 : dot / Math.sqrt(na * nb);
}

/**
 * Intra-list similarity of one recommendation list (lower is more diverse): the mean similarity over
 * all unordered pairs of its items, given as vectors (cosine by default) or any items with
 * `options.similarity`. Fewer than two items: NaN and `onUndefined`.
 */
export function intraListSimilarity<T = NumberArray>(
  items: readonly T[],
  options: { similarity?: (a: T, b: T) => number; onUndefined?: UndefinedHandler } = {},
): number {
  if (!Array.isArray(items)) throw new TypeError(`items: expected an array of items, got ${describe(items)}`);
  const sim = options.similarity ?? (cosineSimilarity as unknown as (a: T, b: T) => number);
  if (items.length < 2) {
    return undefinedResult(
      options.onUndefined,
      `intraListSimilarity: needs at least two items, got ${items.length}`,
    );
  }
  let sum = 0;
  let pairs = 0;
  for (let i = 0; i < items.length; i++) {
    for (let j = i + 1; j < items.length; j++) {
      const v = sim(items[i], items[j]);
      if (!Number.isFinite(v))
        throw new RangeError(`options.similarity: expected a finite number for items ${i}, ${j}, got ${v}`);
      sum += v;
      pairs++;
    }
  }
  return sum / pairs;
}

function popularityOf(
  options: { popularity: ReadonlyMap<ItemId, number> | ((item: ItemId) => number) },
  item: ItemId,
): number {
  const pop =
    typeof options.popularity === 'function' ? options.popularity(item) : options.popularity.get(item);
  if (typeof pop !== 'number' || !(pop > 0 && pop <= 1)) {
    throw new RangeError(
      `options.popularity: expected a share in (0, 1] for item ${describe(item)}, got ${describe(pop)}`,
    );
  }
  return pop;
}

/** Options of {@link novelty} and {@link averagePopularity}. */
export interface PopularityOptions {
  /** Share of users who interacted with each item, in (0, 1]. */
  popularity: ReadonlyMap<ItemId, number> | ((item: ItemId) => number);
  onUndefined?: UndefinedHandler;
}

/**
 * Novelty (higher recommends less popular items): the mean self-information `-log2 popularity(i)`
 * over every recommended item of every list (Zhou et al. 2010). No item: NaN and `onUndefined`.
 */
export function novelty(recommendations: readonly (readonly ItemId[])[], options: PopularityOptions): number {
  const lists = checkLists('recommendations', recommendations);
  let sum = 0;
  let n = 0;
  for (const l of lists) {
    for (const item of l) {
      sum -= Math.log2(popularityOf(options, item));
      n++;
    }
  }
  return n === 0 ? undefinedResult(options.onUndefined, 'novelty: no recommended item') : sum / n;
}

/**
 * Popularity bias (lower is less biased towards popular items): the mean popularity of the
 * recommended items. No item: NaN and `onUndefined`.
 */
export function averagePopularity(
  recommendations: readonly (readonly ItemId[])[],
  options: PopularityOptions,
): number {
  const lists = checkLists('recommendations', recommendations);
  let sum = 0;
  let n = 0;
  for (const l of lists) {
    for (const item of l) {
      sum += popularityOf(options, item);
      n++;
    }
  }
  return n === 0 ? undefinedResult(options.onUndefined, 'averagePopularity: no recommended item') : sum / n;
}
