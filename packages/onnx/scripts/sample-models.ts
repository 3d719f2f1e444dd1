/**
 * Sample tfjs models shared by the onnx.checker script, the export tests and the benchmark:
 * a DCN-style tabular model, a small CNN and a multi-input model touching most converters.
 * Weights are seeded random values (the models are never trained here).
 */
import * as tf from '@tensorflow/tfjs';

function seededInit(seed: number): ReturnType<typeof tf.initializers.glorotUniform> {
  return tf.initializers.glorotUniform({ seed });
}

/**
 * A DCN-style CTR model built from plain layers: 8 embedding fields + 13 dense features, a cross
 * part written as x0 * (W x + b) + x (elementwise product, the shape of a DCN-v2 cross layer
 * without @mlsd/training's custom layer), and a deep part; sigmoid output.
 */
export function buildDcnStyleModel(
  options: { fields?: number; vocab?: number; dim?: number; dense?: number } = {},
): tf.LayersModel {
  const fields = options.fields ?? 8;
  const vocab = options.vocab ?? 1000;
  const dim = options.dim ?? 8;
  const denseCount = options.dense ?? 13;
  const ids = tf.input({ shape: [fields], name: 'ids', dtype: 'int32' });
  const dense = tf.input({ shape: [denseCount], name: 'dense' });
  const emb = tf.layers
    .embedding({ inputDim: vocab, outputDim: dim, embeddingsInitializer: seededInit(1) })
    .apply(ids);
  const x0 = tf.layers
    .concatenate()
    .apply([tf.layers.flatten().apply(emb) as tf.SymbolicTensor, dense]) as tf.SymbolicTensor;
  const width = fields * dim + denseCount;
  let x = x0;
  for (let i = 0; i < 2; i++) {
    const wx = tf.layers
      .dense({ units: width, kernelInitializer: seededInit(10 + i) })
      .apply(x) as tf.SymbolicTensor;
    const cross = tf.layers.multiply().apply([x0, wx]) as tf.SymbolicTensor;
    x = tf.layers.add().apply([cross, x]) as tf.SymbolicTensor;
  }
  let deep = x0;
  for (const [i, units] of [64, 32].entries()) {
    deep = tf.layers
      .dense({ units, activation: 'relu', kernelInitializer: seededInit(20 + i) })
      .apply(deep) as tf.SymbolicTensor;
  }
  const both = tf.layers.concatenate().apply([x, deep]) as tf.SymbolicTensor;
  const prob = tf.layers
    .dense({ units: 1, activation: 'sigmoid', name: 'prob', kernelInitializer: seededInit(30) })
    .apply(both) as tf.SymbolicTensor;
  return tf.model({ inputs: [ids, dense], outputs: prob, name: 'dcn_style' });
}

/** A small CNN: conv blocks of 16/32/64 filters with BatchNormalization, pooling, dense softmax. */
export function buildSmallCnn(options: { size?: number; classes?: number } = {}): tf.LayersModel {
  const size = options.size ?? 32;
  const image = tf.input({ shape: [size, size, 3], name: 'image' });
  let x = image;
  for (const [i, filters] of [16, 32, 64].entries()) {
    x = tf.layers
      .conv2d({
        filters,
        kernelSize: 3,
        padding: 'same',
        useBias: false,
        kernelInitializer: seededInit(40 + i),
      })
      .apply(x) as tf.SymbolicTensor;
    x = tf.layers.batchNormalization().apply(x) as tf.SymbolicTensor;
    x = tf.layers.activation({ activation: 'relu' }).apply(x) as tf.SymbolicTensor;
    x = tf.layers.maxPooling2d({ poolSize: 2 }).apply(x) as tf.SymbolicTensor;
  }
  x = tf.layers.flatten().apply(x) as tf.SymbolicTensor;
  x = tf.layers.dropout({ rate: 0.3 }).apply(x) as tf.SymbolicTensor;
  const probs = tf.layers
    .dense({
      units: options.classes ?? 10,
      activation: 'softmax',
      name: 'probs',
      kernelInitializer: seededInit(50),
    })
    .apply(x) as tf.SymbolicTensor;
  return tf.model({ inputs: image, outputs: probs, name: 'small_cnn' });
}

/** A two-tower style model with float ids, depthwise conv, pooling, gelu, dot and two outputs. */
export function buildMixedModel(): tf.LayersModel {
  const user = tf.input({ shape: [3], name: 'user_ids' });
  const patch = tf.input({ shape: [8, 8, 2], name: 'patch' });
  const u = tf.layers
    .flatten()
    .apply(tf.layers.embedding({ inputDim: 20, outputDim: 4 }).apply(user)) as tf.SymbolicTensor;
  const uVec = tf.layers.dense({ units: 6, activation: 'gelu' }).apply(u) as tf.SymbolicTensor;
  let p = tf.layers
    .depthwiseConv2d({ kernelSize: 3, depthMultiplier: 2, padding: 'same' })
    .apply(patch) as tf.SymbolicTensor;
  p = tf.layers.averagePooling2d({ poolSize: 2 }).apply(p) as tf.SymbolicTensor;
  p = tf.layers.conv2d({ filters: 6, kernelSize: 3, activation: 'tanh' }).apply(p) as tf.SymbolicTensor;
  const pVec = tf.layers.globalAveragePooling2d({}).apply(p) as tf.SymbolicTensor;
  const score = tf.layers
    .dot({ axes: 1, normalize: true, name: 'similarity' })
    .apply([uVec, pVec]) as tf.SymbolicTensor;
  const reshaped = tf.layers.reshape({ targetShape: [2, 3] }).apply(uVec) as tf.SymbolicTensor;
  const tags = tf.layers
    .dense({ units: 4, activation: 'softmax', name: 'tags' })
    .apply(reshaped) as tf.SymbolicTensor;
  return tf.model({ inputs: [user, patch], outputs: [score, tags], name: 'mixed' });
}
