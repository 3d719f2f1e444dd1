/**
 * The layer cases of the parity tests: one small tfjs model per supported layer configuration.
 * Shared by the parity tests and the onnx.checker test. Not part of the build.
 */
import * as tf from '@tensorflow/tfjs';
import { SUPPORTED_ACTIVATIONS } from './activations.js';
import { type ParityInput, randomInput } from './parity.test-helpers.js';

export interface Case {
  name: string;
  build: () => { model: tf.LayersModel; inputs: Record<string, ParityInput> };
}

/** One-input model: `shape` without batch, `body` maps the symbolic input to the output. */
function single(
  name: string,
  shape: number[],
  body: (x: tf.SymbolicTensor) => tf.SymbolicTensor,
  opts: { vocab?: number; dtype?: 'float32' | 'int32' } = {},
): Case {
  return {
    name,
    build: () => {
      const x = tf.input({ shape, name: 'x', dtype: opts.dtype ?? 'float32' });
      const model = tf.model({ inputs: x, outputs: body(x) });
      return {
        model,
        inputs: { x: randomInput([null, ...shape], 3, 11, opts.vocab, opts.dtype === 'int32') },
      };
    },
  };
}

const L = tf.layers;
const apply = (layer: tf.layers.Layer, x: tf.SymbolicTensor | tf.SymbolicTensor[]) =>
  layer.apply(x) as tf.SymbolicTensor;
const conv = (x: tf.SymbolicTensor, filters: number, extra: Record<string, unknown> = {}) =>
  apply(L.conv2d({ filters, kernelSize: 3, padding: 'same', ...extra }), x);

export const layerCases: Case[] = [
  single('Dense (rank 2, bias)', [5], (x) => apply(L.dense({ units: 4 }), x)),
  single('Dense (no bias)', [5], (x) => apply(L.dense({ units: 4, useBias: false }), x)),
  single('Dense (rank 3 input)', [2, 5], (x) => apply(L.dense({ units: 3, activation: 'tanh' }), x)),
  ...SUPPORTED_ACTIVATIONS.map((activation) =>
    single(`Dense + activation ${activation}`, [6], (x) =>
      apply(L.dense({ units: 5, activation: activation as never }), x),
    ),
  ),
  ...SUPPORTED_ACTIVATIONS.map((activation) =>
    single(`Activation layer ${activation} after conv`, [4, 4, 2], (x) =>
      apply(L.activation({ activation: activation as never }), conv(x, 3)),
    ),
  ),
  single('Embedding (float ids)', [4], (x) => apply(L.embedding({ inputDim: 10, outputDim: 3 }), x), {
    vocab: 10,
  }),
  single(
    'Embedding (int32 ids) + Flatten + Dense',
    [4],
    (x) =>
      apply(L.dense({ units: 2 }), apply(L.flatten(), apply(L.embedding({ inputDim: 7, outputDim: 3 }), x))),
    { vocab: 7, dtype: 'int32' },
  ),
  single('Conv2D valid', [6, 5, 2], (x) => apply(L.conv2d({ filters: 3, kernelSize: 3 }), x)),
  single('Conv2D same, stride 2, relu', [7, 6, 2], (x) => conv(x, 4, { strides: 2, activation: 'relu' })),
  single('Conv2D dilation 2, no bias, kernel 2x3', [8, 8, 3], (x) =>
    apply(L.conv2d({ filters: 2, kernelSize: [2, 3], dilationRate: 2, useBias: false }), x),
  ),
  single('DepthwiseConv2D multiplier 2, same, stride 2', [7, 7, 3], (x) =>
    apply(L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same', strides: 2 }), x),
  ),
  single('DepthwiseConv2D valid', [5, 5, 2], (x) => apply(L.depthwiseConv2d({ kernelSize: 2 }), x)),
  single('MaxPooling2D valid', [6, 6, 2], (x) => apply(L.maxPooling2d({ poolSize: 2 }), x)),
  single('MaxPooling2D same, stride 2, pool 3', [7, 5, 2], (x) =>
    apply(L.maxPooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x),
  ),
  single('AveragePooling2D valid', [6, 6, 2], (x) => apply(L.averagePooling2d({ poolSize: 2 }), x)),
  single('AveragePooling2D same (padding excluded)', [5, 7, 3], (x) =>
    apply(L.averagePooling2d({ poolSize: 3, strides: 2, padding: 'same' }), x),
  ),
  single('GlobalAveragePooling2D on input', [4, 5, 3], (x) => apply(L.globalAveragePooling2d({}), x)),
  single('GlobalAveragePooling2D after conv', [4, 5, 3], (x) =>
    apply(L.globalAveragePooling2d({}), conv(x, 4)),
  ),
  single('GlobalMaxPooling2D after conv', [4, 5, 3], (x) => apply(L.globalMaxPooling2d({}), conv(x, 4))),
  single('BatchNormalization folded into Conv2D', [5, 5, 2], (x) =>
    apply(L.batchNormalization({}), conv(x, 3)),
  ),
  single('BatchNormalization folded into Dense', [5], (x) =>
    apply(L.batchNormalization({}), apply(L.dense({ units: 4 }), x)),
  ),
  single('BatchNormalization folded into DepthwiseConv2D', [5, 5, 2], (x) =>
    apply(L.batchNormalization({}), apply(L.depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2 }), x)),
  ),
  single('BatchNormalization after relu conv (scale + shift)', [5, 5, 2], (x) =>
    apply(L.batchNormalization({}), conv(x, 3, { activation: 'relu' })),
  ),
  single('BatchNormalization on an input (scale + shift)', [6], (x) =>
    apply(L.batchNormalization({ epsilon: 0.01 }), x),
  ),
  single('BatchNormalization without gamma/beta', [6], (x) =>
    apply(L.batchNormalization({ center: false, scale: false }), apply(L.dense({ units: 3 }), x)),
  ),
  single('LayerNormalization', [2, 6], (x) => apply(L.layerNormalization({}), x)),
  single('Flatten after conv (NHWC order)', [4, 3, 2], (x) => apply(L.flatten(), conv(x, 3))),
  single('Reshape', [12], (x) => apply(L.reshape({ targetShape: [3, -1] }), x)),
  single('Reshape to image + conv', [18], (x) => conv(apply(L.reshape({ targetShape: [3, 3, 2] }), x), 2)),
  single('Concatenate (last axis, rank 2)', [5], (x) =>
    apply(L.concatenate({}), [apply(L.dense({ units: 2 }), x), apply(L.dense({ units: 3 }), x)]),
  ),
  single('Concatenate (axis 1, rank 3)', [2, 3], (x) =>
    apply(L.concatenate({ axis: 1 }), [x, apply(L.dense({ units: 3 }), x)]),
  ),
  single('Concatenate conv channels', [4, 4, 2], (x) => apply(L.concatenate({}), [conv(x, 2), conv(x, 3)])),
  single('Add of three', [5], (x) =>
    apply(L.add({}), [
      apply(L.dense({ units: 3 }), x),
      apply(L.dense({ units: 3 }), x),
      apply(L.dense({ units: 3 }), x),
    ]),
  ),
  single('Add residual conv', [4, 4, 3], (x) => apply(L.add({}), [x, conv(x, 3)])),
  single('Multiply', [5], (x) =>
    apply(L.multiply({}), [apply(L.dense({ units: 3 }), x), apply(L.dense({ units: 3 }), x)]),
  ),
  single('Multiply conv outputs', [4, 4, 2], (x) =>
    apply(L.multiply({}), [conv(x, 2), conv(x, 2, { activation: 'sigmoid' })]),
  ),
  single('Average', [5], (x) =>
    apply(L.average({}), [apply(L.dense({ units: 3 }), x), apply(L.dense({ units: 3 }), x)]),
  ),
  single('Maximum and Minimum', [5], (x) => {
    const a = apply(L.dense({ units: 3 }), x);
    const b = apply(L.dense({ units: 3 }), x);
    return apply(L.concatenate({}), [apply(L.maximum({}), [a, b]), apply(L.minimum({}), [a, b])]);
  }),
  single('Dot (rank 2)', [5], (x) =>
    apply(L.dot({ axes: 1 }), [apply(L.dense({ units: 4 }), x), apply(L.dense({ units: 4 }), x)]),
  ),
  single('Dot (rank 2, normalize: cosine)', [5], (x) =>
    apply(L.dot({ axes: 1, normalize: true }), [
      apply(L.dense({ units: 4 }), x),
      apply(L.dense({ units: 4 }), x),
    ]),
  ),
  single('Dot (rank 3, axes [2, 2])', [3, 4], (x) =>
    apply(L.dot({ axes: [2, 2] }), [apply(L.dense({ units: 5 }), x), apply(L.dense({ units: 5 }), x)]),
  ),
  single('Dot (rank 3, axes [1, 1])', [3, 4], (x) =>
    apply(L.dot({ axes: [1, 1] }), [apply(L.dense({ units: 2 }), x), x]),
  ),
  single('Dropout (removed)', [5], (x) => apply(L.dense({ units: 2 }), apply(L.dropout({ rate: 0.5 }), x))),
  single('Dropout as the output', [5], (x) =>
    apply(L.dropout({ rate: 0.5 }), apply(L.dense({ units: 2 }), x)),
  ),
  single('ReLU with maxValue', [5], (x) => apply(L.reLU({ maxValue: 0.4 }), apply(L.dense({ units: 4 }), x))),
  single('LeakyReLU', [5], (x) => apply(L.leakyReLU({ alpha: 0.2 }), apply(L.dense({ units: 4 }), x))),
  single('Softmax layer', [5], (x) => apply(L.softmax({}), apply(L.dense({ units: 4 }), x))),
];
