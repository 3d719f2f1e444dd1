/**
 * Dynamic batching after Triton's design: concurrent single calls for one model are coalesced into
 * one batch of at most `maxBatchSize`, dispatched when the batch is full or when its oldest call has
 * waited `maxQueueDelayMs`, whichever comes first. The queue is bounded: when `maxQueueSize` calls
 * are waiting, new calls are rejected with `QueueFullError` (503 + Retry-After) instead of growing
 * latency without limit.
 */
import { QueueFullError } from './errors.js';

/** Histograms the batcher reports to (the ops metrics of @mlsd/monitoring fit). */
export interface BatcherMetrics {
  batchSize: { observe(labels: { model: string }, value: number): void };
  queueWait: { observe(labels: { model: string }, value: number): void };
}

/** Options of {@link createBatcher}. */
export interface BatcherOptions<I, O> {
  /** Label for metrics and messages (usually the model name). Default 'model'. */
  name?: string;
  /** Largest batch handed to `run`. */
  maxBatchSize: number;
  /** Longest time the oldest waiting call is held back to fill a batch, ms (0 = no waiting). */
  maxQueueDelayMs: number;
  /** Most calls allowed to wait; beyond it calls are rejected with `QueueFullError`. */
  maxQueueSize: number;
  /**
   * When no batch is running, dispatch at the end of the current event-loop turn (every request
   * parsed in this I/O phase joins) instead of holding the call for `maxQueueDelayMs`: a lone
   * caller then pays no delay, while under load batches still form behind the running one.
   * Default true; false gives Triton's plain policy.
   */
  dispatchWhenIdle?: boolean;
  /** Batches run at the same time. Default 1 (ONNX Runtime's CPU run holds the thread anyway). */
  maxConcurrentBatches?: number;
  /** Runs one batch; must return one output per input, in order. */
  run: (inputs: I[]) => Promise<O[]> | O[];
  metrics?: BatcherMetrics;
}

/** A running batcher. */
export interface Batcher<I, O> {
  /** Queues one input and resolves with its output (or rejects with its batch's error). */
  call(input: I): Promise<O>;
  /** Calls waiting to be dispatched. */
  readonly queued: number;
  /** Batches currently running. */
  readonly running: number;
  /** Refuses new calls, dispatches what is queued and waits for running batches. */
  close(): Promise<void>;
}

interface Pending<I, O> {
  input: I;
  enqueuedAt: number;
  resolve(value: O): void;
  reject(err: unknown): void;
}

function positiveInt(name: string, value: unknown, allowZero = false): number {
  const min = allowZero ? 0 : 1;
  if (typeof value !== 'number' || !Number.isInteger(value) || value < min) {
    throw new RangeError(`${name}: expected an integer >= ${min}, got ${String(value)}`);
  }
  return value;
}

/** Create a dynamic batcher. See the file header for the policy. */
export function createBatcher<I, O>(options: BatcherOptions<I, O>): Batcher<I, O> {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options: expected an object, got ${String(options)}`);
  }
  const maxBatchSize = positiveInt('options.maxBatchSize', options.maxBatchSize);
  const maxQueueSize = positiveInt('options.maxQueueSize', options.maxQueueSize);
  const maxConcurrent = positiveInt('options.maxConcurrentBatches', options.maxConcurrentBatches ?? 1);
  const delay = options.maxQueueDelayMs;
  if (typeof delay !== 'number' || !Number.isFinite(delay) || delay < 0) {
    throw new RangeError(`options.maxQueueDelayMs: expected a finite number >= 0, got ${String(delay)}`);
  }
  if (typeof options.run !== 'function') {
    throw new TypeError(`options.run: expected a function (inputs) => outputs, got ${typeof options.run}`);
  }
  const name = options.name ?? 'model';
  const labels = { model: name };
  const queue: Pending<I, O>[] = [];
  let running = 0;
  let timer: NodeJS.Timeout | undefined;
  let immediate: NodeJS.Immediate | undefined;
  const dispatchWhenIdle = options.dispatchWhenIdle ?? true;
  let closed = false;
  const idle: Array<() => void> = [];

  function settleIdle() {
    if (running === 0 && queue.length === 0) for (const fn of idle.splice(0)) fn();
  }

  async function runBatch(batch: Pending<I, O>[]) {
    running++;
    const now = performance.now();
    options.metrics?.batchSize.observe(labels, batch.length);
    for (const p of batch) options.metrics?.queueWait.observe(labels, (now - p.enqueuedAt) / 1000);
    try {
      const outputs = await options.run(batch.map((p) => p.input));
      if (!Array.isArray(outputs) || outputs.length !== batch.length) {
        throw new TypeError(
          `${name}: run() must return one output per input: expected an array of ${batch.length}, got ${
            Array.isArray(outputs) ? `an array of ${outputs.length}` : typeof outputs
          }`,
        );
      }
      for (const [i, p] of batch.entries()) p.resolve(outputs[i]);
    } catch (err) {
      for (const p of batch) p.reject(err);
    } finally {
      running--;
      schedule();
      settleIdle();
    }
  }

  function dispatch() {
    clearTimeout(timer);
    timer = undefined;
    clearImmediate(immediate);
    immediate = undefined;
    while (running < maxConcurrent && queue.length > 0) void runBatch(queue.splice(0, maxBatchSize));
  }

  function schedule() {
    if (queue.length === 0 || running >= maxConcurrent) return;
    const waited = performance.now() - queue[0].enqueuedAt;
    if (queue.length >= maxBatchSize || waited >= delay || closed) return dispatch();
    if (dispatchWhenIdle && running === 0) {
      immediate ??= setImmediate(() => {
        immediate = undefined;
        dispatch();
      });
      return;
    }
    if (!timer) {
      timer = setTimeout(() => {
        timer = undefined;
        dispatch();
      }, delay - waited);
    }
  }

  return {
    call(input) {
      if (closed) return Promise.reject(new QueueFullError(`${name}: batcher is closed`));
      if (queue.length >= maxQueueSize) {
        return Promise.reject(
          new QueueFullError(
            `${name}: ${queue.length} requests already queued (maxQueueSize ${maxQueueSize})`,
          ),
        );
      }
      return new Promise<O>((resolve, reject) => {
        queue.push({ input, enqueuedAt: performance.now(), resolve, reject });
        schedule();
      });
    },
    get queued() {
      return queue.length;
    },
    get running() {
      return running;
    },
    close() {
      closed = true;
      dispatch();
      if (running === 0 && queue.length === 0) return Promise.resolve();
      return new Promise<void>((resolve) => idle.push(resolve));
    },
  };
}
