/**
 * @mlsd/visual-search: case study 1, visual search. So far: the generated product catalogue and
 * its relevance oracle, loaders for users' images, preprocessing, the two baseline embeddings and
 * the retrieval evaluation. The CaseStudy object, the encoder and the service come next.
 */
export {
  ColourHistogramEmbedder,
  type ColourHistogramOptions,
  DownsampledPixelEmbedder,
  type ImageEmbedder,
  l2NormaliseInPlace,
} from './baseline.js';
export {
  type BackgroundKind,
  type CatalogueOptions,
  COLOURS,
  DEFAULT_CATALOGUE,
  encodeImage,
  generateCatalogue,
  type ImageCollection,
  type ImageFormat,
  neighbourColours,
  PATTERNS,
  type Pattern,
  type Pose,
  type ProductAttributes,
  ProductCatalogue,
  relevanceOf,
  renderProduct,
  SHAPES,
  type Shape,
  SMALL_CATALOGUE,
} from './data.js';
export {
  type BootstrapOptions,
  bootstrapMean,
  type EmbedderEvaluation,
  embedCollection,
  evaluateEmbedder,
  type QueryScores,
  type RankingCutoffs,
  type RetrievalEvaluationOptions,
  type RetrievalResult,
  scoreRanking,
  toReport,
} from './evaluate.js';
export {
  type CropBox,
  checkNormalisation,
  cropRgb,
  type DecodeOptions,
  decodeImage,
  fitNormalisation,
  type ImageErrorCode,
  ImageInputError,
  imageFileToPixels,
  type Normalisation,
  normalise,
  preprocessImageFile,
  type RgbImage,
  resizeRgb,
} from './features.js';
export {
  type CsvOptions,
  DataFormatError,
  DEFAULT_IMAGE_SIZE,
  type FolderOptions,
  type IdxArray,
  type IdxOptions,
  idxToCollection,
  LabelledImages,
  type LoadIssue,
  type LoadResult,
  loadIdx,
  loadImageCsv,
  loadImageFolder,
  parseIdx,
  parseImageCsv,
} from './loaders.js';
