/**
 * Case study 7, ad click prediction on a social platform: the CaseStudy the `mlsd` command drives.
 * Each method opens what it needs and releases it before returning (no work at import time).
 */
import { join } from 'node:path';
import type { CaseStudy, EvaluationReport, ServiceHandle, TrainResult } from '@mlsd/core';
import { evaluateModels, PRIMARY_METRIC } from './evaluate.js';
import { APP_ID, IMPLEMENTATIONS, modelsRoot, prepareData, trainAll } from './pipeline.js';

export const caseStudy: CaseStudy = {
  id: APP_ID,
  title: 'Ad click prediction',
  chapter: 8,
  summary:
    'Rank timeline ads by predicted click probability: point-in-time streaming features, a logistic-regression baseline, FM, DeepFM and DCN-v2, continual learning behind a promotion gate.',
  task: {
    kind: 'binary-classification',
    objective: 'maximise click-through rate (every click earns the same revenue)',
    input: 'a user, the request context and candidate ads',
    output: 'P(click within t seconds) for each candidate, ads ranked by it',
  },
  primaryMetric: { name: PRIMARY_METRIC, higherIsBetter: false },
  implementations: IMPLEMENTATIONS.map(({ id, title, role, description }) => ({
    id,
    title,
    role,
    description,
  })),
  dataFormats: [
    {
      id: 'criteo',
      description:
        'Criteo display-advertising TSV: label, 13 integer and 26 hashed categorical features (--opt maxRows=N to cap)',
      path: 'file',
    },
  ],

  async prepare(data, ctx) {
    const prepared = await prepareData(data, 'default', ctx.seed, ctx.progress);
    return {
      description: `${prepared.name}: ${prepared.train.length} train, ${prepared.validation.length} validation, ${prepared.test.length} test rows (${prepared.splitDescription})`,
      rows: prepared.table.rows,
    };
  },

  async train(options, ctx): Promise<TrainResult> {
    const size = options.size ?? 'default';
    const data = await prepareData(options.data, size, ctx.seed, ctx.progress);
    for (const bad of data.badRows.slice(0, 5)) ctx.progress.log(`skipped line ${bad.line}: ${bad.reason}`);
    if (data.badRows.length > 5) ctx.progress.log(`... and ${data.badRows.length - 5} more malformed lines`);
    const result = await trainAll(data, {
      size,
      seed: ctx.seed,
      progress: ctx.progress,
      registryDir: options.outDir ?? ctx.modelsDir,
      implementations: options.implementations,
    });
    return {
      models: result.entries.map(({ trained, entry, promoted, reason }) => ({
        implementation: trained.impl.id,
        path: entry.modelPath,
        version: `${entry.version}${promoted ? ' (production)' : ` (candidate: ${reason})`}`,
        trainingSeconds: trained.trainingMs / 1000,
        metrics: trained.metrics,
      })),
    };
  },

  async evaluate(options, ctx): Promise<EvaluationReport> {
    const data = await prepareData(options.data, options.size ?? 'default', ctx.seed, ctx.progress);
    const registryDir = modelsRoot(options.modelsDir, ctx.modelsDir, ctx.fixturesDir);
    ctx.progress.log(`models from ${registryDir}`);
    return evaluateModels(data, {
      registryDir,
      implementations: options.implementations,
      resamples: options.bootstrap ?? 1000,
      seed: ctx.seed,
      progress: ctx.progress,
    });
  },

  async bench(options, ctx) {
    const { benchRank } = await import('./bench.js');
    return benchRank({
      registryDir: modelsRoot(undefined, ctx.modelsDir, ctx.fixturesDir),
      concurrency: options.concurrency ?? [1, 16, 64],
      durationSeconds: options.durationSeconds ?? 10,
      seed: ctx.seed,
    });
  },

  async simulate(options, ctx) {
    const { simulateTraffic } = await import('./simulate.js');
    return simulateTraffic({
      registryDir: modelsRoot(undefined, ctx.modelsDir, ctx.fixturesDir),
      requests: options.requests ?? 2000,
      drift: options.drift ?? false,
      seed: ctx.seed,
      target: options.target,
    }) as unknown as Promise<Record<string, unknown>>;
  },

  async createApp(options, ctx): Promise<ServiceHandle> {
    const { createAdService } = await import('./service.js');
    const registryDir = modelsRoot(options.modelsDir, ctx.modelsDir, ctx.fixturesDir);
    return createAdService({
      registryDir,
      retrainable: registryDir !== join(ctx.fixturesDir, 'models'),
      workDir: ctx.workDir,
      config: options.config ?? {},
    });
  },
};

export * from './data.js';
export { evaluateModels, scorePredictions } from './evaluate.js';
export { buildWorldTable, ctrTransforms, encodeRows, encodeTable, fitCtrSpec } from './features.js';
export { buildCtrModel } from './model.js';
export { IMPLEMENTATIONS, prepareData, trainAll } from './pipeline.js';
