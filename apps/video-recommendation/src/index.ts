/**
 * Case study 5, homepage video recommendations: the CaseStudy the `mlsd` command drives.
 * Each method opens what it needs and releases it before returning (no work at import time).
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { CaseStudy, DataSource, EvaluationReport, RunContext, RunSize, ServiceHandle } from '@mlsd/core';
import { BASELINES } from './baseline.js';
import {
  DEFAULT_WORLD,
  generateVideoWorld,
  type InteractionTable,
  SMALL_WORLD,
  worldInteractions,
} from './data.js';
import { compareRecommenders, type RecommenderSpec } from './evaluate.js';
import { movieLensSideInfo, type SideInfo, worldSideInfo } from './features.js';
import { MODELS } from './mf.js';
import { loadMovieLens } from './movielens.js';
import { modelSpecs, type PipelineOptions } from './pipeline.js';

export const APP_ID = 'video-recommendation';

export interface PreparedData {
  table: InteractionTable;
  side: SideInfo;
  world?: { seed: number; size: RunSize };
  description: string;
}

/** The generated world (by size and seed) or a MovieLens file (`--data u.data` or `ratings.csv`). */
export async function prepareData(
  data: DataSource | undefined,
  size: RunSize,
  seed: number,
  log: (m: string) => void = () => {},
): Promise<PreparedData> {
  if (data?.path) {
    const opts = data.options ?? {};
    const ml = await loadMovieLens({
      ratings: data.path,
      items: opts.items,
      users: opts.users,
      relevantThreshold: opts.threshold !== undefined ? Number(opts.threshold) : undefined,
    });
    for (const e of ml.errors.slice(0, 5)) log(`skipped ${e.file}:${e.line}: ${e.reason}`);
    if (ml.errors.length > 5) log(`... and ${ml.errors.length - 5} more malformed lines`);
    return {
      table: ml.table,
      side: movieLensSideInfo(ml),
      description: `${ml.table.name}: ${ml.table.rows} ratings, ${ml.table.users} users, ${ml.table.items} items (${ml.errors.length} bad lines skipped)`,
    };
  }
  const world = generateVideoWorld({ ...(size === 'small' ? SMALL_WORLD : DEFAULT_WORLD), seed });
  const table = worldInteractions(world);
  return {
    table,
    side: worldSideInfo(world),
    world: { seed, size },
    description: `generated world (seed ${seed}, ${size}): ${world.users.count} users, ${world.videos.count} videos, ${world.impressions.count} impressions, ${table.rows} engagements`,
  };
}

/** Training settings per run size: the small world trains in seconds (tests, demos). */
export function pipelineOptions(size: RunSize, seed: number, log?: (m: string) => void): PipelineOptions {
  return size === 'small'
    ? { seed, log, tower: { epochs: 3, batchSize: 256 }, ranker: { epochs: 16 }, rankerUsers: 2000 }
    : { seed, log, tower: { epochs: 3, batchSize: 1024 }, ranker: { epochs: 10 }, rankerUsers: 4000 };
}

/** Trained models: an explicit folder, else the last `mlsd train`, else the committed defaults. */
export function modelsFolder(explicit: string | undefined, ctx: RunContext): string {
  if (explicit) return explicit;
  const trained = join(ctx.modelsDir, APP_ID);
  if (existsSync(join(trained, 'model.json'))) return trained;
  return join(ctx.fixturesDir, 'models');
}

export const IMPLEMENTATION_IDS = [
  'popularity',
  'item-knn',
  'wals',
  'two-tower',
  'ranked-candidates',
  'pipeline',
] as const;

export const caseStudy: CaseStudy = {
  id: APP_ID,
  title: 'Homepage video recommendations',
  chapter: 6,
  summary:
    'Personalised homepage: two-tower retrieval over HNSW plus popular, trending, fresh and similar-video generators, a ranking MLP, re-ranking rules; against popularity, item-to-item CF and WALS.',
  task: {
    kind: 'ranking',
    objective: 'maximise relevant videos shown (liked, or watched at least half)',
    input: 'a user (demographics, watch history) and the time',
    output: 'the top k videos of the catalogue, with scores and reasons',
  },
  primaryMetric: { name: 'nDCG@10', higherIsBetter: true },
  implementations: [
    {
      id: 'popularity',
      title: 'Popularity',
      role: 'baseline',
      description: 'Relevant interactions in the last 14 days',
    },
    {
      id: 'item-knn',
      title: 'Item-to-item CF',
      role: 'baseline',
      description: 'Cosine over co-relevant users, 100 neighbours',
    },
    {
      id: 'wals',
      title: 'Matrix factorisation (WALS)',
      role: 'alternative',
      description: "The book's weighted loss, weighted ALS",
    },
    {
      id: 'two-tower',
      title: 'Two-tower',
      role: 'alternative',
      description: 'User and video towers, in-batch softmax with the logQ correction, exact scores',
    },
    {
      id: 'ranked-candidates',
      title: 'Generators + ranker',
      role: 'alternative',
      description: 'The pipeline without its re-ranking rules',
    },
    {
      id: 'pipeline',
      title: 'Full pipeline',
      role: 'chosen',
      description:
        'Generators (two-tower ANN, similar, popular, trending, fresh), ranking MLP, re-ranking rules',
    },
  ],
  dataFormats: [
    {
      id: 'movielens',
      description:
        'MovieLens u.data (tab-separated) or ratings.csv; --opt items=u.item|movies.csv, users=u.user, threshold=4',
      path: 'file',
    },
  ],

  async prepare(data, ctx) {
    const prepared = await prepareData(data, 'default', ctx.seed, (m) => ctx.progress.log(m));
    return { description: prepared.description, rows: prepared.table.rows };
  },

  async train(options, ctx) {
    const size = options.size ?? 'default';
    const data = await prepareData(options.data, size, ctx.seed, (m) => ctx.progress.log(m));
    ctx.progress.log(data.description);
    const outDir = options.outDir ?? join(ctx.modelsDir, APP_ID);
    const { trainModels } = await import('./train.js');
    const { card } = await trainModels(data.table, data.side, {
      ...pipelineOptions(size, ctx.seed, (m) => ctx.progress.log(m)),
      outDir,
      world: data.world,
    });
    return {
      models: [
        {
          implementation: 'pipeline',
          path: outDir,
          version: card.version,
          trainingSeconds: card.trainingSeconds,
          metrics: card.metrics,
        },
      ],
    };
  },

  async evaluate(options, ctx): Promise<EvaluationReport> {
    const size = options.size ?? 'default';
    const data = await prepareData(options.data, size, ctx.seed, (m) => ctx.progress.log(m));
    const { initBackend } = await import('@mlsd/training');
    await initBackend({ prefer: 'wasm', log: () => {} });
    const only = options.implementations;
    const specs: RecommenderSpec[] = [
      ...BASELINES,
      ...MODELS,
      ...modelSpecs(
        data.side,
        pipelineOptions(size, ctx.seed, (m) => ctx.progress.log(m)),
      ),
    ].filter((s) => !only || only.includes(s.id));
    return compareRecommenders(data.table, specs, {
      maxUsers: 5000,
      seed: ctx.seed,
      resamples: options.bootstrap === 0 ? 1 : (options.bootstrap ?? 1000),
      onProgress: (m) => ctx.progress.log(m),
    });
  },

  async createApp(options, ctx): Promise<ServiceHandle> {
    const { createVideoService } = await import('./service.js');
    const { trainModels } = await import('./train.js');
    return createVideoService({
      modelsDir: modelsFolder(options.modelsDir, ctx),
      workDir: ctx.workDir,
      config: options.config ?? {},
      logLevel: 'info',
      retrain: async (table, side, o) => {
        const base = pipelineOptions('default', ctx.seed, (m) => ctx.progress.log(m));
        await trainModels(table, side, {
          ...base,
          tower: { ...base.tower, epochs: o.epochs ?? base.tower?.epochs },
          outDir: o.outDir,
        });
        return o.outDir;
      },
    });
  },

  async bench(options, ctx) {
    const { benchRecommendations } = await import('./bench.js');
    return benchRecommendations({
      modelsDir: modelsFolder(undefined, ctx),
      concurrency: options.concurrency ?? [1, 16],
      durationSeconds: options.durationSeconds ?? 10,
      videos: 100_000,
      seed: ctx.seed,
      log: (m) => ctx.progress.log(m),
    }) as unknown as Promise<Record<string, unknown>>;
  },
};

export * from './baseline.js';
export * from './data.js';
export * from './evaluate.js';
export * from './features.js';
export * from './mf.js';
export * from './model.js';
export * from './movielens.js';
export * from './pipeline.js';
