import { createRng } from '@mlsd/core';
import { exportToOnnx, OnnxModel } from '@mlsd/onnx';
import { initBackend } from '@mlsd/training';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import type { CtrInputs } from './features.js';
import { buildCtrModel, type CtrModelKind, predictCtr, trainCtrModel } from './model.js';

const FIELDS = 7;
const DENSE = 5;
const VOCAB = 200;

function randomInputs(rows: number, seed: number): CtrInputs {
  const rng = createRng(seed);
  return {
    rows,
    fields: FIELDS,
    denseWidth: DENSE,
    ids: Int32Array.from({ length: rows * FIELDS }, () => rng.int(VOCAB)),
    dense: Float32Array.from({ length: rows * DENSE }, () => rng.normal()),
  };
}

beforeAll(async () => {
  await initBackend({ prefer: 'cpu', log: () => {} });
});

// DCN-v2 twice: stacked full-rank cross layers (rank 0), and the low-rank form of plain layers in
// the parallel structure.
describe.each<[CtrModelKind, number]>([
  ['logistic-regression', 0],
  ['factorization-machine', 0],
  ['deepfm', 0],
  ['dcn-v2', 0],
  ['dcn-v2', 4],
])('%s, cross rank %i', (kind, crossRank) => {
  it.each([false, true])(
    'exports to ONNX with the same predictions as tfjs (max |diff| <= 1e-5), interaction mask: %s',
    async (masked) => {
      // The mask keeps the first half of the ids (fields) out of the learned interactions.
      const mask = masked
        ? Float32Array.from({ length: VOCAB }, (_, i) => (i < VOCAB / 2 ? 0 : 1))
        : undefined;
      const model = buildCtrModel({
        kind,
        vocabulary: VOCAB,
        fields: FIELDS,
        denseWidth: DENSE,
        seed: 3,
        baseRate: 0.05,
        interactionMask: mask,
        crossRank,
        parallel: crossRank > 0,
        // The frozen Platt layer rides along with the mask (its weights are randomised below too).
        calibration: masked,
      });
      // Move every trained weight away from its initial value so zeros cannot hide a wrong graph.
      const rng = createRng(4);
      for (const layer of model.layers) {
        const ws = layer.getWeights();
        if (ws.length && layer.name !== 'interaction_mask')
          layer.setWeights(
            ws.map((w) =>
              tf.tensor(
                Float32Array.from({ length: w.size }, () => rng.normal(0, 0.3)),
                w.shape,
              ),
            ),
          );
      }
      expect(model.layers.some((l) => l.name === 'interaction_mask')).toBe(
        masked && kind !== 'logistic-regression',
      );
      const x = randomInputs(64, 5);
      const expected = predictCtr(model, x);
      const onnx = await OnnxModel.load(exportToOnnx(model, { name: kind, version: '1' }));
      const out = await onnx.run({
        ids: { data: x.ids, dims: [64, FIELDS] },
        dense: { data: x.dense, dims: [64, DENSE] },
      });
      const got = out.p_click.data as Float32Array;
      let maxDiff = 0;
      for (let i = 0; i < 64; i++) maxDiff = Math.max(maxDiff, Math.abs(got[i] - expected[i]));
      expect(maxDiff).toBeLessThanOrEqual(1e-5);
      // Not a constant: the inputs matter.
      expect(Math.max(...expected) - Math.min(...expected)).toBeGreaterThan(0.01);
      await onnx.close();
      if (masked && kind !== 'logistic-regression') {
        // Without their linear weights, masked ids have no effect at all: swapping one masked id
        // for another leaves every prediction as it was.
        const linear = model.getLayer('linear_ids');
        linear.setWeights(linear.getWeights().map((w) => tf.zerosLike(w)));
        const before = predictCtr(model, x);
        const swapped = {
          ...x,
          ids: x.ids.map((id) => (id < VOCAB / 2 ? (id * 7 + 3) % (VOCAB / 2) : id)),
        };
        expect(Array.from(predictCtr(model, swapped))).toEqual(Array.from(before));
        const kept = {
          ...x,
          ids: x.ids.map((id) => (id >= VOCAB / 2 ? VOCAB / 2 + ((id * 7 + 3) % (VOCAB / 2)) : id)),
        };
        expect(Array.from(predictCtr(model, kept))).not.toEqual(Array.from(before));
      }
      model.dispose();
    },
  );
});

describe('training', () => {
  it('learns an interaction that a linear model cannot (DCN-v2 beats LR on XOR of two fields)', async () => {
    // Field 0 takes id 0 or 1, field 1 id 2 or 3; the label follows their XOR, which no sum of
    // per-id weights can express. The other fields are noise.
    const make = (rows: number, seed: number) => {
      const x = randomInputs(rows, seed);
      const labels = new Uint8Array(rows);
      const rng = createRng(seed + 100);
      for (let i = 0; i < rows; i++) {
        const a = rng.int(2);
        const b = rng.int(2);
        x.ids[i * FIELDS] = a;
        x.ids[i * FIELDS + 1] = 2 + b;
        for (let j = 2; j < FIELDS; j++) x.ids[i * FIELDS + j] = 4 + (x.ids[i * FIELDS + j] % (VOCAB - 4));
        labels[i] = rng.float() < (a ^ b ? 0.8 : 0.2) ? 1 : 0;
      }
      return { x, labels };
    };
    const train = make(4000, 1);
    const valid = make(1000, 2);
    const logLossOf = async (kind: CtrModelKind) => {
      const model = buildCtrModel({
        kind,
        vocabulary: VOCAB,
        fields: FIELDS,
        denseWidth: DENSE,
        seed: 1,
        baseRate: 0.5,
      });
      const history = await trainCtrModel(
        model,
        train.x,
        train.labels,
        { x: valid.x, labels: valid.labels },
        {
          seed: 1,
          epochs: 6,
          batchSize: 128,
          learningRate: 0.01,
          progress: false,
        },
      );
      model.dispose();
      return history.bestMetric ?? Number.NaN;
    };
    const lr = await logLossOf('logistic-regression');
    const dcn = await logLossOf('dcn-v2');
    // Best possible log loss here is H(0.2) = 0.500; a model blind to the XOR stays near ln 2 = 0.693.
    expect(lr).toBeGreaterThan(0.66);
    expect(dcn).toBeLessThan(0.6);
  }, 120_000);
});
