/**
 * ONNX parity of the custom layers: each layer exported by @mlsd/onnx through the converter
 * registered beside it, run by ONNX Runtime (graph optimisation on), matches tfjs within 1e-5
 * (max absolute difference) on random inputs.
 */
import { createRng } from '@mlsd/core';
import { exportToOnnx } from '@mlsd/onnx';
import * as tf from '@tensorflow/tfjs';
import * as ort from 'onnxruntime-node';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { crossLayer, embeddingBag, factorizationMachine, l2Normalize } from './layers.js';

const rng = createRng(21);

function randomTensor(shape: number[], kind: 'normal' | { ids: number; pad?: number }): tf.Tensor {
  const n = shape.reduce((a, c) => a * c, 1);
  if (kind === 'normal')
    return tf.tensor(
      Float32Array.from({ length: n }, () => rng.normal()),
      shape,
    );
  // Ids with a good share of padding, so the mask matters.
  return tf.tensor(
    Int32Array.from({ length: n }, () => (rng.float() < 0.3 ? (kind.pad ?? 0) : rng.int(kind.ids))),
    shape,
    'int32',
  );
}

/** Replaces every weight with random normal values (zero-initialised biases would hide errors). */
function randomizeWeights(model: tf.LayersModel) {
  model.setWeights(model.getWeights().map((w) => randomTensor(w.shape, 'normal')));
}

async function maxAbsDiff(model: tf.LayersModel, inputs: tf.Tensor[]): Promise<number> {
  const bytes = exportToOnnx(model as never, { name: model.name });
  const session = await ort.InferenceSession.create(bytes, { graphOptimizationLevel: 'all' });
  const feeds: Record<string, ort.Tensor> = {};
  session.inputNames.forEach((name, i) => {
    const t = inputs[i];
    feeds[name] = new ort.Tensor(
      t.dtype === 'int32' ? 'int32' : 'float32',
      t.dataSync() as Int32Array | Float32Array,
      t.shape,
    );
  });
  const out = await session.run(feeds);
  const got = out[session.outputNames[0]].data as Float32Array;
  const expected = (model.predict(inputs.length === 1 ? inputs[0] : inputs) as tf.Tensor).dataSync();
  expect(got.length).toBe(expected.length);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - expected[i]));
  await session.release();
  return worst;
}

describe('ONNX parity of the custom layers', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'cpu', log: () => {} });
  });

  it('EmbeddingBag', async () => {
    const ids = tf.input({ shape: [5], dtype: 'int32', name: 'ids' });
    const out = embeddingBag({ inputDim: 30, outputDim: 6, paddingId: 0 }).apply(ids) as tf.SymbolicTensor;
    const model = tf.model({ inputs: ids, outputs: out, name: 'bag' });
    randomizeWeights(model);
    const x = randomTensor([7, 5], { ids: 30 });
    expect(await maxAbsDiff(model, [x])).toBeLessThanOrEqual(1e-5);
  });

  it('EmbeddingBag with a non-zero padding id', async () => {
    const ids = tf.input({ shape: [4], dtype: 'int32', name: 'ids' });
    const out = embeddingBag({ inputDim: 12, outputDim: 3, paddingId: 11 }).apply(ids) as tf.SymbolicTensor;
    const model = tf.model({ inputs: ids, outputs: out, name: 'bag_pad11' });
    randomizeWeights(model);
    expect(await maxAbsDiff(model, [randomTensor([6, 4], { ids: 12, pad: 11 })])).toBeLessThanOrEqual(1e-5);
  });

  it('CrossLayer (3 stacked)', async () => {
    const x = tf.input({ shape: [9], name: 'x' });
    const out = crossLayer({ numLayers: 3 }).apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: out, name: 'cross' });
    // Smaller weights keep the cubic growth of three cross layers in a range where 1e-5 absolute is meaningful.
    model.setWeights(model.getWeights().map((w) => randomTensor(w.shape, 'normal').mul(0.3)));
    expect(await maxAbsDiff(model, [randomTensor([8, 9], 'normal').mul(0.5)])).toBeLessThanOrEqual(1e-5);
  });

  it('FactorizationMachine', async () => {
    const v = tf.input({ shape: [6, 4], name: 'fields' });
    const out = factorizationMachine().apply(v) as tf.SymbolicTensor;
    const model = tf.model({ inputs: v, outputs: out, name: 'fm' });
    expect(await maxAbsDiff(model, [randomTensor([5, 6, 4], 'normal')])).toBeLessThanOrEqual(1e-5);
  });

  it('L2Normalize', async () => {
    const x = tf.input({ shape: [7], name: 'x' });
    const out = l2Normalize().apply(x) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: out, name: 'l2' });
    const batch = randomTensor([6, 7], 'normal');
    // A zero row exercises the epsilon floor.
    const withZero = tf.concat([batch, tf.zeros([1, 7])]);
    expect(await maxAbsDiff(model, [withZero])).toBeLessThanOrEqual(1e-5);
  });

  it('a DCN-style model combining them with standard layers', async () => {
    const ids = tf.input({ shape: [4], dtype: 'int32', name: 'ids' });
    const dense = tf.input({ shape: [3], name: 'dense' });
    const bag = embeddingBag({ inputDim: 20, outputDim: 5 }).apply(ids) as tf.SymbolicTensor;
    const x = tf.layers.concatenate().apply([bag, dense]) as tf.SymbolicTensor;
    const crossed = crossLayer({ numLayers: 2 }).apply(x) as tf.SymbolicTensor;
    const normed = l2Normalize().apply(crossed) as tf.SymbolicTensor;
    const out = tf.layers
      .dense({ units: 1, activation: 'sigmoid', name: 'p' })
      .apply(normed) as tf.SymbolicTensor;
    const model = tf.model({ inputs: [ids, dense], outputs: out, name: 'dcn' });
    model.setWeights(model.getWeights().map((w) => randomTensor(w.shape, 'normal').mul(0.4)));
    expect(
      await maxAbsDiff(model, [randomTensor([9, 4], { ids: 20 }), randomTensor([9, 3], 'normal')]),
    ).toBeLessThanOrEqual(1e-5);
  });
});
