import { mkdirSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type RunContext, silentProgress } from '@mlsd/core';
import { ModelRegistry } from '@mlsd/onnx';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { generateScene } from './data.js';
import { caseStudy } from './index.js';
import { DETECTOR_NAME } from './pipeline.js';
import { encodePng } from './raster.js';
import { FIXTURES } from './test-helpers.js';

function context(): RunContext {
  const home = mkdtempSync(join(tmpdir(), 'svb-e2e-'));
  mkdirSync(join(home, 'data'), { recursive: true });
  return {
    workDir: join(home, 'data'),
    modelsDir: join(home, 'models'),
    fixturesDir: FIXTURES,
    seed: 42,
    progress: silentProgress,
  };
}

/** A COCO file of generated scenes, as a user would bring one (own category names). */
async function writeCoco(dir: string, n: number): Promise<string> {
  mkdirSync(join(dir, 'images'), { recursive: true });
  const images = [];
  const annotations = [];
  for (let i = 0; i < n; i++) {
    const scene = generateScene(77, i, { width: 288, height: 224 });
    writeFileSync(join(dir, 'images', `s${i}.png`), await encodePng(scene.image));
    images.push({ id: i + 1, file_name: `s${i}.png`, width: 288, height: 224 });
    for (const o of scene.objects)
      annotations.push({
        id: annotations.length + 1,
        image_id: i + 1,
        category_id: o.label === 'face' ? 10 : 20,
        bbox: o.box,
        area: o.box[2] * o.box[3],
        iscrowd: 0,
      });
  }
  const file = join(dir, 'annotations.json');
  writeFileSync(
    file,
    JSON.stringify({
      images,
      annotations,
      categories: [
        { id: 10, name: 'head' },
        { id: 20, name: 'number_plate' },
      ],
    }),
  );
  return file;
}

describe('the CaseStudy end to end (small sizes)', () => {
  it('trains and registers, evaluates against the baseline, serves, and fine-tunes from a COCO file', async () => {
    const ctx = context();
    const trained = await caseStudy.train({ size: 'small' }, ctx);
    expect(trained.models).toHaveLength(1);
    expect(trained.models[0].version).toBe('1 (production)');
    expect(trained.models[0].metrics.validation_map).toBeGreaterThanOrEqual(0);

    const report = await caseStudy.evaluate({ size: 'small', bootstrap: 20 }, ctx);
    expect(report.results.map((r) => r.implementation)).toEqual(['colour-heuristics', 'one-stage-detector']);
    const detector = report.results[1];
    expect(detector.notes).toMatch(/model 1$/); // read from the registry the training wrote
    const map = detector.metrics['map@[.5:.95]'];
    expect(map.lower).toBeLessThanOrEqual(map.value);
    expect(map.upper).toBeGreaterThanOrEqual(map.value);
    expect(report.dataset.rows).toBe(30);

    // Fine-tuning on the user's COCO file from the production model: a second version, behind the gate.
    const cocoDir = mkdtempSync(join(tmpdir(), 'svb-coco-'));
    const annotations = await writeCoco(cocoDir, 8);
    const tuned = await caseStudy.train(
      {
        size: 'small',
        fromModel: 'production',
        data: {
          path: annotations,
          format: 'coco',
          options: { images: join(cocoDir, 'images'), categories: 'head:face,number_plate:plate' },
        },
      },
      ctx,
    );
    expect(tuned.models[0].version).toMatch(/^2 /);
    const registry = ModelRegistry.open(ctx.modelsDir);
    try {
      const v2 = registry.get(DETECTOR_NAME, '2');
      const card = JSON.parse(readFileSync(v2!.cardPath, 'utf8')) as {
        data: { source: string };
        sizes: { train: number };
      };
      expect(card.data.source).toBe('user');
      expect(card.sizes.train).toBe(6); // 8 images: 70 % train, 15 % validation, 15 % test
      expect(registry.history(DETECTOR_NAME)).toHaveLength(2);
    } finally {
      registry.close();
    }

    const handle = await caseStudy.createApp({}, ctx);
    try {
      const png = await encodePng(generateScene(42, 3).image);
      const r = await request(handle.handler as never)
        .post('/blur')
        .set('content-type', 'image/png')
        .send(png);
      expect(r.status).toBe(200);
      expect(r.headers['x-detections']).toMatch(/^face=\d+, plate=\d+$/);
    } finally {
      await handle.close();
    }
  });
});
