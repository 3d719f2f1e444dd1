/**
 * The in-process job runner: the default backend, no Redis needed. Jobs live in memory, so they
 * survive `stop()`/`start()` of the runner but not a process restart (use BullMQ for that).
 */
import { randomUUID } from 'node:crypto';
import { CronExpressionParser } from 'cron-parser';
import {
  backoffDelay,
  checkDefinitions,
  type EnqueueOptions,
  type JobContext,
  type JobDefinition,
  type JobInfo,
  type JobMetrics,
  type JobProgress,
  type JobRunner,
  JobTimeoutError,
  reasonOf,
  type ScheduleSpec,
} from './job-runner.js';
import { runInWorkerThread } from './sandbox.js';

/** Options of {@link InProcessJobRunner}. */
export interface InProcessJobRunnerOptions {
  jobs: readonly JobDefinition<never, unknown>[];
  metrics?: JobMetrics;
  /** Completed jobs kept per name for `get()`. Default 1000 (failed jobs are always kept). */
  keepCompleted?: number;
}

interface InternalJob {
  info: JobInfo;
  attempts: number;
  backoffMs: number;
  controller?: AbortController;
  /** Incremented whenever a run is abandoned, so a late result of that run is ignored. */
  generation: number;
  timer?: NodeJS.Timeout;
}

interface Lane {
  def: JobDefinition;
  jobs: Map<string, InternalJob>;
  waiting: string[];
  active: Set<string>;
  completedOrder: string[];
}

/** Runs jobs in this process; sandboxed processor files run in worker threads. */
export class InProcessJobRunner implements JobRunner {
  private readonly lanes = new Map<string, Lane>();
  private readonly schedules = new Map<string, NodeJS.Timeout>();
  private running = false;
  private readonly idle = new Set<() => void>();

  constructor(private readonly options: InProcessJobRunnerOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options: expected { jobs }, got ${String(options)}`);
    }
    for (const [name, def] of checkDefinitions(options.jobs)) {
      this.lanes.set(name, { def, jobs: new Map(), waiting: [], active: new Set(), completedOrder: [] });
    }
  }

  private lane(name: string): Lane {
    const lane = this.lanes.get(name);
    if (!lane) {
      throw new RangeError(
        `name: expected one of the defined jobs (${[...this.lanes.keys()].join(', ')}), got '${name}'`,
      );
    }
    return lane;
  }

  async start(): Promise<void> {
    this.running = true;
    for (const lane of this.lanes.values()) this.pump(lane);
  }

  async enqueue<D>(name: string, data: D, options: EnqueueOptions = {}): Promise<JobInfo<D>> {
    const lane = this.lane(name);
    const key = options.idempotencyKey ?? randomUUID();
    if (typeof key !== 'string' || key.length === 0) {
      throw new TypeError(`options.idempotencyKey: expected a non-empty string, got ${String(key)}`);
    }
    const existing = lane.jobs.get(key);
    if (existing) return structuredClone(existing.info) as JobInfo<D>;
    const job: InternalJob = {
      info: {
        id: key,
        name,
        data,
        state: 'waiting',
        progress: 0,
        attemptsMade: 0,
        idempotencyKey: key,
      },
      attempts: options.attempts ?? lane.def.options.attempts,
      backoffMs: options.backoffMs ?? lane.def.options.backoffMs,
      generation: 0,
    };
    lane.jobs.set(key, job);
    if (options.delayMs && options.delayMs > 0) {
      job.info.state = 'delayed';
      job.timer = setTimeout(() => this.makeWaiting(lane, job), options.delayMs);
    } else {
      lane.waiting.push(key);
      this.pump(lane);
    }
    return structuredClone(job.info) as JobInfo<D>;
  }

  private makeWaiting(lane: Lane, job: InternalJob, front = false) {
    job.timer = undefined;
    job.info.state = 'waiting';
    if (front) lane.waiting.unshift(job.info.id);
    else lane.waiting.push(job.info.id);
    this.pump(lane);
  }

  private pump(lane: Lane) {
    while (this.running && lane.active.size < lane.def.options.concurrency && lane.waiting.length > 0) {
      const id = lane.waiting.shift()!;
      const job = lane.jobs.get(id);
      if (job && job.info.state === 'waiting') void this.process(lane, job);
    }
  }

  private async process(lane: Lane, job: InternalJob) {
    const def = lane.def;
    const controller = new AbortController();
    const generation = job.generation;
    job.controller = controller;
    job.info.state = 'active';
    lane.active.add(job.info.id);
    const started = performance.now();
    const context: JobContext = {
      id: job.info.id,
      name: def.name,
      idempotencyKey: job.info.idempotencyKey,
      attempt: job.info.attemptsMade + 1,
      signal: controller.signal,
      progress: async (value: JobProgress) => {
        if (job.generation === generation) job.info.progress = value;
      },
    };
    let result: unknown;
    let error: unknown;
    let ok = false;
    try {
      result = def.processor
        ? await def.processor(job.info.data, context)
        : await runInWorkerThread(
            def.file!,
            {
              id: job.info.id,
              name: def.name,
              data: job.info.data,
              attemptsMade: job.info.attemptsMade,
              opts: { attempts: job.attempts },
            },
            (value) => {
              if (job.generation === generation) job.info.progress = value;
            },
            controller.signal,
          );
      ok = true;
    } catch (err) {
      error = err;
    }
    if (job.generation !== generation) return; // abandoned by stop(): already re-queued
    lane.active.delete(job.info.id);
    job.controller = undefined;
    const seconds = (performance.now() - started) / 1000;
    if (ok) {
      job.info.attemptsMade++;
      job.info.state = 'completed';
      job.info.result = result;
      this.options.metrics?.jobDuration.observe({ job: def.name, status: 'completed' }, seconds);
      this.retainCompleted(lane, job.info.id);
    } else if (controller.signal.aborted) {
      // Stopped mid-job: the try does not count, the job goes back to the head of the queue.
      job.info.state = 'waiting';
      lane.waiting.unshift(job.info.id);
    } else {
      job.info.attemptsMade++;
      job.info.failedReason = reasonOf(error);
      if (job.info.attemptsMade < job.attempts) {
        job.info.state = 'delayed';
        job.timer = setTimeout(
          () => this.makeWaiting(lane, job),
          backoffDelay(job.backoffMs, job.info.attemptsMade),
        );
      } else {
        job.info.state = 'failed';
        this.options.metrics?.jobDuration.observe({ job: def.name, status: 'failed' }, seconds);
        this.options.metrics?.jobFailures.inc({ job: def.name });
      }
    }
    this.pump(lane);
    this.notifyIdle();
  }

  private retainCompleted(lane: Lane, id: string) {
    lane.completedOrder.push(id);
    const keep = this.options.keepCompleted ?? 1000;
    while (lane.completedOrder.length > keep) lane.jobs.delete(lane.completedOrder.shift()!);
  }

  private notifyIdle() {
    for (const lane of this.lanes.values()) if (lane.active.size > 0) return;
    for (const fn of this.idle) fn();
  }

  async get(name: string, id: string): Promise<JobInfo | undefined> {
    const job = this.lane(name).jobs.get(id);
    return job ? structuredClone(job.info) : undefined;
  }

  async waitFor(name: string, id: string, timeoutMs = 30_000): Promise<JobInfo> {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
      const info = await this.get(name, id);
      if (!info) throw new RangeError(`id: no job '${id}' for '${name}'`);
      if (info.state === 'completed' || info.state === 'failed') return info;
      if (Date.now() > deadline)
        throw new JobTimeoutError(`job ${name}/${id} still ${info.state} after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 5));
    }
  }

  async failed(name: string): Promise<JobInfo[]> {
    return [...this.lane(name).jobs.values()]
      .filter((j) => j.info.state === 'failed')
      .map((j) => structuredClone(j.info));
  }

  async schedule(name: string, scheduleId: string, spec: ScheduleSpec, data: unknown = {}): Promise<void> {
    this.lane(name);
    await this.unschedule(name, scheduleId);
    const key = `${name}\u0000${scheduleId}`;
    // One idempotency key per firing time, so a schedule never enqueues the same slot twice.
    const fire = (at: number) => {
      void this.enqueue(name, data, { idempotencyKey: `${scheduleId}-${at}` });
    };
    if ('everyMs' in spec) {
      if (!Number.isFinite(spec.everyMs) || spec.everyMs < 1) {
        throw new RangeError(`spec.everyMs: expected a number >= 1, got ${String(spec.everyMs)}`);
      }
      // Aligned to multiples of everyMs, like BullMQ's `every`, so ids are stable across restarts.
      const tick = () => {
        const now = Date.now();
        const next = Math.ceil((now + 1) / spec.everyMs) * spec.everyMs;
        this.schedules.set(
          key,
          setTimeout(() => {
            fire(next);
            tick();
          }, next - now),
        );
      };
      tick();
    } else {
      let expression: ReturnType<typeof CronExpressionParser.parse>;
      try {
        expression = CronExpressionParser.parse(spec.pattern, spec.tz ? { tz: spec.tz } : {});
      } catch (err) {
        throw new TypeError(
          `spec.pattern: expected a cron pattern, got '${spec.pattern}' (${reasonOf(err)})`,
        );
      }
      const tick = () => {
        const next = expression.next().getTime();
        this.schedules.set(
          key,
          setTimeout(
            () => {
              fire(next);
              tick();
            },
            Math.max(0, next - Date.now()),
          ),
        );
      };
      tick();
    }
  }

  async unschedule(name: string, scheduleId: string): Promise<void> {
    const key = `${name}\u0000${scheduleId}`;
    clearTimeout(this.schedules.get(key));
    this.schedules.delete(key);
  }

  async stop(timeoutMs = 30_000): Promise<void> {
    this.running = false;
    const active = () =>
      [...this.lanes.values()].flatMap((l) => [...l.active].map((id) => ({ l, job: l.jobs.get(id)! })));
    for (const { job } of active()) job.controller?.abort();
    if (active().length > 0) {
      let onIdle!: () => void;
      const done = new Promise<void>((resolve) => {
        onIdle = resolve;
        this.idle.add(onIdle);
      });
      let timer: NodeJS.Timeout | undefined;
      const timeout = new Promise<void>((resolve) => {
        timer = setTimeout(resolve, timeoutMs);
      });
      await Promise.race([done, timeout]);
      clearTimeout(timer);
      this.idle.delete(onIdle);
    }
    // Processors that ignored the signal past the timeout are abandoned and their jobs re-queued.
    for (const { l, job } of active()) {
      job.generation++;
      l.active.delete(job.info.id);
      job.info.state = 'waiting';
      l.waiting.unshift(job.info.id);
    }
  }

  async close(): Promise<void> {
    for (const timer of this.schedules.values()) clearTimeout(timer);
    this.schedules.clear();
    await this.stop();
    for (const lane of this.lanes.values()) for (const job of lane.jobs.values()) clearTimeout(job.timer);
  }
}
