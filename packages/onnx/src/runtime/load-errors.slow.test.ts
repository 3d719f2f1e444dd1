/**
 * Loading damaged models in a separate process, so that a native abort would show up as a dead
 * child instead of killing the test runner: garbage, truncations at many offsets, a valid
 * protobuf with an unknown operator, an undefined value, a wrong IR version. Each must end in an
 * OnnxLoadError and the process must exit normally.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { fromBinary, toBinary } from '@bufbuild/protobuf';
import { ModelProtoSchema } from 'onnx-buf';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildMixedModel } from '../../scripts/sample-models.js';
import { exportToOnnx } from '../export/export.js';
import { useCpuBackend } from '../export/parity.test-helpers.js';

const dir = mkdtempSync(join(tmpdir(), 'mlsd-onnx-bad-'));
let good: Uint8Array;

beforeAll(async () => {
  await useCpuBackend();
  good = exportToOnnx(buildMixedModel());
});

function mutate(edit: (m: ReturnType<typeof fromBinary<typeof ModelProtoSchema>>) => void): Uint8Array {
  const m = fromBinary(ModelProtoSchema, good);
  edit(m);
  return toBinary(ModelProtoSchema, m);
}

function probe(paths: string[]): {
  status: number | null;
  signal: string | null;
  lines: Array<{ path: string; result: string }>;
} {
  const tsx = pathToFileURL(
    join(dirname(createRequire(import.meta.url).resolve('tsx/package.json')), 'dist/loader.mjs'),
  ).href;
  const script = join(dirname(fileURLToPath(import.meta.url)), 'load-probe.test-helpers.ts');
  const r = spawnSync(process.execPath, ['--import', tsx, script, ...paths], {
    encoding: 'utf8',
    timeout: 60_000,
  });
  const lines = r.stdout
    .split('\n')
    .filter((l) => l.startsWith('{'))
    .map((l) => JSON.parse(l));
  return { status: r.status, signal: r.signal, lines };
}

describe('damaged model files', () => {
  it('give OnnxLoadError and never crash the process', () => {
    const files: Record<string, Uint8Array> = {
      'garbage.onnx': Uint8Array.from({ length: 10_000 }, (_, i) => (i * 2654435761) >>> 24),
      'zeros.onnx': new Uint8Array(512),
      'text.onnx': new TextEncoder().encode('this is not a model\n'),
      'unknown-op.onnx': mutate((m) => {
        if (m.graph) m.graph.node[0].opType = 'NoSuchOperator';
      }),
      'undefined-input.onnx': mutate((m) => {
        if (m.graph) m.graph.node[1].input[0] = 'does_not_exist';
      }),
      'ir-99.onnx': mutate((m) => {
        m.irVersion = 99n;
      }),
      'no-outputs.onnx': mutate((m) => {
        if (m.graph) m.graph.output = [];
      }),
    };
    for (const fraction of [0.01, 0.1, 0.33, 0.5, 0.77, 0.99]) {
      files[`truncated-${fraction}.onnx`] = good.subarray(0, Math.floor(good.length * fraction));
    }
    for (const [name, data] of Object.entries(files)) writeFileSync(join(dir, name), data);
    writeFileSync(join(dir, 'good.onnx'), good);
    const paths = [...Object.keys(files), 'good.onnx'].map((n) => join(dir, n));
    const { status, signal, lines } = probe(paths);
    expect(signal).toBeNull();
    expect(status).toBe(0);
    expect(lines.map((l) => l.path)).toEqual(paths);
    for (const line of lines.slice(0, -1))
      expect({ path: line.path, result: line.result }).toEqual({ path: line.path, result: 'OnnxLoadError' });
    expect(lines.at(-1)?.result).toBe('ok');
  });
});
