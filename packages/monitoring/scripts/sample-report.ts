/**
 * Writes a sample HTML monitoring report (seeded synthetic data with one drifted feature, a
 * drifted prediction column and a decaying model) to the path given, to look at the page.
 * Run: npx tsx --conditions=@mlsd/source scripts/sample-report.ts /tmp/report.html
 */
import { writeFileSync } from 'node:fs';
import { createRng } from '@mlsd/core';
import { rocAucScore } from '@mlsd/metrics';
import {
  buildMonitoringReport,
  buildReferenceProfile,
  DecayMonitor,
  detectDrift,
  estimatePerformance,
  LatencyRecorder,
  ProfileBuilder,
  renderHtmlReport,
} from '../src/index.js';

const out = process.argv[2] ?? 'monitoring-report.html';
const rng = createRng(7);
const rows = (n: number, shift: number) => ({
  age: Array.from({ length: n }, () => rng.normal(40 + shift * 8, 10)),
  income: Array.from({ length: n }, () => rng.logNormal(10, 0.5)),
  country: Array.from(
    { length: n },
    () => ['DE', 'FR', 'US', 'IN', 'BR'][rng.weightedIndex([3, 2, 4, 2, 1])],
  ),
  device: Array.from({ length: n }, () => (rng.float() < 0.6 + shift * 0.1 ? 'mobile' : 'desktop')),
  score: Array.from({ length: n }, () => rng.beta(2, 5 - shift * 2)),
});
const reference = buildReferenceProfile(rows(5000, 0), { predictionColumn: 'score' });
const builder = new ProfileBuilder(reference);
builder.addColumns(rows(3000, 1));
const drift = detectDrift(reference, builder.toProfile());

const latency = { predict: new LatencyRecorder(), features: new LatencyRecorder() };
for (let i = 0; i < 20000; i++) {
  latency.predict.record(rng.logNormal(0.5, 0.6));
  latency.features.record(rng.logNormal(-0.5, 0.4));
}
const decay = new DecayMonitor({
  metric: { name: 'roc_auc', fn: (y, s) => rocAucScore(y, s), higherIsBetter: true },
  baseline: 0.83,
  window: { count: 1000 },
  maxDrop: 0.05,
});
for (let i = 0; i < 3000; i++) {
  const s = rng.float();
  decay.logPrediction(`r${i}`, s, i);
  decay.logLabel(`r${i}`, rng.float() < (i < 1500 ? s : 0.5) ? 1 : 0, i);
}
const report = buildMonitoringReport({
  service: 'ad-click-prediction',
  model: { name: 'dcn', version: '4', specHash: '9f2c1e', stage: 'production' },
  latency,
  drift,
  decay: decay.status(),
  estimated: estimatePerformance(Array.from({ length: 5000 }, () => rng.beta(2, 5))),
});
writeFileSync(out, renderHtmlReport(report));
console.log(`wrote ${out} (${report.status}: ${report.alerts.join('; ')})`);
