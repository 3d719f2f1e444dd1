/**
 * The custom layers against hand-worked values: cross layer formula, FM interaction equal to the
 * sum of pairwise dot products, embedding-bag mean with padding masked, L2 normalisation, and a
 * save/load round trip through tfjs serialisation.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { crossLayer, embeddingBag, factorizationMachine, l2Normalize, multiTaskHeads } from './layers.js';

const rows = (t: tf.Tensor) => t.arraySync() as number[][];

describe('custom layers', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', log: () => {} });
  });

  it('CrossLayer computes x0 * (x W + b) + x per layer', () => {
    const layer = crossLayer({ numLayers: 2 });
    const x0 = tf.tensor2d([[1, 2]]);
    layer.apply(x0);
    // Hand-made weights: W0 = [[1,2],[0,1]], b0 = [0.5,-1]; W1 = I, b1 = 0.
    layer.setWeights([
      tf.tensor2d([
        [1, 2],
        [0, 1],
      ]),
      tf.tensor1d([0.5, -1]),
      tf.tensor2d([
        [1, 0],
        [0, 1],
      ]),
      tf.tensor1d([0, 0]),
    ]);
    // Layer 0: x0 W0 + b0 = [1.5, 3]; x0 * that = [1.5, 6]; + x0 = [2.5, 8].
    // Layer 1: x1 W1 + b1 = [2.5, 8]; x0 * that = [2.5, 16]; + x1 = [5, 24].
    expect(rows(layer.apply(x0) as tf.Tensor)).toEqual([[5, 24]]);
  });

  it('FactorizationMachine equals the sum of pairwise dot products of field vectors', () => {
    const v = tf.tensor3d([
      [
        [1, 2],
        [3, 4],
        [0, 1],
      ],
      [
        [1, -1],
        [2, 0.5],
        [-3, 2],
      ],
    ]);
    const out = rows(factorizationMachine().apply(v) as tf.Tensor);
    // <v1,v2> + <v1,v3> + <v2,v3>: 11 + 2 + 4 = 17, and 1.5 + (-5) + (-5) = -8.5.
    expect(out[0][0]).toBeCloseTo(17, 5);
    expect(out[1][0]).toBeCloseTo(-8.5, 5);
  });

  it('EmbeddingBag averages the rows of non-padding ids and gives zeros for an empty bag', () => {
    const layer = embeddingBag({ inputDim: 4, outputDim: 2, paddingId: 0 });
    const ids = tf.tensor2d(
      [
        [1, 2, 0],
        [3, 0, 0],
        [0, 0, 0],
      ],
      undefined,
      'int32',
    );
    layer.apply(ids);
    layer.setWeights([
      tf.tensor2d([
        [100, 100],
        [1, 2],
        [3, 4],
        [5, 6],
      ]),
    ]);
    expect(rows(layer.apply(ids) as tf.Tensor)).toEqual([
      [2, 3],
      [5, 6],
      [0, 0],
    ]);
    // The padding row's values never reach the output: the gradient there is zero.
    const g = tf.grad((t: tf.Tensor) => tf.gather(t, tf.tensor1d([1, 2], 'int32')).sum())(tf.zeros([4, 2]));
    expect(g.arraySync()).toEqual([
      [0, 0],
      [1, 1],
      [1, 1],
      [0, 0],
    ]);
  });

  it('L2Normalize scales rows to unit norm and leaves a zero row at zero', () => {
    const out = rows(
      l2Normalize().apply(
        tf.tensor2d([
          [3, 4],
          [0, 0],
          [1, 0],
        ]),
      ) as tf.Tensor,
    );
    expect(out[0][0]).toBeCloseTo(0.6, 6);
    expect(out[0][1]).toBeCloseTo(0.8, 6);
    expect(out[1]).toEqual([0, 0]);
    expect(out[2]).toEqual([1, 0]);
  });

  it('rejects bad configuration with the argument named', () => {
    expect(() => embeddingBag({ inputDim: 0, outputDim: 2 })).toThrow(/inputDim/);
    expect(() => crossLayer({ numLayers: 0 })).toThrow(/numLayers/);
    expect(() => l2Normalize({ epsilon: -1 })).toThrow(/epsilon/);
  });

  it('round-trips a model with every custom layer through tfjs serialisation', async () => {
    const ids = tf.input({ shape: [3], dtype: 'int32', name: 'ids' });
    const dense = tf.input({ shape: [4], name: 'dense' });
    const fields = tf.input({ shape: [3, 2], name: 'fields' });
    const bag = embeddingBag({ inputDim: 10, outputDim: 4, seed: 1 }).apply(ids) as tf.SymbolicTensor;
    const x = tf.layers.concatenate().apply([bag, dense]) as tf.SymbolicTensor;
    const crossed = crossLayer({ numLayers: 2, seed: 2 }).apply(x) as tf.SymbolicTensor;
    const fm = factorizationMachine().apply(fields) as tf.SymbolicTensor;
    const normed = l2Normalize().apply(crossed) as tf.SymbolicTensor;
    const [click, rating] = multiTaskHeads(tf.layers.concatenate().apply([normed, fm]) as tf.SymbolicTensor, [
      { name: 'click', units: 1, activation: 'sigmoid' },
      { name: 'rating', units: 1, hidden: [3] },
    ]);
    const model = tf.model({ inputs: [ids, dense, fields], outputs: [click, rating] });
    let saved: tf.io.ModelArtifacts | undefined;
    await model.save(
      tf.io.withSaveHandler(async (a) => {
        saved = a;
        return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
      }),
    );
    const loaded = await tf.loadLayersModel(tf.io.fromMemory(saved as tf.io.ModelArtifacts));
    const inputs = [
      tf.tensor2d(
        [
          [1, 5, 0],
          [9, 9, 2],
        ],
        undefined,
        'int32',
      ),
      tf.randomNormal([2, 4]),
      tf.randomNormal([2, 3, 2]),
    ];
    const a = model.predict(inputs) as tf.Tensor[];
    const b = loaded.predict(inputs) as tf.Tensor[];
    expect(b[0].arraySync()).toEqual(a[0].arraySync());
    expect(b[1].arraySync()).toEqual(a[1].arraySync());
    expect(loaded.layers.map((l) => l.getClassName())).toEqual(
      expect.arrayContaining(['EmbeddingBag', 'CrossLayer', 'FactorizationMachine', 'L2Normalize']),
    );
  });
});
