/**
 * Losses against hand-worked values (focal, in-batch softmax with and without logQ, skip-gram
 * with negative sampling, multi-task weighting) and a loss that falls when trained.
 */
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import {
  binaryCrossentropy,
  binaryFocalLoss,
  createNegativeSampler,
  inBatchSoftmaxLoss,
  logFrequencyCorrection,
  multiTaskLoss,
  skipGramNegativeSamplingLoss,
} from './losses.js';

const value = (t: tf.Scalar) => t.dataSync()[0];
const softplus = (z: number) => Math.log(1 + Math.exp(z));

describe('losses', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', log: () => {} });
  });

  it('focal loss: hand value, and cross-entropy when gamma = 0 without alpha', () => {
    const y = tf.tensor2d([[1], [0]]);
    const p = tf.tensor2d([[0.8], [0.3]]);
    // y=1, p=0.8: 0.25 * 0.2^2 * -ln 0.8; y=0, p=0.3: 0.75 * 0.3^2 * -ln 0.7.
    const expected = (0.25 * 0.04 * -Math.log(0.8) + 0.75 * 0.09 * -Math.log(0.7)) / 2;
    expect(value(binaryFocalLoss({ gamma: 2, alpha: 0.25 })(y, p))).toBeCloseTo(expected, 6);
    expect(value(binaryFocalLoss({ gamma: 0, alpha: null })(y, p))).toBeCloseTo(
      value(binaryCrossentropy()(y, p)),
      6,
    );
    expect(value(binaryCrossentropy({ fromLogits: true })(y, tf.tensor2d([[2], [-1]])))).toBeCloseTo(
      (softplus(-2) + softplus(-1)) / 2,
      6,
    );
    expect(() => binaryFocalLoss({ alpha: 2 })).toThrow(/alpha/);
  });

  it('in-batch softmax: hand values with and without the log-frequency correction', () => {
    const q = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    const items = tf.tensor2d([
      [1, 0],
      [0, 1],
    ]);
    // Logits = identity at T = 1: each row's loss is log(1 + e^-1).
    expect(value(inBatchSoftmaxLoss(q, items, { temperature: 1 }))).toBeCloseTo(softplus(-1), 6);
    // At T = 0.5 the logits double.
    expect(value(inBatchSoftmaxLoss(q, items, { temperature: 0.5 }))).toBeCloseTo(softplus(-2), 6);
    // logQ = log [0.5, 0.25] is subtracted column-wise.
    const lq = [Math.log(0.5), Math.log(0.25)];
    const row0 = softplus(0 - lq[1] - (1 - lq[0]));
    const row1 = softplus(0 - lq[0] - (1 - lq[1]));
    const logQ = tf.tensor1d(logFrequencyCorrection([2, 1, 1], [0, 1]));
    expect(logQ.arraySync()[0]).toBeCloseTo(lq[0], 6);
    expect(value(inBatchSoftmaxLoss(q, items, { temperature: 1, logQ }))).toBeCloseTo((row0 + row1) / 2, 5);
    expect(() => inBatchSoftmaxLoss(q, tf.zeros([3, 2]) as tf.Tensor2D)).toThrow(/items/);
  });

  it('skip-gram negative sampling: hand value', () => {
    const center = tf.tensor2d([[1, 0]]);
    const context = tf.tensor2d([[2, 0]]);
    const negatives = tf.tensor3d([
      [
        [0, 1],
        [-1, 0],
      ],
    ]);
    // -log s(2) - log s(-0) - log s(1) = softplus(-2) + ln 2 + softplus(-1).
    expect(value(skipGramNegativeSamplingLoss(center, context, negatives))).toBeCloseTo(
      softplus(-2) + Math.LN2 + softplus(-1),
      6,
    );
  });

  it('negative sampler follows counts^0.75', () => {
    const counts = [100, 10, 1, 0];
    const draw = createNegativeSampler(counts, { seed: 3 });
    const got = draw(60_000);
    const freq = [0, 0, 0, 0];
    for (const id of got) freq[id]++;
    const w = counts.map((c) => c ** 0.75);
    const total = w.reduce((a, b) => a + b, 0);
    for (let i = 0; i < 4; i++) expect(freq[i] / got.length).toBeCloseTo(w[i] / total, 2);
  });

  it('multi-task loss is the weighted sum of the task losses', () => {
    const mt = multiTaskLoss([
      { name: 'click', loss: binaryCrossentropy(), weight: 2 },
      { name: 'watch', loss: binaryCrossentropy(), weight: 0.5 },
    ]);
    const y = [tf.tensor2d([[1]]), tf.tensor2d([[0]])];
    const p = [tf.tensor2d([[0.9]]), tf.tensor2d([[0.2]])];
    const { total, perTask } = mt(y, p);
    expect(value(perTask[0])).toBeCloseTo(-Math.log(0.9), 6);
    expect(value(total)).toBeCloseTo(2 * -Math.log(0.9) + 0.5 * -Math.log(0.8), 6);
  });

  it('contrastive and skip-gram losses fall when their embeddings are trained', () => {
    const qv = tf.variable(tf.randomNormal([8, 4], 0, 0.1, 'float32', 1));
    const iv = tf.variable(tf.randomNormal([8, 4], 0, 0.1, 'float32', 2));
    const opt = tf.train.adam(0.05);
    const step = () =>
      value(
        opt.minimize(
          () => inBatchSoftmaxLoss(qv as tf.Tensor2D, iv as tf.Tensor2D, { temperature: 0.2 }),
          true,
          [qv, iv],
        ) as tf.Scalar,
      );
    const first = step();
    for (let i = 0; i < 40; i++) step();
    expect(step()).toBeLessThan(first * 0.5);

    const emb = tf.variable(tf.randomNormal([6, 3], 0, 0.1, 'float32', 3));
    const ctx = tf.variable(tf.randomNormal([6, 3], 0, 0.1, 'float32', 4));
    const c = tf.tensor1d([0, 1, 2], 'int32');
    const o = tf.tensor1d([3, 4, 5], 'int32');
    const neg = tf.tensor2d(
      [
        [4, 5],
        [3, 5],
        [3, 4],
      ],
      undefined,
      'int32',
    );
    const sg = () =>
      skipGramNegativeSamplingLoss(
        tf.gather(emb, c) as tf.Tensor2D,
        tf.gather(ctx, o) as tf.Tensor2D,
        tf.gather(ctx, neg) as tf.Tensor3D,
      );
    const opt2 = tf.train.adam(0.05);
    const s0 = value(sg());
    for (let i = 0; i < 40; i++) opt2.minimize(sg, false, [emb, ctx]);
    expect(value(sg())).toBeLessThan(s0 * 0.5);
  });
});
