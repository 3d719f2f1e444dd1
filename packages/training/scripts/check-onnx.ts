/**
 * `npm run check:onnx -w @mlsd/training`: exports a model using every custom layer (through the
 * converters registered beside them) and runs the reference checker, Debian's python3-onnx
 * (`onnx.checker.check_model(full_check=True)`, which includes shape inference), on it.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { exportToOnnx } from '@mlsd/onnx';
import * as tf from '@tensorflow/tfjs';
import { initBackend } from '../src/backend.js';
import { crossLayer, embeddingBag, factorizationMachine, l2Normalize } from '../src/layers.js';

await initBackend({ prefer: 'cpu' });
const ids = tf.input({ shape: [4], dtype: 'int32', name: 'ids' });
const dense = tf.input({ shape: [3], name: 'dense' });
const fields = tf.input({ shape: [5, 2], name: 'fields' });
const bag = embeddingBag({ inputDim: 20, outputDim: 5 }).apply(ids) as tf.SymbolicTensor;
const x = tf.layers.concatenate().apply([bag, dense]) as tf.SymbolicTensor;
const crossed = crossLayer({ numLayers: 2 }).apply(x) as tf.SymbolicTensor;
const normed = l2Normalize().apply(crossed) as tf.SymbolicTensor;
const fm = factorizationMachine().apply(fields) as tf.SymbolicTensor;
const joined = tf.layers.concatenate().apply([normed, fm]) as tf.SymbolicTensor;
const out = tf.layers
  .dense({ units: 1, activation: 'sigmoid', name: 'p' })
  .apply(joined) as tf.SymbolicTensor;
const model = tf.model({ inputs: [ids, dense, fields], outputs: out, name: 'custom_layers' });

const dir = mkdtempSync(join(tmpdir(), 'mlsd-training-onnx-'));
const file = join(dir, 'custom_layers.onnx');
writeFileSync(file, exportToOnnx(model as never, { name: 'custom_layers', version: '1' }));
const python = process.argv[2] ?? '/usr/bin/python3';
const code = [
  'import sys, onnx',
  'm = onnx.load(sys.argv[1])',
  'onnx.checker.check_model(m, full_check=True)',
  'print("ok", sys.argv[1], "ir", m.ir_version, "opset", [o.version for o in m.opset_import], "onnx", onnx.__version__)',
].join('\n');
const result = spawnSync(python, ['-c', code, file], { stdio: 'inherit' });
rmSync(dir, { recursive: true, force: true });
if (result.error) {
  console.error(`check:onnx: cannot run ${python} (${result.error.message}); install python3-onnx`);
  process.exit(2);
}
process.exit(result.status ?? 1);
