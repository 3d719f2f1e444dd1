/** Profiles one training step of the reference CNN per kernel (development aid). */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { useKernels } from '../src/kernels/registry.js';

const prefer = (process.argv[2] ?? 'wasm') as 'wasm' | 'cpu';
const mode = (process.argv[3] ?? 'project') as 'project' | 'stock';
const info = await initBackend({ prefer });
useKernels(mode, info.backend);
console.log(info, mode);
const model = tf.sequential();
model.add(
  tf.layers.conv2d({
    inputShape: [32, 32, 3],
    filters: 16,
    kernelSize: 3,
    padding: 'same',
    activation: 'relu',
  }),
);
model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
model.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }));
model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
model.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }));
model.add(tf.layers.maxPooling2d({ poolSize: 2 }));
model.add(tf.layers.flatten());
model.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
const opt = tf.train.adam(1e-3);
const x = tf.randomNormal([64, 32, 32, 3]);
const y = tf.oneHot(tf.randomUniform([64], 0, 10, 'int32') as tf.Tensor1D, 10);
const step = () =>
  opt
    .minimize(() => tf.losses.softmaxCrossEntropy(y, model.apply(x) as tf.Tensor) as tf.Scalar, true)
    ?.dataSync();
step();
step();
const prof = await tf.profile(() => {
  step();
});
const agg = new Map<string, number>();
for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + (k.kernelTimeMs as number));
console.log([...agg].sort((a, b) => b[1] - a[1]).slice(0, 12));
const t0 = performance.now();
const n = Number(process.argv[4] ?? 5);
for (let i = 0; i < n; i++) step();
const dt = (performance.now() - t0) / n;
console.log(`step ${dt.toFixed(1)} ms, ${((64 / dt) * 1000).toFixed(0)} images/s`);
