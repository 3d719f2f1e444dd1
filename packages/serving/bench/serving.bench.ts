/**
 * Serving benchmark: autocannon on loopback against POST /predict, unbatched and batched, at
 * concurrency 1, 16 and 64, for the tiny model (MatMul+Add+Sigmoid, 4 inputs), a small MLP
 * (256 inputs, two hidden layers of 1024, sigmoid output) and an MLP of the size of DLRM's top MLP
 * on Criteo (479 inputs, 1024-1024-512-256, sigmoid; about 2.2 M multiply-adds per row) and a wider MLP
 * (512 inputs, 2048-2048, sigmoid; about 5.2 M multiply-adds per row); plus direct
 * `model.run` loops on one row (the service's overhead ratio) and on batches of 64 rows (the model's
 * own ceiling for batched serving). The service runs in a child process so the load generator does
 * not share its event loop.
 *
 * Run: flock /tmp/mlsd-cpu.lock npm run bench -w @mlsd/serving   (DURATION=seconds, default 5)
 */
import { fork } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { pino } from 'pino';
import { listen } from '../src/listen.js';
import type { InferenceModel } from '../src/model.js';
import { createSampleService, scoreRows } from '../src/testing/sample-service.js';
import { buildMlpModelBytes, loadOnnxBytes, loadTinyModel } from '../src/testing/tiny-model.js';

type ModelKind = 'tiny' | 'mlp' | 'dlrm-top' | 'wide';
const MLP_INPUTS = 256;
/** DLRM's top MLP for Criteo: 13 dense features through the bottom MLP to 128, plus the 351 pairwise
 * dot products of 27 embedding vectors, is 479 inputs; then 1024-1024-512-256-1. */
const DLRM_INPUTS = 479;
const DLRM_HIDDEN = [1024, 1024, 512, 256];
/** A wider MLP (512 inputs, 2048-2048, about 5.2 M weights, 21 MB in float32): its weights do not fit
 * in the core's caches, so one row per call streams them from memory while 64 rows per call reuse them. */
const WIDE_INPUTS = 512;
const WIDE_HIDDEN = [2048, 2048];
const BATCHING = { maxBatchSize: 64, maxQueueDelayMs: 2, maxQueueSize: 4096 };
// 'batched' dispatches at once when the model is idle (the default); 'batched-triton' always holds a
// lone call for maxQueueDelayMs (dispatchWhenIdle: false).

async function loadModel(kind: ModelKind): Promise<InferenceModel> {
  if (kind === 'tiny') return loadTinyModel();
  if (kind === 'mlp')
    return loadOnnxBytes(buildMlpModelBytes(MLP_INPUTS, [1024, 1024]), MLP_INPUTS, { name: 'mlp' });
  if (kind === 'wide')
    return loadOnnxBytes(buildMlpModelBytes(WIDE_INPUTS, WIDE_HIDDEN), WIDE_INPUTS, { name: 'wide' });
  return loadOnnxBytes(buildMlpModelBytes(DLRM_INPUTS, DLRM_HIDDEN), DLRM_INPUTS, { name: 'dlrm-top' });
}

function row(kind: ModelKind): number[] {
  const n = { tiny: 4, mlp: MLP_INPUTS, 'dlrm-top': DLRM_INPUTS, wide: WIDE_INPUTS }[kind];
  return Array.from({ length: n }, (_, i) => ((i * 37) % 11) / 10 - 0.5);
}

// Child: serve one configuration and report the port.
// '-express' modes serve the same service through express alone (`service.app`) instead of
// `listen(service)`, whose listener answers the JSON route without express: the cost of express.
type Mode = 'unbatched' | 'batched' | 'batched-triton' | 'unbatched-express' | 'batched-express';
const MODES: Mode[] = ['unbatched', 'batched', 'batched-triton', 'unbatched-express', 'batched-express'];

async function serve(kind: ModelKind, mode: Mode) {
  const model = await loadModel(kind);
  const service = createSampleService({
    model,
    logger: pino({ level: 'silent' }),
    batching: mode.startsWith('unbatched')
      ? undefined
      : { ...BATCHING, dispatchWhenIdle: mode !== 'batched-triton' },
  });
  const listening = mode.endsWith('-express') ? await listen(service.app, 0) : await listen(service, 0);
  if (mode.endsWith('-express')) process.on('exit', () => void service.close());
  process.send?.({ port: listening.port });
  process.on('message', async (msg) => {
    if (msg === 'stop') {
      await listening.close();
      process.exit(0);
    }
  });
}

async function withServer<T>(kind: ModelKind, mode: Mode, fn: (url: string) => Promise<T>): Promise<T> {
  const child = fork(fileURLToPath(import.meta.url), ['serve', kind, mode], {
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const port = await new Promise<number>((resolve, reject) => {
    child.once('message', (m) => resolve((m as { port: number }).port));
    child.once('exit', (code) => reject(new Error(`server exited with ${code}`)));
  });
  try {
    return await fn(`http://127.0.0.1:${port}/predict`);
  } finally {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
}

interface LoadResult {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
  non2xx: number;
}

async function load(url: string, connections: number, seconds: number, body: string): Promise<LoadResult> {
  const opts = {
    url,
    method: 'POST' as const,
    headers: { 'content-type': 'application/json' },
    body,
    connections,
  };
  await autocannon({ ...opts, duration: 1 }); // warm-up (JIT, ORT arenas, TCP)
  const r = await autocannon({ ...opts, duration: seconds });
  return {
    rps: r.requests.average,
    p50: r.latency.p50,
    p99: r.latency.p99,
    errors: r.errors,
    non2xx: r.non2xx,
  };
}

/** Rows per second of `model.run` in a sequential loop, `batch` rows per call. */
async function directLoop(kind: ModelKind, seconds: number, batch = 1): Promise<number> {
  const model = await loadModel(kind);
  const rows = Array.from({ length: batch }, () => row(kind));
  for (let i = 0; i < 50; i++) await scoreRows(model, rows);
  let n = 0;
  const end = performance.now() + seconds * 1000;
  while (performance.now() < end) {
    await scoreRows(model, rows);
    n++;
  }
  await model.close?.();
  return (n * batch) / seconds;
}

async function main() {
  const seconds = Number(process.env.DURATION ?? 5);
  console.log(
    `# serving benchmark: ${cpus().length} x ${cpus()[0]?.model}, Node ${process.version}, ${seconds} s per run`,
  );
  console.log(`# batching: ${JSON.stringify(BATCHING)}`);
  console.log(
    `# load average at start: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
  const kinds = (process.env.MODELS?.split(',') ?? ['tiny', 'mlp', 'dlrm-top', 'wide']) as ModelKind[];
  for (const kind of kinds) {
    const direct = await directLoop(kind, seconds);
    const direct64 = await directLoop(kind, seconds, BATCHING.maxBatchSize);
    console.log(
      `\n## ${kind}: direct model.run loop, one row per call: ${direct.toFixed(0)} calls/s; ${BATCHING.maxBatchSize} rows per call: ${direct64.toFixed(0)} rows/s`,
    );
    console.log('| mode | concurrency | req/s | p50 ms | p99 ms | service/direct | errors |');
    console.log('|---|---|---|---|---|---|---|');
    const body = JSON.stringify({ features: row(kind) });
    const results: Record<string, LoadResult> = {};
    for (const mode of MODES) {
      await withServer(kind, mode, async (url) => {
        for (const c of [1, 16, 64]) {
          const r = await load(url, c, seconds, body);
          results[`${mode}-${c}`] = r;
          console.log(
            `| ${mode} | ${c} | ${r.rps.toFixed(0)} | ${r.p50} | ${r.p99} | ${(r.rps / direct).toFixed(3)} | ${r.errors + r.non2xx} |`,
          );
        }
      });
    }
    for (const [mode, base] of [
      ['batched', 'unbatched'],
      ['batched-triton', 'unbatched'],
      ['batched-express', 'unbatched-express'],
      ['unbatched', 'unbatched-express'],
      ['batched', 'batched-express'],
    ]) {
      const b = results[`${mode}-64`];
      const u = results[`${base}-64`];
      console.log(
        `\n${kind} at concurrency 64, ${mode}/${base}: throughput ${(b.rps / u.rps).toFixed(2)}x, p99 ${(b.p99 / u.p99).toFixed(2)}x`,
      );
    }
  }
  console.log(
    `\n# load average at the end: ${loadavg()
      .map((x) => x.toFixed(2))
      .join(' ')}`,
  );
}

if (process.argv[2] === 'serve') {
  void serve(process.argv[3] as ModelKind, process.argv[4] as Mode);
} else {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
