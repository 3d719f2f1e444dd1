/**
 * The serving side of the detector: ONNX Runtime (through @mlsd/onnx) behind the shared
 * preprocessing and the TypeScript decoding, with no tfjs in the path. Open with
 * `OnnxDetector.load(...)`, release with `close()`.
 */
import { OnnxModel } from '@mlsd/onnx';
import type { Detection } from './baseline.js';
import { CLASSES, type ObjectClass } from './data.js';
import { DEFAULT_PREPROCESS, type PreprocessSpec, preprocessImage } from './features.js';
import {
  cellCount,
  DEFAULT_DECODE,
  type DecodeOptions,
  decodePasses,
  HEAD_CHANNELS,
  type HeadLevel,
  headLevels,
  plannedRuns,
  SMALL_OBJECT_DETECTOR,
  zoomedSpec,
} from './model.js';
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

  /**
   * Scored boxes in the image's own pixels, after class-wise NMS over every run: the input, its
   * mirror (`flip`) and the tiles of the image letterboxed at `zoom` times the input side (`zoom`),
   * all in one batch.
   */
  async detect(image: RgbImage): Promise<Detection[]> {
    const pre = await preprocessImage(image, this.spec);
    const n = this.spec.inputSize;
    const zoomed =
      this.decode.zoom > 1
        ? await preprocessImage(image, zoomedSpec(this.spec, this.decode.zoom))
        : undefined;
    const per = n * n * 3;
    const plan = plannedRuns(pre, n, this.decode, zoomed);
    const batch = new Float32Array(plan.inputs.length * per);
    for (let i = 0; i < plan.inputs.length; i++) batch.set(plan.inputs[i], i * per);
    const result = await this.model.run({ image: { data: batch, dims: [plan.inputs.length, n, n, 3] } });
    const all = Object.values(result)[0].data as Float32Array;
    const each = all.length / plan.inputs.length;
    const outputs = plan.inputs.map((_, i) => all.subarray(i * each, (i + 1) * each));
    return decodePasses(plan.passes(outputs, levelsOf(each, n)), this.decode);
  }

  /**
   * The blur thresholds chosen on validation when the model was trained (recall-first), from the
   * model's metadata; the decoding floor for a model without them.
   */
  get thresholds(): Record<ObjectClass, number> {
    const out = { face: this.decode.minScore, plate: this.decode.minScore };
    const raw = this.model.metadata.thresholds;
    if (!raw) return out;
    const chosen = JSON.parse(raw) as Partial<Record<ObjectClass, { threshold?: number }>>;
    for (const c of CLASSES) {
      const t = chosen[c]?.threshold;
      if (typeof t === 'number' && Number.isFinite(t)) out[c] = Math.max(this.decode.minScore, t);
    }
    return out;
  }

  /** The model's metadata (name, version, metrics, thresholds...). */
  get metadata(): Readonly<Record<string, string>> {
    return this.model.metadata;
  }

  async close(): Promise<void> {
    await this.model.close();
  }
}

/**
 * The head levels of an exported detector, from its output size: one stride-8 level, or the
 * stride-4 level for small objects followed by the stride-8 level.
 */
export function levelsOf(outputLength: number, inputSize: number): HeadLevel[] {
  const candidates = [headLevels(inputSize), headLevels(inputSize, SMALL_OBJECT_DETECTOR)];
  const match = candidates.find((l) => cellCount(l) * HEAD_CHANNELS === outputLength);
  if (!match) {
    const expected = candidates.map((l) => cellCount(l) * HEAD_CHANNELS).join(' or ');
    throw new RangeError(`model output: expected ${expected} values, got ${outputLength}`);
  }
  return match;
}
