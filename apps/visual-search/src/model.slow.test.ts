import { createRng } from '@mlsd/core';
import { inBatchSoftmaxLoss } from '@mlsd/training';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { generateCatalogue, SMALL_CATALOGUE } from './data.js';
import { fitNormalisation, normalise } from './features.js';
import { augmentView, buildEncoder, initTraining, trainContrastive } from './model.js';

describe('contrastive training', () => {
  beforeAll(async () => {
    await initTraining();
  });

  it('lowers the contrastive loss on held-out pairs of views, and repeats by seed', async () => {
    const catalogue = generateCatalogue({ ...SMALL_CATALOGUE, seed: 9 });
    const train = Array.from({ length: 500 }, (_, i) => i);
    const heldOut = Array.from({ length: 64 }, (_, i) => 500 + i);
    const norm = fitNormalisation(catalogue, train);
    const config = { inputSize: 64, filters: [8, 16, 32], embeddingDim: 32 };
    // Fixed views of held-out images: the same batch before and after training.
    const rng = createRng(123);
    const per = 64 * 64 * 3;
    const input = new Float32Array(2 * heldOut.length * per);
    heldOut.forEach((i, k) => {
      const px = catalogue.pixels(i);
      normalise(augmentView(px, 64, rng), norm, input, k * per);
      normalise(augmentView(px, 64, rng), norm, input, (heldOut.length + k) * per);
    });
    const heldOutLoss = (model: tf.LayersModel) =>
      tf.tidy(() => {
        const z = model.predict(tf.tensor4d(input, [2 * heldOut.length, 64, 64, 3])) as tf.Tensor2D;
        const [a, b] = tf.split(z, 2, 0) as [tf.Tensor2D, tf.Tensor2D];
        return inBatchSoftmaxLoss(a, b, { temperature: 0.1 }).dataSync()[0];
      });
    const model = buildEncoder(config, 1);
    const before = heldOutLoss(model);
    const result = await trainContrastive(model, catalogue, train, norm, {
      epochs: 1,
      batchSize: 32,
      seed: 4,
      learningRate: 3e-3,
    });
    const after = heldOutLoss(model);
    expect(result.steps).toBe(15);
    expect(after).toBeLessThan(before - 0.3);

    const again = buildEncoder(config, 1);
    const repeat = await trainContrastive(again, catalogue, train, norm, {
      epochs: 0.2,
      batchSize: 32,
      seed: 4,
      learningRate: 3e-3,
    });
    expect(repeat.steps).toBe(3);
    expect(repeat.epochLosses[0]).toBeCloseTo(
      await (async () => {
        const m = buildEncoder(config, 1);
        const r = await trainContrastive(m, catalogue, train, norm, {
          epochs: 0.2,
          batchSize: 32,
          seed: 4,
          learningRate: 3e-3,
        });
        m.dispose();
        return r.epochLosses[0];
      })(),
      5,
    );
    model.dispose();
    again.dispose();
  }, 120_000);
});
