/**
 * OnnxModel: signature and metadata reporting, request checks, batching, warm-up, close, and
 * load errors for corrupt, truncated and wrong-signature files.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exportToOnnx } from '../export/export.js';
import { randomizeWeights, seeded, useCpuBackend } from '../export/parity.test-helpers.js';
import { OnnxInputError, OnnxLoadError } from './errors.js';
import { OnnxModel } from './onnx-model.js';

let bytes: Uint8Array;
let tfModel: tf.LayersModel;
let model: OnnxModel;
const dir = mkdtempSync(join(tmpdir(), 'mlsd-onnx-model-'));

/** Two inputs (dense features + int32 ids), two outputs. */
function buildModel(): tf.LayersModel {
  const dense = tf.input({ shape: [3], name: 'dense' });
  const ids = tf.input({ shape: [2], name: 'ids', dtype: 'int32' });
  const emb = tf.layers
    .flatten()
    .apply(tf.layers.embedding({ inputDim: 5, outputDim: 2 }).apply(ids)) as tf.SymbolicTensor;
  const merged = tf.layers.concatenate().apply([dense, emb]) as tf.SymbolicTensor;
  const score = tf.layers
    .dense({ units: 1, activation: 'sigmoid', name: 'score' })
    .apply(merged) as tf.SymbolicTensor;
  const logits = tf.layers.dense({ units: 3, name: 'logits' }).apply(merged) as tf.SymbolicTensor;
  return tf.model({ inputs: [dense, ids], outputs: [score, logits], name: 'ctr' });
}

beforeAll(async () => {
  await useCpuBackend();
  tfModel = buildModel();
  randomizeWeights(tfModel, 3);
  bytes = exportToOnnx(tfModel, {
    version: '7',
    featureSpecHash: 'abc123',
    metrics: { auc: 0.75 },
    metadata: { owner: 'ads' },
  });
  writeFileSync(join(dir, 'model.onnx'), bytes);
  model = await OnnxModel.load(join(dir, 'model.onnx'), { intraOpNumThreads: 1, warmup: true });
});

afterAll(async () => {
  await model?.close();
});

describe('OnnxModel signature and metadata', () => {
  it('reports the tfjs names, dtypes and dynamic batch', () => {
    expect(model.inputs).toEqual([
      { name: 'dense', dtype: 'float32', dims: ['batch', 3] },
      { name: 'ids', dtype: 'int32', dims: ['batch', 2] },
    ]);
    expect(model.outputs).toEqual([
      { name: 'score', dtype: 'float32', dims: ['batch', 1] },
      { name: 'logits', dtype: 'float32', dims: ['batch', 3] },
    ]);
  });

  it('exposes metadata_props', () => {
    expect(model.name).toBe('ctr');
    expect(model.version).toBe('7');
    expect(model.metadata.feature_spec_hash).toBe('abc123');
    expect(JSON.parse(model.metadata.metrics)).toEqual({ auc: 0.75 });
    expect(model.metadata.owner).toBe('ads');
  });
});

describe('OnnxModel.run', () => {
  const rand = seeded(5);
  const batch = 600;
  const dense = Float32Array.from({ length: batch * 3 }, () => rand() * 2 - 1);
  const ids = Int32Array.from({ length: batch * 2 }, () => Math.floor(rand() * 5));

  function tfjsScores(): Float32Array {
    const out = tfModel.predict([
      tf.tensor2d(dense, [batch, 3]),
      tf.tensor2d(ids, [batch, 2], 'int32'),
    ]) as tf.Tensor[];
    return out[0].dataSync() as Float32Array;
  }

  it('matches tfjs on bare typed arrays (batch inferred) and explicit dims', async () => {
    const expected = tfjsScores();
    const a = await model.run({ dense, ids });
    const b = await model.run({
      dense: { data: dense, dims: [batch, 3] },
      ids: { data: ids, dims: [batch, 2] },
    });
    expect(a.score.dims).toEqual([batch, 1]);
    expect(a.logits.dims).toEqual([batch, 3]);
    for (const r of [a, b]) {
      const got = r.score.data as Float32Array;
      for (let i = 0; i < batch; i++) expect(Math.abs(got[i] - expected[i])).toBeLessThanOrEqual(1e-5);
    }
  });

  it('fetches only the requested outputs', async () => {
    const r = await model.run({ dense, ids }, { outputs: ['logits'] });
    expect(Object.keys(r)).toEqual(['logits']);
  });

  it('runBatch splits an oversized batch and gives the same rows', async () => {
    const whole = await model.run({ dense, ids });
    const split = await model.runBatch({ dense, ids }, { maxBatchSize: 128 });
    expect(split.logits.dims).toEqual([batch, 3]);
    expect(Array.from(split.logits.data as Float32Array)).toEqual(
      Array.from(whole.logits.data as Float32Array),
    );
  });

  it('names the input, the expectation and what arrived', async () => {
    const cases: Array<[Record<string, unknown>, RegExp]> = [
      [{ dense }, /input "ids": expected a int32 tensor \[batch, 2\], received nothing/],
      [{ dense, ids, extra: dense }, /input "extra": expected one of the inputs \[dense, ids\]/],
      [
        { dense, ids: Float32Array.from(ids) },
        /input "ids": expected Int32Array \(int32\), received Float32Array/,
      ],
      [{ dense: dense.subarray(0, 4), ids }, /input "dense": expected a length that is a multiple of 3/],
      [
        { dense: { data: dense, dims: [batch, 4] }, ids },
        /input "dense": expected dims \[batch, 3\], received dims \[600, 4\]/,
      ],
      [
        { dense: dense.subarray(0, 6), ids },
        /input "ids": expected batch = 2 as in input "dense", received batch = 600/,
      ],
    ];
    for (const [feeds, message] of cases) {
      const error = await model.run(feeds as never).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OnnxInputError);
      expect((error as Error).message).toMatch(message);
    }
  });
});

describe('OnnxModel.load errors', () => {
  it('rejects a missing file, garbage and truncated bytes with OnnxLoadError', async () => {
    const garbage = Uint8Array.from({ length: 4096 }, (_, i) => (i * 7919 + 13) % 256);
    const truncated = bytes.subarray(0, Math.floor(bytes.length * 0.6));
    writeFileSync(join(dir, 'truncated.onnx'), truncated);
    for (const source of [
      join(dir, 'missing.onnx'),
      garbage,
      join(dir, 'truncated.onnx'),
      new Uint8Array(0),
    ]) {
      const error = await OnnxModel.load(source).catch((e: unknown) => e);
      expect(error).toBeInstanceOf(OnnxLoadError);
    }
  });

  it('rejects a file whose signature differs from the expected one', async () => {
    const error = await OnnxModel.load(bytes, {
      expect: { inputs: [{ name: 'dense', dtype: 'float32', dims: ['batch', 4] }] },
    }).catch((e: unknown) => e);
    expect(error).toBeInstanceOf(OnnxLoadError);
    expect((error as Error).message).toMatch(
      /input "dense": expected dims \[batch, 4\], the model declares \[batch, 3\]/,
    );
    const missing = await OnnxModel.load(bytes, { expect: { outputs: [{ name: 'prob' }] } }).catch(
      (e: unknown) => e,
    );
    expect((missing as Error).message).toMatch(
      /expected output "prob", the model declares outputs \[score, logits\]/,
    );
  });

  it('rejects bad session options before loading', async () => {
    await expect(OnnxModel.load(bytes, { graphOptimizationLevel: 'max' as never })).rejects.toThrow(
      /graphOptimizationLevel: expected one of disabled, basic, extended, all, got "max"/,
    );
    await expect(OnnxModel.load(bytes, { intraOpNumThreads: 1.5 })).rejects.toThrow(/intraOpNumThreads/);
  });

  it('refuses to run after close', async () => {
    const m = await OnnxModel.load(bytes, { graphOptimizationLevel: 'all' });
    await m.close();
    await expect(m.run({ dense: new Float32Array(3), ids: new Int32Array(2) })).rejects.toThrow(
      /after close/,
    );
  });

  it('writes the optimised model when asked', async () => {
    const path = join(dir, 'optimized.onnx');
    const m = await OnnxModel.load(bytes, { optimizedModelFilePath: path });
    await m.close();
    const reloaded = await OnnxModel.load(path);
    expect(reloaded.inputs.map((i) => i.name)).toEqual(['dense', 'ids']);
    await reloaded.close();
  });
});
