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
    if (kind === 'dcn-v2') {
      h = crossLayer({ numLayers: config.crossLayers ?? 2, seed: seed + 2, name: 'cross_network' }).apply(
        h,
      ) as tf.SymbolicTensor;
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
    logits.push(
      tf.layers
        .dense({ units: 1, name: 'deep_logit', kernelInitializer: glorot(seed + 20), useBias: false })
        .apply(h) as tf.SymbolicTensor,
    );
  }

  const logit =
    logits.length === 1 ? logits[0] : (tf.layers.add({ name: 'logit' }).apply(logits) as tf.SymbolicTensor);
  const p = tf.layers
    .activation({ activation: 'sigmoid', name: 'p_click' })
    .apply(logit) as tf.SymbolicTensor;
  return tf.model({ inputs: [ids, dense], outputs: p, name: kind });
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
