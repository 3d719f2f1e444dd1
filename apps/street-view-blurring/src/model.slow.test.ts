import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportToOnnx, OnnxModel } from '@mlsd/onnx';
import { initBackend } from '@mlsd/training';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateScene, generateScenes } from './data.js';
import { OnnxDetector } from './detector.js';
import { DEFAULT_PREPROCESS, preprocessImage } from './features.js';
import {
  buildDetector,
  buildTrainingSet,
  DEFAULT_DECODE,
  decodeDetections,
  decodePasses,
  detectWithModel,
  HEAD_CHANNELS,
  headLevels,
  loadDetectorWeights,
  mirrorInput,
  plannedRuns,
  predictHeads,
  preprocessForDetection,
  readDetectorWeights,
  SMALL_OBJECT_DETECTOR,
  saveDetectorWeights,
  trainDetector,
  writeDetectorWeights,
} from './model.js';

beforeAll(async () => {
  await initBackend({ prefer: 'wasm', log: () => {} });
});

describe('detector', () => {
  it('exports to ONNX with the same outputs and the same decoded boxes as tfjs', async () => {
    const model = buildDetector(256, undefined, 5);
    const scenes = generateScenes(8, 2);
    const inputs = await Promise.all(scenes.map(async (s) => (await preprocessImage(s.image)).input));
    const tfOut = predictHeads(model, inputs, 256);
    const onnx = await OnnxModel.load(exportToOnnx(model, { name: 'street-view-detector' }));
    try {
      for (let i = 0; i < inputs.length; i++) {
        const res = await onnx.run({ image: { data: inputs[i], dims: [1, 256, 256, 3] } });
        const out = Object.values(res)[0].data as Float32Array;
        expect(out.length).toBe(32 * 32 * HEAD_CHANNELS);
        let maxDiff = 0;
        for (let k = 0; k < out.length; k++) maxDiff = Math.max(maxDiff, Math.abs(out[k] - tfOut[i][k]));
        expect(maxDiff).toBeLessThan(1e-4);
        // Scores of an untrained head nearly tie, so compare the decoded sets in a fixed order.
        const order = (d: { label: string; box: number[] }[]) =>
          [...d].sort((p, q) => p.label.localeCompare(q.label) || p.box[1] - q.box[1] || p.box[0] - q.box[0]);
        const a = order(decodeDetections(tfOut[i], 32, undefined, { minScore: 0.005 }));
        const b = order(decodeDetections(out, 32, undefined, { minScore: 0.005 }));
        expect(a.length).toBeGreaterThan(0);
        expect(b.length).toBe(a.length);
        b.forEach((d, j) => {
          expect(d.label).toBe(a[j].label);
          for (let m = 0; m < 4; m++) expect(Math.abs(d.box[m] - a[j].box[m])).toBeLessThan(1e-3);
        });
      }
    } finally {
      await onnx.close();
    }
  });

  it('serves through OnnxDetector with the boxes tfjs decodes, mapped to the source image, and with the mirrored pass', async () => {
    const model = buildDetector(256, undefined, 6);
    const scene = generateScene(8, 5, { width: 320, height: 200 });
    const pre = await preprocessImage(scene.image);
    const one = { minScore: 0.005, flip: false, zoom: 1 };
    const expected = decodeDetections(predictHeads(model, [pre.input], 256)[0], 32, pre.geometry, one);
    const bytes = exportToOnnx(model);
    const detector = await OnnxDetector.load(bytes, { decode: one });
    try {
      const got = await detector.detect(scene.image);
      expect(got.length).toBe(expected.length);
      for (const d of got) {
        expect(d.box[0] + d.box[2]).toBeLessThanOrEqual(320 + 1e-9);
        expect(d.box[1] + d.box[3]).toBeLessThanOrEqual(200 + 1e-9);
        const twin = expected.find(
          (e) => e.label === d.label && e.box.every((v, m) => Math.abs(v - d.box[m]) < 1e-3),
        );
        expect(twin).toBeDefined();
      }
    } finally {
      await detector.close();
    }
    // The mirrored pass: ONNX on the mirrored input matches tfjs on it, and OnnxDetector decodes
    // both ONNX outputs together. (An untrained head's scores nearly tie, so NMS over the two passes
    // is compared on the same numbers, not across runtimes.)
    const mirrored = mirrorInput(pre.input, 256);
    const tfMirrored = predictHeads(model, [mirrored], 256)[0];
    const onnx = await OnnxModel.load(bytes);
    const flipped = await OnnxDetector.load(bytes, { decode: { minScore: 0.005, zoom: 1 } });
    try {
      const run = async (x: Float32Array) =>
        Object.values(await onnx.run({ image: { data: x, dims: [1, 256, 256, 3] } }))[0].data as Float32Array;
      const out = await run(pre.input);
      const outMirrored = await run(mirrored);
      let maxDiff = 0;
      for (let k = 0; k < outMirrored.length; k++)
        maxDiff = Math.max(maxDiff, Math.abs(outMirrored[k] - tfMirrored[k]));
      expect(maxDiff).toBeLessThan(1e-4);
      const both = await flipped.detect(scene.image);
      expect(both).toEqual(
        decodeDetections(out, 32, pre.geometry, { minScore: 0.005, zoom: 1 }, outMirrored),
      );
      // The mirrored pass changes the result.
      expect(both).not.toEqual(decodeDetections(out, 32, pre.geometry, one));
    } finally {
      await onnx.close();
      await flipped.close();
    }
  });

  it('runs the zoomed tiles in OnnxDetector as tfjs runs them, and decodes them with the other passes', async () => {
    const model = buildDetector(256, SMALL_OBJECT_DETECTOR, 9);
    const levels = headLevels(256, SMALL_OBJECT_DETECTOR);
    const scene = generateScene(8, 7, { width: 320, height: 240 });
    const pre = await preprocessForDetection(scene.image);
    expect(pre.zoomed?.geometry.inputSize).toBe(512);
    const plan = plannedRuns(pre, 256, DEFAULT_DECODE, pre.zoomed);
    expect(plan.inputs).toHaveLength(2 + 9);
    const tfOut = predictHeads(model, plan.inputs, 256);
    const bytes = exportToOnnx(model, { name: 'street-view-detector' });
    const onnx = await OnnxModel.load(bytes);
    const detector = await OnnxDetector.load(bytes, { decode: { minScore: 0.005 } });
    try {
      // Every run, tiles included, matches tfjs.
      const out: Float32Array[] = [];
      for (const [i, x] of plan.inputs.entries()) {
        const o = Object.values(await onnx.run({ image: { data: x, dims: [1, 256, 256, 3] } }))[0]
          .data as Float32Array;
        let maxDiff = 0;
        for (let k = 0; k < o.length; k++) maxDiff = Math.max(maxDiff, Math.abs(o[k] - tfOut[i][k]));
        expect(maxDiff).toBeLessThan(1e-4);
        out.push(o);
      }
      // OnnxDetector batches the same runs and decodes them together; the zoomed pass adds boxes.
      const got = await detector.detect(scene.image);
      const expected = decodePasses(plan.passes(out, levels), { minScore: 0.005 });
      expect(got.length).toBe(expected.length);
      for (const d of got) {
        const twin = expected.find(
          (e) =>
            e.label === d.label &&
            Math.abs(e.score - d.score) < 1e-4 &&
            e.box.every((v, m) => Math.abs(v - d.box[m]) < 1e-3),
        );
        expect(twin).toBeDefined();
        expect(d.box[0] + d.box[2]).toBeLessThanOrEqual(320 + 1e-9);
        expect(d.box[1] + d.box[3]).toBeLessThanOrEqual(240 + 1e-9);
      }
      const withoutZoom = decodePasses(plan.passes(out, levels).slice(0, 2), { minScore: 0.005 });
      expect(got).not.toEqual(withoutZoom);
      // detectWithModel (tfjs) decodes the same runs the same way.
      const viaTfjs = detectWithModel(model, [pre], 256, SMALL_OBJECT_DETECTOR, { minScore: 0.005 })[0];
      expect(viaTfjs).toEqual(decodePasses(plan.passes(tfOut, levels), { minScore: 0.005 }));
    } finally {
      await onnx.close();
      await detector.close();
    }
  }, 300_000); // 22 tfjs forward passes of the 256 detector: 110 s alone, 194 s in CI beside other suites

  it('exports the two-level detector (stride 4 and 8) with the same outputs, decoded the same through OnnxDetector', async () => {
    const model = buildDetector(256, SMALL_OBJECT_DETECTOR, 7);
    const levels = headLevels(256, SMALL_OBJECT_DETECTOR);
    const scene = generateScene(8, 6, { width: 300, height: 220 });
    const pre = await preprocessImage(scene.image);
    const tfOut = predictHeads(model, [pre.input], 256)[0];
    expect(tfOut.length).toBe((64 * 64 + 32 * 32) * HEAD_CHANNELS);
    const bytes = exportToOnnx(model, { name: 'street-view-detector' });
    const onnx = await OnnxModel.load(bytes);
    try {
      const res = await onnx.run({ image: { data: pre.input, dims: [1, 256, 256, 3] } });
      const out = Object.values(res)[0].data as Float32Array;
      let maxDiff = 0;
      for (let k = 0; k < out.length; k++) maxDiff = Math.max(maxDiff, Math.abs(out[k] - tfOut[k]));
      expect(out.length).toBe(tfOut.length);
      expect(maxDiff).toBeLessThan(1e-4);
    } finally {
      await onnx.close();
    }
    const expected = decodeDetections(tfOut, levels, pre.geometry, { minScore: 0.005, flip: false });
    const detector = await OnnxDetector.load(bytes, { decode: { minScore: 0.005, flip: false, zoom: 1 } });
    try {
      const got = await detector.detect(scene.image);
      expect(got.length).toBe(expected.length);
      expect(got.length).toBeGreaterThan(0);
      for (const d of got) {
        const twin = expected.find(
          (e) => e.label === d.label && e.box.every((v, m) => Math.abs(v - d.box[m]) < 1e-3),
        );
        expect(twin).toBeDefined();
      }
    } finally {
      await detector.close();
    }
    // Saved weights of the two-level detector rebuild it at the training crop size.
    const saved = saveDetectorWeights(model, SMALL_OBJECT_DETECTOR);
    const crop = loadDetectorWeights(saved, 96);
    expect(crop.outputs[0].shape).toEqual([null, 12 * 12 + 24 * 24, HEAD_CHANNELS]);
  });

  it('builds flipped, jittered crops whose targets follow the objects', () => {
    const scenes = generateScenes(12, 4);
    const set = buildTrainingSet(scenes, { cropSize: 64, cropsPerScene: 3, seed: 1 });
    expect(set.x.shape).toEqual([12, 64, 64, 3]);
    expect(set.y.shape).toEqual([12, 8, 8, 7]);
    let positives = 0;
    for (let i = 6; i < set.y.data.length; i += 7) positives += set.y.data[i];
    expect(positives).toBeGreaterThan(4);
    for (const v of set.x.data) if (v < 0 || v > 1) throw new Error(`pixel ${v} outside [0, 1]`);
  });

  it('learns: the training loss falls and repeats with the seed', async () => {
    const scenes = generateScenes(13, 24);
    const run = () =>
      trainDetector(scenes, { epochs: 3, cropSize: 64, cropsPerScene: 2, batchSize: 16, seed: 3 });
    const a = await run();
    const losses = a.history.epochs.map((e) => e.loss);
    expect(losses[2]).toBeLessThan(losses[0] * 0.9);
    const b = await run();
    expect(b.history.epochs.map((e) => e.loss)).toEqual(losses);
    // Saved weights rebuild the same network at another input size (fine-tuning starts there).
    const saved = saveDetectorWeights(a.model);
    const big = loadDetectorWeights(saved, 128);
    const input = (await preprocessImage(scenes[0].image, { ...DEFAULT_PREPROCESS, inputSize: 128 })).input;
    const direct = buildDetector(128);
    direct.setWeights(a.model.getWeights());
    expect(predictHeads(big, [input], 128)[0]).toEqual(predictHeads(direct, [input], 128)[0]);
    expect(() => loadDetectorWeights({ ...saved, shapes: saved.shapes.slice(1) }, 128)).toThrow(
      /weight shapes/,
    );
    const dir = await mkdtemp(join(tmpdir(), 'svb-weights-'));
    try {
      await writeDetectorWeights(join(dir, 'w'), saved);
      const back = await readDetectorWeights(join(dir, 'w'));
      expect(back.shapes).toEqual(saved.shapes);
      expect(Buffer.from(back.data.buffer).equals(Buffer.from(saved.data.buffer))).toBe(true);
    } finally {
      await rm(dir, { recursive: true, force: true });
    }
  });
});
