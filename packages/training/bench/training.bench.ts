/**
 * Training throughput benchmark: a DCN-style tabular model (10 embedding fields + 5 numeric,
 * 2 cross layers, MLP; batch 1024) in rows/s and the reference CNN (32x32x3, conv 16/32/64 3x3
 * + relu + max-pool, dense; batch 64) in images/s, on the wasm and cpu backends, with tfjs's
 * stock kernels and with the project's, measured in one process and one run.
 *
 * Run under the machine's CPU lock: `flock /tmp/mlsd-cpu.lock npm run bench -w @mlsd/training`.
 */
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { useKernels } from '../src/kernels/registry.js';
import { crossLayer } from '../src/layers.js';
import { binaryCrossentropy, sparseCategoricalCrossentropy } from '../src/losses.js';
import { withSeed } from '../src/seed.js';

const FIELDS = 10;
const VOCAB = 1000;
const TAB_BATCH = 1024;
const CNN_BATCH = 64;

function cnn(): tf.LayersModel {
  return withSeed(1, () => {
    const m = tf.sequential();
    m.add(
      tf.layers.conv2d({
        inputShape: [32, 32, 3],
        filters: 16,
        kernelSize: 3,
        padding: 'same',
        activation: 'relu',
      }),
    );
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.conv2d({ filters: 32, kernelSize: 3, padding: 'same', activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.conv2d({ filters: 64, kernelSize: 3, padding: 'same', activation: 'relu' }));
    m.add(tf.layers.maxPooling2d({ poolSize: 2 }));
    m.add(tf.layers.flatten());
    m.add(tf.layers.dense({ units: 10, activation: 'softmax' }));
    return m;
  });
}

function dcn(): tf.LayersModel {
  return withSeed(2, () => {
    const ids = tf.input({ shape: [FIELDS], dtype: 'int32', name: 'ids' });
    const num = tf.input({ shape: [5], name: 'numeric' });
    // One table with a per-field offset folded into the ids: one gather, one scatter-add.
    const emb = tf.layers
      .embedding({ inputDim: FIELDS * VOCAB, outputDim: 8 })
      .apply(ids) as tf.SymbolicTensor;
    const flat = tf.layers.flatten().apply(emb) as tf.SymbolicTensor;
    const x = tf.layers.concatenate().apply([flat, num]) as tf.SymbolicTensor;
    const crossed = crossLayer({ numLayers: 2, seed: 3 }).apply(x) as tf.SymbolicTensor;
    const h1 = tf.layers.dense({ units: 64, activation: 'relu' }).apply(crossed) as tf.SymbolicTensor;
    const h2 = tf.layers.dense({ units: 32, activation: 'relu' }).apply(h1) as tf.SymbolicTensor;
    const out = tf.layers.dense({ units: 1, activation: 'sigmoid' }).apply(h2) as tf.SymbolicTensor;
    return tf.model({ inputs: [ids, num], outputs: out });
  });
}

/** Times training steps until `minSeconds` passed or `maxSteps` ran (after one warm-up step). */
function measure(
  step: () => void,
  minSeconds: number,
  maxSteps: number,
  warmUp = true,
): { perStep: number; steps: number } {
  if (warmUp) step();
  let steps = 0;
  const t0 = performance.now();
  while (steps < maxSteps && (steps === 0 || performance.now() - t0 < minSeconds * 1000)) {
    step();
    steps++;
  }
  return { perStep: (performance.now() - t0) / 1000 / steps, steps };
}

function trainStep(
  model: tf.LayersModel,
  opt: tf.Optimizer,
  xs: tf.Tensor[],
  y: tf.Tensor,
  loss: (a: tf.Tensor, b: tf.Tensor) => tf.Scalar,
) {
  const vars = model.trainableWeights.map((w) => w.read() as tf.Variable);
  return () => {
    tf.tidy(() => {
      const cost = opt.minimize(
        () => loss(y, model.apply(xs.length === 1 ? xs[0] : xs, { training: true }) as tf.Tensor),
        true,
        vars,
      );
      cost?.dataSync();
    });
  };
}

interface Row {
  model: string;
  backend: string;
  kernels: string;
  unit: string;
  throughput: number | null;
  note: string;
}

const rows: Row[] = [];
const rssMiB = () => (process.memoryUsage().rss / 2 ** 20).toFixed(0);
let peakRss = 0;
const profiles: string[] = [];

for (const backend of ['wasm', 'cpu'] as const) {
  const info = await initBackend({ prefer: backend, log: () => {} });
  if (info.backend !== backend) {
    console.log(`skipping ${backend}: ${info.fallbackReason}`);
    continue;
  }
  // Ours first, so the resident-memory figure after each configuration is not inflated by the
  // stock cpu scatter-add (which holds numSegments intermediates until it returns).
  for (const mode of ['project', 'stock'] as const) {
    useKernels(mode, backend);
    const slow = mode === 'stock';
    // CNN
    {
      const model = cnn();
      const opt = tf.train.adam(1e-3);
      const x = tf.randomUniform([CNN_BATCH, 32, 32, 3], 0, 1, 'float32', 1);
      const y = tf.randomUniform([CNN_BATCH], 0, 10, 'int32', 2);
      const step = trainStep(model, opt, [x], y, sparseCategoricalCrossentropy());
      try {
        const r = measure(step, slow ? 1 : 5, slow ? 1 : 60, !slow);
        rows.push({
          model: 'CNN 32x32x3, 16/32/64, batch 64',
          backend,
          kernels: mode,
          unit: 'images/s',
          throughput: CNN_BATCH / r.perStep,
          note: `${r.steps} steps of ${(r.perStep * 1000).toFixed(0)} ms; RSS after ${rssMiB()} MiB`,
        });
        if (backend === 'wasm') {
          const prof = await tf.profile(() => step());
          const agg = new Map<string, number>();
          for (const k of prof.kernels) agg.set(k.name, (agg.get(k.name) ?? 0) + Number(k.kernelTimeMs));
          const top = [...agg].sort((a, b) => b[1] - a[1]).slice(0, 6);
          profiles.push(`wasm ${mode}: ${top.map(([n, ms]) => `${n} ${ms.toFixed(1)} ms`).join(', ')}`);
        }
      } catch (err) {
        rows.push({
          model: 'CNN 32x32x3, 16/32/64, batch 64',
          backend,
          kernels: mode,
          unit: 'images/s',
          throughput: null,
          note: (err as Error).message.slice(0, 80),
        });
      }
      tf.dispose([x, y]);
      opt.dispose();
      model.dispose();
    }
    // DCN
    {
      const model = dcn();
      const opt = tf.train.adam(1e-3);
      const [ids, num, y] = tf.tidy(() => {
        const offsets = tf.range(0, FIELDS * VOCAB, VOCAB, 'int32').reshape([1, FIELDS]);
        return [
          tf.randomUniform([TAB_BATCH, FIELDS], 0, VOCAB, 'int32', 3).add(offsets),
          tf.randomNormal([TAB_BATCH, 5], 0, 1, 'float32', 4),
          tf.randomUniform([TAB_BATCH, 1], 0, 2, 'int32', 5).toFloat(),
        ];
      });
      const step = trainStep(model, opt, [ids, num], y, binaryCrossentropy());
      try {
        const r = measure(step, slow ? 1 : 5, slow ? 1 : 200, !slow);
        rows.push({
          model: 'DCN 10 fields + 2 cross + MLP, batch 1024',
          backend,
          kernels: mode,
          unit: 'rows/s',
          throughput: TAB_BATCH / r.perStep,
          note: `${r.steps} steps of ${(r.perStep * 1000).toFixed(0)} ms; RSS after ${rssMiB()} MiB`,
        });
      } catch (err) {
        rows.push({
          model: 'DCN 10 fields + 2 cross + MLP, batch 1024',
          backend,
          kernels: mode,
          unit: 'rows/s',
          throughput: null,
          note: (err as Error).message.slice(0, 80),
        });
      }
      tf.dispose([ids, num, y]);
      opt.dispose();
      model.dispose();
    }
    peakRss = Math.max(peakRss, process.memoryUsage().rss);
    console.error(`done: ${backend} ${mode}`);
  }
}

const fmt = (v: number | null) => (v === null ? 'fails' : v >= 100 ? v.toFixed(0) : v.toFixed(1));
console.log(`\nNode ${process.version}, ${tf.version.tfjs} tfjs\n`);
console.log('| model | backend | kernels | throughput | note |');
console.log('|---|---|---|---|---|');
for (const r of rows)
  console.log(`| ${r.model} | ${r.backend} | ${r.kernels} | ${fmt(r.throughput)} ${r.unit} | ${r.note} |`);
console.log('\nRatios (project / stock, same backend):');
for (const r of rows.filter((x) => x.kernels === 'project')) {
  const s = rows.find((x) => x.kernels === 'stock' && x.model === r.model && x.backend === r.backend);
  if (s?.throughput && r.throughput)
    console.log(`- ${r.model}, ${r.backend}: ${(r.throughput / s.throughput).toFixed(1)}x`);
}
console.log('\nOne CNN step, top kernels (tf.profile):');
for (const p of profiles) console.log(`- ${p}`);
console.log(
  `\nPeak resident memory sampled after each configuration: ${(peakRss / 2 ** 20).toFixed(0)} MiB; live tensors at the end: ${tf.memory().numTensors}.`,
);
