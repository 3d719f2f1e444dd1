/**
 * Job trigger routes: API key required to enqueue, idempotent triggers, state and failures readable.
 */
import { pino } from 'pino';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { createService } from '../service.js';
import { InProcessJobRunner } from './in-process-runner.js';
import { jobRoutes } from './job-routes.js';
import { defineJob } from './job-runner.js';

const KEY = 'jobs-key-0123456789';

describe('jobRoutes', () => {
  it('enqueues with the API key only, once per idempotency key, and reports state and failures', async () => {
    let runs = 0;
    const runner = new InProcessJobRunner({
      jobs: [
        defineJob('reindex', async (data: { shard: number }) => {
          runs++;
          return data.shard * 10;
        }),
        defineJob(
          'broken',
          () => {
            throw new Error('index file missing');
          },
          { attempts: 1 },
        ),
      ],
    });
    await runner.start();
    const service = createService({
      name: 'jobs',
      logger: pino({ level: 'silent' }),
      auth: { apiKeys: [KEY] },
      closeables: [runner],
      routes: (router, ctx) => jobRoutes(router, ctx, runner, ['reindex', 'broken']),
    });
    const app = service.app;
    expect(
      (
        await request(app)
          .post('/jobs/reindex')
          .send({ data: { shard: 2 } })
      ).status,
    ).toBe(401);
    const first = await request(app)
      .post('/jobs/reindex')
      .set('x-api-key', KEY)
      .send({ data: { shard: 2 }, idempotencyKey: 'reindex-2' });
    expect(first.status).toBe(202);
    const again = await request(app)
      .post('/jobs/reindex')
      .set('x-api-key', KEY)
      .send({ data: { shard: 2 }, idempotencyKey: 'reindex-2' });
    expect(again.body.id).toBe(first.body.id);
    await runner.waitFor('reindex', first.body.id);
    const state = await request(app).get(`/jobs/reindex/${first.body.id}`);
    expect(state.body).toMatchObject({ state: 'completed', result: 20 });
    expect(runs).toBe(1);

    const bad = await request(app).post('/jobs/reindex').set('x-api-key', KEY).send({ delayMs: -5 });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('delayMs');
    expect((await request(app).post('/jobs/nope').set('x-api-key', KEY).send({})).status).toBe(404);
    expect((await request(app).get('/jobs/reindex/missing')).status).toBe(404);

    const broken = await request(app).post('/jobs/broken').set('x-api-key', KEY).send({});
    await runner.waitFor('broken', broken.body.id);
    const failed = await request(app).get('/jobs/broken/failed');
    expect(failed.body.failed.map((j: { failedReason: string }) => j.failedReason)).toEqual([
      'index file missing',
    ]);
    await service.close();
  });
});
