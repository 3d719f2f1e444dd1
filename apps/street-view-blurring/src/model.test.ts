import { describe, expect, it } from 'vitest';
import { generateScene } from './data.js';
import { boxToInput, DEFAULT_PREPROCESS, letterboxGeometry } from './features.js';
import {
  DEFAULT_DECODE,
  decodeDetections,
  decodePasses,
  encodeTargets,
  HEAD_CHANNELS,
  headLevels,
  mirrorInput,
  plannedRuns,
  SMALL_OBJECT_DETECTOR,
  STRIDE,
  TARGET_CHANNELS,
  tileOrigins,
  zoomedSpec,
  zoomTiles,
} from './model.js';
import type { XywhBox } from './raster.js';

/** A head output that says exactly what the targets say: a perfect network. */
function perfectHead(targets: Float32Array, grid: number, cells = grid * grid): Float32Array {
  const out = new Float32Array(cells * HEAD_CHANNELS);
  for (let c = 0; c < cells; c++) {
    const t = c * TARGET_CHANNELS;
    const o = c * HEAD_CHANNELS;
    out[o] = targets[t] ? 8 : -8;
    out[o + 1] = targets[t + 1] ? 8 : -8;
    for (let k = 2; k < 6; k++) out[o + k] = targets[t + k];
  }
  return out;
}

describe('encodeTargets / decodeDetections', () => {
  it('round-trips boxes through the grid encoding', () => {
    const objects = [
      { box: [10, 12, 6, 8] as XywhBox, label: 'face' as const },
      { box: [100, 200, 42, 12] as XywhBox, label: 'plate' as const },
      { box: [250, 3, 5, 5] as XywhBox, label: 'face' as const },
    ];
    const t = encodeTargets(objects, 256);
    // Face 1: centre (13, 16) -> cell (1, 2), offsets 13/8 - 1.5 = 0.125 and 16/8 - 2.5 = -0.5.
    const k = (2 * 32 + 1) * TARGET_CHANNELS;
    expect(Array.from(t.subarray(k, k + 7)).map((v) => +v.toFixed(6))).toEqual([
      1,
      0,
      0.125,
      -0.5,
      +Math.log(6 / 8).toFixed(6),
      +Math.log(1).toFixed(6),
      1,
    ]);
    const dets = decodeDetections(perfectHead(t, 32), 32);
    expect(dets).toHaveLength(3);
    for (const o of objects) {
      const d = dets.find((x) => x.label === o.label && Math.abs(x.box[0] - o.box[0]) < 1e-4);
      expect(d?.box.map((v) => +v.toFixed(4))).toEqual(o.box);
    }
  });

  it('keeps the smaller object when two centres share a cell', () => {
    const t = encodeTargets(
      [
        { box: [0, 0, 40, 40], label: 'face' },
        { box: [16, 16, 6, 6], label: 'plate' },
      ],
      64,
    );
    const k = (2 * 8 + 2) * TARGET_CHANNELS; // both centres (20, 20) and (19, 19) are in cell (2, 2)
    expect(t[k + 1]).toBe(1);
    expect(t[k + 4]).toBeCloseTo(Math.log(6 / STRIDE), 6);
  });

  it('maps decoded boxes back to source pixels and suppresses duplicates within a class', () => {
    const scene = generateScene(3, 1, { width: 320, height: 240 });
    const g = letterboxGeometry(320, 240);
    // Scale GT into the input, encode, decode with the geometry: the source boxes come back.
    const sx = g.resizedWidth / 320;
    const objects = scene.objects.map((o) => ({
      label: o.label,
      box: [o.box[0] * sx + g.padX, o.box[1] * sx + g.padY, o.box[2] * sx, o.box[3] * sx] as XywhBox,
    }));
    const head = perfectHead(encodeTargets(objects, 256), 32);
    const dets = decodeDetections(head, 32, g);
    for (const o of scene.objects) {
      expect(
        dets.some((d) => d.label === o.label && d.box.every((v, i) => Math.abs(v - o.box[i]) < 1e-3)),
      ).toBe(true);
    }
    // A copy of a face's prediction in the next cell, pointing at the same box, is suppressed.
    const dup = Float32Array.from(head);
    const k = (5 * 32 + 5) * HEAD_CHANNELS;
    dup.set([8, -8, 0, 0, 1, 1], k);
    dup.set([7, -8, -1, 0, 1, 1], k + HEAD_CHANNELS);
    const a = decodeDetections(dup, 32).filter((d) => Math.abs(d.box[0] - (5.5 * 8 - 4 * Math.E)) < 1e-3);
    expect(a).toHaveLength(1);
    expect(a[0].score).toBeCloseTo(1 / (1 + Math.exp(-8)), 9);
  });

  it('decodes the mirrored input back into place and merges the twins in NMS', () => {
    const objects = [
      { box: [10, 12, 6, 8] as XywhBox, label: 'face' as const },
      { box: [100, 200, 42, 12] as XywhBox, label: 'plate' as const },
    ];
    const mirroredObjects = objects.map((o) => ({
      ...o,
      box: [256 - o.box[0] - o.box[2], o.box[1], o.box[2], o.box[3]] as XywhBox,
    }));
    const head = perfectHead(encodeTargets(objects, 256), 32);
    const flipped = perfectHead(encodeTargets(mirroredObjects, 256), 32);
    // The flipped output alone, decoded as mirrored, gives the original boxes.
    const onlyFlipped = decodeDetections(new Float32Array(head.length).fill(-8), 32, undefined, {}, flipped);
    for (const o of objects) {
      expect(
        onlyFlipped.some((d) => d.label === o.label && d.box.every((v, i) => Math.abs(v - o.box[i]) < 1e-4)),
      ).toBe(true);
    }
    // Both outputs: each object once.
    expect(decodeDetections(head, 32, undefined, {}, flipped)).toHaveLength(2);
    expect(() => mirrorInput(new Float32Array(5), 4)).toThrow(/4x4x3/);
    const input = Float32Array.from({ length: 2 * 2 * 3 }, (_, i) => i);
    expect(Array.from(mirrorInput(input, 2))).toEqual([3, 4, 5, 0, 1, 2, 9, 10, 11, 6, 7, 8]);
  });

  it('suppresses with a threshold per class (plates 0.6, faces 0.45 by default)', () => {
    // Two boxes per class at IoU 0.5 (same height, shifted by a third of the width).
    const head = new Float32Array(32 * 32 * HEAD_CHANNELS).fill(-8);
    const put = (cell: number, cls: 0 | 1, dx: number, score: number) =>
      head.set([cls === 0 ? score : -8, cls === 1 ? score : -8, dx, 0, Math.log(3), 0], cell * HEAD_CHANNELS);
    put(5 * 32 + 5, 0, 0, 8);
    put(5 * 32 + 6, 0, 0, 7); // next cell: centre 8 px right of the first, width 24: IoU 16/32 = 0.5
    put(20 * 32 + 5, 1, 0, 8);
    put(20 * 32 + 6, 1, 0, 7);
    const dets = decodeDetections(head, 32);
    expect(dets.filter((d) => d.label === 'face')).toHaveLength(1);
    expect(dets.filter((d) => d.label === 'plate')).toHaveLength(2);
    expect(
      decodeDetections(head, 32, undefined, { nmsIou: 0.45 }).filter((d) => d.label === 'plate'),
    ).toHaveLength(1);
  });

  it('rejects an output of the wrong size', () => {
    expect(() => decodeDetections(new Float32Array(10), 32)).toThrow(/32x32 cells x 6 = 6144/);
  });

  it('puts small objects on the stride-4 level and large ones on the stride-8 level, and decodes both', () => {
    const objects = [
      { box: [10, 12, 6, 8] as XywhBox, label: 'face' as const }, // sqrt(48) < 16: stride 4
      { box: [100, 200, 42, 12] as XywhBox, label: 'plate' as const }, // sqrt(504) > 16: stride 8
      { box: [11, 13, 5, 5] as XywhBox, label: 'plate' as const }, // shares the stride-8 cell of the first, not its stride-4 cell
    ];
    const levels = headLevels(256, SMALL_OBJECT_DETECTOR);
    expect(levels).toEqual([
      { grid: 64, stride: 4 },
      { grid: 32, stride: 8 },
    ]);
    const t = encodeTargets(objects, 256, SMALL_OBJECT_DETECTOR);
    expect(t.length).toBe((64 * 64 + 32 * 32) * TARGET_CHANNELS);
    // Face: centre (13, 16) -> stride-4 cell (3, 4), offsets 13/4 - 3.5 = -0.25, 16/4 - 4.5 = -0.5, log(6/4).
    const k = (4 * 64 + 3) * TARGET_CHANNELS;
    expect(Array.from(t.subarray(k, k + 7)).map((v) => +v.toFixed(5))).toEqual(
      [1, 0, -0.25, -0.5, Math.log(6 / 4), Math.log(8 / 4), 1].map((v) => +v.toFixed(5)),
    );
    // Plate: centre (121, 206) -> stride-8 cell (15, 25), after the 64x64 cells of the first level.
    const kp = (64 * 64 + 25 * 32 + 15) * TARGET_CHANNELS;
    expect(t[kp + 1]).toBe(1);
    expect(t[kp + 4]).toBeCloseTo(Math.log(42 / 8), 5);
    let positives = 0;
    for (let c = 0; c < t.length / TARGET_CHANNELS; c++) positives += t[c * TARGET_CHANNELS + 6];
    expect(positives).toBe(3);
    const cells = t.length / TARGET_CHANNELS;
    const dets = decodeDetections(perfectHead(t, Math.sqrt(cells), cells), levels);
    expect(dets).toHaveLength(3);
    for (const o of objects) {
      const d = dets.find((x) => x.label === o.label && Math.abs(x.box[0] - o.box[0]) < 1e-4);
      expect(d?.box.map((v) => +v.toFixed(4))).toEqual(o.box);
    }
    expect(() => decodeDetections(new Float32Array(32 * 32 * 6), levels)).toThrow(/64x64 \+ 32x32 cells/);
  });
});

describe('the zoomed pass (test-time image pyramid)', () => {
  it('tiles the zoomed input with overlapping tiles of the input side', () => {
    expect(tileOrigins(512, 256)).toEqual([0, 128, 256]);
    expect(tileOrigins(256, 256)).toEqual([0]);
    expect(tileOrigins(768, 256)).toEqual([0, 128, 256, 384, 512]);
    expect(() => tileOrigins(100, 256)).toThrow(/tile <= size/);
    // A 4x4 input whose value is the pixel index, in 2x2 tiles: origins 0, 1, 2 per axis.
    const input = Float32Array.from({ length: 4 * 4 * 3 }, (_, i) => Math.floor(i / 3));
    const tiles = zoomTiles(input, 4, 2);
    expect(tiles.map((t) => t.offset)).toEqual([
      [0, 0],
      [1, 0],
      [2, 0],
      [0, 1],
      [1, 1],
      [2, 1],
      [0, 2],
      [1, 2],
      [2, 2],
    ]);
    // Tile (1, 2): rows 2-3, columns 1-2 -> pixels 9, 10, 13, 14.
    expect(Array.from(tiles[7].input.filter((_, i) => i % 3 === 0))).toEqual([9, 10, 13, 14]);
    expect(() => zoomTiles(new Float32Array(5), 4, 2)).toThrow(/4x4x3/);
    expect(zoomedSpec(DEFAULT_PREPROCESS, 2).inputSize).toBe(512);
    expect(() => zoomedSpec(DEFAULT_PREPROCESS, 1.5)).toThrow(/integer/);
  });

  it('maps the boxes of every tile back to source pixels, keeps only small ones when asked, and merges them in NMS', () => {
    // A 320x240 source: letterboxed to 256 (scale 0.8, 32 px of padding above) and to 512 (scale 1.6).
    const config = SMALL_OBJECT_DETECTOR;
    const geometry = letterboxGeometry(320, 240);
    const zoomedGeometry = letterboxGeometry(320, 240, zoomedSpec(DEFAULT_PREPROCESS, 2));
    expect(zoomedGeometry.padY).toBe(64);
    const objects = [
      { box: [20, 30, 4, 5] as XywhBox, label: 'face' as const }, // 6.4x8 px zoomed: in tile (0, 0) only
      { box: [158, 100, 6, 3] as XywhBox, label: 'plate' as const }, // near x = 160 source: in several tiles
      { box: [250, 150, 40, 40] as XywhBox, label: 'face' as const }, // 64 px zoomed, 32 px at 1x
    ];
    const levels = headLevels(256, config);
    const cells = levels.reduce((n, l) => n + l.grid * l.grid, 0);
    const plan = plannedRuns(
      { input: new Float32Array(256 * 256 * 3), geometry },
      256,
      { flip: false, zoom: 2, zoomMaxSide: Number.POSITIVE_INFINITY },
      { input: new Float32Array(512 * 512 * 3), geometry: zoomedGeometry },
    );
    expect(plan.inputs).toHaveLength(1 + 9);
    // A perfect network on each run: the 1x input sees nothing (a small object it missed), each tile
    // sees the zoomed objects that lie wholly inside it, in its own pixels.
    const offsets = tileOrigins(512, 256).flatMap((y) => tileOrigins(512, 256).map((x) => [x, y]));
    const outputs = [
      new Float32Array(cells * HEAD_CHANNELS).fill(-8),
      ...offsets.map(([x, y]) => {
        const inside = objects
          .map((o) => {
            const b = boxToInput(o.box, zoomedGeometry);
            return { label: o.label, box: [b[0] - x, b[1] - y, b[2], b[3]] as XywhBox };
          })
          .filter(
            (o) => o.box[0] >= 0 && o.box[1] >= 0 && o.box[0] + o.box[2] <= 256 && o.box[1] + o.box[3] <= 256,
          );
        return perfectHead(encodeTargets(inside, 256, config), 64, cells);
      }),
    ];
    const all = decodePasses(plan.passes(outputs, levels), { nmsIou: 0.45 });
    // Each object once (the copies of overlapping tiles merge in NMS), in source pixels.
    expect(all).toHaveLength(3);
    for (const o of objects) {
      const d = all.find((x) => x.label === o.label && Math.abs(x.box[0] - o.box[0]) < 0.5);
      expect(d?.box.map((v) => +v.toFixed(3))).toEqual(o.box);
    }
    // Zoomed boxes kept only below 16 px at 1x (32 px zoomed): the 32 px face goes.
    const small = plannedRuns(
      { input: new Float32Array(256 * 256 * 3), geometry },
      256,
      { flip: false, zoom: 2, zoomMaxSide: 16 },
      { input: new Float32Array(512 * 512 * 3), geometry: zoomedGeometry },
    );
    const kept = decodePasses(small.passes(outputs, levels), { nmsIou: 0.45 });
    expect(kept.map((d) => d.label).sort()).toEqual(['face', 'plate']);
    expect(kept.every((d) => d.box[2] < 16)).toBe(true);
    // The zoomed input must be there, at twice the side.
    expect(() =>
      plannedRuns({ input: new Float32Array(256 * 256 * 3), geometry }, 256, { ...DEFAULT_DECODE, zoom: 2 }),
    ).toThrow(/preprocessed at 512/);
    expect(() => small.passes(outputs.slice(1), levels)).toThrow(/expected 10 outputs/);
  });

  it("drops zoomed boxes cut off at a tile's inner edge when asked, so the whole copy of another tile wins NMS", () => {
    const config = SMALL_OBJECT_DETECTOR;
    const levels = headLevels(256, config);
    const cells = levels.reduce((n, l) => n + l.grid * l.grid, 0);
    const zoomedGeometry = letterboxGeometry(256, 256, zoomedSpec(DEFAULT_PREPROCESS, 2));
    const geometry = letterboxGeometry(256, 256);
    // A face at zoomed x 230..270 crosses the right edge (x = 256) of tile (0, 0); tile (128, 0) holds it whole.
    const face: XywhBox = [230, 100, 40, 40];
    const run = (margin: number | null) => {
      const plan = plannedRuns(
        { input: new Float32Array(256 * 256 * 3), geometry },
        256,
        { flip: false, zoom: 2, zoomMaxSide: Number.POSITIVE_INFINITY, zoomCutMargin: margin },
        { input: new Float32Array(512 * 512 * 3), geometry: zoomedGeometry },
      );
      const outputs: Float32Array[] = [new Float32Array(cells * HEAD_CHANNELS).fill(-8)];
      for (const [x, y] of tileOrigins(512, 256).flatMap((y) => tileOrigins(512, 256).map((x) => [x, y]))) {
        const [bx, by, bw, bh] = [face[0] - x, face[1] - y, face[2], face[3]];
        // What the tile shows of the face: cut at its edges, more confident when cut (the failure).
        const x0 = Math.max(0, bx);
        const x1 = Math.min(256, bx + bw);
        if (x1 - x0 <= 0 || by < 0 || by + bh > 256) {
          outputs.push(new Float32Array(cells * HEAD_CHANNELS).fill(-8));
          continue;
        }
        const out = perfectHead(
          encodeTargets([{ box: [x0, by, x1 - x0, bh], label: 'face' }], 256, config),
          64,
          cells,
        );
        if (x1 - x0 < bw)
          for (let c = 0; c < cells; c++) if (out[c * HEAD_CHANNELS] > 0) out[c * HEAD_CHANNELS] = 10;
        outputs.push(out);
      }
      return decodePasses(plan.passes(outputs, levels), { nmsIou: 0.45 });
    };
    const whole = [115, 50, 20, 20]; // the face in source pixels (scale 2)
    const kept = run(null);
    expect(kept[0].box[2]).toBeLessThan(15); // the cut copy wins
    const cut = run(4);
    expect(cut).toHaveLength(1);
    expect(cut[0].box.map((v) => +v.toFixed(3))).toEqual(whole);
  });
});

describe('buildTrainingSet', () => {
  it('moves the boxes with the pixels under crops, scaling, flips and colour jitter', async () => {
    const { buildTrainingSet } = await import('./model.js');
    // Black scenes with one white rectangle labelled as a plate, at different places.
    const scenes = [
      [20, 30, 24, 10],
      [150, 60, 40, 14],
      [90, 200, 30, 12],
    ].map((b) => {
      const data = new Uint8Array(256 * 256 * 3);
      for (let y = b[1]; y < b[1] + b[3]; y++)
        data.fill(255, (y * 256 + b[0]) * 3, (y * 256 + b[0] + b[2]) * 3);
      return {
        image: { width: 256, height: 256, data },
        objects: [{ box: b as XywhBox, label: 'plate' as const }],
      };
    });
    const set = buildTrainingSet(scenes, { cropSize: 64, cropsPerScene: 8, objectCentred: 1, seed: 2 });
    const g = 8;
    let checked = 0;
    for (let n = 0; n < set.count; n++) {
      const t = set.y.data.subarray(
        n * g * g * TARGET_CHANNELS,
        (n + 1) * g * g * TARGET_CHANNELS,
      ) as Float32Array;
      const dets = decodeDetections(perfectHead(t, g), g);
      const px = set.x.data.subarray(n * 64 * 64 * 3, (n + 1) * 64 * 64 * 3);
      for (const d of dets) {
        // Scale augmentation leaves fractional edges: take every pixel the box touches.
        const x = Math.floor(d.box[0]);
        const y = Math.floor(d.box[1]);
        const w = Math.ceil(d.box[0] + d.box[2]) - x;
        const h = Math.ceil(d.box[1] + d.box[3]) - y;
        // Bright means above 0.5: jitter moves the black background up a little, never that far.
        let inside = 0;
        for (let yy = y; yy < y + h; yy++)
          for (let xx = x; xx < x + w; xx++) inside += px[(yy * 64 + xx) * 3] > 0.5 ? 1 : 0;
        let total = 0;
        for (let i = 0; i < px.length; i += 3) total += px[i] > 0.5 ? 1 : 0;
        // All the bright pixels of the crop are inside the target box, and the box is bright.
        expect(inside / total).toBeGreaterThan(0.9);
        expect(inside / (w * h)).toBeGreaterThan(0.5);
        checked++;
      }
    }
    expect(checked).toBeGreaterThan(15);
  });
});
