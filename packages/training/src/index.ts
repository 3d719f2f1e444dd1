/**
 * @mlsd/training: tfjs training with fast kernels, a seeded training loop, the custom layers and
 * losses the case studies use (each layer with its ONNX converter), and box-aware augmentations.
 */

export {
  type Annotated,
  type Box,
  type CropRect,
  colorJitter,
  crop,
  flipHorizontal,
  type Image,
  imageFromTensor,
  imageToTensor,
  type JitterOptions,
  type RandomAugmentOptions,
  randomAugment,
  resize,
  scale,
} from './augment.js';
export {
  type BackendInfo,
  type BackendName,
  currentBackend,
  type InitBackendOptions,
  initBackend,
} from './backend.js';
export {
  type ArrayData,
  type EpochRecord,
  type FitOptions,
  fit,
  type History,
  type MetricFn,
  predictArrays,
  type ValidationOptions,
} from './fit.js';
export { PROJECT_KERNELS, type ProjectKernel, useKernels } from './kernels/registry.js';
export {
  CrossLayer,
  type CrossLayerConfig,
  crossLayer,
  EmbeddingBag,
  type EmbeddingBagConfig,
  embeddingBag,
  FactorizationMachine,
  factorizationMachine,
  L2Normalize,
  l2Normalize,
  multiTaskHeads,
  registerCustomLayers,
  type TaskHead,
} from './layers.js';
export {
  binaryCrossentropy,
  binaryFocalLoss,
  categoricalCrossentropy,
  categoricalFocalLoss,
  createNegativeSampler,
  type FocalOptions,
  type InBatchSoftmaxOptions,
  inBatchSoftmaxLoss,
  type LossFn,
  logFrequencyCorrection,
  meanSquaredError,
  multiTaskLoss,
  skipGramNegativeSamplingLoss,
  sparseCategoricalCrossentropy,
  type TaskLoss,
} from './losses.js';
export { type LrSchedule, learningRateAt } from './schedule.js';
export { seedEverything, seededPermutation, unseed, withSeed } from './seed.js';
