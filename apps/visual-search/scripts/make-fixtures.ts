/**
 * Writes the small hand-made loader fixtures under fixtures/visual-search/loaders/. Every pixel
 * value is chosen here by hand (not produced by the app's code), so the loader tests can state the
 * expected values independently. Only sharp is used, to encode the image files.
 * Run: npx tsx scripts/make-fixtures.ts (from apps/visual-search).
 */
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';
import sharp from 'sharp';

const root = fileURLToPath(new URL('../../../fixtures/visual-search/loaders/', import.meta.url));
rmSync(root, { recursive: true, force: true });

// 1. A folder of class folders: 4 x 4 images.
const folder = `${root}folder/`;
mkdirSync(`${folder}red`, { recursive: true });
mkdirSync(`${folder}blue`, { recursive: true });
const solid = (rgb: number[], channels = 3, alpha = 255) => {
  const px = Buffer.alloc(16 * channels);
  for (let p = 0; p < 16; p++) {
    for (let c = 0; c < 3; c++) px[p * channels + c] = rgb[c];
    if (channels === 4) px[p * channels + 3] = alpha;
  }
  return sharp(px, { raw: { width: 4, height: 4, channels: channels as 3 | 4 } });
};
writeFileSync(`${folder}red/a.png`, await solid([200, 30, 30]).png().toBuffer());
writeFileSync(`${folder}red/b.webp`, await solid([200, 30, 30]).webp({ lossless: true }).toBuffer());
writeFileSync(`${folder}red/c.jpg`, await solid([200, 30, 30]).jpeg({ quality: 100 }).toBuffer());
writeFileSync(`${folder}blue/d.png`, await solid([20, 40, 220]).png().toBuffer());
// Fully transparent: must come out white (transparency is flattened onto white).
writeFileSync(`${folder}blue/e-transparent.png`, await solid([20, 40, 220], 4, 0).png().toBuffer());
writeFileSync(`${folder}blue/notes.txt`, 'not an image\n');
// A real PNG cut in half: the loader must report it as truncated and keep going.
const noise = Buffer.alloc(32 * 32 * 3);
for (let i = 0; i < noise.length; i++) noise[i] = (i * 7919) % 251;
const full = await sharp(noise, { raw: { width: 32, height: 32, channels: 3 } })
  .png({ compressionLevel: 0 })
  .toBuffer();
writeFileSync(`${folder}blue/truncated.png`, full.subarray(0, Math.floor(full.length / 2)));
writeFileSync(`${folder}readme.txt`, 'files at the root are not in a class\n');
writeFileSync(`${folder}red/.hidden`, 'ignored');
// A GIF: decodable by sharp but not an accepted format.
writeFileSync(`${folder}blue/f.gif`, await solid([20, 40, 220]).gif().toBuffer());

// 2. IDX: three 2 x 2 greyscale images and their labels, plain and gzipped, and broken variants.
const idx = `${root}idx/`;
mkdirSync(idx, { recursive: true });
const header = (type: number, dims: number[]) => {
  const h = Buffer.alloc(4 + 4 * dims.length);
  h[2] = type;
  h[3] = dims.length;
  for (let i = 0; i < dims.length; i++) h.writeUInt32BE(dims[i], 4 + 4 * i);
  return h;
};
const pixels = Buffer.from([0, 50, 100, 150, 255, 255, 0, 0, 10, 20, 30, 40]);
const images = Buffer.concat([header(0x08, [3, 2, 2]), pixels]);
const labels = Buffer.concat([header(0x08, [3]), Buffer.from([7, 3, 7])]);
writeFileSync(`${idx}images-idx3-ubyte`, images);
writeFileSync(`${idx}labels-idx1-ubyte`, labels);
writeFileSync(`${idx}images-idx3-ubyte.gz`, gzipSync(images));
writeFileSync(`${idx}labels-idx1-ubyte.gz`, gzipSync(labels));
writeFileSync(
  `${idx}bad-magic-idx3-ubyte`,
  Buffer.concat([Buffer.from([0x12, 0x34, 0x08, 0x03]), images.subarray(4)]),
);
writeFileSync(`${idx}truncated-idx3-ubyte`, images.subarray(0, images.length - 5));
writeFileSync(`${idx}two-labels-idx1-ubyte`, Buffer.concat([header(0x08, [2]), Buffer.from([7, 3])]));
writeFileSync(`${idx}float-idx3-ubyte`, Buffer.concat([header(0x0d, [3, 2, 2]), Buffer.alloc(48)]));

// 3. CSV: greyscale 2 x 2 with a header and bad rows; RGB 2 x 2 without a header.
const csv = `${root}csv/`;
mkdirSync(csv, { recursive: true });
writeFileSync(
  `${csv}grey.csv`,
  [
    'label,p1,p2,p3,p4',
    'cat,0,64,128,255',
    'dog,255,255,255,255',
    'cat,1,2,3',
    'dog,1,2,x,4',
    'dog,1,2,3,300',
    ',1,2,3,4',
    '',
    'bird,9,9,9,9',
    '',
  ].join('\n'),
);
writeFileSync(
  `${csv}rgb.csv`,
  ['1,255,0,0,0,255,0,0,0,255,10,20,30', '0,1,2,3,4,5,6,7,8,9,10,11,12', '1,0,0,0,0,0,0,0,0,0,0,0,0'].join(
    '\r\n',
  ),
);
console.log(`wrote loader fixtures to ${root}`);
