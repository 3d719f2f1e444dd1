/**
 * Where the time of one recommendation goes, in process (no HTTP): small-world models trained in a
 * temp folder, served over a world with the small world's users and `--videos` videos (default
 * 100,000), 300 known users one after another. Prints the mean milliseconds of each stage.
 *   npx tsx --conditions=@mlsd/source scripts/stage-timings.ts [--videos 100000]
 */
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { generateVideoWorld, SMALL_WORLD, worldInteractions } from '../src/data.js';
import {
  HISTORY_SLOTS,
  historySlots,
  RANKING_FEATURE_COUNT,
  USER_SLOTS,
  worldSideInfo,
} from '../src/features.js';
import { applyScaler, generateCandidates, rankingFeatures, rerank, userContext } from '../src/pipeline.js';
import { createVideoService } from '../src/service.js';
import { trainModels } from '../src/train.js';

const args = process.argv.slice(2);
const videos = Number(args[args.indexOf('--videos') + 1] || 100_000);
const dir = mkdtempSync(join(tmpdir(), 'vr-stages-'));
const small = generateVideoWorld({ ...SMALL_WORLD, seed: 3 });
await trainModels(worldInteractions(small), worldSideInfo(small), {
  seed: 1,
  tower: { epochs: 1 },
  ranker: { epochs: 1 },
  rankerUsers: 300,
  outDir: dir,
  version: 'timing',
});
const world = generateVideoWorld({ ...SMALL_WORLD, videos, seed: 3 });
const svc = await createVideoService({ modelsDir: dir, world, logLevel: 'silent' });
const st = svc.state();
const m = svc.models();
const total = { userTower: 0, generators: 0, features: 0, ranker: 0, rerank: 0 };
let candidates = 0;
const n = 300;
for (let k = 0; k < n; k++) {
  const ctx = userContext(st, (k * 37) % world.users.count);
  let t = performance.now();
  const u = await m.userTower.run({
    user_tokens: { data: Int32Array.from(ctx.tokens), dims: [1, USER_SLOTS] },
    history: {
      data: historySlots(ctx.history, m.card.shape.items, new Int32Array(HISTORY_SLOTS)),
      dims: [1, HISTORY_SLOTS],
    },
  });
  total.userTower += performance.now() - t;
  t = performance.now();
  const cands = generateCandidates(st, ctx, u.user_embedding.data as Float32Array, m.card.sizes);
  total.generators += performance.now() - t;
  t = performance.now();
  const x = applyScaler(rankingFeatures(st, ctx, cands), m.card.scaler);
  total.features += performance.now() - t;
  t = performance.now();
  const r = await m.ranker.run({ features: { data: x, dims: [cands.length, RANKING_FEATURE_COUNT] } });
  total.ranker += performance.now() - t;
  t = performance.now();
  rerank(st, ctx, cands, r.logit.data as Float32Array, { k: 20 });
  total.rerank += performance.now() - t;
  candidates += cands.length;
}
console.log(`${videos} videos, ${(candidates / n).toFixed(0)} candidates per request on average`);
for (const [stage, ms] of Object.entries(total)) console.log(`${stage}: ${(ms / n).toFixed(2)} ms`);
await svc.close();
