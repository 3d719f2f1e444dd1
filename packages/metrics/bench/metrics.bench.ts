/**
 * Benchmark of @mlsd/metrics (not a test): ROC-AUC, average precision and log loss on 10^6 and 10^7
 * scores against scikit-learn on the same arrays in the same run; nDCG@10 over 10^5 queries; COCO
 * mAP over 5,000 images with 20 detections each.
 *
 * Run: `flock /tmp/mlsd-cpu.lock npm run bench -w @mlsd/metrics` (the lock keeps two benchmarks
 * from sharing the 2 cores). Method: data from the package's seeded generator; one warm-up run, then
 * the median wall time of 5 runs (3 at 10^7, 3 for nDCG and COCO). scikit-learn is timed by
 * bench/sklearn_timing.py (Debian's /usr/bin/python3, scikit-learn 1.2.1) on the arrays written here,
 * with the same warm-up and median.
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  averagePrecisionScore,
  cocoEvaluate,
  type DetectedBox,
  type GroundTruthBox,
  logLoss,
  ndcgScore,
  rocAucScore,
  seededRandom,
} from '../src/index.js';

function median(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.floor(s.length / 2)];
}

function time<T>(fn: () => T, repeats: number): { ms: number; value: T } {
  let value = fn();
  const times: number[] = [];
  for (let i = 0; i < repeats; i++) {
    const t0 = performance.now();
    value = fn();
    times.push(performance.now() - t0);
  }
  return { ms: median(times), value };
}

function normal(random: () => number): number {
  return Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
}

// `--quick` checks that the script runs end to end on tiny sizes (its numbers mean nothing).
const quick = process.argv.includes('--quick');
const sizes = quick ? [10_000] : [1_000_000, 10_000_000];
const dir = mkdtempSync(join(tmpdir(), 'mlsd-metrics-bench-'));
const rows: string[] = [];
try {
  const data = new Map<number, { y: Uint8Array; s: Float64Array; p: Float64Array }>();
  for (const n of sizes) {
    const random = seededRandom(n);
    const y = new Uint8Array(n);
    const s = new Float64Array(n);
    const p = new Float64Array(n);
    for (let i = 0; i < n; i++) {
      y[i] = random() < 0.3 ? 1 : 0;
      s[i] = normal(random) + y[i];
      p[i] = 1 / (1 + Math.exp(-s[i]));
    }
    data.set(n, { y, s, p });
    writeFileSync(join(dir, `labels-${n}.u8`), y);
    writeFileSync(join(dir, `scores-${n}.f64`), new Uint8Array(s.buffer));
  }

  const ours = new Map<number, Record<string, { ms: number; value: number }>>();
  for (const n of sizes) {
    const { y, s, p } = data.get(n)!;
    const repeats = n <= 1_000_000 ? 5 : 3;
    ours.set(n, {
      rocAuc: time(() => rocAucScore(y, s), repeats),
      averagePrecision: time(() => averagePrecisionScore(y, s), repeats),
      logLoss: time(() => logLoss(y, p), repeats),
    });
  }
  const script = fileURLToPath(new URL('./sklearn_timing.py', import.meta.url));
  const sk = JSON.parse(
    execFileSync('/usr/bin/python3', [script, dir, ...sizes.map(String)], {
      encoding: 'utf8',
      maxBuffer: 1 << 20,
    }),
  );

  rows.push(
    '| metric | n | @mlsd/metrics (ms) | scikit-learn 1.2.1 (ms) | ratio (ours / sklearn) | same value |',
  );
  rows.push('|---|---|---|---|---|---|');
  for (const n of sizes) {
    for (const name of ['rocAuc', 'averagePrecision', 'logLoss']) {
      const a = ours.get(n)![name];
      const b = sk[String(n)][name];
      const same = Math.abs(a.value - b.value) <= 1e-9 * Math.max(1, Math.abs(b.value));
      rows.push(
        `| ${name} | ${n.toExponential(0)} | ${a.ms.toFixed(1)} | ${b.ms.toFixed(1)} | ${(a.ms / b.ms).toFixed(2)} | ${same ? 'yes' : `NO (${a.value} vs ${b.value})`} |`,
      );
    }
  }
} finally {
  rmSync(dir, { recursive: true, force: true });
}

// nDCG@10 over 10^5 queries of 20 candidates, graded relevance 0..3, scores with ties (2 decimals).
{
  const random = seededRandom(7);
  const nq = quick ? 1000 : 100_000;
  const yTrue: Float64Array[] = [];
  const yScore: Float64Array[] = [];
  for (let q = 0; q < nq; q++) {
    const t = new Float64Array(20);
    const s = new Float64Array(20);
    for (let i = 0; i < 20; i++) {
      t[i] = Math.floor(random() * random() * 4);
      s[i] = Math.round((t[i] * 0.3 + random()) * 100) / 100;
    }
    yTrue.push(t);
    yScore.push(s);
  }
  const r = time(() => ndcgScore(yTrue, yScore, { k: 10 }), 3);
  rows.push(`| ndcgScore k=10 | ${nq} queries x 20 | ${r.ms.toFixed(1)} | | | |`);
}

// COCO mAP: 5,000 images, 4 objects and 20 detections each, 5 classes, sizes spanning the three area ranges.
{
  const random = seededRandom(11);
  const gt: GroundTruthBox[] = [];
  const det: DetectedBox[] = [];
  for (let img = 0; img < (quick ? 50 : 5000); img++) {
    const objects: { box: [number, number, number, number]; label: number }[] = [];
    for (let o = 0; o < 4; o++) {
      const size = 10 + random() * 140;
      const box: [number, number, number, number] = [
        random() * 500,
        random() * 500,
        size,
        size * (0.5 + random()),
      ];
      const label = Math.floor(random() * 5);
      objects.push({ box, label });
      gt.push({ imageId: img, box, label });
    }
    for (let d = 0; d < 20; d++) {
      const o = objects[d % 4];
      const jitter = d < 8 ? 0.05 : 0.4;
      const [x, y, w, h] = o.box;
      det.push({
        imageId: img,
        box: [
          x + (random() - 0.5) * jitter * w,
          y + (random() - 0.5) * jitter * h,
          w * (1 + (random() - 0.5) * jitter),
          h,
        ],
        score: random(),
        label: random() < 0.9 ? o.label : Math.floor(random() * 5),
      });
    }
  }
  const r = time(() => cocoEvaluate(gt, det, { format: 'xywh' }), 3);
  rows.push(
    `| cocoEvaluate (mAP@[.5:.95]) | ${quick ? 50 : 5000} images x 20 dets | ${r.ms.toFixed(1)} | | | |`,
  );
}

console.log(`machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}`);
console.log(rows.join('\n'));
