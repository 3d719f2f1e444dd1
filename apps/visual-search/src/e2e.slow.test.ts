/**
 * The whole app through its CaseStudy, small: train a few steps on a generated catalogue, export,
 * evaluate, serve and search; and train, evaluate and serve on a user's folder of class folders.
 */
import { copyFile, mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunContext, silentProgress, validateCaseStudy } from '@mlsd/core';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeImage, generateCatalogue } from './data.js';
import { caseStudy, modelDirFor } from './index.js';

const FIXTURES = new URL('../../../fixtures/visual-search/', import.meta.url).pathname;
let dir: string;
let ctx: RunContext;

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vs-e2e-'));
  ctx = {
    workDir: join(dir, 'work'),
    modelsDir: join(dir, 'models'),
    fixturesDir: FIXTURES,
    seed: 42,
    progress: silentProgress,
  };
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

describe('visual search end to end', () => {
  it('is a valid case study that serves the committed model until one is trained', () => {
    expect(validateCaseStudy(caseStudy).id).toBe('visual-search');
    expect(modelDirFor(undefined, ctx)).toBe(join(FIXTURES, 'model'));
    expect(() => modelDirFor(join(dir, 'nowhere'), ctx)).toThrow(/no encoder.onnx/);
  });

  it('trains a few steps, exports, evaluates, serves and searches', async () => {
    const trained = await caseStudy.train({ size: 'small' }, ctx);
    const [model] = trained.models;
    expect(model.implementation).toBe('cnn-contrastive');
    expect(model.path).toBe(join(ctx.modelsDir, 'visual-search', 'encoder.onnx'));
    // Below the loss of an encoder that cannot tell the 32 images of a batch apart (ln 32).
    expect(model.metrics.final_epoch_loss).toBeLessThan(Math.log(32));
    expect(model.metrics.training_images_per_second).toBeGreaterThan(0);
    // The freshly trained model is now the default.
    expect(modelDirFor(undefined, ctx)).toBe(join(ctx.modelsDir, 'visual-search'));

    const report = await caseStudy.evaluate(
      { size: 'small', bootstrap: 50, implementations: ['colour-histogram', 'cnn-contrastive'] },
      ctx,
    );
    expect(report.results.map((r) => r.implementation)).toEqual([
      'colour-histogram (exact)',
      'colour-histogram (hnsw)',
      'cnn-contrastive (exact)',
      'cnn-contrastive (hnsw)',
    ]);
    for (const r of report.results) {
      const m = r.metrics['ndcg@10'];
      expect(m.value).toBeGreaterThan(0);
      expect(m.lower).toBeLessThanOrEqual(m.value);
    }

    const handle = await caseStudy.createApp({ config: { VISUAL_SEARCH_CATALOGUE_SIZE: '400' } }, ctx);
    try {
      for (let i = 0; i < 200 && !(await handle.ready?.()); i++) await new Promise((r) => setTimeout(r, 100));
      expect(await handle.ready?.()).toBe(true);
      const catalogue = generateCatalogue({ count: 400, seed: 42 });
      const png = await encodeImage(catalogue.pixels(12), catalogue.size, 'png');
      const res = await request(handle.handler).post('/search').set('content-type', 'image/png').send(png);
      expect(res.status).toBe(200);
      expect(res.body.results).toHaveLength(10);
      expect((await request(handle.handler).get('/readyz')).status).toBe(200);
      // The service runs the model just trained.
      expect((await request(handle.handler).get('/models')).body.models[0].version).toBe(model.version);
    } finally {
      await handle.close();
    }
  });

  it('trains, evaluates and serves on a folder of class folders', async () => {
    const data = { path: join(FIXTURES, 'loaders', 'folder') };
    const outDir = join(dir, 'folder-model');
    const trained = await caseStudy.train({ size: 'small', data, outDir }, ctx);
    expect(trained.models[0].path).toBe(join(outDir, 'encoder.onnx'));
    const report = await caseStudy.evaluate({ size: 'small', data, modelsDir: outDir, bootstrap: 20 }, ctx);
    expect(report.dataset.source).toBe('user');
    expect(report.results).toHaveLength(6);

    // Serving that model indexes the folder it was trained on, not the generated catalogue.
    const folderIds = ['blue/d.png', 'blue/e-transparent.png', 'red/a.png', 'red/b.webp', 'red/c.jpg'];
    const handle = await caseStudy.createApp({ modelsDir: outDir, config: {} }, ctx);
    try {
      for (let i = 0; i < 200 && !(await handle.ready?.()); i++) await new Promise((r) => setTimeout(r, 100));
      const index = (await request(handle.handler).get('/index')).body;
      expect(index.size).toBe(folderIds.length);
      const res = await request(handle.handler).post('/search').send({ id: 'red/a.png', k: 4 });
      expect(res.status).toBe(200);
      expect(res.body.results.length).toBeGreaterThan(0);
      for (const r of res.body.results) expect(folderIds.filter((id) => id !== 'red/a.png')).toContain(r.id);
      // The result URLs serve the folder's images (ids with a slash are URL-encoded).
      const image = await request(handle.handler).get(res.body.results[0].url);
      expect(image.status).toBe(200);
      expect(image.headers['content-type']).toBe('image/png');
      // A generated catalogue's id is unknown here.
      expect((await request(handle.handler).post('/search').send({ id: 'img-000001' })).status).toBe(404);
    } finally {
      await handle.close();
    }

    // A model whose training data is gone is refused with the reason, not served on other images.
    const moved = join(dir, 'moved-model');
    await mkdir(moved);
    await copyFile(join(outDir, 'encoder.onnx'), join(moved, 'encoder.onnx'));
    const spec = JSON.parse(await readFile(join(outDir, 'encoder.json'), 'utf8'));
    expect(spec.training.data.path).toBe(data.path);
    spec.training.data.path = join(dir, 'deleted-folder');
    await writeFile(join(moved, 'encoder.json'), JSON.stringify(spec));
    await expect(caseStudy.createApp({ modelsDir: moved, config: {} }, ctx)).rejects.toThrow(
      /was trained on .*deleted-folder, which cannot be loaded now/,
    );
  });
});
