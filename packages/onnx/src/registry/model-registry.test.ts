/**
 * ModelRegistry: round trip through disk and SQLite, the promotion gate (a worse or not-enough-
 * better model stays a candidate with the reason recorded), stage lookups, and integrity checks.
 */
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { exportToOnnx } from '../export/export.js';
import { useCpuBackend } from '../export/parity.test-helpers.js';
import { ModelIntegrityError, ModelRegistry, type RegisterModelInput } from './model-registry.js';

let onnx: Uint8Array;
let registry: ModelRegistry | undefined;
let clock = 1_700_000_000_000;

beforeAll(async () => {
  await useCpuBackend();
  const x = tf.input({ shape: [3], name: 'x' });
  const y = tf.layers.dense({ units: 1, activation: 'sigmoid', name: 'p' }).apply(x) as tf.SymbolicTensor;
  onnx = exportToOnnx(tf.model({ inputs: x, outputs: y }), { name: 'ctr' });
});

afterEach(() => {
  registry?.close();
  registry = undefined;
});

function open(): ModelRegistry {
  registry = ModelRegistry.open(mkdtempSync(join(tmpdir(), 'mlsd-registry-')), { now: () => clock++ });
  return registry;
}

function input(metrics: Record<string, number>, extra: Partial<RegisterModelInput> = {}): RegisterModelInput {
  return {
    name: 'ctr',
    model: onnx,
    featureSpec: { fields: ['a', 'b', 'c'] },
    card: {
      data: { rows: 1000 },
      metrics,
      trainingTimeMs: 1234,
      seed: 7,
      sizes: { train: 800, validation: 200 },
    },
    ...extra,
  };
}

describe('ModelRegistry round trip', () => {
  it('stores the files, indexes the version and loads it back', async () => {
    const reg = open();
    const entry = reg.register(input({ auc: 0.7 }, { referenceProfile: { a: [0, 1] } }));
    expect(entry).toMatchObject({ name: 'ctr', version: '1', stage: 'candidate', metrics: { auc: 0.7 } });
    expect(entry.modelPath).toBe(join(reg.root, 'ctr', '1', 'model.onnx'));
    for (const p of [
      entry.modelPath,
      entry.featureSpecPath,
      entry.cardPath,
      entry.referenceProfilePath as string,
    ]) {
      expect(existsSync(p)).toBe(true);
    }
    // sha256 of the bytes, independently computed by node:crypto's reference in the test.
    const { createHash } = await import('node:crypto');
    expect(entry.sha256).toBe(createHash('sha256').update(onnx).digest('hex'));
    expect(reg.readJson('ctr', '1', 'card')).toMatchObject({
      seed: 7,
      trainingTimeMs: 1234,
      sizes: { train: 800 },
    });
    expect(reg.readJson('ctr', '1', 'feature-spec')).toEqual({ fields: ['a', 'b', 'c'] });
    const model = await reg.load('ctr', '1');
    expect(model.outputs.map((o) => o.name)).toEqual(['p']);
    await model.close();
    // A second version gets the next number; the index survives reopening.
    reg.register(input({ auc: 0.71 }));
    reg.close();
    const again = ModelRegistry.open(reg.root);
    registry = again;
    expect(again.list({ name: 'ctr' }).map((e) => e.version)).toEqual(['2', '1']);
    expect(again.get('ctr', 'latest')?.version).toBe('2');
  });

  it('rejects duplicate versions and unsafe names', () => {
    const reg = open();
    reg.register(input({ auc: 0.7 }, { version: 'v1' }));
    expect(() => reg.register(input({ auc: 0.7 }, { version: 'v1' }))).toThrow(
      /ctr\/v1 is already registered/,
    );
    expect(() => reg.register(input({ auc: 0.7 }, { name: '../evil' }))).toThrow(TypeError);
    expect(() => reg.register(input({ auc: Number.NaN }))).toThrow(
      /card.metrics.auc: expected a finite number/,
    );
  });
});

describe('promotion gate', () => {
  it('promotes the first model, refuses a worse one, archives the replaced one', () => {
    const reg = open();
    reg.register(input({ auc: 0.7, logLoss: 0.5 }));
    const first = reg.promote('ctr', '1', { metric: 'auc', minImprovement: 0.01 });
    expect(first.promoted).toBe(true);
    expect(reg.get('ctr', 'production')?.version).toBe('1');

    reg.register(input({ auc: 0.69, logLoss: 0.45 }));
    const worse = reg.promote('ctr', '2', { metric: 'auc', minImprovement: 0.01 });
    expect(worse.promoted).toBe(false);
    expect(worse.reason).toMatch(/not promoted: auc 0\.69 vs production 1 0\.7/);
    expect(reg.get('ctr', '2')).toMatchObject({ stage: 'candidate', stageReason: worse.reason });
    expect(reg.get('ctr', 'production')?.version).toBe('1');

    reg.register(input({ auc: 0.705 }));
    const tooSmall = reg.promote('ctr', '3', { metric: 'auc', minImprovement: 0.01 });
    expect(tooSmall.promoted).toBe(false);
    expect(tooSmall.improvement).toBeCloseTo(0.005, 10);

    reg.register(input({ auc: 0.72 }));
    const better = reg.promote('ctr', '4', { metric: 'auc', minImprovement: 0.01 });
    expect(better.promoted).toBe(true);
    expect(better.previous?.version).toBe('1');
    expect(reg.get('ctr', 'production')?.version).toBe('4');
    expect(reg.get('ctr', '1')).toMatchObject({ stage: 'archived', stageReason: 'replaced by 4' });
    expect(reg.list({ name: 'ctr', stage: 'production' })).toHaveLength(1);
    expect(reg.history('ctr').map((h) => [h.version, h.promoted])).toEqual([
      ['1', true],
      ['2', false],
      ['3', false],
      ['4', true],
    ]);
  });

  it('compares against the production value measured on the same window when one is given', () => {
    const reg = open();
    reg.register(input({ nce: 0.9 }));
    reg.promote('ctr', '1', { metric: 'nce', higherIsBetter: false });
    // The candidate beats production's old card value (0.9) but not production on the new window (0.8).
    reg.register(input({ nce: 0.85 }));
    const gate = reg.promote('ctr', '2', { metric: 'nce', higherIsBetter: false, productionValue: 0.8 });
    expect(gate.promoted).toBe(false);
    expect(gate.reason).toMatch(/nce 0\.85 vs production 1 0\.8 /);
    expect(reg.history('ctr').at(-1)?.productionValue).toBe(0.8);
    expect(() => reg.promote('ctr', '2', { metric: 'nce', productionValue: Number.NaN })).toThrow(
      /productionValue/,
    );
  });

  it('lower-is-better metrics, equal values and missing metrics', () => {
    const reg = open();
    reg.register(input({ logLoss: 0.5 }));
    reg.promote('ctr', '1', { metric: 'logLoss', higherIsBetter: false });
    reg.register(input({ logLoss: 0.5 }));
    expect(reg.promote('ctr', '2', { metric: 'logLoss', higherIsBetter: false }).promoted).toBe(false);
    reg.register(input({ auc: 0.9 }));
    const missing = reg.promote('ctr', '3', { metric: 'logLoss', higherIsBetter: false });
    expect(missing.promoted).toBe(false);
    expect(missing.reason).toMatch(/has no metric "logLoss"/);
    reg.register(input({ logLoss: 0.4 }));
    expect(reg.promote('ctr', '4', { metric: 'logLoss', higherIsBetter: false }).promoted).toBe(true);
    expect(() => reg.promote('ctr', '99', { metric: 'auc' })).toThrow(/ctr\/99: no such version/);
  });
});

describe('integrity', () => {
  it('detects a corrupted model file at load', async () => {
    const reg = open();
    const entry = reg.register(input({ auc: 0.7 }));
    const bytes = readFileSync(entry.modelPath);
    bytes[Math.floor(bytes.length / 2)] ^= 0xff;
    writeFileSync(entry.modelPath, bytes);
    expect(() => reg.readModel('ctr', '1')).toThrow(ModelIntegrityError);
    await expect(reg.load('ctr', '1')).rejects.toThrow(/expected sha256/);
  });
});
