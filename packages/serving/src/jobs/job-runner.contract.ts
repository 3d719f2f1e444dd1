/**
 * The contract every JobRunner backend must meet, run by in-process-runner.test.ts and
 * bullmq-runner.slow.test.ts against the same processors.
 */
import { fileURLToPath } from 'node:url';
import { isMainThread } from 'node:worker_threads';
import { afterEach, describe, expect, it } from 'vitest';
import { createIdempotencyStore } from '../idempotency.js';
import { defineJob, type JobDefinition, type JobRunner } from './job-runner.js';

export interface RunnerFactory {
  /** A new runner over `jobs` (for BullMQ: on a fresh key prefix shared by the runners of one test). */
  create(jobs: JobDefinition<never, unknown>[]): Promise<JobRunner>;
  /** "Another worker" after `first` stopped: for BullMQ a second runner on the same queues. */
  another(first: JobRunner, jobs: JobDefinition<never, unknown>[]): Promise<JobRunner>;
}

const SUM_SQUARES = fileURLToPath(new URL('./fixtures/sum-squares.mjs', import.meta.url));

function until(predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  return (async () => {
    while (!(await predicate())) {
      if (Date.now() > deadline) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 10));
    }
  })();
}

export function jobRunnerContract(label: string, factory: () => RunnerFactory): void {
  describe(`JobRunner contract: ${label}`, () => {
    const open: JobRunner[] = [];
    let f: RunnerFactory;
    async function create(jobs: JobDefinition<never, unknown>[]) {
      f ??= factory();
      const r = await f.create(jobs);
      open.push(r);
      return r;
    }
    afterEach(async () => {
      await Promise.all(open.splice(0).map((r) => r.close()));
      f = undefined as unknown as RunnerFactory;
    });

    it('a job that fails twice then succeeds is retried with exponential backoff and written once', async () => {
      const store = createIdempotencyStore({ db: ':memory:' });
      store.db.exec('CREATE TABLE features (run_key TEXT NOT NULL, value REAL NOT NULL)');
      const insert = store.db.prepare('INSERT INTO features (run_key, value) VALUES (?, ?)');
      const tries: Array<{ attempt: number; at: number }> = [];
      const job = defineJob(
        'materialize',
        async (data: { value: number }, ctx) => {
          tries.push({ attempt: ctx.attempt, at: Date.now() });
          // The write happens before the failure, as when a crash follows a commit.
          store.runOnce(ctx.idempotencyKey, () => insert.run(ctx.idempotencyKey, data.value).changes);
          if (ctx.attempt < 3) throw new Error(`transient failure ${ctx.attempt}`);
          return { stored: data.value };
        },
        { attempts: 5, backoffMs: 40 },
      );
      const runner = await create([job]);
      await runner.start();
      const queued = await runner.enqueue(
        'materialize',
        { value: 2.5 },
        { idempotencyKey: 'day:2024-01-01' },
      );
      const done = await runner.waitFor('materialize', queued.id, 15_000);
      expect(done.state).toBe('completed');
      expect(done.result).toEqual({ stored: 2.5 });
      expect(done.attemptsMade).toBe(3);
      expect(done.idempotencyKey).toBe('day:2024-01-01');
      expect(tries.map((t) => t.attempt)).toEqual([1, 2, 3]);
      // Backoff doubles: at least 40 ms before the 2nd try and 80 ms before the 3rd.
      expect(tries[1].at - tries[0].at).toBeGreaterThanOrEqual(35);
      expect(tries[2].at - tries[1].at).toBeGreaterThanOrEqual(75);
      expect(store.db.prepare('SELECT run_key, value FROM features').all()).toEqual([
        { run_key: 'day:2024-01-01', value: 2.5 },
      ]);
      store.close();
    });

    it('a job failing every try is kept as failed with its reason', async () => {
      const job = defineJob(
        'always-fails',
        () => {
          throw new Error('upstream table missing');
        },
        { attempts: 2, backoffMs: 10 },
      );
      const runner = await create([job]);
      await runner.start();
      const queued = await runner.enqueue('always-fails', { n: 1 });
      const done = await runner.waitFor('always-fails', queued.id);
      expect(done.state).toBe('failed');
      expect(done.attemptsMade).toBe(2);
      expect(done.failedReason).toBe('upstream table missing');
      const failed = await runner.failed('always-fails');
      expect(failed.map((j) => [j.id, j.failedReason])).toEqual([[queued.id, 'upstream table missing']]);
    });

    it('enqueuing twice with one idempotency key gives one job and one run', async () => {
      let runs = 0;
      const job = defineJob('once', async () => {
        runs++;
        return runs;
      });
      const runner = await create([job]);
      const a = await runner.enqueue('once', {}, { idempotencyKey: 'nightly-2024-05-01' });
      const b = await runner.enqueue('once', {}, { idempotencyKey: 'nightly-2024-05-01' });
      expect(b.id).toBe(a.id);
      await runner.start();
      const done = await runner.waitFor('once', a.id);
      expect(done.result).toBe(1);
      await new Promise((r) => setTimeout(r, 50));
      expect(runs).toBe(1);
    });

    it('reports progress while a job runs', async () => {
      let release!: () => void;
      const gate = new Promise<void>((r) => {
        release = r;
      });
      const job = defineJob('progressing', async (_data: unknown, ctx) => {
        await ctx.progress(40);
        await gate;
        await ctx.progress({ stage: 'done', pct: 100 });
        return 'ok';
      });
      const runner = await create([job]);
      await runner.start();
      const queued = await runner.enqueue('progressing', {});
      await until(async () => (await runner.get('progressing', queued.id))?.progress === 40);
      expect((await runner.get('progressing', queued.id))?.state).toBe('active');
      release();
      const done = await runner.waitFor('progressing', queued.id);
      expect(done.progress).toEqual({ stage: 'done', pct: 100 });
    });

    it('stopping a worker mid-job returns the job; another worker completes it, written once', async () => {
      const store = createIdempotencyStore({ db: ':memory:' });
      store.db.exec('CREATE TABLE scores (run_key TEXT NOT NULL, n INTEGER NOT NULL)');
      const insert = store.db.prepare('INSERT INTO scores (run_key, n) VALUES (?, ?)');
      const starts: number[] = [];
      const job = defineJob(
        'rescore',
        async (data: { n: number }, ctx) => {
          starts.push(ctx.attempt);
          // Long work in slices, honouring the stop signal between slices.
          for (let i = 0; i < 20; i++) {
            if (ctx.signal.aborted) throw new Error('stopped');
            await ctx.progress(i * 5);
            await new Promise((r) => setTimeout(r, starts.length === 1 ? 50 : 5));
          }
          store.runOnce(ctx.idempotencyKey, () => insert.run(ctx.idempotencyKey, data.n));
          return data.n * 2;
        },
        { attempts: 1 },
      );
      const first = await create([job]);
      await first.start();
      const queued = await first.enqueue('rescore', { n: 21 }, { idempotencyKey: 'rescore:batch-7' });
      await until(async () => {
        const p = (await first.get('rescore', queued.id))?.progress;
        return typeof p === 'number' && p >= 10;
      });
      await first.stop(5_000);
      const after = await first.get('rescore', queued.id);
      expect(after?.state).toBe('waiting');
      expect(store.db.prepare('SELECT COUNT(*) AS n FROM scores').get()).toEqual({ n: 0 });

      const second = await f.another(first, [job]);
      if (second !== first) open.push(second);
      await second.start();
      const done = await second.waitFor('rescore', queued.id, 15_000);
      expect(done.state).toBe('completed');
      expect(done.result).toBe(42);
      expect(starts.length).toBe(2);
      expect(store.db.prepare('SELECT run_key, n FROM scores').all()).toEqual([
        { run_key: 'rescore:batch-7', n: 21 },
      ]);
      store.close();
    });

    it('runs a repeatable schedule until it is removed', async () => {
      const seen: string[] = [];
      const job = defineJob('tick', async (data: { tag: string }) => {
        seen.push(data.tag);
      });
      const runner = await create([job]);
      await runner.start();
      await runner.schedule('tick', 'every-60ms', { everyMs: 60 }, { tag: 'nightly-retrain' });
      await until(() => seen.length >= 2, 5_000);
      await runner.unschedule('tick', 'every-60ms');
      await new Promise((r) => setTimeout(r, 150));
      const count = seen.length;
      await new Promise((r) => setTimeout(r, 200));
      expect(seen.length).toBe(count);
      expect(new Set(seen)).toEqual(new Set(['nightly-retrain']));
    });

    it('runs a sandboxed processor file off the main thread with the same result', async () => {
      const job = defineJob('sum-squares', SUM_SQUARES);
      const runner = await create([job]);
      await runner.start();
      const queued = await runner.enqueue('sum-squares', { n: 1000 });
      const done = await runner.waitFor('sum-squares', queued.id, 20_000);
      expect(done.state).toBe('completed');
      const result = done.result as { total: number; pid: number; threadId: number; id: string };
      expect(result.total).toBe((999 * 1000 * 1999) / 6);
      expect(result.id).toBe(queued.id);
      // Either another process (BullMQ child) or another thread (worker_threads): never the event loop.
      expect(result.pid !== process.pid || result.threadId !== 0).toBe(true);
      expect(isMainThread).toBe(true);
      expect(done.progress).toBe(100);
    });

    it('rejects unknown job names and bad definitions with clear errors', async () => {
      const runner = await create([defineJob('known', () => 1)]);
      await expect(runner.enqueue('unknown', {})).rejects.toThrow(
        /name: expected one of the defined jobs \(known\)/,
      );
      expect(() => defineJob('bad name!', () => 1)).toThrow(/name: expected/);
      expect(() => defineJob('x', 'relative/path.mjs')).toThrow(/absolute path/);
      expect(() => defineJob('x', () => 1, { attempts: 0 })).toThrow(/options\.attempts/);
    });
  });
}
