/**
 * Training experiments on the generated world, outside the registry: each configuration (JSON on
 * the command line) is trained on the train days, early-stopped on the validation days, and its
 * validation and test NCE / ROC-AUC printed. How the README's "tried" figures were measured:
 *
 *   npx tsx --conditions @mlsd/source scripts/experiment.ts \
 *     '[{"name":"fm","kind":"factorization-machine","lr":0.005,"l2":1e-5,"init":0.05,"maxIds":300,"epochs":5}]'
 *
 * Keys: kind, lr, l2, init (embedding stddev), dropout, dim, hidden, crossLayers, crossRank, parallel,
 * calibrate (Platt scaling fitted on validation, reported beside the raw model), maxIds or
 * exclude (fields kept out of the interactions), drop (fields left out of the model), crosses / crossList, numericBuckets, batch, opt
 * ('adam' | 'adagrad'), epochs, patience. SIZE=small for the small world. Run it under the CPU lock.
 */
import { calibrationRatio, logLoss, normalizedCrossEntropy, rocAucScore } from '@mlsd/metrics';
import { initBackend } from '@mlsd/training';
import type * as tf from '@tensorflow/tfjs';
import { crossesFor } from '../src/baseline.js';
import { DEFAULT_WORLD } from '../src/data.js';
import { ctrTransforms, encodeTable, fitCtrSpec, inputShape, pickRows } from '../src/features.js';
import {
  buildCtrModel,
  fitPlatt,
  interactionMask,
  predictCtr,
  setCalibration,
  trainCtrModel,
} from '../src/model.js';
import { batchSizeFor, labelsOf, positiveRate, prepareData } from '../src/pipeline.js';

const configs = JSON.parse(process.argv[2]);
const size = (process.env.SIZE ?? 'default') as 'default' | 'small';
await initBackend({ prefer: 'wasm' });
if (process.env.IPD)
  (DEFAULT_WORLD as { impressionsPerDay: number }).impressionsPerDay = Number(process.env.IPD);
if (process.env.USERS) (DEFAULT_WORLD as { users: number }).users = Number(process.env.USERS);
let t = performance.now();
const data = await prepareData(undefined, size, 42);
console.log(
  `data ${((performance.now() - t) / 1000).toFixed(1)} s, train ${data.train.length} val ${data.validation.length} test ${data.test.length}`,
);
const trainRows = pickRows(data.table, data.train);
for (const c of configs) {
  t = performance.now();
  // `drop`: categorical fields left out of the model entirely (no linear weight, no embedding).
  const drop: string[] = c.drop ?? [];
  const transforms = ctrTransforms(
    { ...data.table, categoricalNames: data.table.categoricalNames.filter((n) => !drop.includes(n)) },
    {
      crosses: c.crossList ?? (c.crosses ? crossesFor(data) : []),
      numericBuckets: c.numericBuckets ?? 0,
    },
  );
  const spec = fitCtrSpec('exp', trainRows, transforms);
  const x = encodeTable(spec, data.table, data.train);
  const xv = encodeTable(spec, data.table, data.validation);
  const xt = encodeTable(spec, data.table, data.test);
  const y = labelsOf(data.table, data.train);
  const yv = labelsOf(data.table, data.validation);
  const yt = labelsOf(data.table, data.test);
  const rate = positiveRate(y);
  const shape = inputShape(spec);
  const cols = spec.inputs.find((i) => i.name === 'ids')!.columns;
  if (c.print) console.log(cols.map((n, j) => `${n}:${shape.cardinalities[j]}`).join(' '));
  const exclude: string[] = c.exclude ?? [];
  const mask = c.maxIds
    ? interactionMask(
        shape.cardinalities,
        shape.cardinalities.map((k) => k <= c.maxIds),
      )
    : exclude.length
      ? interactionMask(
          shape.cardinalities,
          cols.map((n) => !exclude.includes(n)),
        )
      : undefined;
  const model = buildCtrModel({
    kind: c.kind,
    vocabulary: shape.vocabulary,
    fields: x.fields,
    denseWidth: x.denseWidth,
    baseRate: rate,
    embeddingL2: c.l2,
    dropout: c.dropout,
    embeddingInitStddev: c.init,
    embeddingDim: c.dim,
    hidden: c.hidden,
    crossLayers: c.crossLayers,
    crossRank: c.crossRank,
    parallel: c.parallel,
    calibration: c.calibrate,
    interactionMask: mask,
    seed: 42,
  });
  const h = await trainCtrModel(
    model,
    x,
    y,
    { x: xv, labels: yv },
    {
      seed: 42,
      epochs: c.epochs ?? 4,
      batchSize: c.batch ?? batchSizeFor(data.train.length),
      learningRate: c.lr,
      optimizer: c.opt,
      progress: false,
      patience: c.patience ?? 1,
      onEpochEnd: (e, loss, v) =>
        console.log(
          `  ${c.name} epoch ${e + 1} loss ${loss.toFixed(5)} val_ll ${v?.toFixed(5)} ${((performance.now() - t) / 1000).toFixed(0)} s`,
        ),
    },
  );
  report(c.name, h, model);
  if (c.calibrate) {
    // Platt scaling fitted on the validation days (its validation figures are in-sample).
    setCalibration(model, fitPlatt(yv, predictCtr(model, xv)));
    report(`${c.name}+platt`, h, model);
  }
  model.dispose();

  function report(name: string, h: { bestEpoch: number; epochs: unknown[] }, model: tf.LayersModel) {
    const pv = predictCtr(model, xv);
    const pt = predictCtr(model, xt);
    console.log(
      `${name}: best ${h.bestEpoch + 1}/${h.epochs.length} VAL nce ${normalizedCrossEntropy(yv, pv, { baseRate: rate }).toFixed(4)} auc ${rocAucScore(yv, pv).toFixed(4)} cal ${calibrationRatio(yv, pv).toFixed(3)} | TEST nce ${normalizedCrossEntropy(yt, pt, { baseRate: rate }).toFixed(4)} auc ${rocAucScore(yt, pt).toFixed(4)} cal ${calibrationRatio(yt, pt).toFixed(3)} ll ${logLoss(yt, pt).toFixed(5)} | ${((performance.now() - t) / 1000).toFixed(0)} s`,
    );
  }
}
