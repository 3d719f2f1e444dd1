/**
 * Evaluates the two baseline embeddings and, with --model, the exported CNN encoder on the generated
 * catalogue, exact and HNSW retrieval side by side, and prints the report (the README's numbers
 * come from this script).
 * Run: npx tsx scripts/evaluate.ts [--count 20000] [--seed 42] [--queries 1000] [--split test|validation] [--model DIR] [--json PATH]
 *      npx tsx scripts/evaluate.ts --data PATH [--size 64]   (a folder of class folders, a CSV or an IDX file)
 */
import { writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { formatReport } from '@mlsd/core';
import { DEFAULT_CATALOGUE, generateCatalogue, type ImageCollection } from '../src/data.js';
import { evaluateAll } from '../src/evaluate.js';
import { loadDataset } from '../src/loaders.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: String(DEFAULT_CATALOGUE.count) },
    seed: { type: 'string', default: String(DEFAULT_CATALOGUE.seed) },
    queries: { type: 'string', default: '1000' },
    // Queries from the test split (the README's table) or the validation split (design choices).
    split: { type: 'string', default: 'test' },
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
// The same function `mlsd eval visual-search` runs.
const report = await evaluateAll(catalogue, {
  modelDir: values.model,
  queries: Number(values.queries),
  split: values.split as 'test' | 'validation',
  seed,
  bootstrap: 1000,
  stratify: Boolean(values.data),
});
console.log(formatReport(report, 'markdown'));
for (const r of report.results) console.log(`${r.implementation}: ${r.notes}`);
console.log(`total ${((performance.now() - started) / 1000).toFixed(1)} s`);
if (values.json) writeFileSync(values.json, `${JSON.stringify(report, null, 2)}\n`);
