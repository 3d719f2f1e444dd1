/**
 * What a prediction-log flush costs the event loop, with SQLite's own WAL checkpoints ('auto') and
 * with checkpoints in a worker thread ('worker'): rows shaped like visual search's search log (ten
 * ids and scores), flushed 50 at a time, the loop yielding between rows as a service's does. Every
 * logPrediction call is timed; the calls that flushed are the slow ones.
 *
 * Run: flock /tmp/mlsd-cpu.lock npx tsx --conditions=@mlsd/source bench/log-flush.bench.ts [rows, default 20000]
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { type CheckpointInfo, createPredictionLog } from '../src/prediction-log.js';

const rows = Number(process.argv[2] ?? 20_000);
const ids = Array.from({ length: 10 }, (_, i) => `img-${String(10_000 + i * 37).padStart(6, '0')}`);
const scores = ids.map((_, k) => 0.97 - k * 0.001);
const round = (x: number) => Math.round(x * 100) / 100;
const out: Record<string, unknown> = { rows, batchSize: 50, loadAverageAtStart: loadavg() };

for (const mode of ['auto', 'worker'] as const) {
  const dir = mkdtempSync(join(tmpdir(), 'log-flush-bench-'));
  const checkpoints: CheckpointInfo[] = [];
  const log = createPredictionLog({
    db: join(dir, 'log.sqlite'),
    batchSize: 50,
    flushIntervalMs: 60_000,
    walCheckpoint: mode,
    onCheckpoint: (info) => checkpoints.push(info),
  });
  const flushes: number[] = [];
  const started = performance.now();
  for (let i = 0; i < rows; i++) {
    const t0 = performance.now();
    log.logPrediction({
      model: 'cnn-contrastive',
      version: 'abcdef123456',
      score: scores[0],
      output: { ids, scores },
      features: { query: 'upload', crop: null, k: 10 },
      latencyMs: 3.2,
    });
    if ((i + 1) % 50 === 0) flushes.push(performance.now() - t0);
    await yieldToLoop();
  }
  const seconds = (performance.now() - started) / 1000;
  log.close();
  rmSync(dir, { recursive: true, force: true });
  flushes.sort((a, b) => a - b);
  const q = (p: number) => round(flushes[Math.min(flushes.length - 1, Math.floor(p * flushes.length))]);
  out[mode] = {
    flushes: flushes.length,
    flushMs: { p50: q(0.5), p90: q(0.9), p99: q(0.99), max: round(flushes.at(-1) ?? 0) },
    flushesOver5Ms: flushes.filter((ms) => ms > 5).length,
    seconds: round(seconds),
    backgroundCheckpoints: checkpoints.length,
    longestBackgroundCheckpointMs: round(Math.max(0, ...checkpoints.map((c) => c.ms))),
  };
}
out.loadAverageAtEnd = loadavg();
console.log(JSON.stringify(out, null, 2));
