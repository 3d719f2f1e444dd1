/**
 * Writes a few generated scenes as PNGs under fixtures/street-view-blurring/samples/: each scene
 * as rendered and a copy with the ground-truth boxes drawn (faces green, plates red, ignored
 * objects grey), to look at the data. Run: npx tsx scripts/make-samples.ts [seed] [count]
 */
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { blurRegions } from '../src/blur.js';
import { describeScenes, generateScene } from '../src/data.js';
import { drawBoxes, encodePng, type Rgb } from '../src/raster.js';

const seed = Number(process.argv[2] ?? 7);
const count = Number(process.argv[3] ?? 3);
const out = join(import.meta.dirname, '../../../fixtures/street-view-blurring/samples');
await mkdir(out, { recursive: true });
const scenes = [];
for (let i = 0; i < count; i++) {
  const s = generateScene(seed, i);
  scenes.push(s);
  const colour = (l: string): Rgb => (l === 'face' ? [0, 255, 0] : [255, 0, 0]);
  const boxed = drawBoxes(s.image, [
    ...s.ignored.map((o) => ({ box: o.box, color: [128, 128, 128] as Rgb })),
    ...s.objects.map((o) => ({ box: o.box, color: colour(o.label) })),
  ]);
  await writeFile(join(out, `${s.id}.png`), await encodePng(s.image));
  await writeFile(join(out, `${s.id}-boxes.png`), await encodePng(boxed));
  const blurred = await blurRegions(s.image, s.objects);
  await writeFile(join(out, `${s.id}-blurred.png`), await encodePng(blurred));
  console.log(s.id, s.objects.map((o) => `${o.label}:${o.box.map(Math.round).join('x')}`).join(' '));
}
console.log(JSON.stringify(describeScenes(scenes)));
