/**
 * Custom tfjs layers the case studies share, each registered for tfjs serialisation and, next to
 * it, its ONNX translation registered with @mlsd/onnx (`registerLayerConverter`):
 * - EmbeddingBag: mean of the embeddings of several ids, padding ids masked out;
 * - CrossLayer: DCN-v2 cross network, x_{l+1} = x0 * (x_l W_l + b_l) + x_l;
 * - FactorizationMachine: pairwise interactions 0.5 * sum_k((sum_f v)^2 - sum_f v^2);
 * - L2Normalize: x / max(||x||, sqrt(eps)) along the last axis.
 */
import { type ConversionContext, registerLayerConverter, type TfLayerLike } from '@mlsd/onnx';
import * as tf from '@tensorflow/tfjs';

type Shape = (number | null)[];
type Kwargs = Record<string, unknown>;

const ONNX_FLOAT = 1;
const ONNX_INT64 = 7;

function single(inputs: tf.Tensor | tf.Tensor[]): tf.Tensor {
  return Array.isArray(inputs) ? inputs[0] : inputs;
}

function singleShape(s: Shape | Shape[]): Shape {
  return Array.isArray(s[0]) ? (s as Shape[])[0] : (s as Shape);
}

function initializerFor(
  seed: number | undefined,
  scale: 'glorot' | 'normal',
): ReturnType<typeof tf.initializers.glorotUniform> {
  return scale === 'glorot'
    ? tf.initializers.glorotUniform(seed === undefined ? {} : { seed })
    : tf.initializers.randomNormal({ mean: 0, stddev: 0.05, ...(seed === undefined ? {} : { seed }) });
}

function float32(w: { dataSync(): ArrayLike<number> }): Float32Array {
  return Float32Array.from(w.dataSync());
}

// 1. EmbeddingBag ----------------------------------------------------------------------------

/** Options of {@link EmbeddingBag}. */
export interface EmbeddingBagConfig {
  inputDim: number;
  outputDim: number;
  /** The id that marks an empty slot; it contributes nothing and is not counted. Default 0. */
  paddingId?: number;
  /** Seed of the initialiser (random normal, sd 0.05). */
  seed?: number;
  name?: string;
}

/** Mean of the embeddings of a bag of ids `[batch, slots]` -> `[batch, outputDim]`. */
export class EmbeddingBag extends tf.layers.Layer {
  static className = 'EmbeddingBag';
  readonly inputDim: number;
  readonly outputDim: number;
  readonly paddingId: number;
  private readonly seed: number | undefined;
  private embeddings!: tf.LayerVariable;

  constructor(config: EmbeddingBagConfig) {
    super({ name: config.name });
    if (!Number.isInteger(config.inputDim) || config.inputDim < 1)
      throw new RangeError(`inputDim: expected an integer >= 1, got ${config.inputDim}`);
    if (!Number.isInteger(config.outputDim) || config.outputDim < 1)
      throw new RangeError(`outputDim: expected an integer >= 1, got ${config.outputDim}`);
    this.inputDim = config.inputDim;
    this.outputDim = config.outputDim;
    this.paddingId = config.paddingId ?? 0;
    this.seed = config.seed;
  }

  override build(inputShape: Shape | Shape[]): void {
    void inputShape;
    this.embeddings = this.addWeight(
      'embeddings',
      [this.inputDim, this.outputDim],
      'float32',
      initializerFor(this.seed, 'normal'),
    );
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return [singleShape(inputShape)[0], this.outputDim];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const ids = single(inputs).toInt();
      const mask = tf.notEqual(ids, this.paddingId).toFloat();
      // Padding ids are clipped into range: their rows are multiplied by 0 anyway.
      const rows = tf.gather(this.embeddings.read(), ids.clipByValue(0, this.inputDim - 1));
      const summed = rows.mul(mask.expandDims(-1)).sum(1);
      return summed.div(mask.sum(1, true).maximum(1));
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return {
      ...super.getConfig(),
      inputDim: this.inputDim,
      outputDim: this.outputDim,
      paddingId: this.paddingId,
    };
  }
}

function convertEmbeddingBag(layer: TfLayerLike, inputs: string[], ctx: ConversionContext): string[] {
  const cfg = layer.getConfig() as { inputDim: number; outputDim: number; paddingId: number };
  const [table] = layer.getWeights();
  const tableName = ctx.addInitializer(`${layer.name}_embeddings`, float32(table), table.shape);
  const [ids] = ctx.addNode('Cast', [inputs[0]], 1, { to: ONNX_INT64 });
  const pad = ctx.addInitializer(`${layer.name}_pad`, BigInt64Array.from([BigInt(cfg.paddingId)]), []);
  const [isPad] = ctx.addNode('Equal', [ids, pad], 1);
  const [keep] = ctx.addNode('Not', [isPad], 1);
  const [mask] = ctx.addNode('Cast', [keep], 1, { to: ONNX_FLOAT });
  const lo = ctx.addInitializer(`${layer.name}_lo`, BigInt64Array.from([0n]), []);
  const hi = ctx.addInitializer(`${layer.name}_hi`, BigInt64Array.from([BigInt(cfg.inputDim - 1)]), []);
  const [clipped] = ctx.addNode('Clip', [ids, lo, hi], 1);
  const [rows] = ctx.addNode('Gather', [tableName, clipped], 1, { axis: 0 });
  const axisLast = ctx.addInitializer(`${layer.name}_axis_last`, BigInt64Array.from([-1n]), [1]);
  const [mask3] = ctx.addNode('Unsqueeze', [mask, axisLast], 1);
  const [masked] = ctx.addNode('Mul', [rows, mask3], 1);
  const axis1 = ctx.addInitializer(`${layer.name}_axis1`, BigInt64Array.from([1n]), [1]);
  const [summed] = ctx.addNode('ReduceSum', [masked, axis1], 1, { keepdims: 0 });
  const [count] = ctx.addNode('ReduceSum', [mask, axis1], 1, { keepdims: 1 });
  const one = ctx.addInitializer(`${layer.name}_one`, Float32Array.from([1]), []);
  const [denom] = ctx.addNode('Max', [count, one], 1);
  const [out] = ctx.addNode('Div', [summed, denom], 1);
  ctx.setShape(out, [null, cfg.outputDim]);
  return [out];
}

// 2. CrossLayer (DCN-v2) ---------------------------------------------------------------------

/** Options of {@link CrossLayer}. */
export interface CrossLayerConfig {
  /** Number of stacked cross layers. Default 1. */
  numLayers?: number;
  seed?: number;
  name?: string;
}

/**
 * DCN-v2 cross network on one input x0 `[batch, d]`: x_{l+1} = x0 * (x_l W_l + b_l) + x_l for
 * `numLayers` layers. One input (x0 is the input itself), as tfjs 4.22 crashes in predict when
 * a layer receives the same tensor twice.
 */
export class CrossLayer extends tf.layers.Layer {
  static className = 'CrossLayer';
  readonly numLayers: number;
  private readonly seed: number | undefined;
  private kernels: tf.LayerVariable[] = [];
  private biases: tf.LayerVariable[] = [];

  constructor(config: CrossLayerConfig = {}) {
    super({ name: config.name });
    this.numLayers = config.numLayers ?? 1;
    if (!Number.isInteger(this.numLayers) || this.numLayers < 1)
      throw new RangeError(`numLayers: expected an integer >= 1, got ${this.numLayers}`);
    this.seed = config.seed;
  }

  override build(inputShape: Shape | Shape[]): void {
    const d = singleShape(inputShape).at(-1);
    if (typeof d !== 'number') throw new TypeError('CrossLayer: the last input dimension must be known');
    for (let l = 0; l < this.numLayers; l++) {
      const seed = this.seed === undefined ? undefined : this.seed + l;
      this.kernels.push(this.addWeight(`kernel_${l}`, [d, d], 'float32', initializerFor(seed, 'glorot')));
      this.biases.push(this.addWeight(`bias_${l}`, [d], 'float32', tf.initializers.zeros()));
    }
    this.built = true;
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x0 = single(inputs) as tf.Tensor2D;
      let x: tf.Tensor2D = x0;
      for (let l = 0; l < this.numLayers; l++) {
        const lin = tf.matMul(x, this.kernels[l].read() as tf.Tensor2D).add(this.biases[l].read());
        x = x0.mul(lin).add(x) as tf.Tensor2D;
      }
      return x;
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), numLayers: this.numLayers };
  }
}

function convertCrossLayer(layer: TfLayerLike, inputs: string[], ctx: ConversionContext): string[] {
  const { numLayers } = layer.getConfig() as { numLayers: number };
  const w = layer.getWeights();
  const x0 = inputs[0];
  let x = x0;
  for (let l = 0; l < numLayers; l++) {
    // Weights are in creation order: kernel_0, bias_0, kernel_1, bias_1, ...
    const k = w[2 * l];
    const b = w[2 * l + 1];
    const kn = ctx.addInitializer(`${layer.name}_kernel_${l}`, float32(k), k.shape);
    const bn = ctx.addInitializer(`${layer.name}_bias_${l}`, float32(b), b.shape);
    const [mm] = ctx.addNode('MatMul', [x, kn], 1);
    const [lin] = ctx.addNode('Add', [mm, bn], 1);
    const [prod] = ctx.addNode('Mul', [x0, lin], 1);
    [x] = ctx.addNode('Add', [prod, x], 1);
  }
  const shape = ctx.shapeOf(x0);
  if (shape) ctx.setShape(x, shape);
  return [x];
}

// 3. FactorizationMachine --------------------------------------------------------------------

/**
 * Factorization-machine second-order term on field embeddings `[batch, fields, k]`:
 * 0.5 * sum_k((sum_f v_fk)^2 - sum_f v_fk^2) -> `[batch, 1]`.
 */
export class FactorizationMachine extends tf.layers.Layer {
  static className = 'FactorizationMachine';

  constructor(config: { name?: string } = {}) {
    super({ name: config.name });
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return [singleShape(inputShape)[0], 1];
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const v = single(inputs);
      if (v.rank !== 3)
        throw new RangeError(`FactorizationMachine: expected a [batch, fields, k] input, got rank ${v.rank}`);
      const sumSq = v.sum(1).square();
      const sqSum = v.square().sum(1);
      return sumSq.sub(sqSum).sum(1, true).mul(0.5);
    });
  }
}

function convertFactorizationMachine(layer: TfLayerLike, inputs: string[], ctx: ConversionContext): string[] {
  const axis1 = ctx.addInitializer(`${layer.name}_axis1`, BigInt64Array.from([1n]), [1]);
  const [s] = ctx.addNode('ReduceSum', [inputs[0], axis1], 1, { keepdims: 0 });
  const [s2] = ctx.addNode('Mul', [s, s], 1);
  const [sq] = ctx.addNode('Mul', [inputs[0], inputs[0]], 1);
  const [q] = ctx.addNode('ReduceSum', [sq, axis1], 1, { keepdims: 0 });
  const [diff] = ctx.addNode('Sub', [s2, q], 1);
  const [tot] = ctx.addNode('ReduceSum', [diff, axis1], 1, { keepdims: 1 });
  const half = ctx.addInitializer(`${layer.name}_half`, Float32Array.from([0.5]), []);
  const [out] = ctx.addNode('Mul', [tot, half], 1);
  ctx.setShape(out, [null, 1]);
  return [out];
}

// 4. L2Normalize -----------------------------------------------------------------------------

/** Scales each row to unit L2 norm along the last axis: x / sqrt(max(sum x^2, epsilon)). */
export class L2Normalize extends tf.layers.Layer {
  static className = 'L2Normalize';
  readonly epsilon: number;

  constructor(config: { epsilon?: number; name?: string } = {}) {
    super({ name: config.name });
    this.epsilon = config.epsilon ?? 1e-12;
    if (!(this.epsilon > 0)) throw new RangeError(`epsilon: expected > 0, got ${this.epsilon}`);
  }

  override computeOutputShape(inputShape: Shape | Shape[]): Shape {
    return singleShape(inputShape);
  }

  override call(inputs: tf.Tensor | tf.Tensor[], _kwargs: Kwargs): tf.Tensor {
    return tf.tidy(() => {
      const x = single(inputs);
      return x.div(x.square().sum(-1, true).maximum(this.epsilon).sqrt());
    });
  }

  override getConfig(): tf.serialization.ConfigDict {
    return { ...super.getConfig(), epsilon: this.epsilon };
  }
}

function convertL2Normalize(layer: TfLayerLike, inputs: string[], ctx: ConversionContext): string[] {
  const { epsilon } = layer.getConfig() as { epsilon: number };
  const axis = ctx.addInitializer(`${layer.name}_axis`, BigInt64Array.from([-1n]), [1]);
  const [sq] = ctx.addNode('Mul', [inputs[0], inputs[0]], 1);
  const [ss] = ctx.addNode('ReduceSum', [sq, axis], 1, { keepdims: 1 });
  const eps = ctx.addInitializer(`${layer.name}_eps`, Float32Array.from([epsilon]), []);
  const [m] = ctx.addNode('Max', [ss, eps], 1);
  const [norm] = ctx.addNode('Sqrt', [m], 1);
  const [out] = ctx.addNode('Div', [inputs[0], norm], 1);
  const shape = ctx.shapeOf(inputs[0]);
  if (shape) ctx.setShape(out, shape);
  return [out];
}

// Registration -------------------------------------------------------------------------------

let registered = false;

/**
 * Registers the custom layers with tfjs serialisation and their ONNX converters with
 * @mlsd/onnx. Idempotent; `initBackend` calls it, call it yourself before loading a saved model
 * without initBackend.
 */
export function registerCustomLayers(): void {
  if (registered) return;
  registered = true;
  tf.serialization.registerClass(EmbeddingBag);
  tf.serialization.registerClass(CrossLayer);
  tf.serialization.registerClass(FactorizationMachine);
  tf.serialization.registerClass(L2Normalize);
  registerLayerConverter(EmbeddingBag.className, convertEmbeddingBag);
  registerLayerConverter(CrossLayer.className, convertCrossLayer);
  registerLayerConverter(FactorizationMachine.className, convertFactorizationMachine);
  registerLayerConverter(L2Normalize.className, convertL2Normalize);
}

/** An {@link EmbeddingBag} layer (registers the custom layers on first use). */
export function embeddingBag(config: EmbeddingBagConfig): EmbeddingBag {
  registerCustomLayers();
  return new EmbeddingBag(config);
}

/** A {@link CrossLayer} (registers the custom layers on first use). */
export function crossLayer(config: CrossLayerConfig = {}): CrossLayer {
  registerCustomLayers();
  return new CrossLayer(config);
}

/** A {@link FactorizationMachine} layer (registers the custom layers on first use). */
export function factorizationMachine(config: { name?: string } = {}): FactorizationMachine {
  registerCustomLayers();
  return new FactorizationMachine(config);
}

/** An {@link L2Normalize} layer (registers the custom layers on first use). */
export function l2Normalize(config: { epsilon?: number; name?: string } = {}): L2Normalize {
  registerCustomLayers();
  return new L2Normalize(config);
}

/** Options of {@link multiTaskHeads}. */
export interface TaskHead {
  name: string;
  units: number;
  activation?: 'sigmoid' | 'softmax' | 'linear' | 'relu';
  /** Hidden units of a per-task tower before the output. Default none. */
  hidden?: number[];
}

/**
 * Multi-task heads on a shared trunk: one output per task (named after it), in task order, to
 * train with one loss per output (`fit({ loss: [...], lossWeights: [...] })`).
 */
export function multiTaskHeads(
  trunk: tf.SymbolicTensor,
  tasks: TaskHead[],
  seed?: number,
): tf.SymbolicTensor[] {
  if (tasks.length === 0) throw new RangeError('tasks: expected at least one task head');
  return tasks.map((t, ti) => {
    let h = trunk;
    (t.hidden ?? []).forEach((units, i) => {
      h = tf.layers
        .dense({
          units,
          activation: 'relu',
          name: `${t.name}_hidden_${i}`,
          kernelInitializer: initializerFor(seed === undefined ? undefined : seed + 100 * ti + i, 'glorot'),
        })
        .apply(h) as tf.SymbolicTensor;
    });
    return tf.layers
      .dense({
        units: t.units,
        activation: t.activation ?? 'linear',
        name: t.name,
        kernelInitializer: initializerFor(seed === undefined ? undefined : seed + 100 * ti + 99, 'glorot'),
      })
      .apply(h) as tf.SymbolicTensor;
  });
}
