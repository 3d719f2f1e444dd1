/**
 * Built-in converters for the standard tfjs layers. Values between layers are channels-last
 * (tfjs's NHWC); convolution and pooling work on a channels-first twin obtained through the
 * context, which inserts each layout Transpose once per value.
 *
 * This module imports no tfjs: it reads layers through `getConfig()` and `getWeights()` only.
 */
import type { ConversionContext, LayerConverter, TfLayerLike } from './converter.js';

/** A folded BatchNormalization: y = x * scale + shift per output channel. */
export interface BatchNormFold {
  scale: Float32Array;
  shift: Float32Array;
}

type Config = Record<string, unknown>;

function pair(value: unknown, what: string, layer: TfLayerLike): [number, number] {
  if (typeof value === 'number') return [value, value];
  if (Array.isArray(value) && value.length === 1) return [Number(value[0]), Number(value[0])];
  if (Array.isArray(value) && value.length === 2) return [Number(value[0]), Number(value[1])];
  throw new TypeError(`${layer.name}: expected ${what} as a number or a pair, got ${JSON.stringify(value)}`);
}

function requireChannelsLast(layer: TfLayerLike, config: Config): void {
  const format = config.dataFormat ?? 'channelsLast';
  if (format !== 'channelsLast') {
    throw new RangeError(
      `${layer.name}: only dataFormat 'channelsLast' is exported, got '${String(format)}'`,
    );
  }
}

function weight(layer: TfLayerLike, index: number): { data: Float32Array; shape: number[] } {
  const weights = layer.getWeights();
  const w = weights[index];
  if (!w)
    throw new RangeError(
      `${layer.name}: expected a weight at index ${index}, the layer has ${weights.length}`,
    );
  return { data: Float32Array.from(w.dataSync()), shape: [...w.shape] };
}

function weightBySuffix(layer: TfLayerLike, suffix: string): Float32Array | undefined {
  const index = layer.weights.findIndex((w) => w.name.endsWith(suffix));
  return index < 0 ? undefined : weight(layer, index).data;
}

function normalizeAxis(axis: number, rank: number, layer: TfLayerLike): number {
  const a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank)
    throw new RangeError(`${layer.name}: axis ${axis} is out of range for rank ${rank}`);
  return a;
}

function rankOf(ctx: ConversionContext, x: string, layer: TfLayerLike): number {
  const shape = ctx.shapeOf(x);
  if (!shape) throw new RangeError(`${layer.name}: the shape of input "${x}" is unknown`);
  return shape.length;
}

/** Explicit begin/end pads reproducing TensorFlow's 'same' padding (extra padding at the end). */
function samePads(size: number, kernel: number, stride: number, dilation: number): [number, number] {
  const out = Math.ceil(size / stride);
  const effective = (kernel - 1) * dilation + 1;
  const total = Math.max((out - 1) * stride + effective - size, 0);
  return [Math.floor(total / 2), total - Math.floor(total / 2)];
}

function outputSize(size: number | null, kernel: number, stride: number, dilation: number, padding: string) {
  if (size === null) return null;
  if (padding === 'same') return Math.ceil(size / stride);
  return Math.floor((size - (kernel - 1) * dilation - 1) / stride) + 1;
}

/** Spatial attributes shared by Conv and pooling; falls back to auto_pad when H/W are dynamic. */
function spatialAttributes(
  layer: TfLayerLike,
  cfShape: (number | null)[],
  kernel: [number, number],
  strides: [number, number],
  dilations: [number, number],
  padding: string,
): Record<string, number[] | string> {
  if (padding !== 'same' && padding !== 'valid') {
    throw new RangeError(`${layer.name}: expected padding 'same' or 'valid', got '${padding}'`);
  }
  const [h, w] = [cfShape[2], cfShape[3]];
  if (padding === 'valid') return { pads: [0, 0, 0, 0] };
  if (h === null || w === null) return { auto_pad: 'SAME_UPPER' };
  const [top, bottom] = samePads(h, kernel[0], strides[0], dilations[0]);
  const [left, right] = samePads(w, kernel[1], strides[1], dilations[1]);
  return { pads: [top, left, bottom, right] };
}

function applyFold(kernel: Float32Array, bias: Float32Array, fold: BatchNormFold | undefined): void {
  if (!fold) return;
  const channels = bias.length;
  if (fold.scale.length !== channels) {
    throw new RangeError(`BatchNormalization fold: expected ${channels} channels, got ${fold.scale.length}`);
  }
  // Output channel is the fastest-varying index of tfjs kernels ([in, out], [kh, kw, in, out]).
  for (let i = 0; i < kernel.length; i++) kernel[i] *= fold.scale[i % channels];
  for (let c = 0; c < channels; c++) bias[c] = bias[c] * fold.scale[c] + fold.shift[c];
}

// 1. Dense and Embedding ------------------------------------------------------------------------

/** Dense, optionally with a following BatchNormalization folded into its kernel and bias. */
export function convertDense(
  layer: TfLayerLike,
  inputs: string[],
  ctx: ConversionContext,
  fold?: BatchNormFold,
): string[] {
  const config = layer.getConfig();
  const [x] = inputs;
  const kernel = weight(layer, 0);
  const [inDim, units] = kernel.shape;
  const useBias = config.useBias !== false;
  const bias = useBias ? weight(layer, 1).data : new Float32Array(units);
  applyFold(kernel.data, bias, fold);
  const w = ctx.addInitializer(`${layer.name}/kernel`, kernel.data, [inDim, units]);
  const xShape = ctx.shapeOf(x) ?? [null, inDim];
  const outShape = [...xShape.slice(0, -1), units];
  let y: string;
  if (xShape.length === 2) {
    const inputs3 = [x, w];
    if (useBias || fold) inputs3.push(ctx.addInitializer(`${layer.name}/bias`, bias, [units]));
    [y] = ctx.addNode('Gemm', inputs3, 1);
  } else {
    [y] = ctx.addNode('MatMul', [x, w], 1);
    if (useBias || fold) {
      ctx.setShape(y, outShape);
      [y] = ctx.addNode('Add', [y, ctx.addInitializer(`${layer.name}/bias`, bias, [units])], 1);
    }
  }
  ctx.setShape(y, outShape);
  return [ctx.applyActivation(y, config.activation as string)];
}

const embedding: LayerConverter = (layer, [ids], ctx) => {
  const table = weight(layer, 0);
  const [, dim] = table.shape;
  const w = ctx.addInitializer(`${layer.name}/embeddings`, table.data, table.shape);
  // tfjs casts float ids to int32 (truncation); ONNX Cast float->int64 truncates the same way.
  let index = ids;
  const dtype = ctx.dtypeOf(ids);
  if (dtype !== 'int32' && dtype !== 'int64') {
    [index] = ctx.addNode('Cast', [ids], 1, { to: 7 });
    ctx.setDtype(index, 'int64');
  }
  const [y] = ctx.addNode('Gather', [w, index], 1, { axis: 0 });
  const idShape = ctx.shapeOf(ids);
  if (idShape) ctx.setShape(y, [...idShape, dim]);
  return [y];
};

// 2. Convolution and pooling --------------------------------------------------------------------

/** Conv2D, optionally with a following BatchNormalization folded in. */
export function convertConv2D(
  layer: TfLayerLike,
  inputs: string[],
  ctx: ConversionContext,
  fold?: BatchNormFold,
): string[] {
  const config = layer.getConfig();
  requireChannelsLast(layer, config);
  const kernel = weight(layer, 0);
  const [kh, kw, cin, cout] = kernel.shape;
  const useBias = config.useBias !== false;
  const bias = useBias ? weight(layer, 1).data : new Float32Array(cout);
  applyFold(kernel.data, bias, fold);
  // tfjs [kh, kw, in, out] -> ONNX [out, in, kh, kw]
  const w = new Float32Array(kernel.data.length);
  for (let h = 0; h < kh; h++)
    for (let x = 0; x < kw; x++)
      for (let i = 0; i < cin; i++)
        for (let o = 0; o < cout; o++)
          w[((o * cin + i) * kh + h) * kw + x] = kernel.data[((h * kw + x) * cin + i) * cout + o];
  return convolution(layer, inputs[0], ctx, w, [cout, cin, kh, kw], bias, useBias || !!fold, 1);
}

/** DepthwiseConv2D, optionally with a following BatchNormalization folded in. */
export function convertDepthwiseConv2D(
  layer: TfLayerLike,
  inputs: string[],
  ctx: ConversionContext,
  fold?: BatchNormFold,
): string[] {
  const config = layer.getConfig();
  requireChannelsLast(layer, config);
  const kernel = weight(layer, 0);
  const [kh, kw, cin, mult] = kernel.shape;
  const cout = cin * mult;
  const useBias = config.useBias !== false;
  const bias = useBias ? weight(layer, 1).data : new Float32Array(cout);
  applyFold(kernel.data, bias, fold);
  // tfjs [kh, kw, in, mult] -> ONNX [in * mult, 1, kh, kw]; output channel c * mult + m as in tfjs.
  const w = new Float32Array(kernel.data.length);
  for (let h = 0; h < kh; h++)
    for (let x = 0; x < kw; x++)
      for (let c = 0; c < cin; c++)
        for (let m = 0; m < mult; m++)
          w[((c * mult + m) * kh + h) * kw + x] = kernel.data[((h * kw + x) * cin + c) * mult + m];
  return convolution(layer, inputs[0], ctx, w, [cout, 1, kh, kw], bias, useBias || !!fold, cin);
}

function convolution(
  layer: TfLayerLike,
  x: string,
  ctx: ConversionContext,
  w: Float32Array,
  wShape: number[],
  bias: Float32Array,
  withBias: boolean,
  group: number,
): string[] {
  const config = layer.getConfig();
  const kernel: [number, number] = [wShape[2], wShape[3]];
  const strides = pair(config.strides ?? 1, 'strides', layer);
  const dilations = pair(config.dilationRate ?? 1, 'dilationRate', layer);
  const padding = String(config.padding ?? 'valid');
  const xcf = ctx.toChannelsFirst(x);
  const cfShape = ctx.shapeOf(xcf) as (number | null)[];
  const inputs = [xcf, ctx.addInitializer(`${layer.name}/kernel`, w, wShape)];
  if (withBias) inputs.push(ctx.addInitializer(`${layer.name}/bias`, bias, [wShape[0]]));
  const [y] = ctx.addNode('Conv', inputs, 1, {
    kernel_shape: kernel,
    strides,
    dilations,
    group,
    ...spatialAttributes(layer, cfShape, kernel, strides, dilations, padding),
  });
  ctx.setShape(y, [
    cfShape[0],
    wShape[0],
    outputSize(cfShape[2], kernel[0], strides[0], dilations[0], padding),
    outputSize(cfShape[3], kernel[1], strides[1], dilations[1], padding),
  ]);
  return [ctx.applyActivation(ctx.fromChannelsFirst(y), config.activation as string)];
}

function pooling(op: 'MaxPool' | 'AveragePool'): LayerConverter {
  return (layer, [x], ctx) => {
    const config = layer.getConfig();
    requireChannelsLast(layer, config);
    const kernel = pair(config.poolSize ?? 2, 'poolSize', layer);
    const strides = pair(config.strides ?? kernel, 'strides', layer);
    const padding = String(config.padding ?? 'valid');
    const xcf = ctx.toChannelsFirst(x);
    const cfShape = ctx.shapeOf(xcf) as (number | null)[];
    const attrs = spatialAttributes(layer, cfShape, kernel, strides, [1, 1], padding);
    // TensorFlow's 'same' average excludes the padding: ONNX count_include_pad = 0 (the default).
    const [y] = ctx.addNode(op, [xcf], 1, { kernel_shape: kernel, strides, ...attrs });
    ctx.setShape(y, [
      cfShape[0],
      cfShape[1],
      outputSize(cfShape[2], kernel[0], strides[0], 1, padding),
      outputSize(cfShape[3], kernel[1], strides[1], 1, padding),
    ]);
    return [ctx.fromChannelsFirst(y)];
  };
}

function globalPooling(op: 'ReduceMean' | 'ReduceMax'): LayerConverter {
  return (layer, [x], ctx) => {
    const config = layer.getConfig();
    requireChannelsLast(layer, config);
    const shape = ctx.shapeOf(x) as (number | null)[];
    if (config.keepDims !== true && ctx.hasChannelsFirstOrigin(x)) {
      const xcf = ctx.toChannelsFirst(x);
      const [y] = ctx.addNode(op, [xcf], 1, { axes: [2, 3], keepdims: 0 });
      ctx.setShape(y, [shape[0], shape[3]]);
      return [y];
    }
    const keep = config.keepDims === true ? 1 : 0;
    const [y] = ctx.addNode(op, [x], 1, { axes: [1, 2], keepdims: keep });
    ctx.setShape(y, keep ? [shape[0], 1, 1, shape[3]] : [shape[0], shape[3]]);
    return [y];
  };
}

// 3. Normalisation ------------------------------------------------------------------------------

/** The per-channel scale and shift of a BatchNormalization layer in inference mode. */
export function batchNormFold(layer: TfLayerLike): BatchNormFold {
  const config = layer.getConfig();
  const epsilon = Number(config.epsilon ?? 1e-3);
  const mean = weightBySuffix(layer, 'moving_mean');
  const variance = weightBySuffix(layer, 'moving_variance');
  if (!mean || !variance)
    throw new RangeError(`${layer.name}: expected moving_mean and moving_variance weights`);
  const gamma = weightBySuffix(layer, 'gamma');
  const beta = weightBySuffix(layer, 'beta');
  const scale = new Float32Array(mean.length);
  const shift = new Float32Array(mean.length);
  for (let c = 0; c < mean.length; c++) {
    scale[c] = (gamma ? gamma[c] : 1) / Math.sqrt(variance[c] + epsilon);
    shift[c] = (beta ? beta[c] : 0) - mean[c] * scale[c];
  }
  return { scale, shift };
}

const batchNormalization: LayerConverter = (layer, [x], ctx) => {
  const rank = rankOf(ctx, x, layer);
  const axis = normalizeAxis(Number(layer.getConfig().axis ?? -1), rank, layer);
  const { scale, shift } = batchNormFold(layer);
  const channels = scale.length;
  if (axis === rank - 1 && rank >= 3 && rank <= 5 && ctx.hasChannelsFirstOrigin(x)) {
    const xcf = ctx.toChannelsFirst(x);
    const dims = [channels, ...Array(rank - 2).fill(1)];
    const [m] = ctx.addNode('Mul', [xcf, ctx.addInitializer(`${layer.name}/scale`, scale, dims)], 1);
    const [y] = ctx.addNode('Add', [m, ctx.addInitializer(`${layer.name}/shift`, shift, dims)], 1);
    ctx.setShape(y, ctx.shapeOf(xcf) as (number | null)[]);
    return [ctx.fromChannelsFirst(y)];
  }
  const dims = [channels, ...Array(rank - 1 - axis).fill(1)];
  const [m] = ctx.addNode('Mul', [x, ctx.addInitializer(`${layer.name}/scale`, scale, dims)], 1);
  const [y] = ctx.addNode('Add', [m, ctx.addInitializer(`${layer.name}/shift`, shift, dims)], 1);
  return [y];
};

const layerNormalization: LayerConverter = (layer, [x], ctx) => {
  const config = layer.getConfig();
  const rank = rankOf(ctx, x, layer);
  const axes = Array.isArray(config.axis) ? config.axis : [config.axis ?? -1];
  if (axes.length !== 1 || normalizeAxis(Number(axes[0]), rank, layer) !== rank - 1) {
    throw new RangeError(
      `${layer.name}: only LayerNormalization over the last axis is exported, got axis ${JSON.stringify(config.axis)}`,
    );
  }
  const channels = (ctx.shapeOf(x) as (number | null)[])[rank - 1] as number;
  const gamma = weightBySuffix(layer, 'gamma') ?? new Float32Array(channels).fill(1);
  const beta = weightBySuffix(layer, 'beta') ?? new Float32Array(channels);
  const [y] = ctx.addNode(
    'LayerNormalization',
    [
      x,
      ctx.addInitializer(`${layer.name}/gamma`, gamma, [channels]),
      ctx.addInitializer(`${layer.name}/beta`, beta, [channels]),
    ],
    1,
    { axis: -1, epsilon: { float: Number(config.epsilon ?? 1e-3) } },
  );
  return [y];
};

// 4. Shape ----------------------------------------------------------------------------------------

const flatten: LayerConverter = (_layer, [x], ctx) => {
  // Flattening the channels-last value reproduces tfjs's NHWC element order.
  const [y] = ctx.addNode('Flatten', [x], 1, { axis: 1 });
  return [y];
};

const reshape: LayerConverter = (layer, [x], ctx) => {
  const target = layer.getConfig().targetShape;
  if (!Array.isArray(target))
    throw new TypeError(`${layer.name}: expected targetShape as an array, got ${JSON.stringify(target)}`);
  // tfjs writes the free dimension as null (or -1).
  const dims = target.map((d) => (d === null || d === -1 ? -1 : Number(d)));
  // Resolve tfjs's -1 from the static input size so the batch can be the only -1 in the ONNX shape.
  const rest = (ctx.shapeOf(x) ?? [null]).slice(1);
  const free = dims.indexOf(-1);
  if (free >= 0 && rest.every((d) => d !== null)) {
    const total = (rest as number[]).reduce((a, b) => a * b, 1);
    const known = dims.reduce((a, b) => (b === -1 ? a : a * b), 1);
    dims[free] = total / known;
  }
  const [y] = ctx.addNode(
    'Reshape',
    [x, ctx.addInt64(`${layer.name}/shape`, [dims.includes(-1) ? 0 : -1, ...dims])],
    1,
  );
  ctx.setShape(y, [null, ...dims.map((d) => (d === -1 ? null : d))]);
  return [y];
};

const concatenate: LayerConverter = (layer, inputs, ctx) => {
  const rank = rankOf(ctx, inputs[0], layer);
  const axis = normalizeAxis(Number(layer.getConfig().axis ?? -1), rank, layer);
  if (rank === 4 && axis === 3 && inputs.every((i) => ctx.hasChannelsFirstOrigin(i))) {
    const twins = inputs.map((i) => ctx.toChannelsFirst(i));
    const [y] = ctx.addNode('Concat', twins, 1, { axis: 1 });
    const shapes = twins.map((t) => ctx.shapeOf(t) as (number | null)[]);
    const channels = shapes.reduce(
      (s, sh) => (s === null || sh[1] === null ? null : s + (sh[1] as number)),
      0 as number | null,
    );
    ctx.setShape(y, [shapes[0][0], channels, shapes[0][2], shapes[0][3]]);
    return [ctx.fromChannelsFirst(y)];
  }
  return ctx.addNode('Concat', inputs, 1, { axis });
};

// 5. Merging --------------------------------------------------------------------------------------

function merge(op: 'Add' | 'Mul' | 'Max' | 'Min' | 'Mean'): LayerConverter {
  return (layer, inputs, ctx) => {
    if (inputs.length < 2)
      throw new RangeError(`${layer.name}: expected at least 2 inputs, got ${inputs.length}`);
    const channelsFirst = inputs.every((i) => ctx.hasChannelsFirstOrigin(i));
    const values = channelsFirst ? inputs.map((i) => ctx.toChannelsFirst(i)) : inputs;
    let y: string;
    if (op === 'Max' || op === 'Min') {
      [y] = ctx.addNode(op, values, 1);
    } else if (op === 'Mean') {
      // tfjs averages as sum * (1 / n).
      const [sum] = ctx.addNode('Sum', values, 1);
      [y] = ctx.addNode('Mul', [sum, ctx.addInitializer('const', Float32Array.of(1 / values.length), [])], 1);
    } else {
      y = values[0];
      for (let i = 1; i < values.length; i++) [y] = ctx.addNode(op, [y, values[i]], 1);
    }
    if (!channelsFirst) return [y];
    ctx.setShape(y, ctx.shapeOf(values[0]) as (number | null)[]);
    return [ctx.fromChannelsFirst(y)];
  };
}

function l2Normalize(ctx: ConversionContext, x: string, axis: number): string {
  // tfjs: x / sqrt(max(sum(x^2, axis), 1e-7))
  const [sq] = ctx.addNode('Mul', [x, x], 1);
  const [sum] = ctx.addNode('ReduceSum', [sq, ctx.addInt64('axes', [axis])], 1, { keepdims: 1 });
  const [clamped] = ctx.addNode('Max', [sum, ctx.addInitializer('const', Float32Array.of(1e-7), [])], 1);
  const [norm] = ctx.addNode('Sqrt', [clamped], 1);
  return ctx.addNode('Div', [x, norm], 1)[0];
}

const dot: LayerConverter = (layer, inputs, ctx) => {
  if (inputs.length !== 2) throw new RangeError(`${layer.name}: Dot expects 2 inputs, got ${inputs.length}`);
  const config = layer.getConfig();
  const ranks = inputs.map((i) => rankOf(ctx, i, layer));
  const rawAxes = Array.isArray(config.axes) ? config.axes : [config.axes, config.axes];
  const axes = rawAxes.map((a, i) => normalizeAxis(Number(a), ranks[i], layer));
  let [a, b] = inputs;
  if (config.normalize === true) {
    a = l2Normalize(ctx, a, axes[0]);
    b = l2Normalize(ctx, b, axes[1]);
  }
  if (ranks[0] === 2 && ranks[1] === 2) {
    // [b, d] . [b, d] -> [b, 1]
    const [prod] = ctx.addNode('Mul', [a, b], 1);
    return ctx.addNode('ReduceSum', [prod, ctx.addInt64('axes', [1])], 1, { keepdims: 1 });
  }
  if (ranks[0] === 3 && ranks[1] === 3) {
    // Batched matrix product contracting axes[0] of a with axes[1] of b.
    const left = axes[0] === 2 ? a : ctx.addNode('Transpose', [a], 1, { perm: [0, 2, 1] })[0];
    const right = axes[1] === 1 ? b : ctx.addNode('Transpose', [b], 1, { perm: [0, 2, 1] })[0];
    return ctx.addNode('MatMul', [left, right], 1);
  }
  throw new RangeError(
    `${layer.name}: Dot is exported for two rank-2 or two rank-3 inputs, got ranks ${ranks.join(' and ')}`,
  );
};

// 6. Activations and identities -------------------------------------------------------------------

const identity: LayerConverter = (_layer, inputs) => [inputs[0]];

const activation: LayerConverter = (layer, [x], ctx) => [
  ctx.applyActivation(x, String(layer.getConfig().activation)),
];

const relu: LayerConverter = (layer, [x], ctx) => {
  const maxValue = layer.getConfig().maxValue;
  if (maxValue === null || maxValue === undefined) return [ctx.applyActivation(x, 'relu')];
  const zero = ctx.addInitializer('const', Float32Array.of(0), []);
  const max = ctx.addInitializer('const', Float32Array.of(Number(maxValue)), []);
  return ctx.addNode('Clip', [x, zero, max], 1);
};

const leakyRelu: LayerConverter = (layer, [x], ctx) =>
  ctx.addNode('LeakyRelu', [x], 1, { alpha: { float: Number(layer.getConfig().alpha ?? 0.3) } });

const softmax: LayerConverter = (layer, [x], ctx) => {
  const axis = layer.getConfig().axis ?? -1;
  const a = Array.isArray(axis) ? axis : [axis];
  if (a.length !== 1) throw new RangeError(`${layer.name}: Softmax over several axes is not exported`);
  return ctx.addNode('Softmax', [x], 1, { axis: Number(a[0]) });
};

/** The converters of the standard tfjs layers, by class name. */
export const BUILTIN_CONVERTERS: ReadonlyMap<string, LayerConverter> = new Map<string, LayerConverter>([
  ['Dense', (l, i, c) => convertDense(l, i, c)],
  ['Embedding', embedding],
  ['Conv2D', (l, i, c) => convertConv2D(l, i, c)],
  ['DepthwiseConv2D', (l, i, c) => convertDepthwiseConv2D(l, i, c)],
  ['MaxPooling2D', pooling('MaxPool')],
  ['AveragePooling2D', pooling('AveragePool')],
  ['GlobalAveragePooling2D', globalPooling('ReduceMean')],
  ['GlobalMaxPooling2D', globalPooling('ReduceMax')],
  ['BatchNormalization', batchNormalization],
  ['LayerNormalization', layerNormalization],
  ['Flatten', flatten],
  ['Reshape', reshape],
  ['Concatenate', concatenate],
  ['Add', merge('Add')],
  ['Multiply', merge('Mul')],
  ['Average', merge('Mean')],
  ['Maximum', merge('Max')],
  ['Minimum', merge('Min')],
  ['Dot', dot],
  ['Dropout', identity],
  ['SpatialDropout1D', identity],
  ['GaussianNoise', identity],
  ['GaussianDropout', identity],
  ['AlphaDropout', identity],
  ['Activation', activation],
  ['ReLU', relu],
  ['LeakyReLU', leakyRelu],
  ['Softmax', softmax],
]);

/** Built-in converters that can absorb a following BatchNormalization. */
export const FOLDABLE_CONVERTERS: ReadonlyMap<
  string,
  (layer: TfLayerLike, inputs: string[], ctx: ConversionContext, fold: BatchNormFold) => string[]
> = new Map([
  ['Dense', convertDense],
  ['Conv2D', convertConv2D],
  ['DepthwiseConv2D', convertDepthwiseConv2D],
]);
