/**
 * The reference check: every layer case and the sample models, exported and passed through
 * onnx.checker.check_model(full_check=True) of Debian's python3-onnx 1.12 (IR 8 / opset 17 is
 * its ceiling). Skipped where /usr/bin/python3 has no onnx module.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildDcnStyleModel, buildMixedModel, buildSmallCnn } from '../../scripts/sample-models.js';
import { exportToOnnx } from './export.js';
import { layerCases } from './layer-cases.test-helpers.js';
import { useCpuBackend } from './parity.test-helpers.js';

const PYTHON = '/usr/bin/python3';
const hasOnnx = spawnSync(PYTHON, ['-c', 'import onnx'], { encoding: 'utf8' }).status === 0;
const script = fileURLToPath(new URL('../../scripts/check-onnx.py', import.meta.url));

beforeAll(async () => {
  await useCpuBackend();
});

describe.skipIf(!hasOnnx)('onnx.checker (python3-onnx)', () => {
  it('accepts every exported layer case and sample model with full_check', () => {
    const dir = mkdtempSync(join(tmpdir(), 'mlsd-onnx-checker-'));
    layerCases.forEach((c, i) => {
      writeFileSync(join(dir, `case-${String(i).padStart(3, '0')}.onnx`), exportToOnnx(c.build().model));
    });
    const samples = { dcn: buildDcnStyleModel(), cnn: buildSmallCnn({ size: 16 }), mixed: buildMixedModel() };
    for (const [name, model] of Object.entries(samples)) {
      writeFileSync(join(dir, `${name}.onnx`), exportToOnnx(model, { version: '1', metrics: { auc: 0.5 } }));
    }
    const result = spawnSync(PYTHON, [script, dir], { encoding: 'utf8', timeout: 120_000 });
    const lines = result.stdout.trim().split('\n');
    expect(lines.filter((l) => l.startsWith('FAIL'))).toEqual([]);
    expect(lines.filter((l) => l.startsWith('ok'))).toHaveLength(layerCases.length + 3);
    expect(result.status).toBe(0);
  });
});
