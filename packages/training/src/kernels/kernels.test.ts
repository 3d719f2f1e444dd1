/**
 * The project's kernels against tfjs's reference cpu kernels on random inputs: scatter-add,
 * both convolution gradients (shapes, strides, 'same'/'valid') and max-pool gradient.
 */
import { createRng } from '@mlsd/core';
import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { initBackend } from '../backend.js';
import { stockKernel } from './registry.js';

const rng = createRng(7);
const randn = (shape: number[]) => {
  const n = (shape as readonly number[]).reduce((a: number, c: number) => a * c, 1);
  const v = new Float32Array(n);
  for (let i = 0; i < n; i++) v[i] = rng.normal();
  return tf.tensor(v, shape);
};

/** Runs a kernel by its config on the cpu backend (the reference), returning the values. */
function runReference(
  name: 'Conv2DBackpropFilter' | 'Conv2DBackpropInput' | 'MaxPoolGrad' | 'UnsortedSegmentSum',
  inputs: Record<string, tf.Tensor>,
  attrs: Record<string, unknown>,
) {
  const k = stockKernel(name, 'cpu');
  if (!k) throw new Error('no reference');
  const cpu = tf.findBackend('cpu') as unknown as {
    data: { get(id: object): { values: Float32Array } };
    write(v: Float32Array, s: number[], d: string): object;
  };
  const infos: Record<string, { dataId: object; shape: number[]; dtype: string }> = {};
  for (const [name, t] of Object.entries(inputs)) {
    const values = t.dataSync().slice();
    infos[name] = {
      dataId: cpu.write(values as Float32Array, t.shape, t.dtype),
      shape: t.shape,
      dtype: t.dtype,
    };
  }
  const out = k.kernelFunc({ inputs: infos, backend: cpu, attrs } as never) as {
    dataId: object;
    shape: number[];
  };
  return { values: cpu.data.get(out.dataId).values, shape: out.shape };
}

function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rel = 1e-4) {
  expect(actual.length).toBe(expected.length);
  let scale = 0;
  for (let i = 0; i < expected.length; i++) scale = Math.max(scale, Math.abs(expected[i]));
  let worst = 0;
  for (let i = 0; i < expected.length; i++) worst = Math.max(worst, Math.abs(actual[i] - expected[i]));
  expect(worst).toBeLessThanOrEqual(rel * Math.max(1, scale));
}

const convCases: Array<{ x: number[]; f: number[]; s: number; pad: 'same' | 'valid' }> = [
  { x: [2, 7, 6, 3], f: [3, 3, 3, 4], s: 1, pad: 'same' },
  { x: [2, 7, 6, 3], f: [3, 3, 3, 4], s: 1, pad: 'valid' },
  { x: [3, 9, 8, 2], f: [3, 2, 2, 5], s: 2, pad: 'same' },
  { x: [3, 9, 8, 2], f: [3, 3, 2, 5], s: 2, pad: 'valid' },
  { x: [1, 10, 11, 4], f: [5, 5, 4, 3], s: 3, pad: 'same' },
  { x: [2, 11, 10, 3], f: [4, 2, 3, 2], s: 3, pad: 'valid' },
  { x: [2, 5, 5, 1], f: [1, 1, 1, 6], s: 1, pad: 'valid' },
];

for (const backend of ['cpu', 'wasm'] as const) {
  describe(`project kernels on ${backend}`, () => {
    beforeAll(async () => {
      const info = await initBackend({ prefer: backend, log: () => {} });
      expect(info.backend).toBe(backend);
    });

    it('UnsortedSegmentSum equals the reference scatter, dropping out-of-range ids', () => {
      for (const [n, d, segs] of [
        [50, 4, 7],
        [33, 1, 40],
        [8, 3, 2],
      ]) {
        const x = randn([n, d]);
        const idsArr = Int32Array.from({ length: n }, () => rng.int(segs + 2) - 1);
        const ids = tf.tensor1d(idsArr, 'int32');
        const got = tf.unsortedSegmentSum(x, ids, segs);
        const xs = x.dataSync();
        const expected = new Float32Array(segs * d);
        for (let i = 0; i < n; i++) {
          if (idsArr[i] < 0 || idsArr[i] >= segs) continue;
          for (let j = 0; j < d; j++) expected[idsArr[i] * d + j] += xs[i * d + j];
        }
        expect(got.shape).toEqual([segs, d]);
        expectClose(got.dataSync(), expected, 1e-6);
        if (backend === 'cpu') {
          // The stock kernel as a second reference (it treats ids the same way).
          const inRange = tf.tensor1d(
            idsArr.map((v) => Math.max(0, Math.min(segs - 1, v))),
            'int32',
          );
          const ref = runReference('UnsortedSegmentSum', { x, segmentIds: inRange }, { numSegments: segs });
          const mine = tf.unsortedSegmentSum(x, inRange, segs);
          expectClose(mine.dataSync(), ref.values, 1e-6);
        }
      }
    });

    it('embedding gradient flows through gather on this backend', () => {
      const table = tf.variable(randn([6, 3]));
      const ids = tf.tensor1d([1, 1, 4, 0], 'int32');
      const g = tf.grad((t: tf.Tensor) => tf.gather(t, ids).sum())(table);
      expect(Array.from(g.dataSync())).toEqual([1, 1, 1, 2, 2, 2, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 0, 0]);
    });

    for (const c of convCases) {
      it(`Conv2D gradients match the cpu reference: x ${c.x} filter ${c.f} stride ${c.s} ${c.pad}`, () => {
        const x = randn(c.x) as tf.Tensor4D;
        const w = randn(c.f) as tf.Tensor4D;
        const y = tf.conv2d(x, w, c.s, c.pad);
        const dy = randn(y.shape) as tf.Tensor4D;
        const attrs = { strides: [c.s, c.s], pad: c.pad, dataFormat: 'NHWC', dimRoundingMode: undefined };
        const dwRef = runReference('Conv2DBackpropFilter', { x, dy }, { ...attrs, filterShape: c.f });
        const dxRef = runReference('Conv2DBackpropInput', { dy, filter: w }, { ...attrs, inputShape: c.x });
        const grads = tf.grads((a: tf.Tensor, b: tf.Tensor) =>
          tf
            .conv2d(a as tf.Tensor4D, b as tf.Tensor4D, c.s, c.pad)
            .mul(dy)
            .sum(),
        );
        const [gx, gw] = grads([x, w]);
        expect(gw.shape).toEqual(c.f);
        expect(gx.shape).toEqual(c.x);
        expectClose(gw.dataSync(), dwRef.values);
        expectClose(gx.dataSync(), dxRef.values);
      });
    }

    for (const [shape, size, stride, pad] of [
      [[2, 8, 8, 3], 2, 2, 'valid'],
      [[1, 7, 9, 4], 3, 2, 'same'],
      [[2, 6, 5, 2], 3, 1, 'valid'],
    ] as const) {
      it(`MaxPoolGrad matches the cpu reference: ${shape} pool ${size} stride ${stride} ${pad}`, () => {
        // Integer-valued inputs create ties, where the first maximum must win as in tfjs.
        const n = (shape as readonly number[]).reduce((a: number, c: number) => a * c, 1);
        const x = tf.tensor(
          Float32Array.from({ length: n }, () => rng.int(5)),
          [...shape],
        ) as tf.Tensor4D;
        const y = tf.maxPool(x, size, stride, pad);
        const dy = randn(y.shape);
        const ref = runReference(
          'MaxPoolGrad',
          { dy, input: x, output: y },
          { filterSize: [size, size], strides: [stride, stride], pad, dimRoundingMode: undefined },
        );
        const gx = tf.grad((a: tf.Tensor) =>
          tf
            .maxPool(a as tf.Tensor4D, size, stride, pad)
            .mul(dy)
            .sum(),
        )(x);
        expectClose(gx.dataSync(), ref.values, 1e-6);
      });
    }
  });
}
