/**
 * Runs a sandboxed processor file in a worker thread with a job object shaped like BullMQ's
 * sandboxed job, so the same file serves the in-process runner and BullMQ's child processes.
 */
import { pathToFileURL } from 'node:url';
import { Worker } from 'node:worker_threads';
import type { JobProgress } from './job-runner.js';

// Inline bootstrap (eval) so no separate .js file has to exist next to the TypeScript sources.
const BOOTSTRAP = `
const { parentPort, workerData } = require('node:worker_threads');
(async () => {
  try {
    const mod = await import(workerData.url);
    const fn = typeof mod.default === 'function' ? mod.default : mod.default?.default;
    if (typeof fn !== 'function') throw new TypeError('processor file ' + workerData.url + ': expected a default export function');
    const job = {
      ...workerData.job,
      updateProgress: async (p) => { job.progress = p; parentPort.postMessage({ type: 'progress', value: p }); },
      log: async () => 0,
    };
    const result = await fn(job);
    parentPort.postMessage({ type: 'done', result });
  } catch (err) {
    parentPort.postMessage({ type: 'error', message: err && err.message ? err.message : String(err) });
  }
})();
`;

export interface SandboxJob {
  id: string;
  name: string;
  data: unknown;
  attemptsMade: number;
  opts: Record<string, unknown>;
}

/** Runs `file`'s default export on `job` in a fresh worker thread; terminates it on abort. */
export function runInWorkerThread(
  file: string,
  job: SandboxJob,
  onProgress: (value: JobProgress) => void,
  signal: AbortSignal,
): Promise<unknown> {
  return new Promise((resolve, reject) => {
    const worker = new Worker(BOOTSTRAP, { eval: true, workerData: { url: pathToFileURL(file).href, job } });
    let settled = false;
    const finish = (fn: () => void) => {
      if (settled) return;
      settled = true;
      signal.removeEventListener('abort', onAbort);
      void worker.terminate();
      fn();
    };
    const onAbort = () => finish(() => reject(new Error('job aborted: runner stopping')));
    signal.addEventListener('abort', onAbort, { once: true });
    worker.on('message', (msg: { type: string; value?: JobProgress; result?: unknown; message?: string }) => {
      if (msg.type === 'progress') onProgress(msg.value as JobProgress);
      else if (msg.type === 'done') finish(() => resolve(msg.result));
      else if (msg.type === 'error') finish(() => reject(new Error(msg.message)));
    });
    worker.on('error', (err) => finish(() => reject(err)));
    worker.on('exit', (code) =>
      finish(() => reject(new Error(`sandboxed processor exited with code ${code}`))),
    );
  });
}
