/**
 * Batch work of ad click prediction: preparing a dataset (generated or the user's Criteo file),
 * training every implementation, exporting each to ONNX with its feature spec, reference profile
 * and model card, and registering it. The retraining job (continual learning) reuses these steps.
 *
 * Sections: 1. data, 2. implementations, 3. training one implementation, 4. training all of them,
 * 5. where models are read from.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type DataSource, type ProgressReporter, type RunSize, timeSplit } from '@mlsd/core';
import { type FeatureSpec, loadFeatureSpec } from '@mlsd/features';
import { logLoss, normalizedCrossEntropy, rocAucScore } from '@mlsd/metrics';
import { buildReferenceProfile } from '@mlsd/monitoring';
import { exportToOnnx, ModelRegistry, type RegistryEntry } from '@mlsd/onnx';
import { initBackend, registerCustomLayers } from '@mlsd/training';
import * as tf from '@tensorflow/tfjs';
import { crossesFor, toBaseRate } from './baseline.js';
import {
  type AdWorld,
  type CtrTable,
  DAY_SECONDS,
  DEFAULT_WORLD,
  generateAdWorld,
  type RowError,
  readCriteo,
  SMALL_WORLD,
} from './data.js';
import { predictOnnx } from './evaluate.js';
import {
  buildWorldTable,
  type CtrInputs,
  ctrTransforms,
  encodeTable,
  fitCtrSpec,
  inputShape,
  pickRows,
} from './features.js';
import {
  buildCtrModel,
  type CtrModelKind,
  fitPlatt,
  interactionMask,
  predictCtr,
  setCalibration,
  trainCtrModel,
} from './model.js';

export const APP_ID = 'ad-click-prediction';

// 1. Data

export interface PreparedData {
  name: string;
  source: 'generated' | 'user';
  table: CtrTable;
  train: Int32Array;
  validation: Int32Array;
  test: Int32Array;
  splitDescription: string;
  world?: AdWorld;
  /** Malformed lines of the user's file, reported, not fatal. */
  badRows: RowError[];
}

/** Shares of a Criteo file by row order (its rows are in time order). */
const FILE_SPLIT = { train: 0.8, validation: 0.1, test: 0.1 };

/**
 * The dataset of a run: the generated world (split by day: the last two days are the test set,
 * the two before validation), or the user's Criteo file (split by row order, which is time order).
 */
export async function prepareData(
  data: DataSource | undefined,
  size: RunSize,
  seed: number,
  progress?: ProgressReporter,
): Promise<PreparedData> {
  if (data?.path) {
    const format = data.format ?? 'criteo';
    if (format !== 'criteo') throw new RangeError(`format: ${APP_ID} reads 'criteo', got '${format}'`);
    const maxRows = data.options?.maxRows ? Number(data.options.maxRows) : undefined;
    progress?.start('read criteo');
    const read = await readCriteo(data.path, {
      maxRows,
      onProgress: (n) => progress?.tick(100_000, { lines: n }),
    });
    progress?.done(`${read.table.rows} rows, ${read.errors.length} malformed lines`);
    if (read.table.rows < 100) {
      throw new RangeError(
        `${data.path}: only ${read.table.rows} good rows (need at least 100 to split and train)`,
      );
    }
    const order = Float64Array.from({ length: read.table.rows }, (_, i) => i);
    const s = timeSplit(order, { fractions: FILE_SPLIT });
    return {
      name: `criteo file ${data.path}`,
      source: 'user',
      table: read.table,
      train: s.train,
      validation: s.validation,
      test: s.test,
      splitDescription: 'by row order: first 80 % train, next 10 % validation, last 10 % test',
      badRows: read.errors,
    };
  }
  const options = { ...(size === 'small' ? SMALL_WORLD : DEFAULT_WORLD), seed };
  progress?.start('generate world');
  const world = generateAdWorld(options);
  progress?.done(`${world.impressions.count} impressions`);
  progress?.start('point-in-time features');
  const table = buildWorldTable(world);
  progress?.done(`${table.rows} rows`);
  const days = options.days;
  const s = timeSplit(table.timestamp!, {
    validationStart: (days - 4) * DAY_SECONDS,
    testStart: (days - 2) * DAY_SECONDS,
  });
  return {
    name: `generated world (seed ${seed}, ${size})`,
    source: 'generated',
    table,
    train: s.train,
    validation: s.validation,
    test: s.test,
    splitDescription: `by time: days 1-${days - 4} train, ${days - 3}-${days - 2} validation, ${days - 1}-${days} test`,
    world,
    badRows: [],
  };
}

/** Labels of the rows at `indices`. */
export function labelsOf(table: CtrTable, indices: ArrayLike<number>): Uint8Array {
  return Uint8Array.from(indices as ArrayLike<number>, (i) => table.label[i]);
}

/** Share of positive labels. */
export function positiveRate(labels: Uint8Array): number {
  let s = 0;
  for (let i = 0; i < labels.length; i++) s += labels[i];
  return s / Math.max(1, labels.length);
}

// 2. Implementations

export interface Implementation {
  id: string;
  title: string;
  role: 'baseline' | 'alternative' | 'chosen';
  description: string;
  kind: CtrModelKind | 'base-rate';
  crosses: boolean;
  learningRate: number;
  /** L2 penalty on the id weights and embeddings (see `CtrModelConfig.embeddingL2`). */
  embeddingL2?: number;
  /** Dropout after each hidden layer of the MLP. */
  dropout?: number;
  /** Standard deviation of the initial embeddings. */
  embeddingInitStddev?: number;
  /** Quantile buckets of each count as an extra id field (0: none; see `CtrSpecOptions`). */
  numericBuckets?: number;
  /**
   * Id fields with more ids than this stay in the linear part only and are left out of the
   * learned interactions (FM term, MLP, cross network); see `interactionMask` in model.ts.
   */
  interactionMaxIds?: number;
  /** Batch size (default `batchSizeFor` the training rows). */
  batchSize?: number;
  /** Rank of DCN-v2's cross layers (0 or absent: full rank; see `CtrModelConfig.crossRank`). */
  crossRank?: number;
  /** DCN-v2's cross network and MLP side by side instead of stacked (see `CtrModelConfig.parallel`). */
  parallel?: boolean;
  /**
   * Platt scaling of the output fitted on the validation days after training, kept in the
   * exported graph (see `CtrModelConfig.calibration`).
   */
  calibrate?: boolean;
}

/**
 * Id fields with more ids than this (user, ad, ad group and campaign ids in the generated world;
 * the hashed high-cardinality fields of a Criteo file) keep one weight each in the linear part but
 * no embedding in the learned interactions: with about 20 impressions per user their embeddings
 * memorised the training days within one or two epochs, before the models had learned the
 * attribute interactions.
 */
export const INTERACTION_MAX_IDS = 300;

export const IMPLEMENTATIONS: Implementation[] = [
  {
    id: 'base-rate',
    title: 'Base-rate predictor',
    role: 'baseline',
    description: 'Predicts the training click rate for every impression; the NCE denominator.',
    kind: 'base-rate',
    crosses: false,
    learningRate: 0,
  },
  {
    id: 'logistic-regression',
    title: 'Logistic regression',
    role: 'baseline',
    description: "The book's baseline: one weight per id and per scaled count.",
    kind: 'logistic-regression',
    crosses: false,
    learningRate: 0.01,
    embeddingL2: 1e-5,
  },
  {
    id: 'logistic-regression-crosses',
    title: 'Logistic regression with hand-made crosses',
    role: 'alternative',
    description: 'The same, plus hashed crosses a domain expert would pick.',
    kind: 'logistic-regression',
    crosses: true,
    learningRate: 0.01,
    embeddingL2: 1e-5,
  },
  {
    id: 'factorization-machine',
    title: 'Factorization machine',
    role: 'alternative',
    description:
      'Linear part plus pairwise interactions of 8-d embeddings of the fields with at most 300 ids.',
    kind: 'factorization-machine',
    crosses: false,
    learningRate: 5e-3,
    embeddingL2: 1e-5,
    embeddingInitStddev: 0.05,
    numericBuckets: 0,
    interactionMaxIds: INTERACTION_MAX_IDS,
  },
  {
    id: 'deepfm',
    title: 'DeepFM',
    role: 'alternative',
    description: 'Factorization machine plus an MLP (128, 64) over those embeddings and the counts.',
    kind: 'deepfm',
    crosses: false,
    learningRate: 3e-3,
    embeddingL2: 1e-5,
    embeddingInitStddev: 0.05,
    numericBuckets: 0,
    dropout: 0.2,
    interactionMaxIds: INTERACTION_MAX_IDS,
  },
  {
    id: 'dcn-v2',
    title: 'DCN-v2',
    role: 'chosen',
    description:
      'Two full-rank cross layers over [embeddings of the fields with at most 300 ids, counts], stacked with an MLP (128, 64).',
    kind: 'dcn-v2',
    crosses: false,
    learningRate: 3e-3,
    embeddingL2: 1e-5,
    embeddingInitStddev: 0.05,
    numericBuckets: 0,
    dropout: 0.2,
    interactionMaxIds: INTERACTION_MAX_IDS,
  },
];

export function implementation(id: string): Implementation {
  const impl = IMPLEMENTATIONS.find((i) => i.id === id);
  if (!impl)
    throw new RangeError(
      `implementation: unknown '${id}' (known: ${IMPLEMENTATIONS.map((i) => i.id).join(', ')})`,
    );
  return impl;
}

// 3. Training one implementation

/** Batches of up to 2,048 rows, but at least 50 steps an epoch so small files still train. */
export function batchSizeFor(rows: number, largest = 2048): number {
  return Math.max(32, Math.min(largest, Math.ceil(rows / 50)));
}

export interface TrainedImplementation {
  impl: Implementation;
  onnx: Uint8Array;
  spec: FeatureSpec;
  /** Metrics on the validation split. */
  metrics: Record<string, number>;
  trainingMs: number;
  epochs: number;
  referenceProfile: unknown;
  /** The tfjs model (topology and weights), kept so a later retraining can fine-tune it. */
  tfjs: tf.io.ModelArtifacts;
}

export interface TrainRunOptions {
  size: RunSize;
  seed: number;
  progress?: ProgressReporter;
  version: string;
  /** Epoch budget; the small size trains fewer. */
  epochs?: number;
}

function validationMetrics(labels: Uint8Array, p: Float32Array, trainRate: number): Record<string, number> {
  return {
    validation_nce: normalizedCrossEntropy(labels, p, { baseRate: trainRate }),
    validation_log_loss: logLoss(labels, p),
    validation_roc_auc: rocAucScore(labels, p),
  };
}

/** Trains, exports and describes one implementation. The tfjs backend must be initialised. */
export async function trainImplementation(
  data: PreparedData,
  impl: Implementation,
  options: TrainRunOptions,
): Promise<TrainedImplementation> {
  const started = performance.now();
  const trainRows = pickRows(data.table, data.train);
  const transforms = ctrTransforms(data.table, {
    crosses: impl.crosses ? crossesFor(data) : [],
    numericBuckets: impl.numericBuckets,
  });
  const spec = fitCtrSpec(`${APP_ID}.${impl.id}`, trainRows, transforms);
  const x = encodeTable(spec, data.table, data.train);
  const xv = encodeTable(spec, data.table, data.validation);
  const y = labelsOf(data.table, data.train);
  const yv = labelsOf(data.table, data.validation);
  const rate = positiveRate(y);
  const shape = inputShape(spec);
  const maxIds = impl.interactionMaxIds;
  const model = buildCtrModel({
    kind: impl.kind === 'base-rate' ? 'logistic-regression' : impl.kind,
    vocabulary: shape.vocabulary,
    fields: x.fields,
    denseWidth: x.denseWidth,
    baseRate: rate,
    embeddingL2: impl.embeddingL2,
    dropout: impl.dropout,
    embeddingInitStddev: impl.embeddingInitStddev,
    crossRank: impl.crossRank,
    parallel: impl.parallel,
    calibration: impl.calibrate === true && impl.kind !== 'base-rate',
    interactionMask:
      maxIds === undefined
        ? undefined
        : interactionMask(
            shape.cardinalities,
            shape.cardinalities.map((c) => c <= maxIds),
          ),
    seed: options.seed,
  });
  let epochs = 0;
  try {
    if (impl.kind === 'base-rate') {
      toBaseRate(model);
    } else {
      const budget = options.epochs ?? (options.size === 'small' ? 2 : 6);
      options.progress?.start(`train ${impl.id}`, budget);
      const history = await trainCtrModel(
        model,
        x,
        y,
        { x: xv, labels: yv },
        {
          seed: options.seed,
          epochs: budget,
          batchSize: batchSizeFor(data.train.length, impl.batchSize),
          learningRate: impl.learningRate,
          progress: false,
          onEpochEnd: (_e, loss, val) => options.progress?.tick(1, { loss, val_logloss: val ?? Number.NaN }),
        },
      );
      epochs = history.epochs.length;
      options.progress?.done(`best epoch ${history.bestEpoch + 1} of ${epochs}`);
      if (impl.calibrate) setCalibration(model, fitPlatt(yv, predictCtr(model, xv)));
    }
    const p = predictCtr(model, xv);
    const metrics = validationMetrics(yv, p, rate);
    const onnx = exportToOnnx(model, {
      name: `${APP_ID}.${impl.id}`,
      version: options.version,
      featureSpecHash: spec.hash,
      metrics,
      metadata: { app: APP_ID, implementation: impl.id, data: data.name, base_rate: String(rate) },
    });
    const referenceProfile = profileOf(data.table, data.validation, p);
    const tfjs = await saveArtifacts(model);
    return {
      impl,
      onnx,
      spec,
      metrics,
      trainingMs: performance.now() - started,
      epochs,
      referenceProfile,
      tfjs,
    };
  } finally {
    model.dispose();
  }
}

/** The drift reference: every raw feature column and the prediction, on the validation rows. */
export function profileOf(table: CtrTable, indices: Int32Array, predictions: Float32Array): unknown {
  const columns: Record<string, Array<string | number | null>> = {};
  table.categoricalNames.forEach((name, j) => {
    columns[name] = Array.from(indices, (i) => table.categorical[j][i] || null);
  });
  table.numericNames.forEach((name, j) => {
    columns[name] = Array.from(indices, (i) =>
      Number.isNaN(table.numeric[j][i]) ? null : table.numeric[j][i],
    );
  });
  columns.prediction = Array.from(predictions);
  const kinds: Record<string, 'numeric' | 'categorical'> = { prediction: 'numeric' };
  for (const name of table.categoricalNames) kinds[name] = 'categorical';
  for (const name of table.numericNames) kinds[name] = 'numeric';
  return buildReferenceProfile(columns, { kinds, predictionColumn: 'prediction', seed: 1 });
}

// 4. Training all of them

export interface TrainAllOptions extends Omit<TrainRunOptions, 'version'> {
  registryDir: string;
  implementations?: string[];
}

export interface TrainAllResult {
  entries: Array<{ trained: TrainedImplementation; entry: RegistryEntry; promoted: boolean; reason: string }>;
}

/** Trains the chosen implementations, registers each, and promotes it if it beats production. */
export async function trainAll(data: PreparedData, options: TrainAllOptions): Promise<TrainAllResult> {
  await initBackend({ prefer: 'wasm', log: (m) => options.progress?.log(m) });
  const registry = ModelRegistry.open(options.registryDir);
  try {
    const chosen = (options.implementations ?? IMPLEMENTATIONS.map((i) => i.id)).map(implementation);
    const entries: TrainAllResult['entries'] = [];
    for (const impl of chosen) {
      const name = `${APP_ID}.${impl.id}`;
      const version = nextVersion(registry, name);
      const trained = await trainImplementation(data, impl, { ...options, version });
      const entry = registry.register({
        name,
        version,
        model: trained.onnx,
        featureSpec: trained.spec,
        referenceProfile: trained.referenceProfile,
        card: {
          data: { name: data.name, source: data.source, split: data.splitDescription },
          metrics: trained.metrics,
          trainingTimeMs: Math.round(trained.trainingMs),
          seed: options.seed,
          sizes: {
            train: data.train.length,
            validation: data.validation.length,
            test: data.test.length,
            epochs: trained.epochs,
          },
          implementation: impl.id,
          dataSource: data.source,
          world: data.world ? { seed: data.world.options.seed, size: options.size } : undefined,
        },
      });
      writeArtifacts(entry.dir, trained.tfjs);
      const decision = registry.promote(name, version, { metric: 'validation_nce', higherIsBetter: false });
      entries.push({ trained, entry, promoted: decision.promoted, reason: decision.reason });
    }
    return { entries };
  } finally {
    registry.close();
  }
}

function nextVersion(registry: ModelRegistry, name: string): string {
  const versions = registry
    .list({ name })
    .map((e) => Number(e.version))
    .filter(Number.isInteger);
  return String(versions.length ? Math.max(...versions) + 1 : 1);
}

// 5. Where models are read from

/**
 * The registry to read models from: an explicit folder, else the user's own trained models
 * (when this app has any in `modelsDir`), else the committed defaults under the fixtures.
 */
export function modelsRoot(explicit: string | undefined, modelsDir: string, fixturesDir: string): string {
  if (explicit) return explicit;
  if (existsSync(join(modelsDir, 'registry.sqlite'))) {
    const registry = ModelRegistry.open(modelsDir);
    try {
      if (registry.list().some((e) => e.name.startsWith(`${APP_ID}.`) && e.stage === 'production'))
        return modelsDir;
    } finally {
      registry.close();
    }
  }
  return join(fixturesDir, 'models');
}

/** Loads a production model's feature spec from a registry. */
export function loadSpec(registry: ModelRegistry, name: string): FeatureSpec {
  return loadFeatureSpec(registry.readJson(name, 'production', 'feature-spec') as object);
}

/** The encoded rows a model needs, from its own spec. */
export function encodeFor(spec: FeatureSpec, data: PreparedData, indices: Int32Array): CtrInputs {
  return encodeTable(spec, data.table, indices);
}

/**
 * The data of one continual-learning round on the generated world: the new rows are the days
 * [fromDay, windowDay) and the newest window is day `windowDay` (days counted from 0).
 */
export function continualSplit(data: PreparedData, fromDay: number, windowDay: number): PreparedData {
  const ts = data.table.timestamp;
  if (!ts)
    throw new RangeError('continualSplit: the data has no timestamps (a user file is split by row order)');
  if (!(fromDay < windowDay))
    throw new RangeError(`fromDay (${fromDay}) must be before windowDay (${windowDay})`);
  const s = timeSplit(ts, {
    validationStart: windowDay * DAY_SECONDS,
    testStart: (windowDay + 1) * DAY_SECONDS,
  });
  const train = s.train.filter((i) => ts[i] >= fromDay * DAY_SECONDS);
  return {
    ...data,
    train,
    validation: s.validation,
    test: s.test,
    splitDescription: `continual: new rows from days ${fromDay + 1}-${windowDay}, newest window day ${windowDay + 1}`,
  };
}

// 6. tfjs weights beside the ONNX file, for fine-tuning

/** The tfjs model as in-memory artifacts (tfjs cannot save to file:// without tfjs-node). */
export async function saveArtifacts(model: tf.LayersModel): Promise<tf.io.ModelArtifacts> {
  let saved: tf.io.ModelArtifacts | undefined;
  await model.save(
    tf.io.withSaveHandler(async (artifacts) => {
      saved = artifacts;
      return { modelArtifactsInfo: { dateSaved: new Date(), modelTopologyType: 'JSON' } };
    }),
  );
  if (!saved) throw new Error('tfjs did not hand over the model artifacts');
  return saved;
}

/** Writes `tfjs/model.json` and `tfjs/weights.bin` into a registered version's folder. */
export function writeArtifacts(dir: string, artifacts: tf.io.ModelArtifacts): void {
  const folder = join(dir, 'tfjs');
  mkdirSync(folder, { recursive: true });
  const weights = artifacts.weightData;
  const bytes =
    weights instanceof ArrayBuffer
      ? new Uint8Array(weights)
      : new Uint8Array(tf.io.concatenateArrayBuffers(weights as ArrayBuffer[]));
  writeFileSync(join(folder, 'weights.bin'), bytes);
  writeFileSync(
    join(folder, 'model.json'),
    JSON.stringify({ modelTopology: artifacts.modelTopology, weightSpecs: artifacts.weightSpecs }),
  );
}

/** Loads the tfjs model saved beside a registered version. */
export async function readArtifacts(dir: string): Promise<tf.LayersModel> {
  const folder = join(dir, 'tfjs');
  if (!existsSync(join(folder, 'model.json'))) {
    throw new Error(
      `${dir}: no tfjs weights to fine-tune from (tfjs/model.json); train the model again with mlsd train`,
    );
  }
  registerCustomLayers();
  const json = JSON.parse(readFileSync(join(folder, 'model.json'), 'utf8'));
  const buf = readFileSync(join(folder, 'weights.bin'));
  const weightData = buf.buffer.slice(buf.byteOffset, buf.byteOffset + buf.byteLength);
  return tf.loadLayersModel(
    tf.io.fromMemory({ modelTopology: json.modelTopology, weightSpecs: json.weightSpecs, weightData }),
  );
}

// 7. Continual learning: fine-tune from production, gate on the newest window

export interface RetrainOptions {
  registryDir: string;
  implementation?: string;
  seed: number;
  epochs?: number;
  learningRate?: number;
  /** NCE the candidate must gain over production on the newest window. Default 0.002. */
  minImprovement?: number;
  progress?: ProgressReporter;
}

export interface RetrainResult {
  name: string;
  version: string;
  promoted: boolean;
  reason: string;
  candidateNce: number;
  productionNce: number;
  productionVersion: string;
}

/**
 * One round of continual learning, as the book describes it: fine-tune the production model on the
 * new rows (`data.train`, with the production feature spec, so new ids fall in the
 * out-of-vocabulary bucket until the next full training), evaluate candidate and production on the
 * newest window (`data.validation`), and promote the candidate only if its NCE beats production's
 * on that same window by `minImprovement`.
 */
export async function retrain(data: PreparedData, options: RetrainOptions): Promise<RetrainResult> {
  await initBackend({ prefer: 'wasm', log: (m) => options.progress?.log(m) });
  const impl = implementation(options.implementation ?? 'dcn-v2');
  const name = `${APP_ID}.${impl.id}`;
  const registry = ModelRegistry.open(options.registryDir);
  try {
    const production = registry.get(name, 'production');
    if (!production)
      throw new Error(`no production model ${name} to fine-tune; run mlsd train ${APP_ID} first`);
    const spec = loadSpec(registry, name);
    const model = await readArtifacts(production.dir);
    try {
      const x = encodeTable(spec, data.table, data.train);
      const window = encodeTable(spec, data.table, data.validation);
      const y = labelsOf(data.table, data.train);
      const yw = labelsOf(data.table, data.validation);
      const rate = positiveRate(y);
      options.progress?.start(`fine-tune ${impl.id}`, options.epochs ?? 2);
      await trainCtrModel(
        model,
        x,
        y,
        { x: window, labels: yw },
        {
          seed: options.seed,
          epochs: options.epochs ?? 2,
          batchSize: batchSizeFor(data.train.length),
          learningRate: options.learningRate ?? impl.learningRate / 4,
          progress: false,
          patience: 1,
          onEpochEnd: (_e, loss) => options.progress?.tick(1, { loss }),
        },
      );
      options.progress?.done();
      const candidateP = predictCtr(model, window);
      const onnxProduction = await registry.load(name, 'production');
      let productionP: Float32Array;
      try {
        productionP = await predictOnnx(onnxProduction, window.ids, window.dense, window.rows);
      } finally {
        await onnxProduction.close();
      }
      const candidateNce = normalizedCrossEntropy(yw, candidateP, { baseRate: rate });
      const productionNce = normalizedCrossEntropy(yw, productionP, { baseRate: rate });
      const version = nextVersion(registry, name);
      const metrics = {
        window_nce: candidateNce,
        validation_nce: candidateNce,
        window_log_loss: logLoss(yw, candidateP),
      };
      const entry = registry.register({
        name,
        version,
        model: exportToOnnx(model, {
          name,
          version,
          featureSpecHash: spec.hash,
          metrics,
          metadata: { app: APP_ID, implementation: impl.id, fine_tuned_from: production.version },
        }),
        featureSpec: spec,
        referenceProfile: registry.readJson(name, 'production', 'reference-profile'),
        card: {
          data: { name: data.name, source: data.source, split: data.splitDescription },
          metrics,
          seed: options.seed,
          sizes: { train: data.train.length, window: data.validation.length },
          implementation: impl.id,
          dataSource: data.source,
          fineTunedFrom: production.version,
          world: (registry.readJson(name, 'production', 'card') as { world?: unknown } | undefined)?.world,
        },
      });
      writeArtifacts(entry.dir, await saveArtifacts(model));
      const decision = registry.promote(name, version, {
        metric: 'window_nce',
        higherIsBetter: false,
        minImprovement: options.minImprovement ?? 0.002,
        productionValue: productionNce,
      });
      return {
        name,
        version,
        promoted: decision.promoted,
        reason: decision.reason,
        candidateNce,
        productionNce,
        productionVersion: production.version,
      };
    } finally {
      model.dispose();
    }
  } finally {
    registry.close();
  }
}
