/**
 * The contract every case-study app exports.
 *
 * An app is one of the book's ten designs made runnable. The CLI (`mlsd`) drives every app through
 * this interface only, so a user who knows `mlsd train ad-click-prediction` knows how to train all
 * ten. Implementations must not do work at import time: open data, models and stores inside the
 * methods below, and release them in `close()` of what they return (CONVENTIONS 4).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { EvaluationReport } from './report.js';

/** The ML category the book frames the problem as (step 2 of the framework). */
export type MlTaskKind =
  | 'binary-classification'
  | 'multiclass-classification'
  | 'multilabel-classification'
  | 'regression'
  | 'ranking'
  | 'retrieval'
  | 'object-detection';

/** How the case study is framed as an ML task: the objective, what goes in and what comes out. */
export interface MlTask {
  kind: MlTaskKind;
  /** The ML objective the business goal is translated into, e.g. "maximise click-through rate". */
  objective: string;
  input: string;
  output: string;
}

/** The metric an app is judged on, and which way is better. */
export interface MetricRef {
  /** Name as it appears in reports, e.g. `ndcg@10`, `normalized_cross_entropy`. */
  name: string;
  higherIsBetter: boolean;
}

/** Role of an implementation in the comparison. */
export type ImplementationRole = 'baseline' | 'alternative' | 'chosen' | 'oracle';

/** One of the implementations an app compares on the same split and the same metrics. */
export interface ImplementationInfo {
  id: string;
  title: string;
  role: ImplementationRole;
  description: string;
}

/** A public data format an app can load, so users can run it on their own data. */
export interface DataFormat {
  id: string;
  description: string;
  /** What `--data` points at: a file, a folder, or either. */
  path: 'file' | 'directory' | 'file-or-directory';
}

/** Receives progress of long work; the CLI renders it as a bar. */
export interface ProgressReporter {
  /** Starts (or restarts) a stage with a known or unknown number of steps. */
  start(stage: string, total?: number): void;
  /** Advances the current stage; `info` is shown next to the bar (loss, metric, ETA...). */
  tick(steps?: number, info?: Record<string, string | number>): void;
  /** Ends the current stage. */
  done(summary?: string): void;
  /** A line of text that should not break the bar. */
  log(message: string): void;
}

/** A progress reporter that discards everything; the default for tests and libraries. */
export const silentProgress: ProgressReporter = {
  start() {},
  tick() {},
  done() {},
  log() {},
};

/** What every method receives: where to read and write, the seed, and how to report. */
export interface RunContext {
  /** Folder for generated data and caches of this app (under `.mlsd/` by default). */
  workDir: string;
  /** Root of the model registry new runs write to (`.mlsd/models` by default). */
  modelsDir: string;
  /** Root of the committed fixtures (`fixtures/<app-id>`), where the default models live. */
  fixturesDir: string;
  seed: number;
  progress: ProgressReporter;
  /** Cancels long work (Ctrl-C in the CLI). */
  signal?: AbortSignal;
}

/** Where the data for a run comes from. */
export interface DataSource {
  /** A path to the user's data; absent means the app's generated world. */
  path?: string;
  /** One of the app's `dataFormats` ids; apps may infer it from the path when absent. */
  format?: string;
  /** Extra format options, e.g. a category mapping or a relevance threshold. */
  options?: Record<string, string>;
}

/** Size of a run: `small` for tests and demos, `default` for the README's numbers. */
export type RunSize = 'small' | 'default';

export interface TrainOptions {
  data?: DataSource;
  size?: RunSize;
  /** Only these implementations (ids); all trainable ones when absent. */
  implementations?: string[];
  /** Fine-tune from this registered model (`production`, a version, or a path). */
  fromModel?: string;
  /** Write the trained models here instead of `ctx.modelsDir`. */
  outDir?: string;
}

export interface TrainResult {
  /** One entry per trained implementation, with where its artefacts were written. */
  models: Array<{
    implementation: string;
    path: string;
    version: string;
    trainingSeconds: number;
    metrics: Record<string, number>;
  }>;
}

export interface EvaluateOptions {
  data?: DataSource;
  size?: RunSize;
  implementations?: string[];
  /** Use models from here instead of the committed defaults. */
  modelsDir?: string;
  /** Resamples for bootstrap intervals (0 disables them). */
  bootstrap?: number;
}

export interface ServeOptions {
  /** Use models from here instead of the committed defaults. */
  modelsDir?: string;
  /** Validated configuration from the edge (REDIS_URL, API key, ...). */
  config?: Record<string, string | undefined>;
}

/** A Node request listener, which an express app is. Core stays free of any HTTP framework. */
export type RequestHandler = (
  req: IncomingMessage,
  res: ServerResponse,
  next?: (err?: unknown) => void,
) => void;

/** A created service: a request handler that never listens by itself, and its resources. */
export interface ServiceHandle {
  handler: RequestHandler;
  /** Ready to answer (models loaded, stores reachable). */
  ready?(): Promise<boolean>;
  close(): Promise<void>;
}

export interface BenchOptions {
  concurrency?: number[];
  durationSeconds?: number;
}

export interface SimulateOptions {
  /** Replay shifted traffic (the app decides what shifts: a new population, a changed relation). */
  drift?: boolean;
  /** How many requests or events to replay. */
  requests?: number;
  /** Base URL of a running service; the app is served in-process when absent. */
  target?: string;
}

/** The contract of one case study. */
export interface CaseStudy {
  /** kebab-case id, also the URL prefix under `mlsd serve --all`: `ad-click-prediction`. */
  id: string;
  title: string;
  /** Chapter of the book (case study N is chapter N + 1). */
  chapter: number;
  summary: string;
  task: MlTask;
  primaryMetric: MetricRef;
  implementations: ImplementationInfo[];
  dataFormats: DataFormat[];
  /** Generates or loads the data, and writes it under `ctx.workDir`. Returns a short description. */
  prepare(data: DataSource | undefined, ctx: RunContext): Promise<{ description: string; rows: number }>;
  train(options: TrainOptions, ctx: RunContext): Promise<TrainResult>;
  evaluate(options: EvaluateOptions, ctx: RunContext): Promise<EvaluationReport>;
  createApp(options: ServeOptions, ctx: RunContext): Promise<ServiceHandle>;
  /** Load test of the app's main route; optional until an app has one. */
  bench?(options: BenchOptions, ctx: RunContext): Promise<Record<string, unknown>>;
  /** Replays traffic (optionally drifted) so monitoring has something to show; optional. */
  simulate?(options: SimulateOptions, ctx: RunContext): Promise<Record<string, unknown>>;
}

const ID = /^[a-z][a-z0-9]*(-[a-z0-9]+)*$/;

/**
 * Checks a case study's declared shape, so a broken app fails with a clear message when it is
 * registered rather than halfway through a command.
 */
export function validateCaseStudy(study: CaseStudy): CaseStudy {
  const where = `case study ${JSON.stringify(study?.id)}`;
  if (!study || typeof study !== 'object') throw new TypeError('case study: expected an object');
  if (typeof study.id !== 'string' || !ID.test(study.id)) {
    throw new TypeError(`${where}: id must be kebab-case, got ${JSON.stringify(study.id)}`);
  }
  if (!study.title) throw new TypeError(`${where}: title is required`);
  if (!Array.isArray(study.implementations) || study.implementations.length === 0) {
    throw new TypeError(`${where}: implementations must list at least one implementation`);
  }
  const ids = new Set<string>();
  for (const impl of study.implementations) {
    if (!ID.test(impl.id))
      throw new TypeError(`${where}: implementation id ${JSON.stringify(impl.id)} is not kebab-case`);
    if (ids.has(impl.id))
      throw new TypeError(`${where}: implementation id ${JSON.stringify(impl.id)} appears twice`);
    ids.add(impl.id);
  }
  if (!study.implementations.some((i) => i.role === 'chosen')) {
    throw new TypeError(`${where}: one implementation must have role 'chosen'`);
  }
  for (const method of ['prepare', 'train', 'evaluate', 'createApp'] as const) {
    if (typeof study[method] !== 'function') throw new TypeError(`${where}: ${method} must be a function`);
  }
  return study;
}
