/**
 * Test helpers shared by the parity tests: run the same random input through tfjs (cpu backend)
 * and through ONNX Runtime on the exported bytes, and report the largest absolute difference.
 * Not part of the build (tsconfig.build.json excludes *.test-helpers.ts).
 */
import * as tf from '@tensorflow/tfjs';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { type ExportOptions, exportToOnnx } from './export.js';

let backendReady: Promise<boolean> | undefined;

/** Selects tfjs's cpu backend once. */
export function useCpuBackend(): Promise<boolean> {
  backendReady ??= tf.setBackend('cpu');
  return backendReady;
}

/** A seeded generator (mulberry32) so a failing case can be replayed. */
export function seeded(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Replaces every weight of the model with uniform values in [-scale, scale] (variances positive). */
export function randomizeWeights(model: tf.LayersModel, seed: number, scale = 0.5): void {
  const rand = seeded(seed);
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    layer.setWeights(
      weights.map((w, i) => {
        const positive = /moving_variance$/.test(layer.weights[i].name);
        const values = Float32Array.from({ length: w.size }, () =>
          positive ? 0.5 + rand() : (rand() * 2 - 1) * scale,
        );
        return tf.tensor(values, w.shape, w.dtype);
      }),
    );
  }
}

export interface ParityInput {
  data: Float32Array | Int32Array;
  dims: number[];
}

/** Random float input in [-2, 2] (or integer ids below `vocab`) for a tfjs input of the given shape. */
export function randomInput(
  shape: (number | null)[],
  batch: number,
  seed: number,
  vocab?: number,
  int = false,
): ParityInput {
  const rand = seeded(seed);
  const dims = shape.map((d) => (d === null ? batch : d));
  const size = dims.reduce((a, b) => a * b, 1);
  if (vocab !== undefined) {
    const ids = Array.from({ length: size }, () => Math.floor(rand() * vocab));
    return { data: int ? Int32Array.from(ids) : Float32Array.from(ids), dims };
  }
  return { data: Float32Array.from({ length: size }, () => rand() * 4 - 2), dims };
}

export interface ParityResult {
  maxAbsDiff: number;
  bytes: Uint8Array;
  onnx: Record<string, Float32Array>;
  tfjs: Record<string, Float32Array>;
}

/** Exports `model`, runs `inputs` (by tfjs input name) through both runtimes, compares every output. */
export async function compareWithOnnx(
  model: tf.LayersModel,
  inputs: Record<string, ParityInput>,
  options: ExportOptions & { graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all' } = {},
): Promise<ParityResult> {
  const bytes = exportToOnnx(model, options);
  const session = await InferenceSession.create(bytes, {
    graphOptimizationLevel: options.graphOptimizationLevel ?? 'all',
  });
  try {
    const feeds: Record<string, Tensor> = {};
    for (const [name, input] of Object.entries(inputs)) {
      feeds[name] = new Tensor(
        input.data instanceof Int32Array ? 'int32' : 'float32',
        input.data,
        input.dims,
      );
    }
    const result = await session.run(feeds);
    // A Sequential leaves inputNames/outputNames empty: tfjs names them after their layers.
    const inputNames = model.inputs.map((t, i) => model.inputNames[i] ?? t.sourceLayer.name);
    const outputNames = model.outputs.map((t, i) => model.outputNames[i] ?? t.sourceLayer.name);
    const tfInputs = inputNames.map((name) => {
      const input = inputs[name];
      return tf.tensor(input.data, input.dims, input.data instanceof Int32Array ? 'int32' : 'float32');
    });
    const predicted = model.predict(tfInputs.length === 1 ? tfInputs[0] : tfInputs);
    const tfOutputs = Array.isArray(predicted) ? predicted : [predicted];
    let maxAbsDiff = 0;
    const onnx: Record<string, Float32Array> = {};
    const tfjs: Record<string, Float32Array> = {};
    outputNames.forEach((name, i) => {
      const expected = tfOutputs[i].dataSync() as Float32Array;
      const got = result[name];
      if (!got) throw new Error(`ONNX output ${name} missing; got ${Object.keys(result).join(', ')}`);
      if (got.dims.join('x') !== tfOutputs[i].shape.join('x')) {
        throw new Error(
          `output ${name}: ONNX dims ${got.dims.join('x')} vs tfjs ${tfOutputs[i].shape.join('x')}`,
        );
      }
      const data = got.data as Float32Array;
      for (let j = 0; j < expected.length; j++) {
        const d = Math.abs(expected[j] - data[j]);
        if (!(d <= maxAbsDiff)) maxAbsDiff = Number.isNaN(d) ? Number.POSITIVE_INFINITY : d;
      }
      onnx[name] = data;
      tfjs[name] = expected;
    });
    tf.dispose([...tfInputs, ...tfOutputs]);
    return { maxAbsDiff, bytes, onnx, tfjs };
  } finally {
    await session.release();
  }
}
