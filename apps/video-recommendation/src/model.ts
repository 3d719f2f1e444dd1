/**
 * The two learnt models of the pipeline, on tfjs through @mlsd/training:
 *
 * 1. The two-tower retrieval model. User tower: demographic tokens (embedding bag) and the recent
 *    relevant videos (embedding bag over video ids), concatenated, an MLP, L2-normalised. Video
 *    tower: the video id (0 = not seen in training; 10 % of training rows drop it so the tower learns
 *    to place a new video from its metadata), metadata tokens (tags, language, creator), length and
 *    age, an MLP, L2-normalised. Trained with the in-batch softmax over (user, relevant video) pairs,
 *    with the log-frequency (logQ) correction so popular videos, which appear as negatives more
 *    often, are not pushed down beyond their share. Each tower exports to its own ONNX model.
 * 2. The ranking model: a small MLP over the ranking features (features.ts), a logit of "this
 *    candidate becomes a relevant video for this user", trained with binary cross-entropy. Its
 *    weights also run in plain JS (`MlpWeights`) for the offline evaluation's per-user loop.
 */
import { createRng } from '@mlsd/core';
import { exportToOnnx } from '@mlsd/onnx';
import {
  binaryCrossentropy,
  embeddingBag,
  fit,
  inBatchSoftmaxLoss,
  l2Normalize,
  logFrequencyCorrection,
  predictArrays,
  withSeed,
} from '@mlsd/training';
import * as tf from '@tensorflow/tfjs';
import type { InteractionTable } from './data.js';
import {
  ageFeature,
  HISTORY_SLOTS,
  historySlots,
  pushRecent,
  type SideInfo,
  USER_SLOTS,
  VIDEO_NUMERIC,
  VIDEO_TOKEN_SLOTS,
} from './features.js';

// 1. Two-tower model

export interface TwoTowerOptions {
  /** Embedding size (default 32). */
  dim?: number;
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  /** Softmax temperature of the in-batch loss (default 0.05). */
  temperature?: number;
  /** Apply the log-frequency correction (default true). */
  logQ?: boolean;
  /** Share of training rows whose video id is hidden, to train the cold-start path (default 0.1). */
  idDropout?: number;
  seed?: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

/** The shape a two-tower model was built for (saved beside the weights). */
export interface TwoTowerShape {
  dim: number;
  /** Video ids in [0, items) have an id embedding; others are fed as 0 (unknown). */
  items: number;
  userVocab: number;
  itemVocab: number;
}

export interface TwoTower {
  shape: TwoTowerShape;
  userModel: tf.LayersModel;
  videoModel: tf.LayersModel;
  /** Training loss per epoch. */
  losses: number[];
}

/** Builds both towers (and the joint model used for training) with seeded initialisation. */
export function buildTwoTower(shape: TwoTowerShape, seed = 0) {
  return withSeed(seed, () => {
    const d = shape.dim;
    const userTokens = tf.input({ shape: [USER_SLOTS], dtype: 'int32', name: 'user_tokens' });
    const history = tf.input({ shape: [HISTORY_SLOTS], dtype: 'int32', name: 'history' });
    const demo = embeddingBag({ inputDim: shape.userVocab, outputDim: 16, name: 'demographics' }).apply(
      userTokens,
    ) as tf.SymbolicTensor;
    const hist = embeddingBag({ inputDim: shape.items + 1, outputDim: d, name: 'history_bag' }).apply(
      history,
    ) as tf.SymbolicTensor;
    let u = tf.layers.concatenate({ name: 'user_concat' }).apply([demo, hist]) as tf.SymbolicTensor;
    u = tf.layers.dense({ units: 64, activation: 'relu', name: 'user_hidden' }).apply(u) as tf.SymbolicTensor;
    u = tf.layers.dense({ units: d, name: 'user_out' }).apply(u) as tf.SymbolicTensor;
    const userEmb = l2Normalize({ name: 'user_embedding' }).apply(u) as tf.SymbolicTensor;

    const videoId = tf.input({ shape: [1], dtype: 'int32', name: 'video_id' });
    const videoTokens = tf.input({ shape: [VIDEO_TOKEN_SLOTS], dtype: 'int32', name: 'video_tokens' });
    const videoNumeric = tf.input({ shape: [VIDEO_NUMERIC], name: 'video_numeric' });
    const idEmb = embeddingBag({ inputDim: shape.items + 1, outputDim: d, name: 'video_id_embedding' }).apply(
      videoId,
    ) as tf.SymbolicTensor;
    const tokEmb = embeddingBag({ inputDim: shape.itemVocab, outputDim: d, name: 'video_tokens_bag' }).apply(
      videoTokens,
    ) as tf.SymbolicTensor;
    let v = tf.layers
      .concatenate({ name: 'video_concat' })
      .apply([idEmb, tokEmb, videoNumeric]) as tf.SymbolicTensor;
    v = tf.layers
      .dense({ units: 64, activation: 'relu', name: 'video_hidden' })
      .apply(v) as tf.SymbolicTensor;
    v = tf.layers.dense({ units: d, name: 'video_out' }).apply(v) as tf.SymbolicTensor;
    const videoEmb = l2Normalize({ name: 'video_embedding' }).apply(v) as tf.SymbolicTensor;

    const joint = tf.layers.concatenate({ name: 'pair' }).apply([userEmb, videoEmb]) as tf.SymbolicTensor;
    return {
      userModel: tf.model({ inputs: [userTokens, history], outputs: userEmb, name: 'user_tower' }),
      videoModel: tf.model({
        inputs: [videoId, videoTokens, videoNumeric],
        outputs: videoEmb,
        name: 'video_tower',
      }),
      jointModel: tf.model({
        inputs: [userTokens, history, videoId, videoTokens, videoNumeric],
        outputs: joint,
        name: 'two_tower',
      }),
    };
  });
}

/** Video tower inputs of `items` at second `ts` (ids >= shape.items are fed as unknown). */
export function videoInputs(
  side: SideInfo,
  shape: TwoTowerShape,
  items: ArrayLike<number>,
  ts: number,
  uploadTs: ArrayLike<number>,
) {
  const n = items.length;
  const ids = new Int32Array(n);
  const tokens = new Int32Array(n * VIDEO_TOKEN_SLOTS);
  const numeric = new Float32Array(n * VIDEO_NUMERIC);
  for (let k = 0; k < n; k++) {
    const i = items[k];
    ids[k] = i < shape.items ? i + 1 : 0;
    tokens.set(
      side.itemTokens.subarray(i * VIDEO_TOKEN_SLOTS, (i + 1) * VIDEO_TOKEN_SLOTS),
      k * VIDEO_TOKEN_SLOTS,
    );
    numeric[k * 2] = side.itemLength[i];
    numeric[k * 2 + 1] = ageFeature(uploadTs[i], ts);
  }
  return { ids, tokens, numeric };
}

/**
 * Training pairs: every relevant interaction of the table, with the user's demographic tokens and the
 * relevant videos the user had before it (most recent first).
 */
export function towerTrainingPairs(
  table: InteractionTable,
  side: SideInfo,
  shape: TwoTowerShape,
  idDropout: number,
  seed: number,
) {
  const rows: number[] = [];
  for (let r = 0; r < table.rows; r++) if (table.relevant[r]) rows.push(r);
  const n = rows.length;
  const userTokens = new Int32Array(n * USER_SLOTS);
  const history = new Int32Array(n * HISTORY_SLOTS);
  const ids = new Int32Array(n);
  const tokens = new Int32Array(n * VIDEO_TOKEN_SLOTS);
  const numeric = new Float32Array(n * VIDEO_NUMERIC);
  const counts = new Float64Array(shape.items + 1);
  const items = new Int32Array(n);
  const recent: number[][] = Array.from({ length: table.users }, () => []);
  const rng = createRng(seed).fork('id-dropout');
  const slot = new Int32Array(HISTORY_SLOTS);
  for (let k = 0; k < n; k++) {
    const r = rows[k];
    const u = table.user[r];
    const i = table.item[r];
    userTokens.set(side.userTokens.subarray(u * USER_SLOTS, (u + 1) * USER_SLOTS), k * USER_SLOTS);
    history.set(historySlots(recent[u], shape.items, slot), k * HISTORY_SLOTS);
    ids[k] = rng.float() < idDropout ? 0 : i + 1;
    tokens.set(
      side.itemTokens.subarray(i * VIDEO_TOKEN_SLOTS, (i + 1) * VIDEO_TOKEN_SLOTS),
      k * VIDEO_TOKEN_SLOTS,
    );
    numeric[k * 2] = side.itemLength[i];
    numeric[k * 2 + 1] = ageFeature(table.itemStart[i], table.ts[r]);
    counts[i]++;
    items[k] = i;
    pushRecent(recent[u], i, HISTORY_SLOTS);
  }
  return { n, userTokens, history, ids, tokens, numeric, counts, items };
}

/** Trains the two towers on the relevant interactions of `table` (a training view). */
export async function trainTwoTower(
  table: InteractionTable,
  side: SideInfo,
  options: TwoTowerOptions = {},
): Promise<TwoTower> {
  const shape: TwoTowerShape = {
    dim: options.dim ?? 32,
    items: table.items,
    userVocab: side.userVocab,
    itemVocab: side.itemVocab,
  };
  const seed = options.seed ?? 0;
  const pairs = towerTrainingPairs(table, side, shape, options.idDropout ?? 0.1, seed);
  if (pairs.n < 2) throw new RangeError(`table: expected at least 2 relevant interactions, got ${pairs.n}`);
  const logQ =
    options.logQ === false ? new Float32Array(pairs.n) : logFrequencyCorrection(pairs.counts, pairs.items);
  const { userModel, videoModel, jointModel } = buildTwoTower(shape, seed);
  const d = shape.dim;
  const temperature = options.temperature ?? 0.05;
  const history = await fit(jointModel, {
    x: [
      { data: pairs.userTokens, shape: [pairs.n, USER_SLOTS] },
      { data: pairs.history, shape: [pairs.n, HISTORY_SLOTS] },
      { data: pairs.ids, shape: [pairs.n, 1] },
      { data: pairs.tokens, shape: [pairs.n, VIDEO_TOKEN_SLOTS] },
      { data: pairs.numeric, shape: [pairs.n, VIDEO_NUMERIC] },
    ],
    // The "target" carries each row's logQ: the loss needs it per in-batch item, and fit shuffles
    // targets with their rows.
    y: { data: logQ, shape: [pairs.n, 1] },
    loss: (yTrue, yPred) =>
      inBatchSoftmaxLoss(
        yPred.slice([0, 0], [-1, d]) as tf.Tensor2D,
        yPred.slice([0, d], [-1, d]) as tf.Tensor2D,
        { temperature, logQ: yTrue.reshape([-1]) as tf.Tensor1D },
      ),
    epochs: options.epochs ?? 4,
    batchSize: options.batchSize ?? 512,
    learningRate: options.learningRate ?? 3e-3,
    seed,
    progress: false,
    onEpochEnd: (r) => options.onEpoch?.(r.epoch, r.loss),
  });
  return { shape, userModel, videoModel, losses: history.epochs.map((e) => e.loss) };
}

/** Embeddings of videos `items` at second `ts` (rows of `dim`). */
export function embedVideos(
  tower: TwoTower,
  side: SideInfo,
  items: ArrayLike<number>,
  ts: number,
  uploadTs: ArrayLike<number>,
): Float32Array {
  const x = videoInputs(side, tower.shape, items, ts, uploadTs);
  const n = items.length;
  return predictArrays(
    tower.videoModel,
    [
      { data: x.ids, shape: [n, 1] },
      { data: x.tokens, shape: [n, VIDEO_TOKEN_SLOTS] },
      { data: x.numeric, shape: [n, VIDEO_NUMERIC] },
    ],
    2048,
  );
}

/** Embeddings of users from their demographic tokens and recent relevant videos. */
export function embedUsers(
  tower: TwoTower,
  userTokens: Int32Array,
  histories: readonly (readonly number[])[],
): Float32Array {
  const n = histories.length;
  const hist = new Int32Array(n * HISTORY_SLOTS);
  const slot = new Int32Array(HISTORY_SLOTS);
  for (let k = 0; k < n; k++)
    hist.set(historySlots(histories[k], tower.shape.items, slot), k * HISTORY_SLOTS);
  return predictArrays(
    tower.userModel,
    [
      { data: userTokens, shape: [n, USER_SLOTS] },
      { data: hist, shape: [n, HISTORY_SLOTS] },
    ],
    2048,
  );
}

/** Both towers as ONNX models (IR 8, opset 17). */
export function exportTwoTower(tower: TwoTower, version: string, metadata: Record<string, string> = {}) {
  const meta = { shape: JSON.stringify(tower.shape), ...metadata };
  return {
    user: exportToOnnx(tower.userModel, { name: 'video-recommendation-user-tower', version, metadata: meta }),
    video: exportToOnnx(tower.videoModel, {
      name: 'video-recommendation-video-tower',
      version,
      metadata: meta,
    }),
  };
}

// 2. Ranking model

export interface RankerOptions {
  hidden?: number[];
  epochs?: number;
  batchSize?: number;
  learningRate?: number;
  seed?: number;
  onEpoch?: (epoch: number, loss: number) => void;
}

/** An MLP's weights in plain arrays: dense layers, ReLU between, a logit at the end. */
export interface MlpWeights {
  layers: { inputs: number; units: number; kernel: Float32Array; bias: Float32Array }[];
}

export function buildRanker(features: number, hidden: number[], seed = 0): tf.LayersModel {
  return withSeed(seed, () => {
    const x = tf.input({ shape: [features], name: 'features' });
    let h: tf.SymbolicTensor = x;
    hidden.forEach((units, k) => {
      h = tf.layers.dense({ units, activation: 'relu', name: `hidden_${k}` }).apply(h) as tf.SymbolicTensor;
    });
    const logit = tf.layers.dense({ units: 1, name: 'logit' }).apply(h) as tf.SymbolicTensor;
    return tf.model({ inputs: x, outputs: logit, name: 'ranker' });
  });
}

/** Trains the ranking MLP on standardised features `x` (rows of `features`) and 0/1 labels. */
export async function trainRanker(
  x: Float32Array,
  y: Float32Array,
  features: number,
  options: RankerOptions = {},
): Promise<{ model: tf.LayersModel; losses: number[] }> {
  const n = y.length;
  const model = buildRanker(features, options.hidden ?? [64, 32], options.seed ?? 0);
  const history = await fit(model, {
    x: { data: x, shape: [n, features] },
    y: { data: y, shape: [n, 1] },
    loss: binaryCrossentropy({ fromLogits: true }),
    epochs: options.epochs ?? 6,
    batchSize: options.batchSize ?? 1024,
    learningRate: options.learningRate ?? 2e-3,
    seed: options.seed ?? 0,
    progress: false,
    onEpochEnd: (r) => options.onEpoch?.(r.epoch, r.loss),
  });
  return { model, losses: history.epochs.map((e) => e.loss) };
}

export function mlpWeights(model: tf.LayersModel): MlpWeights {
  const layers: MlpWeights['layers'] = [];
  for (const layer of model.layers) {
    const w = layer.getWeights();
    if (w.length !== 2) continue;
    const [kernel, bias] = w;
    layers.push({
      inputs: kernel.shape[0] as number,
      units: kernel.shape[1] as number,
      kernel: Float32Array.from(kernel.dataSync()),
      bias: Float32Array.from(bias.dataSync()),
    });
  }
  return { layers };
}

/** Logits of `rows` feature rows: the MLP in plain JS (ReLU on every layer but the last). */
export function mlpForward(weights: MlpWeights, x: Float32Array, rows: number): Float32Array {
  let input = x;
  for (let l = 0; l < weights.layers.length; l++) {
    const { inputs, units, kernel, bias } = weights.layers[l];
    const out = new Float32Array(rows * units);
    const last = l === weights.layers.length - 1;
    for (let r = 0; r < rows; r++) {
      const o = r * units;
      for (let j = 0; j < units; j++) out[o + j] = bias[j];
      for (let i = 0; i < inputs; i++) {
        const xi = input[r * inputs + i];
        if (xi === 0) continue;
        const ko = i * units;
        for (let j = 0; j < units; j++) out[o + j] += xi * kernel[ko + j];
      }
      if (!last) for (let j = 0; j < units; j++) if (out[o + j] < 0) out[o + j] = 0;
    }
    input = out;
  }
  return input;
}
