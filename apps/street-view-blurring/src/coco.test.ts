import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { loadCocoDataset, parseCategoryMapping, prepareCocoImages } from './coco.js';
import { generateScene } from './data.js';

const root = join(import.meta.dirname, '../../../fixtures/street-view-blurring/coco-small');
const annotations = join(root, 'annotations.json');
const images = join(root, 'images');

/** The two good scenes, regenerated the way scripts/make-coco-fixture.ts chose them. */
function goodScenes() {
  const out = [];
  for (let i = 0; out.length < 2; i++) {
    const s = generateScene(5, i, { width: 128, height: 128 });
    if (s.objects.length >= 3) out.push(s);
  }
  return out;
}

describe('parseCategoryMapping', () => {
  it('parses name:class pairs and rejects other classes', () => {
    expect(parseCategoryMapping('person_face:face, license_plate:plate')).toEqual({
      person_face: 'face',
      license_plate: 'plate',
    });
    expect(parseCategoryMapping('a:b:face')).toEqual({ 'a:b': 'face' });
    expect(() => parseCategoryMapping('person:car')).toThrow(/person:car/);
    expect(() => parseCategoryMapping('')).toThrow(/categories/);
  });
});

describe('loadCocoDataset', () => {
  it('keeps the good images and boxes, and reports each fault with its reason', async () => {
    const ds = await loadCocoDataset({
      annotations,
      images,
      categories: 'person_face:face,license_plate:plate',
    });
    const [a, b] = goodScenes();
    expect(ds.images.map((r) => r.id)).toEqual([1, 2]);
    expect(ds.images[0].objects).toEqual(a.objects.map((o) => ({ label: o.label, box: o.box })));
    // Annotation 105 ([-0.5, 0, 10, 10]) is within the 1 px tolerance and clipped.
    expect(ds.images[1].objects).toEqual([
      ...b.objects.map((o) => ({ label: o.label, box: o.box })),
      { label: 'face', box: [0, 0, 9.5, 10] },
    ]);
    const byRef = new Map(ds.issues.map((i) => [i.ref, i.reason]));
    expect(byRef.get('annotation 101')).toMatch(/unknown image_id 99/);
    expect(byRef.get('annotation 102')).toMatch(/zero-size/);
    expect(byRef.get('annotation 103')).toMatch(/outside the 128x128 image/);
    expect(byRef.get('annotation 104')).toMatch(/bbox: expected/);
    expect(byRef.get('annotation 108')).toMatch(/unknown category_id 42/);
    expect(byRef.get('category 3 (person)')).toMatch(/2 annotation\(s\) skipped/);
    expect(byRef.get('image 3')).toMatch(/missing file .*missing\.png; 1 annotation/);
    expect(byRef.get('image 4')).toMatch(/unreadable image .*truncated\.png.*; 2 annotation/);
    expect(byRef.get('image 5')).toMatch(/unreadable image/);
    expect(byRef.get('image 6')).toMatch(/file is 128x128 but the JSON says 100x100/);
    expect(byRef.get('image 7')).toMatch(/outside the image folder/);
    expect(ds.issues.filter((i) => i.ref === 'image 2')[0].reason).toMatch(/duplicate image id/);
    expect(ds.issues).toHaveLength(12);
    expect(ds.counts).toEqual({
      images: 8,
      annotations: a.objects.length + b.objects.length + 11,
      keptImages: 2,
      keptObjects: a.objects.length + b.objects.length + 1,
    });
  });

  it('throws on whole-file problems: unreadable JSON, nothing mapped', async () => {
    await expect(loadCocoDataset({ annotations: join(root, 'nope.json'), images })).rejects.toThrow(
      /nope\.json/,
    );
    await expect(loadCocoDataset({ annotations, images, categories: 'car:plate' })).rejects.toThrow(
      /none of the file's categories/,
    );
  });
});

describe('prepareCocoImages', () => {
  it('letterboxes the kept images and maps their boxes into the input', async () => {
    const ds = await loadCocoDataset({
      annotations,
      images,
      categories: 'person_face:face,license_plate:plate',
    });
    const prepared = await prepareCocoImages(ds);
    expect(prepared.issues).toEqual([]);
    expect(prepared.images.map((p) => p.id)).toEqual([1, 2]);
    const [a] = goodScenes();
    const p = prepared.images[0];
    // 128x128 into 256x256: exactly twice the size, no padding.
    expect(p.geometry).toMatchObject({ scale: 2, padX: 0, padY: 0 });
    expect(p.input.width).toBe(256);
    expect(p.inputObjects).toEqual(
      a.objects.map((o) => ({
        label: o.label,
        box: [o.box[0] * 2, o.box[1] * 2, o.box[2] * 2, o.box[3] * 2],
      })),
    );
    expect(p.objects).toEqual(ds.images[0].objects);
  });
});
