/**
 * Trains the contrastive CNN encoder on the training split of the generated catalogue, exports it to
 * ONNX and writes it with its preprocessing and training record:
 *   <out>/encoder.onnx, <out>/encoder.json
 * Run (under the CPU lock, it takes minutes):
 *   flock /tmp/mlsd-cpu.lock npx tsx scripts/train-encoder.ts [--count 20000] [--seed 42] [--epochs 3] [--seconds 900] [--filters 24,48,64,96] [--out DIR]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { parseArgs } from 'node:util';
import { randomSplit } from '@mlsd/core';
import { DEFAULT_CATALOGUE, generateCatalogue } from '../src/data.js';
import { fitNormalisation } from '../src/features.js';
import {
  buildEncoder,
  DEFAULT_AUGMENT,
  DEFAULT_ENCODER,
  exportEncoder,
  initTraining,
  trainContrastive,
} from '../src/model.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: String(DEFAULT_CATALOGUE.count) },
    seed: { type: 'string', default: String(DEFAULT_CATALOGUE.seed) },
    epochs: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '900' },
    batch: { type: 'string', default: '128' },
    temperature: { type: 'string', default: '0.1' },
    lr: { type: 'string', default: '0.002' },
    // Filters of the stem and the convolution blocks (the encoder's size), e.g. 16,32,64,96.
    filters: { type: 'string', default: DEFAULT_ENCODER.filters.join(',') },
    out: {
      type: 'string',
      default: new URL('../../../fixtures/visual-search/model/', import.meta.url).pathname,
    },
  },
});
const seed = Number(values.seed);
const encoderConfig = { ...DEFAULT_ENCODER, filters: values.filters.split(',').map(Number) };
const backend = await initTraining();
const catalogue = generateCatalogue({ count: Number(values.count), seed });
const split = randomSplit(catalogue.count, { seed });
const normalisation = fitNormalisation(catalogue, split.train);
const model = buildEncoder(encoderConfig, seed);
let lastLog = 0;
const result = await trainContrastive(model, catalogue, split.train, normalisation, {
  epochs: Number(values.epochs),
  batchSize: Number(values.batch),
  temperature: Number(values.temperature),
  learningRate: Number(values.lr),
  maxSeconds: Number(values.seconds),
  seed,
  onStep: ({ step, epoch, loss, imagesPerSecond }) => {
    if (performance.now() - lastLog > 15_000) {
      lastLog = performance.now();
      console.log(
        `epoch ${epoch} step ${step} loss ${loss.toFixed(4)} ${imagesPerSecond.toFixed(1)} images/s`,
      );
    }
  },
});
mkdirSync(values.out, { recursive: true });
writeFileSync(`${values.out}encoder.onnx`, exportEncoder(model));
const record = {
  encoder: encoderConfig,
  normalisation,
  training: {
    catalogue: { count: catalogue.count, seed, size: catalogue.size },
    trainImages: split.train.length,
    epochsRequested: Number(values.epochs),
    epochLosses: result.epochLosses,
    steps: result.steps,
    batchSize: Number(values.batch),
    temperature: Number(values.temperature),
    learningRate: Number(values.lr),
    augment: DEFAULT_AUGMENT,
    imagesPerSecond: result.imagesPerSecond,
    seconds: result.seconds,
    backend,
    machine: '2 cores, Node 20.20',
  },
};
writeFileSync(`${values.out}encoder.json`, `${JSON.stringify(record, null, 2)}\n`);
console.log(JSON.stringify(record.training, null, 2));
