/**
 * The click models, in tfjs, all on the same two inputs (`ids`: one global id space of every
 * categorical field, `dense`: scaled counts) and one output (`p_click`):
 *
 * - logistic regression: one weight per id and per dense column (the book's baseline), also
 *   used with hand-made crosses as extra id fields;
 * - factorization machine: the linear part plus pairwise interactions of field embeddings;
 * - DeepFM: the FM plus an MLP over the concatenated embeddings;
 * - DCN-v2 (the chosen model): a full-rank cross network over [embeddings, dense] stacked with an
 *   MLP, which learns bounded-degree feature crosses without hand-made ones.
 *
 * Every model is trained with binary cross-entropy by @mlsd/training's loop, early-stopped on
 * validation log loss, and exported to ONNX by @mlsd/onnx (the cross and FM layers bring their own
 * converters).
 */
import { logLoss } from '@mlsd/metrics';
import {
  binaryCrossentropy,
  crossLayer,
  factorizationMachine,
  fit,
  type History,
  predictArrays,
} from '@mlsd/training';
import * as tf from '@tensorflow/tfjs';
import type { CtrInputs } from './features.js';

export type CtrModelKind = 'logistic-regression' | 'factorization-machine' | 'deepfm' | 'dcn-v2';

export interface CtrModelConfig {
  kind: CtrModelKind;
  /** Total ids over all fields (the embedding table size). */
  vocabulary: number;
  fields: number;
  denseWidth: number;
  /** Embedding size of FM, DeepFM and DCN-v2. Default 8. */
  embeddingDim?: number;
  /** Hidden layers of the MLP of DeepFM and DCN-v2. Default [128, 64]. */
  hidden?: number[];
  /** Cross layers of DCN-v2. Default 2. */
  crossLayers?: number;
  /**
   * Rank of DCN-v2's cross layers: 0 (default) for full-rank d x d kernels, r > 0 for the
   * paper's low-rank form W = U V^T with U, V of d x r (fewer weights and multiply-adds).
   */
  crossRank?: number;
  /**
   * DCN-v2's structure: stacked (default; the MLP runs on the cross network's output) or parallel
   * (cross network and MLP side by side on the same input, their outputs concatenated).
   */
  parallel?: boolean;
  /** L2 penalty on the embeddings (per-row scale, so rare ids stay small). Default 1e-6. */
  embeddingL2?: number;
  /** Dropout after each hidden layer of the MLP (training only). Default 0. */
  dropout?: number;
  /** Standard deviation of the embeddings' initial values. Default 0.01. */
  embeddingInitStddev?: number;
  /**
   * Per global id, 1 when its field takes part in the learned interactions (FM term, MLP, cross
   * network) and 0 when it is kept to the linear part only (see {@link interactionMask}). Default:
   * every field takes part.
   */
  interactionMask?: Float32Array;
  /**
   * Adds a frozen Platt-scaling layer on the output logit (identity until `setCalibration`), so a
   * calibration fitted after training is part of the exported graph. Default false.
   */
  calibration?: boolean;
  /**
   * Share of positives in the training data: the output bias starts at its log-odds, so training
   * does not spend its first epochs learning the base rate (clicks are about 2 %).
   */
  baseRate?: number;
  seed: number;
}

function glorot(seed: number) {
  return tf.initializers.glorotUniform({ seed });
}

/** Builds an untrained model. Inputs `ids` [batch, fields] int32 and `dense` [batch, width] float32. */
export function buildCtrModel(config: CtrModelConfig): tf.LayersModel {
  const { kind, vocabulary, fields, denseWidth, seed } = config;
  if (!(vocabulary >= 1) || !(fields >= 1)) {
    throw new RangeError(`vocabulary and fields: expected >= 1, got ${vocabulary} and ${fields}`);
  }
  const k = config.embeddingDim ?? 8;
  const hidden = config.hidden ?? [128, 64];
  const l2 = config.embeddingL2 ?? 1e-6;
  const dropout = config.dropout ?? 0;
  const ids = tf.input({ shape: [fields], dtype: 'int32', name: 'ids' });
  const dense = tf.input({ shape: [Math.max(1, denseWidth)], dtype: 'float32', name: 'dense' });
  const regularizer = l2 > 0 ? tf.regularizers.l2({ l2 }) : undefined;

  // The linear part every model shares: one weight per id, one per dense column.
  const linearIds = tf.layers
    .embedding({
      inputDim: vocabulary,
      outputDim: 1,
      name: 'linear_ids',
      embeddingsInitializer: tf.initializers.zeros(),
      embeddingsRegularizer: regularizer,
    })
    .apply(ids) as tf.SymbolicTensor;
  const linearFlat = tf.layers.flatten({ name: 'linear_flat' }).apply(linearIds) as tf.SymbolicTensor;
  const linearInput = tf.layers
    .concatenate({ name: 'linear_concat' })
    .apply([linearFlat, dense]) as tf.SymbolicTensor;
  const p0 = Math.min(0.5, Math.max(1e-4, config.baseRate ?? 0.5));
  const linearLogit = tf.layers
    .dense({
      units: 1,
      name: 'linear_logit',
      kernelInitializer: glorot(seed),
      biasInitializer: tf.initializers.constant({ value: Math.log(p0 / (1 - p0)) }),
    })
    .apply(linearInput) as tf.SymbolicTensor;

  if (kind === 'logistic-regression') {
    const p = tf.layers
      .activation({ activation: 'sigmoid', name: 'p_click' })
      .apply(linearLogit) as tf.SymbolicTensor;
    return tf.model({ inputs: [ids, dense], outputs: p, name: kind });
  }

  const embedded = tf.layers
    .embedding({
      inputDim: vocabulary,
      outputDim: k,
      name: 'field_embeddings',
      embeddingsInitializer: tf.initializers.randomNormal({
        mean: 0,
        stddev: config.embeddingInitStddev ?? 0.01,
        seed: seed + 1,
      }),
      embeddingsRegularizer: regularizer,
    })
    .apply(ids) as tf.SymbolicTensor;
  let interacting = embedded;
  const mask = config.interactionMask;
  if (mask) {
    if (mask.length !== vocabulary)
      throw new RangeError(`interactionMask: expected ${vocabulary} values (one per id), got ${mask.length}`);
    // A frozen one-column embedding holds each id's 0/1 and zeroes the embeddings of the fields
    // kept out of the interactions (plain Embedding and Multiply layers, so ONNX export needs
    // nothing new).
    const maskLayer = tf.layers.embedding({
      inputDim: vocabulary,
      outputDim: 1,
      name: 'interaction_mask',
      trainable: false,
      embeddingsInitializer: tf.initializers.ones(),
    });
    const m = maskLayer.apply(ids) as tf.SymbolicTensor;
    const values = tf.tensor2d(mask, [vocabulary, 1]);
    maskLayer.setWeights([values]);
    values.dispose();
    interacting = tf.layers
      .multiply({ name: 'interacting_embeddings' })
      .apply([embedded, m]) as tf.SymbolicTensor;
  }
  const logits: tf.SymbolicTensor[] = [linearLogit];

  if (kind === 'factorization-machine' || kind === 'deepfm') {
    logits.push(factorizationMachine({ name: 'fm_interactions' }).apply(interacting) as tf.SymbolicTensor);
  }

  if (kind === 'deepfm' || kind === 'dcn-v2') {
    const flat = tf.layers.flatten({ name: 'embeddings_flat' }).apply(interacting) as tf.SymbolicTensor;
    let h = tf.layers.concatenate({ name: 'deep_input' }).apply([flat, dense]) as tf.SymbolicTensor;
    let crossed: tf.SymbolicTensor | undefined;
    if (kind === 'dcn-v2') {
      const rank = config.crossRank ?? 0;
      crossed =
        rank > 0
          ? lowRankCross(h, config.crossLayers ?? 2, rank, seed + 2)
          : (crossLayer({ numLayers: config.crossLayers ?? 2, seed: seed + 2, name: 'cross_network' }).apply(
              h,
            ) as tf.SymbolicTensor);
      if (!config.parallel) h = crossed;
    }
    hidden.forEach((units, i) => {
      h = tf.layers
        .dense({ units, activation: 'relu', name: `mlp_${i}`, kernelInitializer: glorot(seed + 10 + i) })
        .apply(h) as tf.SymbolicTensor;
      if (dropout > 0)
        h = tf.layers
          .dropout({ rate: dropout, name: `mlp_${i}_dropout`, seed: seed + 30 + i })
          .apply(h) as tf.SymbolicTensor;
    });
    if (crossed && config.parallel)
      h = tf.layers.concatenate({ name: 'cross_and_deep' }).apply([crossed, h]) as tf.SymbolicTensor;
    logits.push(
      tf.layers
        .dense({ units: 1, name: 'deep_logit', kernelInitializer: glorot(seed + 20), useBias: false })
        .apply(h) as tf.SymbolicTensor,
    );
  }

  let logit =
    logits.length === 1 ? logits[0] : (tf.layers.add({ name: 'logit' }).apply(logits) as tf.SymbolicTensor);
  if (config.calibration) {
    // Platt scaling a * logit + b as a frozen one-unit Dense layer: the identity while the model
    // trains, set by `setCalibration` after (fitted on validation), and part of the ONNX graph.
    logit = tf.layers
      .dense({
        units: 1,
        name: CALIBRATION_LAYER,
        trainable: false,
        kernelInitializer: tf.initializers.ones(),
        biasInitializer: tf.initializers.zeros(),
      })
      .apply(logit) as tf.SymbolicTensor;
  }
  const p = tf.layers
    .activation({ activation: 'sigmoid', name: 'p_click' })
    .apply(logit) as tf.SymbolicTensor;
  return tf.model({ inputs: [ids, dense], outputs: p, name: kind });
}

const CALIBRATION_LAYER = 'calibration';

/**
 * Platt scaling (a, b) minimising the log loss of sigmoid(a * logit(p) + b) against `labels`, by
 * Newton's method on the two parameters (Platt 1999, without his label smoothing: with thousands
 * of positives it changes nothing).
 */
export function fitPlatt(labels: Uint8Array, p: Float32Array): { a: number; b: number } {
  if (labels.length !== p.length || labels.length === 0)
    throw new RangeError(
      `fitPlatt: expected labels and p of one non-zero length, got ${labels.length} and ${p.length}`,
    );
  const z = Float64Array.from(p, (q) => {
    const c = Math.min(1 - 1e-7, Math.max(1e-7, q));
    return Math.log(c / (1 - c));
  });
  let a = 1;
  let b = 0;
  for (let it = 0; it < 50; it++) {
    let ga = 0;
    let gb = 0;
    let haa = 0;
    let hab = 0;
    let hbb = 0;
    for (let i = 0; i < z.length; i++) {
      const q = 1 / (1 + Math.exp(-(a * z[i] + b)));
      const r = q - labels[i];
      const w = q * (1 - q);
      ga += r * z[i];
      gb += r;
      haa += w * z[i] * z[i];
      hab += w * z[i];
      hbb += w;
    }
    const det = haa * hbb - hab * hab;
    if (!(det > 0)) break;
    const da = (hbb * ga - hab * gb) / det;
    const db = (haa * gb - hab * ga) / det;
    a -= da;
    b -= db;
    if (Math.abs(da) < 1e-9 && Math.abs(db) < 1e-9) break;
  }
  return { a, b };
}

/** Sets the Platt-scaling layer of a model built with `calibration: true`. */
export function setCalibration(model: tf.LayersModel, { a, b }: { a: number; b: number }): void {
  const layer = model.getLayer(CALIBRATION_LAYER);
  const kernel = tf.tensor2d([[a]]);
  const bias = tf.tensor1d([b]);
  layer.setWeights([kernel, bias]);
  kernel.dispose();
  bias.dispose();
}

/**
 * DCN-v2's low-rank cross layers (Wang et al. 2021, eq. 2 with W = U V^T):
 * x_{l+1} = x0 * (U_l (V_l^T x_l) + b_l) + x_l, built from plain Dense, Multiply and Add layers so
 * the ONNX export needs no custom converter.
 */
function lowRankCross(x0: tf.SymbolicTensor, layers: number, rank: number, seed: number): tf.SymbolicTensor {
  const d = x0.shape.at(-1);
  if (typeof d !== 'number') throw new TypeError('lowRankCross: the last input dimension must be known');
  let x = x0;
  for (let l = 0; l < layers; l++) {
    const v = tf.layers
      .dense({ units: rank, useBias: false, name: `cross_${l}_v`, kernelInitializer: glorot(seed + 2 * l) })
      .apply(x) as tf.SymbolicTensor;
    const u = tf.layers
      .dense({ units: d, name: `cross_${l}_u`, kernelInitializer: glorot(seed + 2 * l + 1) })
      .apply(v) as tf.SymbolicTensor;
    const crossed = tf.layers.multiply({ name: `cross_${l}_mul` }).apply([x0, u]) as tf.SymbolicTensor;
    x = tf.layers.add({ name: `cross_${l}_out` }).apply([crossed, x]) as tf.SymbolicTensor;
  }
  return x;
}

/**
 * The interaction mask of {@link CtrModelConfig}: 1 for every id of a field in `fields`, 0 for the
 * ids of the other fields. `cardinalities` are the fields' id counts in order (the spec's).
 */
export function interactionMask(cardinalities: number[], keep: boolean[]): Float32Array {
  if (keep.length !== cardinalities.length)
    throw new RangeError(`interactionMask: ${cardinalities.length} fields, got ${keep.length} flags`);
  const total = cardinalities.reduce((a, b) => a + b, 0);
  const out = new Float32Array(total);
  let at = 0;
  cardinalities.forEach((c, j) => {
    out.fill(keep[j] ? 1 : 0, at, at + c);
    at += c;
  });
  return out;
}

/** Model inputs in the shape @mlsd/training's loop takes. */
export function toArrays(x: CtrInputs) {
  return [
    { data: x.ids, shape: [x.rows, x.fields] },
    {
      data: x.denseWidth > 0 ? x.dense : new Float32Array(x.rows),
      shape: [x.rows, Math.max(1, x.denseWidth)],
    },
  ];
}

export interface TrainCtrOptions {
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  patience?: number;
  /** `adam` (default) or `adagrad`. */
  optimizer?: 'adam' | 'adagrad';
  seed: number;
  progress?: boolean;
  onEpochEnd?: (epoch: number, loss: number, validationLogLoss: number | undefined) => void;
}

/**
 * Trains a model on the training inputs, early-stopped on validation log loss with the best
 * weights restored.
 */
export async function trainCtrModel(
  model: tf.LayersModel,
  train: CtrInputs,
  labels: Uint8Array,
  validation: { x: CtrInputs; labels: Uint8Array },
  options: TrainCtrOptions,
): Promise<History> {
  const y = { data: Float32Array.from(labels), shape: [labels.length, 1] };
  const vy = { data: Float32Array.from(validation.labels), shape: [validation.labels.length, 1] };
  const optimizer =
    options.optimizer === 'adagrad' ? tf.train.adagrad(options.learningRate ?? 2e-3) : undefined;
  try {
    return await fit(model, {
      x: toArrays(train),
      y,
      loss: binaryCrossentropy(),
      epochs: options.epochs ?? 4,
      batchSize: options.batchSize ?? 1024,
      learningRate: options.learningRate ?? 2e-3,
      optimizer: optimizer ?? 'adam',
      seed: options.seed,
      progress: options.progress ?? 'auto',
      validation: {
        x: toArrays(validation.x),
        y: vy,
        metric: (yt, ys) => logLoss(yt, ys),
        name: 'val_logloss',
        higherIsBetter: false,
      },
      earlyStopping: { patience: options.patience ?? 1, restoreBest: true },
      onEpochEnd: (r) => options.onEpochEnd?.(r.epoch, r.loss, r.metric),
    });
  } finally {
    optimizer?.dispose();
  }
}

/** Click probabilities of a trained tfjs model. */
export function predictCtr(model: tf.LayersModel, x: CtrInputs): Float32Array {
  return predictArrays(model, toArrays(x), 4096);
}
