/**
 * The JobRunner contract against BullMQ on the private redis-server of the slow project, plus a
 * worker killed mid-job (force-closed, lock left to expire) whose job another worker completes.
 */
import { describeWithRedis, uniquePrefix } from '@mlsd/test-utils';
import { expect, it } from 'vitest';
import { createIdempotencyStore } from '../idempotency.js';
import { BullMqJobRunner } from './bullmq-runner.js';
import { jobRunnerContract } from './job-runner.contract.js';
import { defineJob } from './job-runner.js';

describeWithRedis('BullMqJobRunner', (url) => {
  jobRunnerContract('bullmq', () => {
    const prefix = uniquePrefix('serving-jobs').replace(/:$/, '');
    const options = { redisUrl: url, prefix, lockDurationMs: 1500, stalledIntervalMs: 500 };
    return {
      create: async (jobs) => new BullMqJobRunner({ ...options, jobs }),
      another: async (_first, jobs) => new BullMqJobRunner({ ...options, jobs }),
    };
  });

  it('a worker killed mid-job loses its lock and another worker finishes the job, written once', async () => {
    const prefix = uniquePrefix('serving-kill').replace(/:$/, '');
    const store = createIdempotencyStore({ db: ':memory:' });
    store.db.exec('CREATE TABLE rows (run_key TEXT NOT NULL)');
    const insert = store.db.prepare('INSERT INTO rows (run_key) VALUES (?)');
    let starts = 0;
    const job = defineJob(
      'stubborn',
      async (_data: unknown, ctx) => {
        starts++;
        await ctx.progress(10);
        // Ignores the stop signal: only losing the lock can take the job away from this worker.
        await new Promise((r) => setTimeout(r, starts === 1 ? 2500 : 10));
        store.runOnce(ctx.idempotencyKey, () => insert.run(ctx.idempotencyKey));
        return starts;
      },
      { attempts: 1 },
    );
    const options = { redisUrl: url, prefix, lockDurationMs: 1000, stalledIntervalMs: 300, jobs: [job] };
    const first = new BullMqJobRunner(options);
    await first.start();
    const queued = await first.enqueue('stubborn', {}, { idempotencyKey: 'export:2024-06' });
    while ((await first.get('stubborn', queued.id))?.progress !== 10)
      await new Promise((r) => setTimeout(r, 20));
    await first.stop(50); // graceful close times out -> force close, the job stays locked

    const second = new BullMqJobRunner(options);
    await second.start();
    const done = await second.waitFor('stubborn', queued.id, 20_000);
    expect(done.state).toBe('completed');
    expect(starts).toBe(2);
    await new Promise((r) => setTimeout(r, 2600)); // let the killed worker's processor run to its end
    expect(store.db.prepare('SELECT run_key FROM rows').all()).toEqual([{ run_key: 'export:2024-06' }]);
    expect((await second.get('stubborn', queued.id))?.state).toBe('completed');
    await second.close();
    await first.close();
    store.close();
  });
});
