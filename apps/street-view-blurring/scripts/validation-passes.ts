/**
 * For the decoding comparisons on the VALIDATION split (compare-zoom.ts, compare-size.ts): runs an
 * ONNX detector once per validation scene over the input, its mirror and the nine 2x tiles, and
 * keeps the raw passes, so each candidate decoding is only a decode of the same outputs.
 */
import { join } from 'node:path';
import { OnnxModel } from '@mlsd/onnx';
import { generateSplit, type Scene } from '../src/data.js';
import { levelsOf } from '../src/detector.js';
import { DEFAULT_PREPROCESS, preprocessImage } from '../src/features.js';
import { type DecodeOptions, type DecodePass, plannedRuns, zoomedSpec } from '../src/model.js';

export const COMMITTED_DETECTOR = join(
  import.meta.dirname,
  '../../../fixtures/street-view-blurring/models/detector.onnx',
);

/** Per scene: the passes of the 1x input and its mirror, and of the zoomed tiles. */
export type ScenePasses = { base: DecodePass[]; zoom: DecodePass[] };

export async function validationPasses(
  file: string,
  scenesCount: number,
  zoomCutMargin: DecodeOptions['zoomCutMargin'] = null,
): Promise<{ scenes: Scene[]; passes: ScenePasses[] }> {
  const model = await OnnxModel.load(file);
  const scenes = generateSplit(42, 'validation', scenesCount);
  const n = DEFAULT_PREPROCESS.inputSize;
  const per = n * n * 3;
  const run = async (inputs: Float32Array[]) => {
    const batch = new Float32Array(inputs.length * per);
    for (let i = 0; i < inputs.length; i++) batch.set(inputs[i], i * per);
    const result = await model.run({ image: { data: batch, dims: [inputs.length, n, n, 3] } });
    const all = Object.values(result)[0].data as Float32Array;
    const each = all.length / inputs.length;
    return inputs.map((_, i) => all.slice(i * each, (i + 1) * each));
  };
  const passes: ScenePasses[] = [];
  const t0 = performance.now();
  try {
    for (const s of scenes) {
      const pre = await preprocessImage(s.image);
      const zoomed = await preprocessImage(s.image, zoomedSpec(DEFAULT_PREPROCESS, 2));
      const plan = plannedRuns(
        pre,
        n,
        { flip: true, zoom: 2, zoomMaxSide: Number.POSITIVE_INFINITY, zoomCutMargin },
        zoomed,
      );
      const outputs = await run(plan.inputs);
      const all = plan.passes(outputs, levelsOf(outputs[0].length, n));
      passes.push({ base: all.slice(0, 2), zoom: all.slice(2) });
    }
  } finally {
    await model.close();
  }
  console.error(`ran ${scenes.length} scenes in ${((performance.now() - t0) / 1000).toFixed(1)} s`);
  return { scenes, passes };
}
