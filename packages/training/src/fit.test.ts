/**
 * The training loop: loss falls on a learnable problem, a seed repeats a run exactly, early
 * stopping restores the best weights, class weights and schedules act, and no tensor leaks.
 */
import { createRng } from '@mlsd/core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { type ArrayData, fit } from './fit.js';
import { multiTaskHeads } from './layers.js';
import { binaryCrossentropy, binaryFocalLoss, meanSquaredError } from './losses.js';
import { learningRateAt } from './schedule.js';
import { withSeed } from './seed.js';

/** y = 1 when x0 + x1 > 0: learnable by a tiny MLP. */
function toyData(n: number, seed: number): { x: ArrayData; y: ArrayData } {
  const rng = createRng(seed);
  const x = new Float32Array(n * 4);
  const y = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    for (let j = 0; j < 4; j++) x[i * 4 + j] = rng.normal();
    y[i] = x[i * 4] + x[i * 4 + 1] > 0 ? 1 : 0;
  }
  return { x: { data: x, shape: [n, 4] }, y: { data: y, shape: [n, 1] } };
}

function buildModel(seed: number) {
  return withSeed(seed, () => {
    const m = tf.sequential();
    m.add(tf.layers.dense({ inputShape: [4], units: 8, activation: 'relu' }));
    m.add(tf.layers.dropout({ rate: 0.1 }));
    m.add(tf.layers.dense({ units: 1, activation: 'sigmoid' }));
    return m;
  });
}

const accuracy = (yTrue: ArrayLike<number>, yScore: ArrayLike<number>) => {
  let ok = 0;
  for (let i = 0; i < yTrue.length; i++) ok += (yScore[i] > 0.5 ? 1 : 0) === yTrue[i] ? 1 : 0;
  return ok / yTrue.length;
};

describe('fit', () => {
  beforeAll(async () => {
    await initBackend({ prefer: 'wasm', log: () => {} });
  });

  it('lowers the loss on a learnable problem', async () => {
    const { x, y } = toyData(256, 1);
    const model = buildModel(3);
    const h = await fit(model, {
      x,
      y,
      loss: binaryCrossentropy(),
      epochs: 8,
      batchSize: 32,
      learningRate: 0.03,
      seed: 5,
      progress: false,
    });
    expect(h.epochs).toHaveLength(8);
    expect(h.epochs[7].loss).toBeLessThan(h.epochs[0].loss * 0.6);
    model.dispose();
  });

  it("adds the layers' weight penalties to the loss, as tfjs's own fit does", async () => {
    const { x, y } = toyData(256, 1);
    const train = async (l2: number) => {
      const model = withSeed(3, () => {
        const m = tf.sequential();
        m.add(
          tf.layers.dense({
            inputShape: [4],
            units: 1,
            activation: 'sigmoid',
            kernelRegularizer: l2 > 0 ? tf.regularizers.l2({ l2 }) : undefined,
          }),
        );
        return m;
      });
      const [kernel] = model.layers[0].getWeights();
      const before = (kernel.square().sum().dataSync()[0] as number) * l2;
      const h = await fit(model, {
        x,
        y,
        loss: binaryCrossentropy(),
        epochs: 1,
        batchSize: 256,
        learningRate: 1e-9,
        seed: 5,
        progress: false,
      });
      const norm = model.layers[0].getWeights()[0].square().sum().dataSync()[0] as number;
      model.dispose();
      return { loss: h.epochs[0].loss, penalty: before, norm };
    };
    const plain = await train(0);
    const penalised = await train(0.5);
    // One full batch at a negligible learning rate: the loss is the data term plus l2 * sum(w^2).
    expect(penalised.penalty).toBeGreaterThan(0.01);
    expect(penalised.loss).toBeCloseTo(plain.loss + penalised.penalty, 4);
    expect(penalised.norm).toBeCloseTo(plain.norm, 4);
  });

  it('repeats weights and losses exactly with one seed, and differs with another', async () => {
    const { x, y } = toyData(128, 2);
    const run = async (seed: number) => {
      const model = buildModel(seed);
      const h = await fit(model, {
        x,
        y,
        loss: binaryCrossentropy(),
        epochs: 3,
        batchSize: 16,
        seed,
        progress: false,
      });
      const w = model.getWeights().map((t) => Array.from(t.dataSync()));
      model.dispose();
      return { losses: h.epochs.map((e) => e.loss), w };
    };
    const a = await run(11);
    const b = await run(11);
    const c = await run(12);
    expect(b.losses).toEqual(a.losses);
    expect(b.w).toEqual(a.w);
    expect(c.losses).not.toEqual(a.losses);
  });

  it('keeps the tensor count flat across epochs', async () => {
    const { x, y } = toyData(96, 3);
    const model = buildModel(1);
    const counts: number[] = [];
    const val = toyData(40, 9);
    await fit(model, {
      x,
      y,
      loss: binaryCrossentropy(),
      epochs: 5,
      batchSize: 16,
      seed: 1,
      progress: false,
      validation: { ...val, metric: accuracy },
      earlyStopping: { patience: 10 },
      onEpochEnd: () => counts.push(tf.memory().numTensors),
    });
    expect(new Set(counts.slice(1)).size).toBe(1);
    model.dispose();
  });

  it('stops early and restores the best validation weights', async () => {
    const { x, y } = toyData(128, 4);
    const model = buildModel(2);
    // A metric that peaks at epoch 1 and falls after, so the best weights are those of epoch 1.
    const scripted = [0.5, 0.9, 0.6, 0.55, 0.52, 0.51];
    let call = 0;
    const snapshots: number[][][] = [];
    const h = await fit(model, {
      x,
      y,
      loss: binaryCrossentropy(),
      epochs: 6,
      batchSize: 32,
      seed: 3,
      progress: false,
      validation: { ...toyData(32, 5), metric: () => scripted[call++] },
      earlyStopping: { patience: 2 },
      onEpochEnd: () => snapshots.push(model.getWeights().map((t) => Array.from(t.dataSync()))),
    });
    expect(h.epochs).toHaveLength(4);
    expect(h.stoppedEarly).toBe(true);
    expect(h.bestEpoch).toBe(1);
    expect(h.restoredBest).toBe(true);
    expect(model.getWeights().map((t) => Array.from(t.dataSync()))).toEqual(snapshots[1]);
    model.dispose();
  });

  it("class weights change the loss by the weight of each example's class", async () => {
    const { x, y } = toyData(64, 6);
    const lossAt = async (classWeight?: number[]) => {
      const model = buildModel(4);
      const h = await fit(model, {
        x,
        y,
        loss: binaryCrossentropy(),
        epochs: 1,
        batchSize: 64,
        learningRate: 1e-9,
        seed: 1,
        progress: false,
        classWeight,
      });
      model.dispose();
      return h.epochs[0].loss;
    };
    const plain = await lossAt();
    const doubled = await lossAt([2, 2]);
    expect(doubled).toBeCloseTo(plain * 2, 5);
    const onlyPositives = await lossAt([0, 1]);
    expect(onlyPositives).toBeLessThan(plain);
  });

  it('trains with focal loss and rejects bad options with named errors', async () => {
    const { x, y } = toyData(64, 7);
    const model = buildModel(5);
    const h = await fit(model, {
      x,
      y,
      loss: binaryFocalLoss({ gamma: 2, alpha: 0.5 }),
      epochs: 6,
      batchSize: 16,
      learningRate: 0.05,
      seed: 2,
      progress: false,
    });
    expect(h.epochs[5].loss).toBeLessThan(h.epochs[0].loss);
    await expect(
      fit(model, {
        x,
        y: { data: new Float32Array(3), shape: [3, 1] },
        loss: binaryCrossentropy(),
        epochs: 1,
      }),
    ).rejects.toThrow(/y: expected 64 rows/);
    await expect(fit(model, { x, y, loss: binaryCrossentropy(), epochs: 0 })).rejects.toThrow(/epochs/);
    await expect(
      fit(model, { x, y, loss: binaryCrossentropy(), epochs: 1, earlyStopping: { patience: 1 } }),
    ).rejects.toThrow(/earlyStopping/);
    model.dispose();
  });

  it('applies the learning-rate schedule per epoch', async () => {
    expect(learningRateAt({ type: 'step', stepSize: 2, gamma: 0.5 }, 1, 3, 10)).toBe(0.5);
    expect(learningRateAt({ type: 'exponential', gamma: 0.9 }, 2, 2, 10)).toBeCloseTo(2 * 0.81, 12);
    expect(learningRateAt({ type: 'cosine' }, 1, 0, 5)).toBe(1);
    expect(learningRateAt({ type: 'cosine' }, 1, 2, 5)).toBeCloseTo(0.5, 12);
    expect(learningRateAt({ type: 'cosine', minLearningRate: 0.1 }, 1, 4, 5)).toBeCloseTo(0.1, 12);
    const { x, y } = toyData(32, 8);
    const model = buildModel(6);
    const h = await fit(model, {
      x,
      y,
      loss: binaryCrossentropy(),
      epochs: 3,
      learningRate: 0.1,
      schedule: { type: 'step', stepSize: 1, gamma: 0.1 },
      progress: false,
    });
    expect(h.epochs.map((e) => e.learningRate)).toEqual([0.1, 0.1 * 0.1, 0.1 * 0.1 * 0.1]);
    model.dispose();
  });

  it('trains multi-task heads with per-task losses and weights', async () => {
    const { x, y } = toyData(128, 10);
    // Second task: regress x0 - x1.
    const reg = new Float32Array(128);
    for (let i = 0; i < 128; i++) reg[i] = x.data[i * 4] - x.data[i * 4 + 1];
    const build = () =>
      withSeed(8, () => {
        const input = tf.input({ shape: [4] });
        const trunk = tf.layers.dense({ units: 8, activation: 'relu' }).apply(input) as tf.SymbolicTensor;
        const outs = multiTaskHeads(trunk, [
          { name: 'click', units: 1, activation: 'sigmoid' },
          { name: 'value', units: 1, hidden: [4] },
        ]);
        return tf.model({ inputs: input, outputs: outs });
      });
    const run = async (lossWeights: number[], epochs: number, learningRate: number) => {
      const model = build();
      const h = await fit(model, {
        x,
        y: [y, { data: reg, shape: [128, 1] }],
        loss: [binaryCrossentropy(), meanSquaredError()],
        lossWeights,
        epochs,
        batchSize: 128,
        learningRate,
        seed: 1,
        progress: false,
      });
      model.dispose();
      return h.epochs.map((e) => e.loss);
    };
    const trained = await run([1, 0.5], 20, 0.03);
    expect(trained[19]).toBeLessThan(trained[0] * 0.7);
    // With a negligible learning rate, the first-epoch loss is the weighted sum of the task losses:
    // weights (1, 0) and (0, 1) add up to weights (1, 1), and doubling a weight doubles its term.
    const [a] = await run([1, 0], 1, 1e-9);
    const [b] = await run([0, 1], 1, 1e-9);
    const [ab] = await run([1, 1], 1, 1e-9);
    const [a2b] = await run([2, 1], 1, 1e-9);
    expect(ab).toBeCloseTo(a + b, 5);
    expect(a2b).toBeCloseTo(2 * a + b, 5);
  });
});
