/**
 * @mlsd/onnx: tfjs -> ONNX export, the ONNX Runtime session wrapper and the model registry.
 */
export { SUPPORTED_ACTIVATIONS } from './export/activations.js';
export {
  type AttributeValue,
  type ConversionContext,
  getLayerConverter,
  type InitializerData,
  type LayerConverter,
  type OnnxElementType,
  registeredLayerClasses,
  registerLayerConverter,
  type TfLayerLike,
} from './export/converter.js';
export {
  type ExportOptions,
  exportToOnnx,
  type TfGraphLayerLike,
  type TfLayersModelLike,
  type TfNodeLike,
  type TfSymbolicTensorLike,
} from './export/export.js';
export { IR_VERSION, OPSET } from './export/graph-builder.js';
export {
  DEFAULT_REGISTRY_ROOT,
  type ModelCard,
  ModelIntegrityError,
  ModelRegistry,
  type ModelRegistryOptions,
  type PromotionGate,
  type PromotionRecord,
  type PromotionResult,
  type RegisterModelInput,
  type RegistryEntry,
} from './registry/model-registry.js';
export type { ModelStage } from './registry/schema.js';
export { OnnxInputError, OnnxLoadError } from './runtime/errors.js';
export {
  type OnnxDtype,
  type OnnxFeeds,
  OnnxModel,
  type OnnxModelLoadOptions,
  type OnnxRunOptions,
  type OnnxTensorData,
  type OnnxTypedArray,
  type OnnxValueSignature,
} from './runtime/onnx-model.js';
export { OnnxWorkerPool, type OnnxWorkerPoolOptions } from './runtime/worker-pool.js';
