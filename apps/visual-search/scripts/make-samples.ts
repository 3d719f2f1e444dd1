/**
 * Writes a few generated catalogue images as PNG files under fixtures/visual-search/samples/ for the
 * demo and the README, with an index.json of their attributes.
 * Run: npx tsx scripts/make-samples.ts (from apps/visual-search).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { encodeImage, generateCatalogue } from '../src/data.js';

const dir = fileURLToPath(new URL('../../../fixtures/visual-search/samples/', import.meta.url));
mkdirSync(dir, { recursive: true });
const catalogue = generateCatalogue();
const picked = Array.from({ length: 16 }, (_, k) => k);
const index: Array<{ id: string; file: string; description: string; attributes: unknown }> = [];
for (const i of picked) {
  const file = `${catalogue.id(i)}.png`;
  writeFileSync(`${dir}${file}`, await encodeImage(catalogue.pixels(i), catalogue.size, 'png'));
  index.push({
    id: catalogue.id(i),
    file,
    description: catalogue.describe(i),
    attributes: catalogue.attributes(i),
  });
}
writeFileSync(
  `${dir}index.json`,
  `${JSON.stringify({ seed: catalogue.options.seed, size: catalogue.size, images: index }, null, 2)}\n`,
);
console.log(`wrote ${index.length} samples to ${dir}`);
