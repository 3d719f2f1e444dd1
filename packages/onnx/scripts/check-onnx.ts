/**
 * `npm run check:onnx`: exports the sample models to a temporary folder and runs the reference
 * onnx.checker (scripts/check-onnx.py with Debian's /usr/bin/python3) on each.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import * as tf from '@tensorflow/tfjs';
import { exportToOnnx } from '../src/index.ts';
import { buildDcnStyleModel, buildMixedModel, buildSmallCnn } from './sample-models.ts';

await tf.setBackend('cpu');
const dir = mkdtempSync(join(tmpdir(), 'mlsd-check-onnx-'));
const models = { dcn_style: buildDcnStyleModel(), small_cnn: buildSmallCnn(), mixed: buildMixedModel() };
for (const [name, model] of Object.entries(models)) {
  const bytes = exportToOnnx(model, { version: '1', featureSpecHash: 'sample', metrics: { auc: 0.5 } });
  writeFileSync(join(dir, `${name}.onnx`), bytes);
}
const script = join(dirname(fileURLToPath(import.meta.url)), 'check-onnx.py');
const python = process.argv[2] ?? '/usr/bin/python3';
const result = spawnSync(python, [script, dir], { stdio: 'inherit' });
rmSync(dir, { recursive: true, force: true });
if (result.error) {
  console.error(`check:onnx: cannot run ${python} (${result.error.message}); install python3-onnx`);
  process.exit(2);
}
process.exit(result.status ?? 1);
