/**
 * The serving side of the detector: ONNX Runtime (through @mlsd/onnx) behind the shared
 * preprocessing and the TypeScript decoding, with no tfjs in the path. Open with
 * `OnnxDetector.load(...)`, release with `close()`.
 */
import { OnnxModel } from '@mlsd/onnx';
import type { Detection } from './baseline.js';
import { DEFAULT_PREPROCESS, type PreprocessSpec, preprocessImage } from './features.js';
import { DEFAULT_DECODE, type DecodeOptions, decodeDetections, HEAD_CHANNELS, STRIDE } from './model.js';
import type { RgbImage } from './raster.js';

export class OnnxDetector {
  private constructor(
    private readonly model: OnnxModel,
    readonly spec: PreprocessSpec,
    readonly decode: DecodeOptions,
  ) {}

  /** Loads an exported detector (file path or bytes). */
  static async load(
    source: string | Uint8Array,
    options: { spec?: PreprocessSpec; decode?: Partial<DecodeOptions> } = {},
  ): Promise<OnnxDetector> {
    const model = await OnnxModel.load(source);
    return new OnnxDetector(model, options.spec ?? DEFAULT_PREPROCESS, {
      ...DEFAULT_DECODE,
      ...options.decode,
    });
  }

  /** Scored boxes in the image's own pixels, after class-wise NMS. */
  async detect(image: RgbImage): Promise<Detection[]> {
    const pre = await preprocessImage(image, this.spec);
    const n = this.spec.inputSize;
    const result = await this.model.run({ image: { data: pre.input, dims: [1, n, n, 3] } });
    const out = Object.values(result)[0].data as Float32Array;
    const grid = n / STRIDE;
    if (out.length !== grid * grid * HEAD_CHANNELS) {
      throw new RangeError(
        `model output: expected ${grid}x${grid}x${HEAD_CHANNELS} values, got ${out.length}`,
      );
    }
    return decodeDetections(out, grid, pre.geometry, this.decode);
  }

  async close(): Promise<void> {
    await this.model.close();
  }
}
