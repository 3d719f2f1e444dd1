/**
 * Online experiments: sticky A/B splits by a hash of a unit id (user, session), canary releases as a
 * two-arm split, shadow (mirror) traffic where a second model runs but only the primary answers,
 * every prediction logged with model, version and arm, and the A/B result with the statistics of
 * @mlsd/metrics (two-proportion z-test for rates, Welch's t-test for means).
 */
import { createHash } from 'node:crypto';
import { twoProportionZTest, welchTTest } from '@mlsd/metrics';
import type { Router } from 'express';
import type { Logger } from 'pino';
import { z } from 'zod';
import { HttpError } from './errors.js';
import type { InferenceModel } from './model.js';
import type { PredictionLog } from './prediction-log.js';
import type { ServiceContext } from './service.js';

/** One arm: its name, the key of the model it serves and its share of traffic. */
export interface ExperimentArm {
  name: string;
  model: string;
  /** Relative weight (e.g. 50/50, or 95/5 for a canary). */
  weight: number;
}

/** Options of {@link createExperiment}. */
export interface ExperimentOptions {
  name: string;
  /** The first arm is the control. */
  arms: ExperimentArm[];
  /** Mirror traffic to this model key: it runs, is logged as arm 'shadow', and never answers. */
  shadow?: string;
  /** Changes every assignment at once (a new experiment on the same units). Default ''. */
  salt?: string;
}

/** An experiment with its sticky assignment. */
export interface Experiment {
  readonly name: string;
  readonly arms: readonly ExperimentArm[];
  readonly shadow?: string;
  /** Position of a unit in [0, 1), from a hash of experiment name, salt and unit id. */
  bucket(unitId: string): number;
  /** The arm of a unit: the same unit always gets the same arm. */
  assign(unitId: string): ExperimentArm;
}

/** Create an A/B (or A/B/n) experiment. */
export function createExperiment(options: ExperimentOptions): Experiment {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options: expected { name, arms }, got ${String(options)}`);
  }
  if (typeof options.name !== 'string' || options.name.length === 0) {
    throw new TypeError(`options.name: expected a non-empty string, got ${String(options.name)}`);
  }
  if (!Array.isArray(options.arms) || options.arms.length < 1) {
    throw new TypeError(`options.arms: expected a non-empty array of { name, model, weight }`);
  }
  const names = new Set<string>();
  for (const [i, arm] of options.arms.entries()) {
    if (!arm || typeof arm.name !== 'string' || typeof arm.model !== 'string') {
      throw new TypeError(`options.arms[${i}]: expected { name, model, weight }`);
    }
    if (!Number.isFinite(arm.weight) || arm.weight < 0) {
      throw new RangeError(
        `options.arms[${i}].weight: expected a finite number >= 0, got ${String(arm.weight)}`,
      );
    }
    if (names.has(arm.name) || arm.name === 'shadow') {
      throw new TypeError(`options.arms[${i}].name: '${arm.name}' is repeated or reserved`);
    }
    names.add(arm.name);
  }
  const total = options.arms.reduce((s, a) => s + a.weight, 0);
  if (total <= 0) throw new RangeError('options.arms: expected weights summing to more than 0');
  const arms = options.arms.map((a) => ({ ...a }));
  const salt = options.salt ?? '';
  const bucket = (unitId: string) => {
    if (typeof unitId !== 'string' || unitId.length === 0) {
      throw new TypeError(`unitId: expected a non-empty string, got ${String(unitId)}`);
    }
    const digest = createHash('sha256').update(`${options.name}\u0000${salt}\u0000${unitId}`).digest();
    // 48 bits: uniform enough and exactly representable in a double.
    return digest.readUIntBE(0, 6) / 2 ** 48;
  };
  return {
    name: options.name,
    arms,
    shadow: options.shadow,
    bucket,
    assign(unitId) {
      const point = bucket(unitId) * total;
      let cumulative = 0;
      for (const arm of arms) {
        cumulative += arm.weight;
        if (point < cumulative) return arm;
      }
      return arms[arms.length - 1];
    },
  };
}

/** A canary release: `percent` of units get `canary`, the rest `stable`. */
export function createCanary(options: {
  name: string;
  stable: string;
  canary: string;
  percent: number;
  shadow?: string;
}): Experiment {
  if (!Number.isFinite(options.percent) || options.percent < 0 || options.percent > 100) {
    throw new RangeError(`options.percent: expected a number in [0, 100], got ${String(options.percent)}`);
  }
  return createExperiment({
    name: options.name,
    shadow: options.shadow,
    arms: [
      { name: 'stable', model: options.stable, weight: 100 - options.percent },
      { name: 'canary', model: options.canary, weight: options.percent },
    ],
  });
}

/** What {@link predictWithExperiment} returns. */
export interface ExperimentPrediction<T> {
  result: T;
  arm: string;
  model: string;
  version: string;
  predictionId: string;
}

/** Arguments of {@link predictWithExperiment}. */
export interface PredictWithExperimentOptions<T> {
  experiment: Experiment;
  unitId: string;
  /** Looks a model up by key (e.g. `ctx.model`). */
  models: (key: string) => InferenceModel;
  /** Runs one model and returns the answer. */
  run: (model: InferenceModel) => Promise<T>;
  /** The score to log (for drift and decay). */
  score?: (result: T) => number | undefined;
  features?: unknown;
  log?: PredictionLog;
  logger?: Logger;
  /** Called when the shadow run has finished (tests and comparisons); never delays the answer. */
  onShadow?: (outcome: { result?: T; error?: unknown }) => void;
}

/**
 * Serves one prediction under an experiment: picks the unit's arm, runs its model, logs the
 * prediction with model, version and arm, and mirrors to the shadow model without waiting for it.
 */
export async function predictWithExperiment<T>(
  options: PredictWithExperimentOptions<T>,
): Promise<ExperimentPrediction<T>> {
  const { experiment, unitId } = options;
  const arm = experiment.assign(unitId);
  const model = options.models(arm.model);
  if (experiment.shadow) {
    const shadowKey = experiment.shadow;
    // Started after the primary call is under way and never awaited: a slow or failing shadow
    // cannot delay or break the answer.
    setImmediate(() => void runShadow(options, shadowKey));
  }
  const started = performance.now();
  const result = await options.run(model);
  const predictionId = logSafely(options, {
    model: model.name,
    version: String(model.version),
    arm: arm.name,
    shadow: false,
    result,
    latencyMs: performance.now() - started,
  });
  return { result, arm: arm.name, model: model.name, version: String(model.version), predictionId };
}

async function runShadow<T>(options: PredictWithExperimentOptions<T>, key: string) {
  try {
    const model = options.models(key);
    const started = performance.now();
    const result = await options.run(model);
    logSafely(options, {
      model: model.name,
      version: String(model.version),
      arm: 'shadow',
      shadow: true,
      result,
      latencyMs: performance.now() - started,
    });
    options.onShadow?.({ result });
  } catch (error) {
    options.logger?.warn({ err: error, experiment: options.experiment.name }, 'shadow prediction failed');
    options.onShadow?.({ error });
  }
}

function logSafely<T>(
  options: PredictWithExperimentOptions<T>,
  entry: { model: string; version: string; arm: string; shadow: boolean; result: T; latencyMs: number },
): string {
  if (!options.log) return '';
  try {
    return options.log.logPrediction({
      model: entry.model,
      version: entry.version,
      arm: entry.arm,
      shadow: entry.shadow,
      experiment: options.experiment.name,
      unitId: options.unitId,
      score: options.score?.(entry.result),
      output: entry.result,
      features: options.features,
      latencyMs: entry.latencyMs,
    });
  } catch (err) {
    // A log failure must not fail the prediction; it is visible in the logs.
    options.logger?.error({ err }, 'prediction log write failed');
    return '';
  }
}

/** Per-arm figures and the test of one treatment arm against the control. */
export interface ExperimentResult {
  experiment: string;
  metric: 'rate' | 'mean';
  feedbackKind: string;
  arms: Array<{ name: string; model: string; predictions: number; mean: number }>;
  comparisons: Array<{
    control: string;
    treatment: string;
    test: 'two-proportion z-test' | "Welch's t-test";
    statistic: number;
    pValue: number;
    difference: number;
  }>;
}

/**
 * The A/B result from the prediction log: for each arm, the latest `feedbackKind` value of each
 * of its predictions (0 without feedback). `metric: 'rate'` treats values as 0/1 conversions
 * (two-proportion z-test); `'mean'` compares means (Welch's t-test).
 */
export function experimentResult(
  experiment: Experiment,
  log: PredictionLog,
  options: { feedbackKind: string; metric: 'rate' | 'mean' },
): ExperimentResult {
  log.flush();
  const outcomes = log.armOutcomes(experiment.name, options.feedbackKind);
  const arms = experiment.arms.map((arm) => {
    const o = outcomes.get(arm.name) ?? { predictions: 0, values: [] };
    const mean = o.values.length ? o.values.reduce((s, v) => s + v, 0) / o.values.length : Number.NaN;
    return { name: arm.name, model: arm.model, predictions: o.predictions, mean, values: o.values };
  });
  const [control, ...treatments] = arms;
  const comparisons: ExperimentResult['comparisons'] = [];
  for (const t of treatments) {
    if (control.values.length < 2 || t.values.length < 2) continue;
    if (options.metric === 'rate') {
      const successes = (v: number[]) => v.filter((x) => x > 0).length;
      const r = twoProportionZTest(
        { successes: successes(control.values), trials: control.values.length },
        { successes: successes(t.values), trials: t.values.length },
      );
      comparisons.push({
        control: control.name,
        treatment: t.name,
        test: 'two-proportion z-test',
        ...pick(r),
      });
    } else {
      const r = welchTTest(control.values, t.values);
      comparisons.push({ control: control.name, treatment: t.name, test: "Welch's t-test", ...pick(r) });
    }
  }
  return {
    experiment: experiment.name,
    metric: options.metric,
    feedbackKind: options.feedbackKind,
    arms: arms.map(({ values: _values, ...rest }) => rest),
    comparisons,
  };
}

function pick(r: { statistic: number; pValue: number; difference: number }) {
  return { statistic: r.statistic, pValue: r.pValue, difference: r.difference };
}

/** Body of `POST /feedback`. */
export const FeedbackBody = z.object({
  predictionId: z.string().min(1).max(512),
  kind: z.string().min(1).max(64).optional(),
  value: z.number().finite(),
  payload: z.record(z.string(), z.unknown()).optional(),
});

/**
 * Adds `GET /experiments/:name/result` (open, read-only) and `POST /feedback` (API key) to a
 * service's router.
 */
export function experimentRoutes(
  router: Router,
  context: ServiceContext,
  options: {
    experiments: readonly Experiment[];
    log: PredictionLog;
    feedbackKind: string;
    metric: 'rate' | 'mean';
  },
): void {
  const byName = new Map(options.experiments.map((e) => [e.name, e]));
  router.get('/experiments/:name/result', (req, res) => {
    const experiment = byName.get(String(req.params.name));
    if (!experiment)
      throw new HttpError(404, 'experiment_not_found', `no experiment named '${req.params.name}'`);
    res.json(experimentResult(experiment, options.log, options));
  });
  router.post('/feedback', context.requireApiKey, context.validate(FeedbackBody), (req, res) => {
    const body = req.body as z.infer<typeof FeedbackBody>;
    options.log.logFeedback({
      predictionId: body.predictionId,
      kind: body.kind ?? options.feedbackKind,
      value: body.value,
      payload: body.payload,
    });
    res.status(202).json({ accepted: true });
  });
}
