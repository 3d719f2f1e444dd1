/**
 * Case study 2, street-view blurring: detect faces and licence plates in street imagery and blur
 * them. This front door exports what exists so far; the CaseStudy object comes with the service.
 */
export * from './data.js';
export {
  Canvas,
  checkRgbImage,
  drawBoxes,
  encodePng,
  type Rgb,
  type RgbImage,
  type XywhBox,
} from './raster.js';
