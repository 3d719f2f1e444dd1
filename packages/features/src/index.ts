/**
 * @mlsd/features: one definition of each feature for training and serving. Feature views and
 * services, transforms fitted into a FeatureSpec and applied identically offline and online, an
 * offline store with point-in-time joins (SQLite), online stores (memory, Redis), sliding-window
 * counters, and a training-serving skew check.
 */
export {
  CREATED_TS,
  checkValue,
  defineFeatureService,
  defineFeatureView,
  EVENT_TS,
  entityKeyOf,
  type FeatureField,
  type FeatureRef,
  type FeatureService,
  type FeatureValue,
  type FeatureView,
  type FeatureViewOptions,
  type RejectedRow,
  type Row,
  type ValueType,
  type WindowSpec,
} from './definitions.js';
export {
  createFeatureStore,
  FeatureStore,
  type FeatureStoreOptions,
  type MaterializeReport,
} from './feature-store.js';
export {
  eventTableName,
  type HistoricalFeatures,
  type HistoricalOptions,
  type IngestReport,
  OfflineStore,
  type OfflineStoreOptions,
  openOfflineStore,
  viewsTable,
  viewTableName,
} from './offline-store.js';
export type { OnlineReadOptions, OnlineRecord, OnlineStore, OnlineWriteReport } from './online-store.js';
export { createMemoryOnlineStore, type MemoryOnlineStoreOptions } from './online-store-memory.js';
export { createRedisOnlineStore, type RedisOnlineStoreOptions } from './online-store-redis.js';
export {
  collectSkewSample,
  compareOnlineOffline,
  type SkewMismatch,
  type SkewReport,
  type SkewSample,
} from './skew.js';
export {
  apply,
  applyOne,
  FEATURE_SPEC_VERSION,
  type FeatureSpec,
  type FeatureTensor,
  type FitOptions,
  fit,
  type InputInfo,
  type InputWriter,
  inputWriter,
  loadFeatureSpec,
  type TensorDtype,
} from './spec.js';
export { countInWindow, defineWindowedCounter, EVENT_ID, WINDOWS } from './streaming.js';
export { hashBucketOf, murmur3Signed } from './transforms/categorical.js';
export {
  EARTH_RADIUS_KM,
  FeatureValueError,
  haversineKm as haversineDistanceKm,
} from './transforms/common.js';
export {
  type BucketizeDef,
  bucketize,
  type CyclicalDef,
  cross,
  cyclicalTime,
  type HashDef,
  hashBucket,
  haversineKm,
  type ImputeOptions,
  minMax,
  type NumericDef,
  type NumericSource,
  numeric,
  type OutputOptions,
  oneHot,
  quantileBucketize,
  ratio,
  secondsSince,
  standardize,
  type TextHashDef,
  type TransformDef,
  textHash,
  timeSinceBuckets,
  type VocabularyDef,
  vocabulary,
} from './transforms/index.js';
export { textNgrams } from './transforms/text.js';
