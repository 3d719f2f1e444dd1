import { existsSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunContext, silentProgress, validateCaseStudy } from '@mlsd/core';
import { initBackend } from '@mlsd/training';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { generateVideoWorld, SMALL_WORLD, worldInteractions } from './data.js';
import { temporalSplit } from './evaluate.js';
import { worldSideInfo } from './features.js';
import { caseStudy } from './index.js';
import { fitPipeline, recommendOffline, towerUserEmbedding, userContext } from './pipeline.js';

describe('the case study end to end (small world)', () => {
  it('trains, evaluates and serves', async () => {
    validateCaseStudy(caseStudy);
    const root = mkdtempSync(join(tmpdir(), 'vr-e2e-'));
    const ctx: RunContext = {
      workDir: join(root, 'work'),
      modelsDir: join(root, 'models'),
      fixturesDir: join(root, 'fixtures'),
      seed: 42,
      progress: silentProgress,
    };
    const trained = await caseStudy.train({ size: 'small' }, ctx);
    expect(existsSync(join(trained.models[0].path, 'ranker.onnx'))).toBe(true);
    const report = await caseStudy.evaluate(
      { size: 'small', bootstrap: 200, implementations: ['popularity', 'pipeline'] },
      ctx,
    );
    const ndcg = (id: string) => report.results.find((r) => r.implementation === id)?.metrics['nDCG@10'];
    expect(ndcg('pipeline')?.lower).toBeGreaterThan(ndcg('popularity')?.upper as number);
    expect(report.results.map((r) => r.implementation)).toEqual(['popularity', 'pipeline', 'oracle']);
    const app = await caseStudy.createApp({}, ctx);
    try {
      const res = await request(app.handler).get('/users/u12/recommendations?k=10');
      expect(res.status).toBe(200);
      expect(res.body.recommendations).toHaveLength(10);
    } finally {
      await app.close();
    }
  }, 120_000);
});

describe('no leakage across the temporal split', () => {
  it('the fitted pipeline is the same whatever happens in the test period', async () => {
    await initBackend({ prefer: 'wasm', log: () => {} });
    const world = generateVideoWorld({ ...SMALL_WORLD, seed: 9 });
    const side = worldSideInfo(world);
    const table = worldInteractions(world);
    // The same log with a rewritten future: other videos, flipped relevance.
    const split = temporalSplit(table);
    const altered = {
      ...table,
      item: Int32Array.from(table.item),
      relevant: Uint8Array.from(table.relevant),
    };
    for (let r = split.trainRows; r < table.rows; r++) {
      altered.item[r] = (table.item[r] * 31 + 7) % table.items;
      altered.relevant[r] = 1 - table.relevant[r];
    }
    const options = {
      seed: 3,
      tower: { epochs: 1, batchSize: 256 },
      ranker: { epochs: 1 },
      rankerUsers: 300,
    };
    const a = await fitPipeline(split.train, side, options);
    const b = await fitPipeline(temporalSplit(altered).train, side, options);
    expect(b.inner.cutTs).toBe(a.inner.cutTs);
    expect(a.inner.cutTs).toBeLessThan(split.testStart);
    expect(b.rankerRows).toBe(a.rankerRows);
    expect(b.scaler).toEqual(a.scaler);
    for (const u of [1, 50, 300, 700]) {
      const ctxA = userContext(a.state, u);
      const ctxB = userContext(b.state, u);
      const la = recommendOffline(a, ctxA, towerUserEmbedding(a.tower, ctxA), { k: 20 });
      const lb = recommendOffline(b, ctxB, towerUserEmbedding(b.tower, ctxB), { k: 20 });
      expect(lb.map((r) => r.item)).toEqual(la.map((r) => r.item));
    }
  }, 120_000);
});
