/**
 * Batch jobs: one definition (`defineJob`) and one `JobRunner` interface with two backends, the
 * in-process runner (default, no set-up) and the BullMQ runner (Redis). The same processors,
 * retries, idempotency keys, progress, failure records, schedules and shutdown run on both.
 */
import { createHash } from 'node:crypto';
import { isAbsolute } from 'node:path';
import { fileURLToPath } from 'node:url';

/** What a processor receives besides its data. */
export interface JobContext {
  /** Job id, unique within its job name. */
  id: string;
  name: string;
  /**
   * Key identifying the logical piece of work: the same across retries and re-deliveries, so a
   * processor that writes keyed by it never writes twice.
   */
  idempotencyKey: string;
  /** 1 for the first try, 2 for the first retry, ... */
  attempt: number;
  /** Reports progress (a number 0..100 or an object); visible through `get()`. */
  progress(value: JobProgress): Promise<void>;
  /** Aborted when the runner stops: return or throw soon, and the job goes back to the queue. */
  signal: AbortSignal;
}

export type JobProgress = number | Record<string, unknown>;

/** A function processing one job. */
export type JobProcessor<D = unknown, R = unknown> = (data: D, context: JobContext) => Promise<R> | R;

/** Retry and placement options of a job definition (defaults for every enqueue). */
export interface JobOptions {
  /** Total tries including the first. Default 3. */
  attempts?: number;
  /** Exponential backoff: the n-th retry waits `backoffMs * 2^(n-1)`. Default 100 ms. */
  backoffMs?: number;
  /** Jobs of this name processed at the same time by one runner. Default 1. */
  concurrency?: number;
}

/** A job definition: a name plus either an in-process function or a sandboxed processor file. */
export interface JobDefinition<D = unknown, R = unknown> {
  name: string;
  /** In-process processor (runs on the event loop). */
  processor?: JobProcessor<D, R>;
  /**
   * Absolute path of a sandboxed processor file (ESM, `.js`/`.mjs`) whose default export is
   * `async (job) => result`, `job` being `{ id, name, data, attemptsMade, opts, updateProgress }`
   * (BullMQ's sandboxed job). Runs in a worker thread (in-process) or a child process (BullMQ),
   * off the event loop. The idempotency key is `job.id`.
   */
  file?: string;
  options: Required<Pick<JobOptions, 'attempts' | 'backoffMs' | 'concurrency'>>;
}

/**
 * Define a job.
 *
 * ```ts
 * const retrain = defineJob('retrain', async (data: { since: string }, ctx) => {
 *   await ctx.progress(50);
 *   return { version: '7' };
 * }, { attempts: 5 });
 * const heavy = defineJob('embed-catalog', new URL('./embed.worker.mjs', import.meta.url));
 * ```
 */
export function defineJob<D = unknown, R = unknown>(
  name: string,
  processor: JobProcessor<D, R> | string | URL,
  options: JobOptions = {},
): JobDefinition<D, R> {
  if (typeof name !== 'string' || !/^[A-Za-z0-9_.-]{1,100}$/.test(name)) {
    throw new TypeError(`name: expected 1-100 characters of [A-Za-z0-9_.-], got ${JSON.stringify(name)}`);
  }
  const attempts = options.attempts ?? 3;
  if (!Number.isInteger(attempts) || attempts < 1) {
    throw new RangeError(`options.attempts: expected an integer >= 1, got ${String(attempts)}`);
  }
  const backoffMs = options.backoffMs ?? 100;
  if (!Number.isFinite(backoffMs) || backoffMs < 0) {
    throw new RangeError(`options.backoffMs: expected a finite number >= 0, got ${String(backoffMs)}`);
  }
  const concurrency = options.concurrency ?? 1;
  if (!Number.isInteger(concurrency) || concurrency < 1) {
    throw new RangeError(`options.concurrency: expected an integer >= 1, got ${String(concurrency)}`);
  }
  const resolved = { attempts, backoffMs, concurrency };
  if (typeof processor === 'function') return { name, processor, options: resolved };
  const file = processor instanceof URL ? fileURLToPath(processor) : processor;
  if (typeof file !== 'string' || !isAbsolute(file)) {
    throw new TypeError(
      `processor: expected a function or an absolute path/URL of a processor file, got ${String(processor)}`,
    );
  }
  return { name, file, options: resolved };
}

/** Options of one enqueue. */
export interface EnqueueOptions {
  /**
   * The idempotency key: enqueuing twice with the same key yields one job, and the processor sees
   * it as `context.idempotencyKey`. Default: a fresh id.
   */
  idempotencyKey?: string;
  /** Wait before the first try, ms. */
  delayMs?: number;
  attempts?: number;
  backoffMs?: number;
}

export type JobState = 'waiting' | 'delayed' | 'active' | 'completed' | 'failed';

/** What a runner reports about one job. */
export interface JobInfo<D = unknown, R = unknown> {
  id: string;
  name: string;
  data: D;
  state: JobState;
  progress: JobProgress;
  /** Tries that have finished (failed or succeeded). */
  attemptsMade: number;
  result?: R;
  /** Why the last try failed. */
  failedReason?: string;
  idempotencyKey: string;
}

/** A repeatable schedule: every `everyMs` milliseconds, or a cron `pattern` (e.g. '0 3 * * *'). */
export type ScheduleSpec = { everyMs: number } | { pattern: string; tz?: string };

/** The runner interface both backends implement. */
export interface JobRunner {
  /** Starts processing (workers for every definition). */
  start(): Promise<void>;
  /** Adds a job for the definition `name`. */
  enqueue<D>(name: string, data: D, options?: EnqueueOptions): Promise<JobInfo<D>>;
  /** The job's current state, or undefined when unknown. */
  get(name: string, id: string): Promise<JobInfo | undefined>;
  /** Resolves when the job has completed or finally failed; rejects on timeout. */
  waitFor(name: string, id: string, timeoutMs?: number): Promise<JobInfo>;
  /** Failed jobs kept with their reasons. */
  failed(name: string): Promise<JobInfo[]>;
  /** Creates or replaces a repeatable schedule that enqueues `data` for `name`. */
  schedule(name: string, scheduleId: string, spec: ScheduleSpec, data?: unknown): Promise<void>;
  unschedule(name: string, scheduleId: string): Promise<void>;
  /**
   * Stops taking jobs; in-flight jobs finish or, when their processor honours `context.signal`,
   * go back to the queue for another worker. After `timeoutMs` remaining jobs are abandoned (the
   * BullMQ lock expires and another worker picks them up; the in-process runner re-queues them).
   */
  stop(timeoutMs?: number): Promise<void>;
  /** `stop()` plus releasing connections. */
  close(): Promise<void>;
}

/** Metrics a runner reports to (the ops metrics of @mlsd/monitoring fit). */
export interface JobMetrics {
  jobDuration: { observe(labels: { job: string; status: string }, seconds: number): void };
  jobFailures: { inc(labels: { job: string }): void };
}

/** Thrown by `waitFor` when the job does not finish in time. */
export class JobTimeoutError extends Error {
  override name = 'JobTimeoutError';
}

/** Error message of anything thrown. */
export function reasonOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** Delay before retry number `retry` (1-based), the same formula BullMQ uses. */
export function backoffDelay(backoffMs: number, retry: number): number {
  return Math.round(backoffMs * 2 ** (retry - 1));
}

/** A job id safe for BullMQ (no ':' and not an integer) derived from an idempotency key. */
export function jobIdFor(idempotencyKey: string): string {
  if (/^[A-Za-z0-9_.-]{1,100}$/.test(idempotencyKey) && !/^\d+$/.test(idempotencyKey)) return idempotencyKey;
  return `k-${createHash('sha256').update(idempotencyKey).digest('hex').slice(0, 32)}`;
}

export function checkDefinitions(
  definitions: readonly JobDefinition<never, unknown>[],
): Map<string, JobDefinition> {
  if (!Array.isArray(definitions)) {
    throw new TypeError(`options.jobs: expected an array of defineJob() results, got ${typeof definitions}`);
  }
  const map = new Map<string, JobDefinition>();
  for (const [i, def] of definitions.entries()) {
    if (!def || typeof def.name !== 'string' || (!def.processor && !def.file)) {
      throw new TypeError(`options.jobs[${i}]: expected a defineJob() result`);
    }
    if (map.has(def.name)) throw new TypeError(`options.jobs[${i}]: duplicate job name '${def.name}'`);
    map.set(def.name, def as JobDefinition);
  }
  return map;
}
