/**
 * Evaluates the classical baseline on the generated world: operating thresholds chosen on the
 * validation split for the blur recall targets (faces 0.90, plates 0.95 at IoU 0.5), metrics with
 * bootstrap intervals on the test split. Writes the report to
 * fixtures/street-view-blurring/reports/baseline.json and prints a table.
 * Run: nice npx tsx scripts/evaluate-baseline.ts [seed] [validation] [test] [resamples]
 * (quality numbers only, deterministic from the seed; speed belongs to the benchmark, under the CPU lock).
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { detectBaseline } from '../src/baseline.js';
import { generateSplit, type Scene } from '../src/data.js';
import { chooseThresholds, type EvaluatedImage, evaluateDetections, type Interval } from '../src/evaluate.js';

const [seed, nVal, nTest, resamples] = [42, 200, 300, 200].map((d, i) => Number(process.argv[2 + i] ?? d));
const run = (scenes: Scene[]): EvaluatedImage[] =>
  scenes.map((s) => ({ id: s.id, objects: s.objects, detections: detectBaseline(s.image) }));
const validation = run(generateSplit(seed, 'validation', nVal));
const test = generateSplit(seed, 'test', nTest);
const evaluated = run(test);
const chosen = chooseThresholds(validation, { face: 0.9, plate: 0.95 });
const report = evaluateDetections(evaluated, {
  thresholds: { face: chosen.face.threshold, plate: chosen.plate.threshold },
  resamples,
  seed,
});
const f = (v: Interval) => `${v.estimate.toFixed(3)} [${v.lower.toFixed(3)}, ${v.upper.toFixed(3)}]`;
console.log(`seed ${seed}: ${nVal} validation and ${nTest} test scenes, ${resamples} bootstrap resamples`);
console.log('thresholds chosen on validation:', JSON.stringify(chosen));
console.log('test objects:', JSON.stringify(report.counts));
console.log(`mAP@[.5:.95] ${f(report.map)}; AP50 ${f(report.map50)}`);
for (const c of ['face', 'plate'] as const) {
  console.log(`${c}: AP ${f(report.perClass[c].ap)}; AP50 ${f(report.perClass[c].ap50)}`);
  console.log(
    `${c} recall@0.5 at threshold: all ${f(report.recall[c].all)}; small ${f(report.recall[c].small)}; medium ${f(report.recall[c].medium)}; large ${f(report.recall[c].large)}`,
  );
}
console.log(
  `precision at threshold: IoU .1 ${f(report.precision.iou10)}; .5 ${f(report.precision.iou50)}; .7 ${f(report.precision.iou70)}`,
);
const out = join(import.meta.dirname, '../../../fixtures/street-view-blurring/reports');
await mkdir(out, { recursive: true });
await writeFile(
  join(out, 'baseline.json'),
  `${JSON.stringify({ command: `npx tsx scripts/evaluate-baseline.ts ${seed} ${nVal} ${nTest} ${resamples}`, chosen, report }, null, 1)}\n`,
);
