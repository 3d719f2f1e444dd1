/**
 * Calibration of registered models on the validation and the test days: for each implementation
 * the calibration ratio (mean prediction over observed rate) and NCE on both splits, and what a
 * Platt scaling fitted on the validation days would do on the test days. Scores the exported ONNX
 * models, as `mlsd eval` does. How the README's calibration figures were measured:
 *
 *   npx tsx --conditions @mlsd/source scripts/calibration-check.ts ../../fixtures/ad-click-prediction/models
 *
 * Run it under the CPU lock (it generates the default world first).
 */
import { calibrationRatio, normalizedCrossEntropy, rocAucScore } from '@mlsd/metrics';
import { ModelRegistry } from '@mlsd/onnx';
import { predictOnnx } from '../src/evaluate.js';
import { encodeTable } from '../src/features.js';
import { fitPlatt } from '../src/model.js';
import { APP_ID, IMPLEMENTATIONS, labelsOf, loadSpec, positiveRate, prepareData } from '../src/pipeline.js';

const registryDir = process.argv[2];
if (!registryDir) throw new Error('usage: calibration-check.ts <registry folder>');
const data = await prepareData(undefined, 'default', 42);
const y = labelsOf(data.table, data.train);
const yv = labelsOf(data.table, data.validation);
const yt = labelsOf(data.table, data.test);
const rate = positiveRate(y);
console.log(
  `click rate: train ${rate.toFixed(4)}, validation ${positiveRate(yv).toFixed(4)}, test ${positiveRate(yt).toFixed(4)}`,
);
const registry = ModelRegistry.open(registryDir);
const f = (v: number) => v.toFixed(4);
try {
  for (const impl of IMPLEMENTATIONS) {
    const name = `${APP_ID}.${impl.id}`;
    if (!registry.get(name, 'production')) continue;
    const spec = loadSpec(registry, name);
    const model = await registry.load(name, 'production');
    try {
      const score = async (indices: Int32Array) => {
        const x = encodeTable(spec, data.table, indices);
        return predictOnnx(model, x.ids, x.dense, x.rows);
      };
      const pv = await score(data.validation);
      const pt = await score(data.test);
      const line = [
        `${impl.id}:`,
        `VAL cal ${f(calibrationRatio(yv, pv))} nce ${f(normalizedCrossEntropy(yv, pv, { baseRate: rate }))}`,
        `| TEST cal ${f(calibrationRatio(yt, pt))} nce ${f(normalizedCrossEntropy(yt, pt, { baseRate: rate }))} auc ${f(rocAucScore(yt, pt))}`,
      ];
      if (impl.kind !== 'base-rate') {
        const { a, b } = fitPlatt(yv, pv);
        const scaled = Float32Array.from(pt, (q) => {
          const c = Math.min(1 - 1e-7, Math.max(1e-7, q));
          return 1 / (1 + Math.exp(-(a * Math.log(c / (1 - c)) + b)));
        });
        line.push(
          `| Platt on VAL (a ${a.toFixed(3)}, b ${b.toFixed(3)}): TEST cal ${f(calibrationRatio(yt, scaled))} nce ${f(normalizedCrossEntropy(yt, scaled, { baseRate: rate }))}`,
        );
      }
      console.log(line.join(' '));
    } finally {
      await model.close();
    }
  }
} finally {
  registry.close();
}
