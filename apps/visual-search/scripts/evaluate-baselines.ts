/**
 * Evaluates the two baseline embeddings on the generated catalogue, exact and HNSW retrieval side by
 * side, and prints the report (the README's numbers come from this script).
 * Run: npx tsx scripts/evaluate-baselines.ts [--count 20000] [--seed 42] [--queries 1000] [--json PATH]
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatReport, randomSplit } from '@mlsd/core';
import { ColourHistogramEmbedder, DownsampledPixelEmbedder } from '../src/baseline.js';
import { DEFAULT_CATALOGUE, generateCatalogue } from '../src/data.js';
import { evaluateEmbedder, toReport } from '../src/evaluate.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: String(DEFAULT_CATALOGUE.count) },
    seed: { type: 'string', default: String(DEFAULT_CATALOGUE.seed) },
    queries: { type: 'string', default: '1000' },
    json: { type: 'string' },
  },
});
const seed = Number(values.seed);
const started = performance.now();
const catalogue = generateCatalogue({ count: Number(values.count), seed });
const split = randomSplit(catalogue.count, { seed });
const queries = split.test.subarray(0, Math.min(Number(values.queries), split.test.length));
const embedders = [
  new ColourHistogramEmbedder(catalogue.size),
  DownsampledPixelEmbedder.fit(catalogue, split.train.subarray(0, 2000)),
];
const evaluations = [];
for (const embedder of embedders) {
  evaluations.push({
    ...(await evaluateEmbedder(catalogue, embedder, { queries })),
    role: 'baseline' as const,
  });
}
const report = toReport(catalogue, evaluations, {
  split: `test (${queries.length} queries against all ${catalogue.count} images)`,
  seed,
  notes: ['bootstrap: 1000 resamples of the queries, 95 % percentile interval'],
});
console.log(formatReport(report, 'markdown'));
for (const r of report.results) console.log(`${r.implementation}: ${r.notes}`);
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
