/** The service with REDIS_URL set: the indexing job runs on BullMQ workers instead of in-process. */
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BullMqJobRunner } from '@mlsd/serving';
import { describeWithRedis } from '@mlsd/test-utils';
import request from 'supertest';
import { expect, it } from 'vitest';
import { generateCatalogue } from './data.js';
import { createSearchService } from './service.js';

const MODEL_DIR = new URL('../../../fixtures/visual-search/model/', import.meta.url).pathname;
const KEY = 'slow-test-key-0123';

describeWithRedis('search service on BullMQ', (redisUrl) => {
  it('builds its index with the BullMQ runner and rebuilds on request', async () => {
    const dir = await mkdtemp(join(tmpdir(), 'vs-bullmq-'));
    const svc = await createSearchService({
      modelDir: MODEL_DIR,
      workDir: dir,
      catalogue: generateCatalogue({ count: 150, seed: 5 }),
      config: { REDIS_URL: redisUrl, MLSD_API_KEY: KEY },
      logLevel: 'silent',
    });
    try {
      expect(svc.jobs).toBeInstanceOf(BullMqJobRunner);
      await svc.indexed;
      expect(svc.index.size).toBe(150);
      const app = svc.service.app;
      const search = await request(app).post('/search').send({ id: 'img-000010', k: 5 });
      expect(search.status).toBe(200);
      expect(search.body.results).toHaveLength(5);
      const old = svc.index.current;
      const rebuild = await request(app).post('/index/rebuild').set('x-api-key', KEY);
      expect(rebuild.status).toBe(202);
      const done = await svc.jobs.waitFor('visual-search-index', rebuild.body.jobId, 60_000);
      expect(done.state).toBe('completed');
      expect(done.result).toMatchObject({ items: 150 });
      expect(svc.index.current).not.toBe(old);
    } finally {
      await svc.close();
      await rm(dir, { recursive: true, force: true });
    }
  });
});
