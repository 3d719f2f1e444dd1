/**
 * The JobRunner contract against the in-process runner, plus its own metrics and shutdown cases.
 */
import { createOpsMetrics } from '@mlsd/monitoring';
import { describe, expect, it } from 'vitest';
import { InProcessJobRunner } from './in-process-runner.js';
import { jobRunnerContract } from './job-runner.contract.js';
import { defineJob } from './job-runner.js';

jobRunnerContract('in-process', () => ({
  create: async (jobs) => new InProcessJobRunner({ jobs }),
  // One process: "another worker" is the same runner started again.
  another: async (first) => first,
}));

describe('InProcessJobRunner', () => {
  it('records job durations and final failures in the ops metrics', async () => {
    const metrics = createOpsMetrics({ collectDefaultMetrics: false });
    const runner = new InProcessJobRunner({
      metrics,
      jobs: [
        defineJob('ok', () => 1),
        defineJob(
          'bad',
          () => {
            throw new Error('no');
          },
          { attempts: 2, backoffMs: 1 },
        ),
      ],
    });
    await runner.start();
    const a = await runner.enqueue('ok', {});
    const b = await runner.enqueue('bad', {});
    await runner.waitFor('ok', a.id);
    await runner.waitFor('bad', b.id);
    const text = await metrics.metrics();
    expect(text).toMatch(/mlsd_job_duration_seconds_count\{job="ok",status="completed"\} 1/);
    expect(text).toMatch(/mlsd_job_duration_seconds_count\{job="bad",status="failed"\} 1/);
    expect(text).toMatch(/mlsd_job_failures_total\{job="bad"\} 1/);
    await runner.close();
  });

  it('a processor ignoring the stop signal is abandoned after the timeout and its job re-queued', async () => {
    let calls = 0;
    const runner = new InProcessJobRunner({
      jobs: [
        defineJob('stubborn', async () => {
          calls++;
          await new Promise((r) => setTimeout(r, calls === 1 ? 300 : 1));
          return calls;
        }),
      ],
    });
    await runner.start();
    const job = await runner.enqueue('stubborn', {});
    await new Promise((r) => setTimeout(r, 20));
    await runner.stop(30);
    expect((await runner.get('stubborn', job.id))?.state).toBe('waiting');
    await runner.start();
    const done = await runner.waitFor('stubborn', job.id);
    expect(done.result).toBe(2);
    await new Promise((r) => setTimeout(r, 350));
    // The abandoned first run finished later; its result must not overwrite the re-run's.
    expect((await runner.get('stubborn', job.id))?.result).toBe(2);
    await runner.close();
  });
});
