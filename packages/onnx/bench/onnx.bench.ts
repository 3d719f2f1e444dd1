/**
 * `npm run bench -w @mlsd/onnx` (run it under `flock /tmp/mlsd-cpu.lock`): ONNX Runtime serving
 * figures for models exported by this package's exporter.
 *
 * 1. Latency p50/p99 of one row and throughput at batch 1, 32 and 256, with 1 and 2 intra-op
 *    threads, for a DCN-style tabular model and a small CNN (32x32x3, 16/32/64 filters).
 * 2. In-process OnnxModel against OnnxWorkerPool (child processes, worker threads): sequential
 *    one-row latency, throughput with 32 requests in flight, and the main thread's event-loop
 *    delay while that load runs (what other requests on the same service would wait).
 */
import { cpus, totalmem } from 'node:os';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import * as tf from '@tensorflow/tfjs';
import { buildDcnStyleModel, buildSmallCnn } from '../scripts/sample-models.ts';
import { exportToOnnx, type OnnxFeeds, OnnxModel, OnnxWorkerPool } from '../src/index.ts';

interface Runner {
  run(feeds: OnnxFeeds): Promise<unknown>;
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

async function latency(
  runner: Runner,
  feeds: OnnxFeeds,
  iterations: number,
): Promise<{ p50: number; p99: number }> {
  for (let i = 0; i < Math.min(50, iterations); i++) await runner.run(feeds);
  const times: number[] = [];
  for (let i = 0; i < iterations; i++) {
    const t0 = performance.now();
    await runner.run(feeds);
    times.push(performance.now() - t0);
  }
  times.sort((a, b) => a - b);
  return { p50: quantile(times, 0.5), p99: quantile(times, 0.99) };
}

/** Rows per second running `feeds` (of `rows` rows) back to back for about `seconds`. */
async function throughput(runner: Runner, feeds: OnnxFeeds, rows: number, seconds: number): Promise<number> {
  await runner.run(feeds);
  let done = 0;
  const t0 = performance.now();
  while (performance.now() - t0 < seconds * 1000) {
    await runner.run(feeds);
    done += rows;
  }
  return done / ((performance.now() - t0) / 1000);
}

/** Rows/s with `concurrency` requests in flight, and the main loop's delay meanwhile. */
async function concurrent(
  runner: Runner,
  feeds: OnnxFeeds,
  rows: number,
  concurrency: number,
  seconds: number,
): Promise<{ rowsPerSecond: number; loopP99: number; loopMax: number }> {
  const histogram = monitorEventLoopDelay({ resolution: 1 });
  let done = 0;
  const end = performance.now() + seconds * 1000;
  const t0 = performance.now();
  histogram.enable();
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (performance.now() < end) {
        await runner.run(feeds);
        done += rows;
      }
    }),
  );
  histogram.disable();
  return {
    rowsPerSecond: done / ((performance.now() - t0) / 1000),
    loopP99: histogram.percentile(99) / 1e6,
    loopMax: histogram.max / 1e6,
  };
}

function rows<T extends Float32Array | Int32Array>(make: (n: number) => T, batch: number): T {
  return make(batch);
}

const fmt = (v: number, digits = 3) =>
  v >= 100 ? Math.round(v).toLocaleString('en-US') : v.toPrecision(digits);

async function main() {
  await tf.setBackend('cpu');
  const quick = process.argv.includes('--quick');
  const seconds = quick ? 0.3 : 1.5;
  console.log(
    `# @mlsd/onnx benchmark\n\nmachine: ${cpus()[0]?.model ?? '?'}, ${cpus().length} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, onnxruntime-node 1.30.0; ${new Date().toISOString()}\n`,
  );
  const dcn = buildDcnStyleModel();
  const cnn = buildSmallCnn({ size: 32 });
  const models = [
    {
      label: 'DCN-style tabular (8 embedding fields, 13 dense, 2 cross + 64/32 deep)',
      bytes: exportToOnnx(dcn),
      feeds: (batch: number): OnnxFeeds => ({
        ids: rows((n) => Int32Array.from({ length: n * 8 }, (_, i) => (i * 7919) % 1000), batch),
        dense: rows((n) => Float32Array.from({ length: n * 13 }, (_, i) => Math.sin(i)), batch),
      }),
      latencyIterations: quick ? 300 : 3000,
    },
    {
      label: 'small CNN (32x32x3, conv 16/32/64 + BN + pool, dense 10)',
      bytes: exportToOnnx(cnn),
      feeds: (batch: number): OnnxFeeds => ({
        image: Float32Array.from({ length: batch * 32 * 32 * 3 }, (_, i) => Math.sin(i)),
      }),
      latencyIterations: quick ? 100 : 1000,
    },
  ];

  console.log('## 1. ONNX Runtime in process\n');
  console.log(
    '| model | intra-op threads | 1 row p50 ms | 1 row p99 ms | batch 1 rows/s | batch 32 rows/s | batch 256 rows/s |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const m of models) {
    for (const threads of [1, 2]) {
      const model = await OnnxModel.load(m.bytes, { intraOpNumThreads: threads, warmup: true });
      const lat = await latency(model, m.feeds(1), m.latencyIterations);
      const t1 = await throughput(model, m.feeds(1), 1, seconds);
      const t32 = await throughput(model, m.feeds(32), 32, seconds);
      const t256 = await throughput(model, m.feeds(256), 256, seconds);
      console.log(
        `| ${m.label} | ${threads} | ${fmt(lat.p50)} | ${fmt(lat.p99)} | ${fmt(t1)} | ${fmt(t32)} | ${fmt(t256)} |`,
      );
      await model.close();
    }
  }

  console.log('\n## 2. In process vs off the event loop (intra-op threads 1 per session)\n');
  console.log(
    '| model | runner | 1 row p50 ms | 1 row p99 ms | 32 in flight, batch 1: rows/s | batch 32: rows/s | main-loop delay p99 / max ms (batch 32 load) |',
  );
  console.log('|---|---|---|---|---|---|---|');
  for (const m of models) {
    const runners: Array<{ label: string; make: () => Promise<Runner & { close(): Promise<void> }> }> = [
      {
        label: 'in-process OnnxModel',
        make: () => OnnxModel.load(m.bytes, { intraOpNumThreads: 1, warmup: true }),
      },
      {
        label: 'pool: 1 child process',
        make: () => OnnxWorkerPool.create(m.bytes, { workers: 1, mode: 'process' }),
      },
      {
        label: 'pool: 2 child processes',
        make: () => OnnxWorkerPool.create(m.bytes, { workers: 2, mode: 'process' }),
      },
      {
        label: 'pool: 2 worker threads',
        make: () => OnnxWorkerPool.create(m.bytes, { workers: 2, mode: 'thread' }),
      },
    ];
    let reference: { p50: number; t1: number; t32: number } | undefined;
    for (const r of runners) {
      const runner = await r.make();
      const lat = await latency(runner, m.feeds(1), Math.ceil(m.latencyIterations / 2));
      const c1 = await concurrent(runner, m.feeds(1), 1, 32, seconds);
      const c32 = await concurrent(runner, m.feeds(32), 32, 32, seconds);
      reference ??= { p50: lat.p50, t1: c1.rowsPerSecond, t32: c32.rowsPerSecond };
      const ratio = (v: number, ref: number) => `${fmt(v)} (${(v / ref).toFixed(2)}x)`;
      console.log(
        `| ${m.label.split(' (')[0]} | ${r.label} | ${ratio(lat.p50, reference.p50)} | ${fmt(lat.p99)} | ${ratio(c1.rowsPerSecond, reference.t1)} | ${ratio(c32.rowsPerSecond, reference.t32)} | ${fmt(c32.loopP99)} / ${fmt(c32.loopMax)} |`,
      );
      await runner.close();
    }
  }
}

await main();
