/**
 * Offline evaluation of visual search: every embedder on the same queries against the same indexed
 * catalogue, with exact and approximate (HNSW) retrieval side by side.
 *
 * Each query is an image of the held-out split; the catalogue is every image (the query itself is
 * removed from its own results). Metrics per query, then averaged with a bootstrap interval over
 * queries:
 *  - nDCG@10 on the graded relevance (0-5 on the generated catalogue): the book's chosen metric,
 *    with the ideal DCG taken over the whole catalogue, not only over what was retrieved;
 *  - mAP@10, MRR@10 and recall@k on binary relevance (relevance >= the collection's `relevantAt`),
 *    recall's denominator being every relevant image in the catalogue;
 *  - for the approximate index, its recall@10 against exact search (the share of the exact top 10
 *    it also returns).
 */
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { type EvaluationReport, type ImplementationResult, type MetricValue, randomSplit } from '@mlsd/core';
import {
  averagePrecisionAtK,
  bootstrapInterval,
  type NumberArray,
  ndcgAtK,
  recallAtK,
  reciprocalRank,
} from '@mlsd/metrics';
import {
  ExactIndex,
  HnswIndex,
  type HnswIndexOptions,
  type SearchHit,
  type VectorIndex,
} from '@mlsd/vector-index';
import { ColourHistogramEmbedder, DownsampledPixelEmbedder, type ImageEmbedder } from './baseline.js';
import type { ImageCollection } from './data.js';
import { OnnxEmbedder } from './model.js';

// 1. Bootstrap

export interface BootstrapOptions {
  /** Resamples (default 1000). */
  samples?: number;
  /** Confidence level (default 0.95). */
  level?: number;
  seed?: number;
}

function meanOf(values: NumberArray): number {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  return sum / values.length;
}

/**
 * Mean of per-query values with the percentile bootstrap interval of @mlsd/metrics (queries
 * resampled with replacement, seeded).
 */
export function bootstrapMean(values: ArrayLike<number>, options: BootstrapOptions = {}): MetricValue {
  const n = values.length;
  if (n === 0) throw new RangeError('values: expected at least one value, got none');
  const samples = options.samples ?? 1000;
  if (!Number.isInteger(samples) || samples < 10)
    throw new RangeError(`samples: expected an integer >= 10, got ${samples}`);
  const data = Float64Array.from(values);
  const interval = bootstrapInterval(data, new Float64Array(n), {
    metric: (yTrue) => meanOf(yTrue),
    nResamples: samples,
    level: options.level ?? 0.95,
    seed: options.seed ?? 0,
  });
  return {
    value: interval.estimate,
    lower: interval.lower,
    upper: interval.upper,
    level: interval.level,
    higherIsBetter: true,
  };
}

// 2. Embedding a collection

/** Embeds the given images in batches; returns `indices.length * dimension` floats, row by row. */
export async function embedCollection(
  collection: ImageCollection,
  embedder: ImageEmbedder,
  indices: ArrayLike<number>,
  batchSize = 256,
): Promise<Float32Array> {
  if (embedder.inputSize !== collection.size)
    throw new RangeError(
      `embedder.inputSize: expected the collection's image size ${collection.size}, got ${embedder.inputSize}`,
    );
  const per = collection.size * collection.size * 3;
  const out = new Float32Array(indices.length * embedder.dimension);
  const batch = new Uint8Array(Math.min(batchSize, Math.max(1, indices.length)) * per);
  for (let start = 0; start < indices.length; start += batchSize) {
    const count = Math.min(batchSize, indices.length - start);
    for (let k = 0; k < count; k++)
      collection.pixels(indices[start + k], batch.subarray(k * per, (k + 1) * per));
    const vectors = await embedder.embed(batch.subarray(0, count * per), count);
    out.set(vectors, start * embedder.dimension);
  }
  return out;
}

// 3. Per-query metrics

/** Metrics of one query's ranked list. */
export interface QueryScores {
  ndcg: number;
  averagePrecision: number;
  reciprocalRank: number;
  /** Recall at each of the evaluation's `recallKs`. */
  recall: number[];
}

export interface RankingCutoffs {
  /** Cut-off of nDCG, mAP and MRR (default 10). */
  k: number;
  /** Cut-offs of recall (default [10, 100]). */
  recallKs: number[];
}

/**
 * Scores one ranked list. `retrievedRel` is the graded relevance of the retrieved items in rank
 * order; `catalogueRel` the relevance of every catalogue item to the query (the query excluded),
 * which gives the ideal DCG and recall's denominator. `relevantAt` binarises relevance.
 * `retrievedScores` (similarities, non-increasing) lets the metrics average over items the system
 * could not tell apart; without them the list order is taken as strict.
 */
export function scoreRanking(
  retrievedRel: ArrayLike<number>,
  catalogueRel: ArrayLike<number>,
  relevantAt: number,
  cutoffs: RankingCutoffs,
  retrievedScores?: ArrayLike<number>,
): QueryScores {
  if (retrievedScores && retrievedScores.length !== retrievedRel.length)
    throw new RangeError(
      `retrievedScores: expected ${retrievedRel.length} scores, got ${retrievedScores.length}`,
    );
  // Candidates: the retrieved items with decreasing scores, then the best of the rest with score 0
  // (tied, so they only enter the top k when fewer than k were retrieved). Graded: the k best
  // relevances of the catalogue are enough for the ideal DCG. Binary: every relevant item is added so
  // that recall and AP see the true number of relevant items.
  const m = retrievedRel.length;
  const sortedAll = Float64Array.from(catalogueRel).sort().reverse();
  const graded: number[] = Array.from(retrievedRel as ArrayLike<number>);
  const scoreAt = (r: number) => (retrievedScores ? retrievedScores[r] : m - r);
  // Items not retrieved rank below every retrieved one.
  const below = m === 0 ? 0 : Math.min(...Array.from({ length: m }, (_, r) => scoreAt(r))) - 1;
  const gradedScores: number[] = graded.map((_, r) => scoreAt(r));
  // Remove the retrieved items' relevances from the catalogue's top list (multiset difference).
  const remaining = new Map<number, number>();
  for (const r of graded) remaining.set(r, (remaining.get(r) ?? 0) + 1);
  let added = 0;
  for (let i = 0; i < sortedAll.length && added < cutoffs.k; i++) {
    const r = sortedAll[i];
    const left = remaining.get(r) ?? 0;
    if (left > 0) {
      remaining.set(r, left - 1);
      continue;
    }
    graded.push(r);
    gradedScores.push(below);
    added++;
  }
  let relevantTotal = 0;
  for (let i = 0; i < catalogueRel.length; i++) if (catalogueRel[i] >= relevantAt) relevantTotal++;
  const binary: number[] = Array.from(retrievedRel as ArrayLike<number>, (r) => (r >= relevantAt ? 1 : 0));
  const binaryScores: number[] = binary.map((_, r) => scoreAt(r));
  const retrievedRelevant = binary.reduce((a, b) => a + b, 0);
  for (let i = retrievedRelevant; i < relevantTotal; i++) {
    binary.push(1);
    binaryScores.push(below);
  }
  const zeroIfNone = { noRelevant: 'zero' as const };
  return {
    ndcg: ndcgAtK(graded, gradedScores, { k: cutoffs.k, ...zeroIfNone }),
    averagePrecision: averagePrecisionAtK(binary, binaryScores, { k: cutoffs.k, ...zeroIfNone }),
    reciprocalRank: reciprocalRank(binary, binaryScores, { k: cutoffs.k, ...zeroIfNone }),
    recall: cutoffs.recallKs.map((kk) => recallAtK(binary, binaryScores, { k: kk, ...zeroIfNone })),
  };
}

// 4. The evaluation

export interface RetrievalEvaluationOptions {
  /** Query images (indices into the collection), e.g. the test split. */
  queries: ArrayLike<number>;
  /** Indexed images (default: the whole collection). */
  catalogue?: ArrayLike<number>;
  k?: number;
  recallKs?: number[];
  /** HNSW parameters of the approximate index, or false to skip it. */
  approximate?: Omit<HnswIndexOptions, 'dimension'> | false;
  bootstrap?: BootstrapOptions;
  batchSize?: number;
  /** Catalogue embeddings already computed for this embedder (same order as `catalogue`). */
  catalogueVectors?: Float32Array;
}

/** One retrieval back end's results for one embedder. */
export interface RetrievalResult {
  metrics: Record<string, MetricValue>;
  perQuery: QueryScores[];
  /** Mean search time per query, ms (one thread, batch search). */
  searchMsPerQuery: number;
}

export interface EmbedderEvaluation {
  embedder: string;
  dimension: number;
  exact: RetrievalResult;
  approximate?: RetrievalResult & { recallVsExact: MetricValue };
  /** Mean embedding time per catalogue image, ms. */
  embedMsPerImage: number;
  queries: number;
  catalogueSize: number;
  /** Mean number of relevant catalogue images (binary relevance) per query, the query excluded. */
  meanRelevantPerQuery: number;
}

function metricsOf(
  perQuery: QueryScores[],
  cutoffs: RankingCutoffs,
  bootstrap: BootstrapOptions,
): Record<string, MetricValue> {
  const col = (f: (s: QueryScores) => number) => Float64Array.from(perQuery, f);
  const k = cutoffs.k;
  const out: Record<string, MetricValue> = {
    [`ndcg@${k}`]: bootstrapMean(
      col((s) => s.ndcg),
      bootstrap,
    ),
    [`map@${k}`]: bootstrapMean(
      col((s) => s.averagePrecision),
      bootstrap,
    ),
    [`mrr@${k}`]: bootstrapMean(
      col((s) => s.reciprocalRank),
      bootstrap,
    ),
  };
  cutoffs.recallKs.forEach((kk, j) => {
    out[`recall@${kk}`] = bootstrapMean(
      col((s) => s.recall[j]),
      bootstrap,
    );
  });
  return out;
}

function withoutQuery(hits: SearchHit[], exclude: number, k: number): { ids: number[]; scores: number[] } {
  const ids: number[] = [];
  const scores: number[] = [];
  for (const h of hits) {
    if (h.id === exclude) continue;
    ids.push(h.id as number);
    // Similarity, rounded so that float noise does not split what are really ties.
    scores.push(Math.round((1 - h.distance) * 1e6) / 1e6);
    if (ids.length === k) break;
  }
  return { ids, scores };
}

/**
 * Embeds the catalogue and the queries with `embedder`, indexes the catalogue exactly and with HNSW,
 * and scores every query's top results against the collection's relevance oracle.
 */
export async function evaluateEmbedder(
  collection: ImageCollection,
  embedder: ImageEmbedder,
  options: RetrievalEvaluationOptions,
): Promise<EmbedderEvaluation> {
  const cutoffs: RankingCutoffs = { k: options.k ?? 10, recallKs: options.recallKs ?? [10, 100] };
  const depth = Math.max(cutoffs.k, ...cutoffs.recallKs);
  const catalogue = options.catalogue ?? Int32Array.from({ length: collection.count }, (_, i) => i);
  const queries = options.queries;
  if (queries.length === 0) throw new RangeError('queries: expected at least one query image, got none');
  const bootstrap = { seed: 7, ...options.bootstrap };
  const d = embedder.dimension;

  let t0 = performance.now();
  const vectors =
    options.catalogueVectors ?? (await embedCollection(collection, embedder, catalogue, options.batchSize));
  const embedMsPerImage = (performance.now() - t0) / catalogue.length;
  if (vectors.length !== catalogue.length * d)
    throw new RangeError(`catalogueVectors: expected ${catalogue.length * d} floats, got ${vectors.length}`);
  const position = new Map<number, number>();
  for (let k = 0; k < catalogue.length; k++) position.set(catalogue[k], k);
  // Queries inside the catalogue reuse its vectors; others are embedded.
  const queryVectors = new Float32Array(queries.length * d);
  const missing: number[] = [];
  for (let q = 0; q < queries.length; q++) {
    const at = position.get(queries[q]);
    if (at === undefined) missing.push(q);
    else queryVectors.set(vectors.subarray(at * d, (at + 1) * d), q * d);
  }
  if (missing.length > 0) {
    const extra = await embedCollection(
      collection,
      embedder,
      missing.map((q) => queries[q]),
      options.batchSize,
    );
    for (let j = 0; j < missing.length; j++)
      queryVectors.set(extra.subarray(j * d, (j + 1) * d), missing[j] * d);
  }

  const ids = Array.from(catalogue);
  const exactIndex = new ExactIndex({ dimension: d, metric: 'ip', capacity: catalogue.length });
  exactIndex.add(ids, vectors);
  let approxIndex: VectorIndex | undefined;
  if (options.approximate !== false) {
    approxIndex = new HnswIndex({
      dimension: d,
      metric: 'ip',
      capacity: catalogue.length,
      ...options.approximate,
    });
    approxIndex.add(ids, vectors);
  }

  // Relevance of every catalogue image to each query, the query itself excluded.
  const rel = new Uint8Array(catalogue.length);
  const catalogueRelOf = (q: number): Uint8Array => {
    const query = queries[q];
    if (collection.relevanceRow) collection.relevanceRow(query, catalogue, rel);
    else for (let k = 0; k < catalogue.length; k++) rel[k] = collection.relevance(query, catalogue[k]);
    const self = position.get(query);
    if (self === undefined) return rel;
    const without = new Uint8Array(catalogue.length - 1);
    without.set(rel.subarray(0, self));
    without.set(rel.subarray(self + 1), self);
    return without;
  };

  const run = (index: VectorIndex) => {
    t0 = performance.now();
    const hits = index.searchBatch(queryVectors, depth + 1);
    const searchMsPerQuery = (performance.now() - t0) / queries.length;
    const lists = hits.map((h, q) => withoutQuery(h, queries[q], depth));
    return { lists, searchMsPerQuery };
  };
  const exactRun = run(exactIndex);
  const approxRun = approxIndex ? run(approxIndex) : undefined;

  const exactScores: QueryScores[] = [];
  const approxScores: QueryScores[] = [];
  const overlap = new Float64Array(queries.length);
  let relevantSum = 0;
  for (let q = 0; q < queries.length; q++) {
    const all = catalogueRelOf(q);
    for (let k = 0; k < all.length; k++) if (all[k] >= collection.relevantAt) relevantSum++;
    const relOf = (id: number) => rel[position.get(id) as number];
    // catalogueRelOf may return `rel` itself or a copy without the query; `rel` still holds every item.
    const exact = exactRun.lists[q];
    exactScores.push(scoreRanking(exact.ids.map(relOf), all, collection.relevantAt, cutoffs, exact.scores));
    if (approxRun) {
      const approx = approxRun.lists[q];
      approxScores.push(
        scoreRanking(approx.ids.map(relOf), all, collection.relevantAt, cutoffs, approx.scores),
      );
      const truth = new Set(exact.ids.slice(0, cutoffs.k));
      let shared = 0;
      for (const id of approx.ids.slice(0, cutoffs.k)) if (truth.has(id)) shared++;
      overlap[q] = shared / Math.max(1, truth.size);
    }
  }
  const result: EmbedderEvaluation = {
    embedder: embedder.name,
    dimension: d,
    exact: {
      metrics: metricsOf(exactScores, cutoffs, bootstrap),
      perQuery: exactScores,
      searchMsPerQuery: exactRun.searchMsPerQuery,
    },
    embedMsPerImage,
    queries: queries.length,
    catalogueSize: catalogue.length,
    meanRelevantPerQuery: relevantSum / queries.length,
  };
  if (approxRun) {
    result.approximate = {
      metrics: metricsOf(approxScores, cutoffs, bootstrap),
      perQuery: approxScores,
      searchMsPerQuery: approxRun.searchMsPerQuery,
      recallVsExact: bootstrapMean(overlap, bootstrap),
    };
  }
  return result;
}

// 5. The report

/** Turns evaluations into the shared report: one row per embedder and retrieval back end. */
export function toReport(
  collection: ImageCollection,
  evaluations: Array<EmbedderEvaluation & { role?: ImplementationResult['role'] }>,
  extra: { split: string; seed?: number; k?: number; notes?: string[] },
): EvaluationReport {
  const k = extra.k ?? 10;
  const results: ImplementationResult[] = [];
  for (const e of evaluations) {
    results.push({
      implementation: `${e.embedder} (exact)`,
      role: e.role,
      metrics: e.exact.metrics,
      notes: `${e.dimension}-d; embed ${e.embedMsPerImage.toFixed(3)} ms/image; search ${e.exact.searchMsPerQuery.toFixed(3)} ms/query`,
    });
    if (e.approximate) {
      results.push({
        implementation: `${e.embedder} (hnsw)`,
        role: e.role,
        metrics: { ...e.approximate.metrics, [`ann-recall@${k}`]: e.approximate.recallVsExact },
        notes: `search ${e.approximate.searchMsPerQuery.toFixed(3)} ms/query`,
      });
    }
  }
  return {
    caseStudy: 'visual-search',
    title: 'Visual search',
    primaryMetric: `ndcg@${k}`,
    dataset: {
      name: collection.name,
      source: collection.source,
      rows: evaluations[0]?.queries ?? 0,
      split: extra.split,
      seed: extra.seed,
    },
    results,
    createdAt: new Date().toISOString(),
    notes: extra.notes,
  };
}

// 6. One call for `mlsd eval`

export interface EvaluationRunOptions {
  /** Folder with the exported encoder (`encoder.onnx`, `encoder.json`); the CNN is skipped without it. */
  modelDir?: string;
  /** Query images (taken from the test split, or from `split`). */
  queries: number;
  /**
   * Where the queries come from: `test` (the default, the README's table) or `validation`, for
   * design choices made before looking at test numbers.
   */
  split?: 'test' | 'validation';
  seed: number;
  /** Bootstrap resamples (at least 10). */
  bootstrap: number;
  /** Only these implementation ids (`colour-histogram`, `downsampled-pixels`, `cnn-contrastive`). */
  implementations?: string[];
  /** Stratify the split by label (users' labelled data). */
  stratify?: boolean;
  onEmbedder?: (name: string) => void;
}

/**
 * The README's evaluation: both baselines and the exported CNN on the same test queries against the
 * whole collection, exact and HNSW side by side.
 */
export async function evaluateAll(
  collection: ImageCollection,
  options: EvaluationRunOptions,
): Promise<EvaluationReport> {
  const labels = Int32Array.from({ length: collection.count }, (_, i) => collection.label(i));
  const split = randomSplit(collection.count, {
    seed: options.seed,
    ...(options.stratify ? { stratify: labels } : {}),
  });
  const querySplit = options.split ?? 'test';
  if (querySplit !== 'test' && querySplit !== 'validation')
    throw new RangeError(`split: expected 'test' or 'validation', got ${JSON.stringify(querySplit)}`);
  const held = split[querySplit];
  // A data set too small for a held-out split is queried image by image (each left out of its own results).
  const pool = held.length > 0 ? held : Int32Array.from({ length: collection.count }, (_, i) => i);
  const queries = pool.subarray(0, Math.min(options.queries, pool.length));
  const wanted = (id: string) => !options.implementations || options.implementations.includes(id);
  const embedders: Array<[ImageEmbedder, 'baseline' | 'chosen', () => Promise<void>]> = [];
  if (wanted('colour-histogram'))
    embedders.push([new ColourHistogramEmbedder(collection.size), 'baseline', async () => {}]);
  if (wanted('downsampled-pixels'))
    embedders.push([
      DownsampledPixelEmbedder.fit(collection, split.train.subarray(0, 2000)),
      'baseline',
      async () => {},
    ]);
  if (options.modelDir && wanted('cnn-contrastive')) {
    const spec = JSON.parse(readFileSync(join(options.modelDir, 'encoder.json'), 'utf8'));
    const cnn = await OnnxEmbedder.load(join(options.modelDir, 'encoder.onnx'), spec.normalisation);
    if (cnn.inputSize !== collection.size)
      throw new RangeError(
        `model: the encoder takes ${cnn.inputSize}-pixel images, the data set has ${collection.size}`,
      );
    embedders.push([cnn, 'chosen', () => cnn.close()]);
  }
  const evaluations = [];
  for (const [embedder, role, close] of embedders) {
    options.onEmbedder?.(embedder.name);
    try {
      evaluations.push({
        ...(await evaluateEmbedder(collection, embedder, {
          queries,
          bootstrap: { samples: Math.max(10, options.bootstrap) },
        })),
        role,
      });
    } finally {
      await close();
    }
  }
  const relevant = evaluations[0]?.meanRelevantPerQuery ?? 0;
  return toReport(collection, evaluations, {
    split: `${held.length > 0 ? querySplit : 'all'} (${queries.length} queries against all ${collection.count} images)`,
    seed: options.seed,
    notes: [
      `bootstrap: ${Math.max(10, options.bootstrap)} resamples of the queries, 95 % percentile interval`,
      `oracle: ranking by the true relevance scores nDCG@10 = 1 (ideal DCG over the whole collection); ${relevant.toFixed(1)} relevant images per query on average`,
    ],
  });
}
