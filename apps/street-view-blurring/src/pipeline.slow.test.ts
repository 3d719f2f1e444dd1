import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry } from '@mlsd/onnx';
import { describeWithRedis, uniquePrefix } from '@mlsd/test-utils';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { OnnxDetector } from './detector.js';
import { BlurPipeline, DETECT_BLUR_JOB, DETECTOR_NAME, PREPROCESS_JOB } from './pipeline.js';
import { openBlurService } from './service.js';
import { ImageStore } from './store.js';
import { FIXTURES, scenePng } from './test-helpers.js';

describeWithRedis('BlurPipeline on BullMQ', (redisUrl) => {
  it('runs both stages through Redis queues and fails only the corrupt image', async () => {
    const store = await ImageStore.open(mkdtempSync(join(tmpdir(), 'svb-bull-')));
    const pipeline = await BlurPipeline.create({
      store,
      detector: await OnnxDetector.load(join(FIXTURES, 'models/detector.onnx')),
      redisUrl,
      prefix: uniquePrefix('svb').slice(0, -1),
      concurrency: { preprocess: 2, detect: 1 },
    });
    try {
      const a = await scenePng(21);
      const b = await scenePng(22);
      const ids = [
        (await pipeline.submit(a.png)).id,
        (await pipeline.submit(a.truncated)).id,
        (await pipeline.submit(b.png)).id,
      ];
      const statuses = await Promise.all(ids.map((id) => pipeline.waitFor(id, 60_000)));
      expect(statuses.map((s) => s.state)).toEqual(['completed', 'failed', 'completed']);
      expect(statuses[1]).toMatchObject({ stage: 'preprocess', code: 'truncated' });
      // The BullMQ queues hold each stage's job under the image id.
      expect((await pipeline.runner.get(PREPROCESS_JOB, ids[0]))?.state).toBe('completed');
      expect((await pipeline.runner.get(DETECT_BLUR_JOB, ids[2]))?.state).toBe('completed');
      expect((await pipeline.runner.get(PREPROCESS_JOB, ids[1]))?.failedReason).toMatch(/cannot decode/);
      expect(await store.list('originals')).toEqual([]);
      expect(await store.list('working')).toEqual([]);
      expect((await pipeline.blurred(ids[0]))?.length).toBeGreaterThan(1000);
    } finally {
      await pipeline.close();
    }
  });
});

describe('retraining with hard examples', () => {
  it('mixes reported images into fine-tuning and registers the candidate behind the gate', async () => {
    const work = mkdtempSync(join(tmpdir(), 'svb-retrain-'));
    const registryDir = join(work, 'models');
    const key = 'svb-retrain-key-01';
    const service = await openBlurService({
      workDir: work,
      registryDir,
      fixturesDir: FIXTURES,
      config: { MLSD_API_KEY: key, SVB_RETAIN_ORIGINALS: 'true' },
      retrain: { scenes: 12, epochs: 1, validationScenes: 6, hardRepeat: 3 },
      logLevel: 'silent',
    });
    try {
      const { png } = await scenePng(23);
      const up = await request(service.app).post('/images').set('content-type', 'image/png').send(png);
      expect(up.status).toBe(202);
      const id = up.body.id as string;
      for (let i = 0; i < 200; i++) {
        if ((await request(service.app).get(`/jobs/${id}`)).body.state === 'completed') break;
        await new Promise((r) => setTimeout(r, 25));
      }
      const rep = await request(service.app)
        .post('/reports')
        .send({ imageId: id, box: [100, 120, 10, 12], label: 'face' });
      expect(rep.status).toBe(201);
      expect(rep.body.usable).toBe(true);

      // Retraining changes state: it needs the API key.
      expect((await request(service.app).post('/jobs/svb-retrain').send({})).status).toBe(401);
      const job = await request(service.app).post('/jobs/svb-retrain').set('x-api-key', key).send({});
      expect(job.status).toBe(202);
      let info = job.body;
      for (let i = 0; i < 1200 && info.state !== 'completed' && info.state !== 'failed'; i++) {
        await new Promise((r) => setTimeout(r, 100));
        info = (await request(service.app).get(`/jobs/svb-retrain/${job.body.id}`)).body;
      }
      expect(info.failedReason).toBeUndefined();
      expect(info.state).toBe('completed');
      const result = info.result;
      expect(result.hardExamples).toMatchObject({ images: 1, reports: 1 });
      expect(result.productionVersion).toBe('1');
      expect(result.version).toBe('2');
      expect(Number.isFinite(result.candidateMap) && Number.isFinite(result.productionMap)).toBe(true);
      // The gate decided on the same validation scenes, in the direction of the numbers.
      expect(result.promoted).toBe(result.candidateMap > result.productionMap);
      const registry = ModelRegistry.open(registryDir);
      try {
        const history = registry.history(DETECTOR_NAME);
        expect(history.map((h) => h.version)).toEqual(['1', '2']);
        expect(history[1].productionValue).toBeCloseTo(result.productionMap, 9);
        expect(registry.get(DETECTOR_NAME, 'production')?.version).toBe(result.promoted ? '2' : '1');
        const candidate = registry.get(DETECTOR_NAME, '2');
        expect(candidate?.metrics.validation_map).toBeCloseTo(result.candidateMap, 9);
      } finally {
        registry.close();
      }
    } finally {
      await service.close();
    }
  });
});
