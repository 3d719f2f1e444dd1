/**
 * Prints the object statistics of generated scenes (per class: COCO sizes, occluded, total) and
 * the reasons objects were left out of the ground truth. Run: npx tsx scripts/describe-world.ts [seed] [count]
 */
import { describeScenes, generateScenes } from '../src/data.js';

const seed = Number(process.argv[2] ?? 11);
const count = Number(process.argv[3] ?? 200);
const scenes = generateScenes(seed, count);
console.log(JSON.stringify(describeScenes(scenes)));
const ignored = scenes.flatMap((s) => s.ignored);
const tooSmall = ignored.filter((o) => o.reason.startsWith('visible part')).length;
console.log(`ignored: ${ignored.length} (${tooSmall} too small, ${ignored.length - tooSmall} too hidden)`);
