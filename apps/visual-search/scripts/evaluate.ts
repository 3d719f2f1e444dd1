/**
 * Evaluates the two baseline embeddings and, with --model, the exported CNN encoder on the generated
 * catalogue, exact and HNSW retrieval side by side, and prints the report (the README's numbers
 * come from this script).
 * Run: npx tsx scripts/evaluate.ts [--count 20000] [--seed 42] [--queries 1000] [--model DIR] [--json PATH]
 *      npx tsx scripts/evaluate.ts --data PATH [--size 64]   (a folder of class folders, a CSV or an IDX file)
 */
import { readFileSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatReport, randomSplit } from '@mlsd/core';
import type { ImageEmbedder } from '../src/baseline.js';
import { ColourHistogramEmbedder, DownsampledPixelEmbedder } from '../src/baseline.js';
import { DEFAULT_CATALOGUE, generateCatalogue, type ImageCollection } from '../src/data.js';
import { evaluateEmbedder, toReport } from '../src/evaluate.js';
import { loadDataset } from '../src/loaders.js';
import { OnnxEmbedder } from '../src/model.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: String(DEFAULT_CATALOGUE.count) },
    seed: { type: 'string', default: String(DEFAULT_CATALOGUE.seed) },
    queries: { type: 'string', default: '1000' },
    json: { type: 'string' },
    model: { type: 'string' },
    data: { type: 'string' },
    size: { type: 'string', default: '64' },
  },
});
const seed = Number(values.seed);
const started = performance.now();
let catalogue: ImageCollection;
if (values.data) {
  const loaded = await loadDataset(values.data, { size: Number(values.size) });
  for (const s of loaded.skipped) console.warn(`skipped ${s.where}: ${s.reason}`);
  catalogue = loaded.images;
} else catalogue = generateCatalogue({ count: Number(values.count), seed });
const labels = Int32Array.from({ length: catalogue.count }, (_, i) => catalogue.label(i));
const split = randomSplit(catalogue.count, { seed, ...(values.data ? { stratify: labels } : {}) });
// A data set too small for a test split is queried image by image (each left out of its own results).
const pool = split.test.length > 0 ? split.test : Int32Array.from({ length: catalogue.count }, (_, i) => i);
const queries = pool.subarray(0, Math.min(Number(values.queries), pool.length));
const embedders: Array<[ImageEmbedder, 'baseline' | 'chosen']> = [
  [new ColourHistogramEmbedder(catalogue.size), 'baseline'],
  [DownsampledPixelEmbedder.fit(catalogue, split.train.subarray(0, 2000)), 'baseline'],
];
if (values.model) {
  const dir = values.model.endsWith('/') ? values.model : `${values.model}/`;
  const spec = JSON.parse(readFileSync(`${dir}encoder.json`, 'utf8'));
  embedders.push([await OnnxEmbedder.load(`${dir}encoder.onnx`, spec.normalisation), 'chosen']);
}
const evaluations = [];
for (const [embedder, role] of embedders) {
  evaluations.push({ ...(await evaluateEmbedder(catalogue, embedder, { queries })), role });
}
const report = toReport(catalogue, evaluations, {
  split: `${split.test.length > 0 ? 'test' : 'all'} (${queries.length} queries against all ${catalogue.count} images)`,
  seed,
  notes: ['bootstrap: 1000 resamples of the queries, 95 % percentile interval'],
});
console.log(formatReport(report, 'markdown'));
console.log(`relevant images per query (binary, mean): ${evaluations[0].meanRelevantPerQuery.toFixed(1)}`);
for (const r of report.results) console.log(`${r.implementation}: ${r.notes}`);
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
