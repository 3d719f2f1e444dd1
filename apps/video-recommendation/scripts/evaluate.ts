/**
 * Runs the offline comparison and prints the report:
 *   npx tsx --conditions=@mlsd/source scripts/evaluate.ts [--small] [--seed N] [--users N] [--only id,id]
 *   npx tsx --conditions=@mlsd/source scripts/evaluate.ts --ratings path/u.data [--items path/u.item] [--threshold 4]
 */
import { formatReport } from '@mlsd/core';
import { initBackend } from '@mlsd/training';
import { BASELINES } from '../src/baseline.js';
import {
  DEFAULT_WORLD,
  generateVideoWorld,
  type InteractionTable,
  SMALL_WORLD,
  worldInteractions,
} from '../src/data.js';
import { compareRecommenders, type RecommenderSpec } from '../src/evaluate.js';
import { movieLensSideInfo, type SideInfo, worldSideInfo } from '../src/features.js';
import { pipelineOptions } from '../src/index.js';
import { MODELS } from '../src/mf.js';
import { loadMovieLens } from '../src/movielens.js';
import { modelSpecs } from '../src/pipeline.js';

const args = process.argv.slice(2);
const opt = (name: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? args[i + 1] : undefined;
};
const seed = Number(opt('seed') ?? 42);
const t0 = performance.now();
let table: InteractionTable;
let side: SideInfo;
if (opt('ratings')) {
  const data = await loadMovieLens({
    ratings: opt('ratings') as string,
    items: opt('items'),
    users: opt('user-file'),
    relevantThreshold: opt('threshold') ? Number(opt('threshold')) : undefined,
  });
  for (const e of data.errors.slice(0, 5)) console.error(`skipped ${e.file}:${e.line}: ${e.reason}`);
  table = data.table;
  side = movieLensSideInfo(data);
} else {
  const world = generateVideoWorld({ ...(args.includes('--small') ? SMALL_WORLD : DEFAULT_WORLD), seed });
  table = worldInteractions(world);
  side = worldSideInfo(world);
}
await initBackend({ prefer: 'wasm', log: () => {} });
console.error(`data: ${table.name}, ${table.rows} rows, ${((performance.now() - t0) / 1000).toFixed(1)} s`);
const only = opt('only')?.split(',');
// The same settings as `mlsd eval video-recommendation` (src/index.ts), tower epochs overridable.
const settings = pipelineOptions(args.includes('--small') ? 'small' : 'default', seed, (m) =>
  console.error(m),
);
if (opt('epochs')) settings.tower = { ...settings.tower, epochs: Number(opt('epochs')) };
if (opt('ranker-epochs')) settings.ranker = { ...settings.ranker, epochs: Number(opt('ranker-epochs')) };
if (opt('ranker-hidden'))
  settings.ranker = { ...settings.ranker, hidden: (opt('ranker-hidden') as string).split(',').map(Number) };
const models = modelSpecs(side, settings);
const specs: RecommenderSpec[] = [...BASELINES, ...MODELS, ...models].filter(
  (s) => !only || only.includes(s.id),
);
const report = await compareRecommenders(table, specs, {
  maxUsers: Number(opt('users') ?? 5000),
  seed,
  onProgress: (m) => console.error(m),
});
console.log(formatReport(report, args.includes('--markdown') ? 'markdown' : 'table'));
if (args.includes('--json')) console.log(JSON.stringify(report, null, 1));
