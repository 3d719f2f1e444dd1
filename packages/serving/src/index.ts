/**
 * @mlsd/serving: the service factory (health, readiness, metrics, validation, errors, limits),
 * dynamic batching, experiments (A/B, canary, shadow), batch jobs and the prediction log.
 */
export { type AuthOptions, apiKeyCheck, apiKeyMatches, requireApiKey } from './auth.js';
export { type Batcher, type BatcherMetrics, type BatcherOptions, createBatcher } from './batcher.js';
export { errorBody, errorHandler, HttpError, QueueFullError, toHttpError } from './errors.js';
export {
  createCanary,
  createExperiment,
  type Experiment,
  type ExperimentArm,
  type ExperimentOptions,
  type ExperimentPrediction,
  type ExperimentResult,
  experimentResult,
  experimentRoutes,
  FeedbackBody,
  type PredictWithExperimentOptions,
  predictWithExperiment,
} from './experiments.js';
export {
  createIdempotencyStore,
  type IdempotencyStore,
  type IdempotencyStoreOptions,
  type RunOnceResult,
} from './idempotency.js';
export { BullMqJobRunner, type BullMqJobRunnerOptions } from './jobs/bullmq-runner.js';
export { InProcessJobRunner, type InProcessJobRunnerOptions } from './jobs/in-process-runner.js';
export { EnqueueBody, jobRoutes } from './jobs/job-routes.js';
export {
  defineJob,
  type EnqueueOptions,
  type JobContext,
  type JobDefinition,
  type JobInfo,
  type JobMetrics,
  type JobOptions,
  type JobProcessor,
  type JobProgress,
  type JobRunner,
  type JobState,
  JobTimeoutError,
  type ScheduleSpec,
} from './jobs/job-runner.js';
export {
  type JsonRouteAuth,
  type JsonRouteHandler,
  type JsonRouteOptions,
  type JsonRouteRequest,
  parseByteLimit,
  type RawRouteHandler,
  type RawRouteOptions,
  type RawRouteRequest,
} from './json-route.js';
export { type Listening, type ListenOptions, listen } from './listen.js';
export type {
  InferenceModel,
  ServedModel,
  TensorLike,
  TensorSignature,
  TypedArray,
} from './model.js';
export {
  type CheckpointInfo,
  createPredictionLog,
  type FeedbackRecord,
  feedback,
  type LabelledPrediction,
  type PredictionLog,
  type PredictionLogOptions,
  type PredictionRecord,
  predictions,
  type StoredFeedback,
  type StoredPrediction,
} from './prediction-log.js';
export {
  type Closeable,
  createService,
  type ReadinessCheck,
  type Service,
  type ServiceContext,
  type ServiceLimits,
  type ServiceOptions,
} from './service.js';
export { type FieldIssue, formatIssues, parseOrThrow, validate } from './validate.js';
