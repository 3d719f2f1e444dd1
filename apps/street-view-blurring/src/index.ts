/**
 * Case study 2, street-view blurring: detect faces and licence plates in street imagery and blur
 * them. This front door exports what exists so far; the CaseStudy object comes with the service.
 */

export {
  type BaselineOptions,
  classWiseNms,
  DEFAULT_BASELINE,
  type Detection,
  detectBaseline,
} from './baseline.js';
export { type BlurOptions, type BlurTarget, blurRegion, blurRegions, DEFAULT_BLUR } from './blur.js';
export * from './data.js';
export { OnnxDetector } from './detector.js';
export {
  chooseThresholds,
  type DetectionReport,
  type EvaluatedImage,
  type EvaluateOptions,
  evaluateDetections,
  type Interval,
  matchGroundTruth,
  SIZES,
  type SizeName,
  sizeOf,
} from './evaluate.js';
export {
  boxToInput,
  boxToSource,
  DEFAULT_PREPROCESS,
  decodeImage,
  type ImageInputCode,
  ImageInputError,
  type Letterbox,
  letterbox,
  letterboxGeometry,
  type Preprocessed,
  type PreprocessSpec,
  preprocessBytes,
  preprocessImage,
  toInputTensor,
} from './features.js';
export {
  Canvas,
  checkRgbImage,
  drawBoxes,
  encodePng,
  type Rgb,
  type RgbImage,
  type XywhBox,
} from './raster.js';
