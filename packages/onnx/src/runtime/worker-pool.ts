/**
 * OnnxWorkerPool: inference off the event loop. ONNX Runtime's Node binding computes `run()`
 * synchronously on the calling thread (microsoft/onnxruntime#19611), so a service that runs it in
 * process stalls every other request for the length of each inference. The pool keeps one
 * session per worker and dispatches each request to the least busy worker.
 *
 * Workers are worker threads by default: in the benchmark (README) they cost 2-3x less per
 * request than child processes, and the stress test (2 threads, each with a session, 300
 * concurrent requests) passes on Linux with onnxruntime-node 1.30, where the "Entering the V8 API
 * without proper locking" abort of microsoft/onnxruntime#24486 (Windows, ORT 1.21) did not
 * reproduce. `mode: 'process'` runs each session in a child process instead: slower, but a
 * native abort then kills one worker (its requests fail, a replacement starts), not the service.
 */
import { type ChildProcess, fork } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import { OnnxInputError, OnnxLoadError } from './errors.js';
import {
  checkFeeds,
  type OnnxFeeds,
  type OnnxModelLoadOptions,
  type OnnxRunOptions,
  type OnnxTensorData,
  type OnnxValueSignature,
} from './onnx-model.js';
import type { FromWorker, ModelDescription, SerializedError, ToWorker } from './pool-protocol.js';

/** Options of {@link OnnxWorkerPool.create}. */
export interface OnnxWorkerPoolOptions extends OnnxModelLoadOptions {
  /** Number of workers, each with its own session (default 1: leave a core to the event loop). */
  workers?: number;
  /** 'thread' (default, worker_threads) or 'process' (child processes: isolation from native aborts). */
  mode?: 'process' | 'thread';
  /** Start a replacement when a worker exits unexpectedly (default true). */
  respawn?: boolean;
}

interface Pending {
  resolve: (outputs: Record<string, OnnxTensorData>) => void;
  reject: (error: Error) => void;
}

interface WorkerHandle {
  send(message: ToWorker): void;
  kill(): void;
  pending: Map<number, Pending>;
  alive: boolean;
  /** Set by the pool once the worker is ready. */
  onResult?: (m: FromWorker) => void;
  onExit?: (code: number | null) => void;
}

function reviveError(error: SerializedError): Error {
  if (error.name === 'OnnxInputError') {
    return new OnnxInputError(error.input ?? '?', error.expected ?? '?', error.received ?? '?');
  }
  if (error.name === 'OnnxLoadError') {
    return new OnnxLoadError(error.source ?? '?', error.message.replace(`${error.source}: `, ''));
  }
  const revived =
    error.name === 'TypeError'
      ? new TypeError(error.message)
      : error.name === 'RangeError'
        ? new RangeError(error.message)
        : new Error(error.message);
  return revived;
}

/** Where the worker entry lives, and how to start it when running from TypeScript sources. */
function workerEntry(): { path: string; fromSource: boolean; tsxDir?: string } {
  const here = fileURLToPath(import.meta.url);
  const fromSource = here.endsWith('.ts');
  const path = join(dirname(here), fromSource ? 'pool-worker.ts' : 'pool-worker.js');
  if (!fromSource) return { path, fromSource };
  // Tests and tsx scripts run the sources: load the .ts worker through tsx (a devDependency).
  const tsxDir = dirname(createRequire(import.meta.url).resolve('tsx/package.json'));
  return { path, fromSource, tsxDir };
}

/** A pool of workers, each holding one ONNX Runtime session of the same model. */
export class OnnxWorkerPool {
  readonly name: string;
  readonly version: string;
  readonly metadata: Readonly<Record<string, string>>;
  readonly inputs: readonly OnnxValueSignature[];
  readonly outputs: readonly OnnxValueSignature[];
  private readonly workers: WorkerHandle[] = [];
  private nextId = 0;
  private closed = false;

  private constructor(
    description: ModelDescription,
    private readonly source: string | Uint8Array,
    private readonly options: OnnxWorkerPoolOptions,
  ) {
    this.name = description.name;
    this.version = description.version;
    this.metadata = Object.freeze({ ...description.metadata });
    this.inputs = Object.freeze(description.inputs);
    this.outputs = Object.freeze(description.outputs);
  }

  /**
   * Starts the workers and loads the model in each.
   * @throws OnnxLoadError when the model cannot be loaded (the workers are stopped).
   */
  static async create(
    source: string | Uint8Array,
    options: OnnxWorkerPoolOptions = {},
  ): Promise<OnnxWorkerPool> {
    const count = options.workers ?? 1;
    if (!Number.isInteger(count) || count < 1)
      throw new RangeError(`workers: expected a positive integer, got ${count}`);
    if (options.mode !== undefined && options.mode !== 'process' && options.mode !== 'thread') {
      throw new RangeError(`mode: expected 'process' or 'thread', got ${String(options.mode)}`);
    }
    // Read a path once here so every worker (and every replacement) loads the same bytes.
    let bytes: Uint8Array;
    try {
      bytes = typeof source === 'string' ? new Uint8Array(await readFile(source)) : source;
    } catch (error) {
      throw new OnnxLoadError(String(source), `cannot read the model file (${(error as Error).message})`, {
        cause: error,
      });
    }
    const loadOptions: OnnxWorkerPoolOptions = { intraOpNumThreads: 1, ...options };
    const started = await Promise.allSettled(
      Array.from({ length: count }, () => OnnxWorkerPool.spawn(bytes, loadOptions)),
    );
    const failure = started.find((s) => s.status === 'rejected');
    if (failure) {
      for (const s of started) if (s.status === 'fulfilled') s.value.handle.kill();
      throw (failure as PromiseRejectedResult).reason;
    }
    const ready = started.map(
      (s) => (s as PromiseFulfilledResult<{ handle: WorkerHandle; model: ModelDescription }>).value,
    );
    const pool = new OnnxWorkerPool(ready[0].model, bytes, loadOptions);
    for (const { handle } of ready) pool.adopt(handle);
    return pool;
  }

  private static spawn(
    source: string | Uint8Array,
    options: OnnxWorkerPoolOptions,
  ): Promise<{ handle: WorkerHandle; model: ModelDescription }> {
    const entry = workerEntry();
    const { workers: _w, mode = 'thread', respawn: _r, ...loadOptions } = options;
    return new Promise((resolve, reject) => {
      const pending = new Map<number, Pending>();
      let handle: WorkerHandle;
      const onMessage = (m: FromWorker) => {
        if (m.type === 'ready') resolve({ handle, model: m.model });
        else if (m.type === 'init-error') {
          handle.kill();
          reject(reviveError(m.error));
        } else handle.onResult?.(m);
      };
      const onExit = (code: number | null) => {
        handle.alive = false;
        reject(new OnnxLoadError(describe(source), `worker exited during load (code ${code})`));
        handle.onExit?.(code);
      };
      if (mode === 'thread') {
        const worker = entry.fromSource
          ? new Worker(
              `import(${JSON.stringify(pathToFileURL(join(entry.tsxDir as string, 'dist/esm/api/index.mjs')).href)}).then((m) => m.tsImport(${JSON.stringify(pathToFileURL(entry.path).href)}, ${JSON.stringify(pathToFileURL(entry.path).href)}));`,
              { eval: true },
            )
          : new Worker(entry.path);
        worker.on('message', onMessage);
        worker.on('error', () => {});
        worker.on('exit', onExit);
        handle = {
          send: (m) => worker.postMessage(m),
          kill: () => void worker.terminate(),
          pending,
          alive: true,
        };
      } else {
        const execArgv = entry.fromSource
          ? ['--import', pathToFileURL(join(entry.tsxDir as string, 'dist/loader.mjs')).href]
          : [];
        const child: ChildProcess = fork(entry.path, [], {
          execArgv,
          serialization: 'advanced',
          stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
        });
        child.on('message', (m) => onMessage(m as FromWorker));
        child.on('error', () => {});
        child.on('exit', (code) => onExit(code));
        handle = {
          send: (m) => {
            if (child.connected) child.send(m);
          },
          kill: () => void child.kill(),
          pending,
          alive: true,
        };
      }
      handle.send({ type: 'init', source, options: loadOptions });
    });
  }

  /** Wires a started worker's results and exit into the pool. */
  private adopt(handle: WorkerHandle): void {
    this.workers.push(handle);
    Object.assign(handle, {
      onResult: (m: FromWorker) => {
        if (m.type !== 'result' && m.type !== 'error') return;
        const p = handle.pending.get(m.id);
        if (!p) return;
        handle.pending.delete(m.id);
        if (m.type === 'result') p.resolve(m.outputs);
        else p.reject(reviveError(m.error));
      },
      onExit: (code: number | null) => {
        const index = this.workers.indexOf(handle);
        if (index >= 0) this.workers.splice(index, 1);
        for (const p of handle.pending.values())
          p.reject(new Error(`ONNX worker exited (code ${code}) before answering`));
        handle.pending.clear();
        if (!this.closed && this.options.respawn !== false) {
          OnnxWorkerPool.spawn(this.source, this.options).then(
            ({ handle: replacement }) => {
              if (this.closed) replacement.kill();
              else this.adopt(replacement);
            },
            () => {},
          );
        }
      },
    });
  }

  /** Number of requests sent to workers and not answered yet. */
  get pending(): number {
    return this.workers.reduce((n, w) => n + w.pending.size, 0);
  }

  /** Number of live workers. */
  get size(): number {
    return this.workers.length;
  }

  /** Runs one request on the least busy worker; same checks and result as {@link OnnxModel.run}. */
  run(feeds: OnnxFeeds, options: OnnxRunOptions = {}): Promise<Record<string, OnnxTensorData>> {
    return this.dispatch(feeds, options, false);
  }

  /** {@link OnnxModel.runBatch} on the least busy worker. */
  runBatch(
    feeds: OnnxFeeds,
    options: OnnxRunOptions & { maxBatchSize?: number } = {},
  ): Promise<Record<string, OnnxTensorData>> {
    return this.dispatch(feeds, options, true);
  }

  private dispatch(
    feeds: OnnxFeeds,
    options: OnnxRunOptions & { maxBatchSize?: number },
    batch: boolean,
  ): Promise<Record<string, OnnxTensorData>> {
    if (this.closed) return Promise.reject(new Error(`OnnxWorkerPool(${this.name}): run() after close()`));
    const worker = this.workers.reduce<WorkerHandle | undefined>(
      (best, w) => (w.alive && (!best || w.pending.size < best.pending.size) ? w : best),
      undefined,
    );
    if (!worker)
      return Promise.reject(new Error(`OnnxWorkerPool(${this.name}): no live worker (restarting)`));
    let checked: Record<string, OnnxTensorData>;
    try {
      // Checked here so a bad request costs no round trip; the worker checks again (cheap).
      checked = checkFeeds(this.inputs, feeds);
    } catch (error) {
      return Promise.reject(error);
    }
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      worker.pending.set(id, { resolve, reject });
      worker.send({ type: 'run', id, feeds: checked, options, batch });
    });
  }

  /** Stops every worker; pending requests are rejected. */
  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    const workers = [...this.workers];
    for (const w of workers) w.send({ type: 'close' });
    await new Promise((r) => setTimeout(r, 50));
    for (const w of workers) {
      for (const p of w.pending.values()) p.reject(new Error('OnnxWorkerPool closed'));
      w.pending.clear();
      w.kill();
    }
    this.workers.length = 0;
  }
}

function describe(source: string | Uint8Array): string {
  return typeof source === 'string' ? source : `<buffer of ${source.byteLength} bytes>`;
}
