/**
 * Benchmark of @mlsd/monitoring (not a test): a drift report over 50 features × 10^5 rows of
 * reference and current data, and recording 10^6 latencies, each against a reference measured in
 * the same run. Run: npm run bench -w @mlsd/monitoring (under flock /tmp/mlsd-cpu.lock).
 */
import { cpus } from 'node:os';
import { createRng } from '@mlsd/core';
import { build, initWebAssembly } from 'hdr-histogram-js';
import { Histogram, Registry } from 'prom-client';
import {
  buildReferenceProfile,
  type Columns,
  detectDrift,
  LatencyRecorder,
  ProfileBuilder,
} from '../src/index.js';

const REPS = 5;

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time(label: string, fn: () => unknown, reps = REPS): number {
  fn(); // warm-up
  const ts: number[] = [];
  for (let i = 0; i < reps; i++) {
    const t0 = performance.now();
    fn();
    ts.push(performance.now() - t0);
  }
  const m = median(ts);
  console.log(`${label.padEnd(64)} ${m.toFixed(1).padStart(9)} ms  (median of ${reps})`);
  return m;
}

function dataset(seed: number, rows: number, shift: number): Columns {
  const rng = createRng(seed);
  const cols: Columns = {};
  for (let f = 0; f < 40; f++) {
    const x = new Float64Array(rows);
    for (let i = 0; i < rows; i++) x[i] = rng.normal(f % 2 ? shift : 0, 1);
    cols[`num${f}`] = x;
  }
  const cats = Array.from({ length: 10 }, (_, i) => `c${i}`);
  for (let f = 0; f < 10; f++) {
    const x: string[] = new Array(rows);
    for (let i = 0; i < rows; i++) x[i] = cats[rng.int(10)];
    cols[`cat${f}`] = x;
  }
  return cols;
}

console.log(`node ${process.version}, ${cpus().length} × ${cpus()[0]?.model ?? 'cpu'}\n`);

// 1. Drift report: 50 features (40 numeric, 10 categorical) × 100,000 rows on each side.
const ROWS = 100_000;
const ref = dataset(1, ROWS, 0);
const cur = dataset(2, ROWS, 0.2);
console.log(`drift: 50 features (40 numeric, 10 categorical) × ${ROWS} rows, reference and current`);
const tSort = time('reference: copy and sort the 40 numeric columns once', () => {
  for (let f = 0; f < 40; f++) (ref[`num${f}`] as Float64Array).slice().sort();
});
let profile = buildReferenceProfile(ref);
const tProfile = time('buildReferenceProfile (reference, 10 bins, reservoir 4096)', () => {
  profile = buildReferenceProfile(ref);
});
let current = new ProfileBuilder(profile).addColumns(cur).toProfile();
const tStream = time('ProfileBuilder.addColumns (current traffic into a profile)', () => {
  current = new ProfileBuilder(profile).addColumns(cur).toProfile();
});
let report = detectDrift(profile, current);
const tDetect = time('detectDrift(profile, profile)', () => {
  report = detectDrift(profile, current);
});
const tRaw = time(
  'detectDrift(profile, raw columns): exact, all current values',
  () => detectDrift(profile, cur),
  3,
);
console.log(
  `  -> ${report.driftedColumns}/${report.evaluatedColumns} columns drifted; profile JSON ${(JSON.stringify(profile).length / 1024).toFixed(0)} KiB`,
);
console.log(
  `  ratios to one sort of the numeric columns: profile ${(tProfile / tSort).toFixed(2)}×, stream ${(tStream / tSort).toFixed(2)}×, detect ${(tDetect / tSort).toFixed(3)}×, raw ${(tRaw / tSort).toFixed(2)}×\n`,
);

// 2. Recording 10^6 latencies.
const N = 1_000_000;
const rng = createRng(3);
const lat = new Float64Array(N);
for (let i = 0; i < N; i++) lat[i] = Math.exp(rng.normal(0.5, 0.7));
console.log(`latency: recording ${N} values (log-normal, median 1.6 ms)`);
const tArr = time('reference: store in a Float64Array, sort, read 4 quantiles', () => {
  const a = new Float64Array(N);
  for (let i = 0; i < N; i++) a[i] = lat[i];
  a.sort();
  return [a[N * 0.5], a[N * 0.95], a[N * 0.99], a[N * 0.999]];
});
const tRec = time('LatencyRecorder.record ×10^6 + quantiles() (HDR, pure JS)', () => {
  const r = new LatencyRecorder();
  for (let i = 0; i < N; i++) r.record(lat[i]);
  return r.quantiles();
});
const tRecWasm = time('LatencyRecorder({ wasm: true }).record ×10^6 + quantiles()', () => {
  const r = new LatencyRecorder({ wasm: true });
  for (let i = 0; i < N; i++) r.record(lat[i]);
  const q = r.quantiles();
  r.destroy();
  return q;
});
const tJs = time('hdr-histogram-js pure-JS build: recordValue ×10^6 (µs ints)', () => {
  const h = build({
    numberOfSignificantValueDigits: 3,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2,
    autoResize: true,
  });
  for (let i = 0; i < N; i++) h.recordValue(Math.round(lat[i] * 1000));
  return h.getValueAtPercentile(99);
});
await initWebAssembly();
const tWasm = time('hdr-histogram-js wasm build: recordValue ×10^6 (µs ints)', () => {
  const h = build({
    useWebAssembly: true,
    numberOfSignificantValueDigits: 3,
    lowestDiscernibleValue: 1,
    highestTrackableValue: 2,
    autoResize: true,
  });
  for (let i = 0; i < N; i++) h.recordValue(Math.round(lat[i] * 1000));
  const q = h.getValueAtPercentile(99);
  h.destroy();
  return q;
});
const registry = new Registry();
const prom = new Histogram({
  name: 'bench_seconds',
  help: 'bench',
  buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1],
  registers: [registry],
});
const tProm = time('prom-client Histogram.observe ×10^6 (no labels)', () => {
  for (let i = 0; i < N; i++) prom.observe(lat[i] / 1000);
});
console.log(
  `  -> LatencyRecorder ${(((N / tRec) * 1000) / 1e6).toFixed(1)} M values/s; ratio to the sort reference ${(tRec / tArr).toFixed(2)}×, to the raw pure-JS histogram ${(tRec / tJs).toFixed(2)}×, to the wasm build ${(tRec / tWasm).toFixed(2)}×, to prom-client ${(tRec / tProm).toFixed(2)}×; LatencyRecorder wasm ${(tRec / tRecWasm).toFixed(2)}× faster than pure JS`,
);
