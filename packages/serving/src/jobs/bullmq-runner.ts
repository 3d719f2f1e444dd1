/**
 * The BullMQ job runner: one queue per job definition on Redis, workers in any number of
 * processes. Used when a Redis URL is configured; same processors and semantics as the
 * in-process runner (see job-runner.ts).
 */
import { randomUUID } from 'node:crypto';
import { type Job, Queue, WaitingError, Worker } from 'bullmq';
import { Redis } from 'ioredis';
import {
  checkDefinitions,
  type EnqueueOptions,
  type JobContext,
  type JobDefinition,
  type JobInfo,
  type JobMetrics,
  type JobProgress,
  type JobRunner,
  type JobState,
  JobTimeoutError,
  jobIdFor,
  type ScheduleSpec,
} from './job-runner.js';

/** Options of {@link BullMqJobRunner}. */
export interface BullMqJobRunnerOptions {
  /** Redis URL, e.g. `redis://127.0.0.1:6380`. */
  redisUrl: string;
  jobs: readonly JobDefinition<never, unknown>[];
  /** Key prefix of every queue (lets several apps or tests share one Redis). Default 'mlsd'. */
  prefix?: string;
  metrics?: JobMetrics;
  /**
   * How long a worker's lock on an active job lasts, ms. A worker that disappears without
   * returning its job loses it after this long, and another worker's stalled check re-queues it.
   * Default 30000.
   */
  lockDurationMs?: number;
  /** How often workers look for stalled jobs, ms. Default 30000. */
  stalledIntervalMs?: number;
  /** Run sandboxed processor files in worker threads instead of child processes. Default false. */
  useWorkerThreads?: boolean;
}

/** Runs jobs on BullMQ queues and workers. */
export class BullMqJobRunner implements JobRunner {
  private readonly defs: Map<string, JobDefinition>;
  private readonly queues = new Map<string, Queue>();
  private workers: Worker[] = [];
  /** Jobs being processed by this runner's workers, to know when a stop has drained. */
  private readonly inFlight = new Map<Worker, number>();
  private readonly connection: Redis;
  private readonly prefix: string;

  constructor(private readonly options: BullMqJobRunnerOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options: expected { redisUrl, jobs }, got ${String(options)}`);
    }
    if (typeof options.redisUrl !== 'string' || !/^rediss?:\/\//.test(options.redisUrl)) {
      throw new TypeError(`options.redisUrl: expected a redis:// URL, got ${String(options.redisUrl)}`);
    }
    this.defs = checkDefinitions(options.jobs);
    this.prefix = options.prefix ?? 'mlsd';
    // BullMQ workers block on Redis and need maxRetriesPerRequest: null.
    this.connection = new Redis(options.redisUrl, { maxRetriesPerRequest: null, lazyConnect: false });
    for (const name of this.defs.keys()) {
      this.queues.set(name, new Queue(name, { connection: this.connection, prefix: this.prefix }));
    }
  }

  private queue(name: string): Queue {
    const q = this.queues.get(name);
    if (!q) {
      throw new RangeError(
        `name: expected one of the defined jobs (${[...this.defs.keys()].join(', ')}), got '${name}'`,
      );
    }
    return q;
  }

  async start(): Promise<void> {
    if (this.workers.length > 0) return;
    for (const def of this.defs.values()) {
      const processor = def.file ?? this.wrap(def);
      const worker = new Worker(def.name, processor, {
        connection: this.connection,
        prefix: this.prefix,
        concurrency: def.options.concurrency,
        lockDuration: this.options.lockDurationMs ?? 30_000,
        stalledInterval: this.options.stalledIntervalMs ?? 30_000,
        useWorkerThreads: this.options.useWorkerThreads ?? false,
        removeOnComplete: { count: 1000 },
      });
      worker.on('completed', (job) => {
        this.options.metrics?.jobDuration.observe(
          { job: def.name, status: 'completed' },
          ((job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now())) / 1000,
        );
      });
      worker.on('failed', (job) => {
        if (job && job.attemptsMade >= (job.opts.attempts ?? 1)) {
          this.options.metrics?.jobDuration.observe(
            { job: def.name, status: 'failed' },
            ((job.finishedOn ?? Date.now()) - (job.processedOn ?? Date.now())) / 1000,
          );
          this.options.metrics?.jobFailures.inc({ job: def.name });
        }
      });
      // Errors of the worker's own connection are reported here rather than crashing the process.
      worker.on('error', () => {});
      this.inFlight.set(worker, 0);
      const bump = (d: number) => this.inFlight.set(worker, (this.inFlight.get(worker) ?? 0) + d);
      if (def.file) {
        worker.on('active', () => bump(1));
        worker.on('completed', () => bump(-1));
        worker.on('failed', () => bump(-1));
      } else {
        (processor as { onSettle?: (d: number) => void }).onSettle = bump;
      }
      this.workers.push(worker);
    }
    await Promise.all(this.workers.map((w) => w.waitUntilReady()));
  }

  private wrap(def: JobDefinition) {
    // Three parameters: BullMQ passes an AbortSignal only to processors declaring it.
    const fn = async (job: Job, token: string | undefined, signal?: AbortSignal) => {
      fn.onSettle?.(1);
      try {
        return await this.process(def, job, token, signal);
      } finally {
        fn.onSettle?.(-1);
      }
    };
    fn.onSettle = undefined as ((d: number) => void) | undefined;
    return fn;
  }

  private async process(def: JobDefinition, job: Job, token: string | undefined, signal?: AbortSignal) {
    const controller = signal ?? new AbortController().signal;
    const context: JobContext = {
      id: job.id!,
      name: def.name,
      idempotencyKey: (job.data as { __key?: string })?.__key ?? job.id!,
      attempt: job.attemptsMade + 1,
      signal: controller,
      progress: (value: JobProgress) => job.updateProgress(value),
    };
    try {
      return await def.processor!(unwrapData(job.data), context);
    } catch (err) {
      if (controller.aborted && token) {
        // Stopped mid-job: hand the job back to the queue without counting a failed try.
        await job.moveToWait(token);
        throw new WaitingError();
      }
      throw err;
    }
  }

  async enqueue<D>(name: string, data: D, options: EnqueueOptions = {}): Promise<JobInfo<D>> {
    const def = this.defs.get(name);
    const queue = this.queue(name);
    const key = options.idempotencyKey ?? randomUUID();
    if (typeof key !== 'string' || key.length === 0) {
      throw new TypeError(`options.idempotencyKey: expected a non-empty string, got ${String(key)}`);
    }
    const jobId = jobIdFor(key);
    // The original key travels with the data when the id had to be hashed (BullMQ forbids ':' in ids).
    const payload = jobId === key || def?.file ? data : { __key: key, __data: data };
    const job = await queue.add(name, payload, {
      jobId,
      attempts: options.attempts ?? def!.options.attempts,
      backoff: { type: 'exponential', delay: options.backoffMs ?? def!.options.backoffMs },
      delay: options.delayMs,
      removeOnComplete: { count: 1000 },
      removeOnFail: false,
    });
    return (await this.toInfo(name, job as Job)) as JobInfo<D>;
  }

  private async toInfo(name: string, fetched: Job): Promise<JobInfo> {
    const raw = await fetched.getState();
    const state: JobState =
      raw === 'completed' || raw === 'failed' || raw === 'active' || raw === 'delayed' ? raw : 'waiting';
    // The job's fields were read before its state: it may have finished in between, leaving the
    // result unread. A terminal state does not change again, so a second read is consistent.
    const job =
      state === 'completed' || state === 'failed'
        ? (((await this.queue(name).getJob(fetched.id!)) as Job | undefined) ?? fetched)
        : fetched;
    const data = job.data as { __key?: string };
    return {
      id: job.id!,
      name,
      data: unwrapData(job.data),
      state,
      progress: (job.progress ?? 0) as JobProgress,
      attemptsMade: job.attemptsMade,
      result: job.returnvalue ?? undefined,
      failedReason: job.failedReason || undefined,
      idempotencyKey:
        data && typeof data === 'object' && typeof data.__key === 'string' ? data.__key : job.id!,
    };
  }

  async get(name: string, id: string): Promise<JobInfo | undefined> {
    const job = (await this.queue(name).getJob(id)) as Job | undefined;
    return job ? this.toInfo(name, job) : undefined;
  }

  async waitFor(name: string, id: string, timeoutMs = 30_000): Promise<JobInfo> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.get(name, id);
      if (!info) throw new RangeError(`id: no job '${id}' for '${name}'`);
      if (info.state === 'completed' || info.state === 'failed') return info;
      if (Date.now() > deadline)
        throw new JobTimeoutError(`job ${name}/${id} still ${info.state} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 25));
    }
  }

  async failed(name: string): Promise<JobInfo[]> {
    const jobs = (await this.queue(name).getFailed()) as Job[];
    return Promise.all(jobs.map((j) => this.toInfo(name, j)));
  }

  async schedule(name: string, scheduleId: string, spec: ScheduleSpec, data: unknown = {}): Promise<void> {
    const def = this.defs.get(name);
    const repeat = 'everyMs' in spec ? { every: spec.everyMs } : { pattern: spec.pattern, tz: spec.tz };
    if ('everyMs' in spec && (!Number.isFinite(spec.everyMs) || spec.everyMs < 1)) {
      throw new RangeError(`spec.everyMs: expected a number >= 1, got ${String(spec.everyMs)}`);
    }
    await this.queue(name).upsertJobScheduler(scheduleId, repeat, {
      name,
      data,
      opts: {
        attempts: def!.options.attempts,
        backoff: { type: 'exponential', delay: def!.options.backoffMs },
        removeOnFail: false,
      },
    });
  }

  async unschedule(name: string, scheduleId: string): Promise<void> {
    await this.queue(name).removeJobScheduler(scheduleId);
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    const workers = this.workers;
    this.workers = [];
    await Promise.all(
      workers.map(async (worker) => {
        // Stop fetching first, or a job handed back below would be picked up again by this worker.
        await worker.pause(true);
        worker.cancelAllJobs('runner stopping');
        // Waiting here rather than in worker.close(): once a graceful close has begun, BullMQ's
        // close(true) returns that same promise, so a stuck processor could never be cut off.
        const deadline = Date.now() + timeoutMs;
        while ((this.inFlight.get(worker) ?? 0) > 0 && Date.now() < deadline) {
          await new Promise((r) => setTimeout(r, 10));
        }
        const drained = (this.inFlight.get(worker) ?? 0) === 0;
        // Past the timeout the job stays locked until its lock expires; another worker then re-queues it.
        await worker.close(!drained);
        this.inFlight.delete(worker);
      }),
    );
  }

  async close(): Promise<void> {
    await this.stop();
    await Promise.all([...this.queues.values()].map((q) => q.close()));
    await this.connection.quit().catch(() => this.connection.disconnect());
  }
}

function unwrapData(data: unknown): unknown {
  if (data && typeof data === 'object' && '__key' in data && '__data' in data) {
    return (data as { __data: unknown }).__data;
  }
  return data;
}
