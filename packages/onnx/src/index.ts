/**
 * @mlsd/onnx: tfjs -> ONNX export, the ONNX Runtime session wrapper and the model registry.
 */
export {
  type AttributeValue,
  type ConversionContext,
  getLayerConverter,
  type InitializerData,
  type LayerConverter,
  registeredLayerClasses,
  registerLayerConverter,
  type TfLayerLike,
} from './export/converter.js';
