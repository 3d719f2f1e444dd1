import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import type { Detection } from './baseline.js';
import { generateScene, type ObjectClass } from './data.js';
import { OnnxDetector } from './detector.js';
import { boxToSource, letterboxGeometry } from './features.js';
import {
  type BlurDetector,
  BlurPipeline,
  DETECT_BLUR_JOB,
  hardExamples,
  PREPROCESS_JOB,
} from './pipeline.js';
import { encodePng, type RgbImage } from './raster.js';
import { ImageStore } from './store.js';
import { decodePng, FIXTURES, scenePng } from './test-helpers.js';

/** A stand-in detector with fixed answers, for the label logic of hard examples. */
function fixedDetector(dets: Detection[]): BlurDetector {
  return { detect: async () => dets, thresholds: { face: 0.5, plate: 0.5 }, close: async () => {} };
}

const open: BlurPipeline[] = [];
afterEach(async () => {
  for (const p of open.splice(0)) await p.close();
});

async function pipelineWith(options: { retainOriginals?: boolean; detector?: BlurDetector } = {}) {
  const store = await ImageStore.open(mkdtempSync(join(tmpdir(), 'svb-store-')));
  const detector = options.detector ?? (await OnnxDetector.load(join(FIXTURES, 'models/detector.onnx')));
  const p = await BlurPipeline.create({ store, detector, retainOriginals: options.retainOriginals });
  open.push(p);
  return p;
}

describe('BlurPipeline (in-process jobs)', () => {
  it('runs both stages, blurs what it detects, deletes originals, and survives a corrupt image', async () => {
    const p = await pipelineWith();
    const a = await scenePng(1);
    const b = await scenePng(2);
    const ids = [
      (await p.submit(a.png)).id,
      (await p.submit(b.truncated)).id, // passes the header check, fails to decode in stage 1
      (await p.submit(b.png)).id,
    ];
    const statuses = await Promise.all(ids.map((id) => p.waitFor(id, 30_000)));
    expect(statuses.map((s) => s.state)).toEqual(['completed', 'failed', 'completed']);
    expect(statuses[1].stage).toBe('preprocess');
    expect(statuses[1].code).toBe('truncated');
    expect(statuses[1].reason).toMatch(/cannot decode/);
    // Each stage ran as its own job, under the image's id.
    expect((await p.runner.get(PREPROCESS_JOB, ids[0]))?.state).toBe('completed');
    expect((await p.runner.get(DETECT_BLUR_JOB, ids[0]))?.state).toBe('completed');
    expect(await p.runner.get(DETECT_BLUR_JOB, ids[1])).toBeUndefined();
    expect((await p.runner.failed(PREPROCESS_JOB)).map((j) => j.id)).toEqual([ids[1]]);

    // Only the blurred images remain: no original, no working raster, failed or not.
    expect(await p.store.list('originals')).toEqual([]);
    expect(await p.store.list('working')).toEqual([]);
    expect(await p.store.list('blurred')).toEqual([`${ids[0]}.png`, `${ids[2]}.png`].sort());

    // The blurred image differs from the scene inside the kept detections and nowhere far from them.
    const final = await p.store.readFinal(ids[0]);
    if (final?.state !== 'completed') throw new Error('expected a completed record');
    expect(final.detections.length).toBeGreaterThan(0);
    const blurred = await decodePng((await p.blurred(ids[0]))!);
    expect([blurred.width, blurred.height]).toEqual([320, 240]);
    const inside = new Uint8Array(320 * 240);
    for (const d of final.detections) {
      const [x, y, w, h] = d.box;
      // 1.2x enlargement about the centre, plus a pixel of rounding.
      for (let yy = Math.floor(y - 0.1 * h - 1); yy < Math.ceil(y + 1.1 * h + 1); yy++)
        for (let xx = Math.floor(x - 0.1 * w - 1); xx < Math.ceil(x + 1.1 * w + 1); xx++)
          if (xx >= 0 && yy >= 0 && xx < 320 && yy < 240) inside[yy * 320 + xx] = 1;
    }
    let changedOutside = 0;
    let changedInside = 0;
    for (let i = 0; i < 320 * 240; i++) {
      const diff = [0, 1, 2].some((c) => blurred.data[i * 3 + c] !== a.scene.image.data[i * 3 + c]);
      if (diff && inside[i]) changedInside++;
      if (diff && !inside[i]) changedOutside++;
    }
    expect(changedOutside).toBe(0);
    expect(changedInside).toBeGreaterThan(50);
  });

  it('keeps originals when retention is configured, and shrinks large images in stage 1', async () => {
    const p = await pipelineWith({ retainOriginals: true });
    const big = generateScene(5, 3, { width: 640, height: 480 });
    const bytes = await encodePng(big.image);
    const pipeline = await BlurPipeline.create({
      store: p.store,
      detector: p.currentDetector,
      retainOriginals: true,
      maxSide: 400,
    });
    try {
      const { id } = await pipeline.submit(bytes);
      expect((await pipeline.waitFor(id)).state).toBe('completed');
      expect(await pipeline.store.list('originals')).toEqual([id]);
      expect(new Uint8Array((await pipeline.store.readOriginal(id))!)).toEqual(new Uint8Array(bytes));
      const blurred = await decodePng((await pipeline.blurred(id))!);
      expect([blurred.width, blurred.height]).toEqual([400, 300]);
    } finally {
      await pipeline.runner.close();
    }
  });

  it('refuses bytes that are not an image before storing anything', async () => {
    const p = await pipelineWith();
    await expect(p.submit(new TextEncoder().encode('hello, not a picture'))).rejects.toMatchObject({
      name: 'ImageInputError',
      code: 'not-an-image',
    });
    await expect(p.submit(new Uint8Array())).rejects.toMatchObject({ code: 'not-an-image' });
    expect(await p.store.list('originals')).toEqual([]);
  });
});

describe('reports into hard examples', () => {
  it('blurs a reported miss at once, and labels the hard example with detections, misses and minus wrong boxes', async () => {
    const face: Detection = { box: [40, 40, 20, 24], label: 'face', score: 0.9 };
    const sign: Detection = { box: [200, 100, 30, 12], label: 'plate', score: 0.8 };
    const weak: Detection = { box: [100, 150, 10, 10], label: 'face', score: 0.2 };
    const p = await pipelineWith({ retainOriginals: true, detector: fixedDetector([face, sign, weak]) });
    const { png } = await scenePng(4);
    const { id } = await p.submit(png);
    expect((await p.waitFor(id)).detections).toEqual({ face: 1, plate: 1 });
    const before = await decodePng((await p.blurred(id))!);
    const missed = await p.report({ imageId: id, box: [260, 180, 16, 16], label: 'face', kind: 'missed' });
    const wrong = await p.report({ imageId: id, box: [201, 101, 29, 11], label: 'plate', kind: 'wrong' });
    expect(missed.usable && wrong.usable).toBe(true);
    expect(await p.store.list('hard')).toEqual([id]);
    // The missed region is blurred in the served image now; a pixel far from every box is not touched.
    const after = await decodePng((await p.blurred(id))!);
    const px = (im: RgbImage, x: number, y: number) =>
      Array.from(im.data.subarray((y * 320 + x) * 3, (y * 320 + x) * 3 + 3));
    let changed = 0;
    for (let y = 180; y < 196; y++)
      for (let x = 260; x < 276; x++) if (px(after, x, y).join() !== px(before, x, y).join()) changed++;
    expect(changed).toBeGreaterThan(100);
    expect(px(after, 5, 230)).toEqual(px(before, 5, 230));

    const mined = await hardExamples(p.store, p.currentDetector);
    expect(mined.used).toBe(2);
    expect(mined.examples).toHaveLength(1);
    const g = letterboxGeometry(320, 240);
    const back = mined.examples[0].objects.map((o) => ({
      label: o.label as ObjectClass,
      box: boxToSource(o.box, g).map((v) => Math.round(v)),
    }));
    // The confident face stays, the wrong "plate" is gone, the weak detection (below 0.5) is not a label, the miss is added.
    expect(back).toEqual([
      { label: 'face', box: [40, 40, 20, 24] },
      { label: 'face', box: [260, 180, 16, 16] },
    ]);
    expect(mined.examples[0].image.width).toBe(256);
  });

  it('keeps reports on deleted originals for audit but not for training', async () => {
    const p = await pipelineWith({ detector: fixedDetector([]) });
    const { png } = await scenePng(6);
    const { id } = await p.submit(png);
    await p.waitFor(id);
    const r = await p.report({ imageId: id, box: [10, 10, 8, 8], label: 'face', kind: 'missed' });
    expect(r.usable).toBe(false);
    const mined = await hardExamples(p.store, p.currentDetector);
    expect(mined.examples).toEqual([]);
    expect(mined.skipped).toEqual([{ report: r.id, reason: expect.stringMatching(/deleted/) }]);
  });

  it('rejects reports on unknown images, failed images and boxes that mark nothing', async () => {
    const p = await pipelineWith({ detector: fixedDetector([]) });
    const { png, truncated } = await scenePng(7);
    const ok = (await p.submit(png)).id;
    const bad = (await p.submit(truncated)).id;
    await p.waitFor(ok);
    await p.waitFor(bad);
    const r = (imageId: string, box: [number, number, number, number]) =>
      p.report({ imageId, box, label: 'plate', kind: 'missed' });
    await expect(r('img-000000000000000000000000', [1, 1, 5, 5])).rejects.toMatchObject({
      code: 'unknown_image',
    });
    await expect(r(bad, [1, 1, 5, 5])).rejects.toMatchObject({ code: 'not_completed' });
    await expect(r(ok, [1, 1, 0, 5])).rejects.toMatchObject({ code: 'invalid_box' });
    await expect(r(ok, [300, 1, 50, 5])).rejects.toMatchObject({ code: 'invalid_box' });
    expect(await p.store.reports()).toEqual([]);
  });
});
