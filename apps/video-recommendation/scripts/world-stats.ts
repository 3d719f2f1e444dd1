/** Prints the size and shape of a generated world and how long it took: `npx tsx scripts/world-stats.ts [small]`. */
import {
  DEFAULT_WORLD,
  generateVideoWorld,
  SMALL_WORLD,
  summarizeWorld,
  worldInteractions,
} from '../src/data.js';

const size = process.argv[2] === 'small' ? SMALL_WORLD : DEFAULT_WORLD;
const t0 = performance.now();
const world = generateVideoWorld(size);
const ms = performance.now() - t0;
const table = worldInteractions(world);
let rel = 0;
for (let r = 0; r < table.rows; r++) rel += table.relevant[r];
console.log(
  JSON.stringify(
    {
      ...summarizeWorld(world),
      engagements: table.rows,
      relevantEngagements: rel,
      generationSeconds: +(ms / 1000).toFixed(2),
    },
    null,
    1,
  ),
);
