/**
 * Runs the offline comparison and prints the report:
 *   npx tsx --conditions=@mlsd/source scripts/evaluate.ts [--small] [--seed N] [--users N] [--only id,id]
 *   npx tsx --conditions=@mlsd/source scripts/evaluate.ts --ratings path/u.data [--items path/u.item] [--threshold 4]
 */
import { formatReport } from '@mlsd/core';
import { BASELINES } from '../src/baseline.js';
import {
  DEFAULT_WORLD,
  generateVideoWorld,
  type InteractionTable,
  SMALL_WORLD,
  worldInteractions,
} from '../src/data.js';
import { compareRecommenders, type RecommenderSpec } from '../src/evaluate.js';
import { MODELS } from '../src/mf.js';
import { loadMovieLens } from '../src/movielens.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const seed = Number(opt('seed') ?? 42);
const t0 = performance.now();
let table: InteractionTable;
if (opt('ratings')) {
  const data = await loadMovieLens({
    ratings: opt('ratings') as string,
    items: opt('items'),
    users: opt('user-file'),
    relevantThreshold: opt('threshold') ? Number(opt('threshold')) : undefined,
  });
  for (const e of data.errors.slice(0, 5)) console.error(`skipped ${e.file}:${e.line}: ${e.reason}`);
  table = data.table;
} else {
  const world = generateVideoWorld({ ...(args.includes('--small') ? SMALL_WORLD : DEFAULT_WORLD), seed });
  table = worldInteractions(world);
}
console.error(`data: ${table.name}, ${table.rows} rows, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const only = opt('only')?.split(',');
const specs: RecommenderSpec[] = [...BASELINES, ...MODELS].filter((s) => !only || only.includes(s.id));
const report = compareRecommenders(table, specs, {
  maxUsers: Number(opt('users') ?? 5000),
  seed,
  onProgress: (m) => console.error(m),
});
console.log(formatReport(report, args.includes('--markdown') ? 'markdown' : 'table'));
if (args.includes('--json')) console.log(JSON.stringify(report, null, 1));
