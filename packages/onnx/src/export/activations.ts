/**
 * tfjs activations as ONNX opset-17 subgraphs. Elementwise activations of a value that came out of
 * a channels-first run (Conv, pooling) are computed on the channels-first twin, so the layout
 * transposes around a run of convolutions cancel instead of piling up.
 */
import type { ConversionContext } from './converter.js';

/** Activation names (tfjs serialized form) the exporter translates. */
export const SUPPORTED_ACTIVATIONS = [
  'linear',
  'relu',
  'relu6',
  'sigmoid',
  'hardSigmoid',
  'tanh',
  'softmax',
  'softplus',
  'softsign',
  'elu',
  'selu',
  'swish',
  'mish',
  'gelu',
  'gelu_new',
] as const;

function scalar(ctx: ConversionContext, value: number): string {
  return ctx.addInitializer('const', Float32Array.of(value), []);
}

function unary(ctx: ConversionContext, op: string, x: string, attrs: Record<string, number> = {}): string {
  return ctx.addNode(op, [x], 1, attrs)[0];
}

/** The elementwise part: builds `activation(x)` on whatever layout x is in. */
function elementwise(ctx: ConversionContext, x: string, activation: string): string {
  switch (activation) {
    case 'relu':
      return unary(ctx, 'Relu', x);
    case 'relu6':
      return ctx.addNode('Clip', [x, scalar(ctx, 0), scalar(ctx, 6)], 1)[0];
    case 'sigmoid':
      return unary(ctx, 'Sigmoid', x);
    case 'hardSigmoid':
      // tfjs: clip(0.2 x + 0.5, 0, 1), which are ONNX HardSigmoid's defaults; written out for clarity.
      return ctx.addNode('HardSigmoid', [x], 1, { alpha: { float: 0.2 }, beta: { float: 0.5 } })[0];
    case 'tanh':
      return unary(ctx, 'Tanh', x);
    case 'softplus':
      return unary(ctx, 'Softplus', x);
    case 'softsign':
      return unary(ctx, 'Softsign', x);
    case 'elu':
      return ctx.addNode('Elu', [x], 1, { alpha: { float: 1 } })[0];
    case 'selu':
      return ctx.addNode('Selu', [x], 1, {
        alpha: { float: 1.6732632423543772 },
        gamma: { float: 1.0507009873554805 },
      })[0];
    case 'swish':
      return ctx.addNode('Mul', [x, unary(ctx, 'Sigmoid', x)], 1)[0];
    case 'mish': {
      const t = unary(ctx, 'Tanh', unary(ctx, 'Softplus', x));
      return ctx.addNode('Mul', [x, t], 1)[0];
    }
    case 'gelu': {
      // Opset 17 has no Gelu: 0.5 * x * (1 + erf(x / sqrt(2))), the exact form tfjs computes.
      const scaled = ctx.addNode('Div', [x, scalar(ctx, Math.SQRT2)], 1)[0];
      const erf = unary(ctx, 'Erf', scaled);
      const onePlus = ctx.addNode('Add', [erf, scalar(ctx, 1)], 1)[0];
      const half = ctx.addNode('Mul', [x, scalar(ctx, 0.5)], 1)[0];
      return ctx.addNode('Mul', [half, onePlus], 1)[0];
    }
    case 'gelu_new': {
      // tanh approximation: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3)))
      const cube = ctx.addNode('Mul', [ctx.addNode('Mul', [x, x], 1)[0], x], 1)[0];
      const inner = ctx.addNode('Add', [x, ctx.addNode('Mul', [cube, scalar(ctx, 0.044715)], 1)[0]], 1)[0];
      const t = unary(ctx, 'Tanh', ctx.addNode('Mul', [inner, scalar(ctx, Math.sqrt(2 / Math.PI))], 1)[0]);
      const onePlus = ctx.addNode('Add', [t, scalar(ctx, 1)], 1)[0];
      return ctx.addNode('Mul', [ctx.addNode('Mul', [x, scalar(ctx, 0.5)], 1)[0], onePlus], 1)[0];
    }
    default:
      throw new RangeError(
        `activation: expected one of ${SUPPORTED_ACTIVATIONS.join(', ')}, got "${activation}" (register a converter for a custom one)`,
      );
  }
}

/**
 * Applies a tfjs activation to a channels-last value and returns the channels-last result.
 * Elementwise activations of a value with a channels-first origin run on the twin.
 */
export function applyActivation(
  x: string,
  activation: string | null | undefined,
  ctx: ConversionContext,
): string {
  const name = activation ?? 'linear';
  if (name === 'linear') return x;
  const shape = ctx.shapeOf(x);
  if (name === 'softmax') {
    // Softmax normalises over the channels-last axis: never on the twin.
    const [y] = ctx.addNode('Softmax', [x], 1, { axis: -1 });
    if (shape) ctx.setShape(y, shape);
    return y;
  }
  if (ctx.hasChannelsFirstOrigin(x)) {
    const twin = ctx.toChannelsFirst(x);
    const y = elementwise(ctx, twin, name);
    const twinShape = ctx.shapeOf(twin);
    if (twinShape) ctx.setShape(y, twinShape);
    return ctx.fromChannelsFirst(y);
  }
  const y = elementwise(ctx, x, name);
  if (shape) ctx.setShape(y, shape);
  return y;
}
