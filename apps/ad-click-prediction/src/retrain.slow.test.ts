import { cpSync, mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry } from '@mlsd/onnx';
import { beforeAll, describe, expect, it } from 'vitest';
import { continualSplit, type PreparedData, prepareData, retrain, trainAll } from './pipeline.js';
import { simulateTraffic } from './simulate.js';

let data: PreparedData;
let registryDir: string;
/** A copy of the registry taken before the continual-learning tests may promote a fine-tuned model. */
let simulateRegistryDir: string;

beforeAll(async () => {
  data = await prepareData(undefined, 'small', 3);
  registryDir = mkdtempSync(join(tmpdir(), 'adc-retrain-'));
  await trainAll(data, { size: 'small', seed: 3, epochs: 2, registryDir, implementations: ['dcn-v2'] });
  simulateRegistryDir = mkdtempSync(join(tmpdir(), 'adc-simulate-'));
  cpSync(registryDir, simulateRegistryDir, { recursive: true });
}, 120_000);

function production(): string | undefined {
  const registry = ModelRegistry.open(registryDir);
  try {
    return registry.get('ad-click-prediction.dcn-v2', 'production')?.version;
  } finally {
    registry.close();
  }
}

describe('continual learning', () => {
  it('does not promote a fine-tuned model that is worse on the newest window', async () => {
    const round = continualSplit(data, 10, 12);
    expect(round.train.length).toBeGreaterThan(1000);
    // A learning rate this large wrecks the weights: the gate must keep the production model.
    const result = await retrain(round, { registryDir, seed: 3, epochs: 1, learningRate: 0.5 });
    expect(result.candidateNce).toBeGreaterThan(result.productionNce);
    expect(result.promoted).toBe(false);
    expect(result.reason).toMatch(/^not promoted: window_nce .* vs production 1 /);
    expect(production()).toBe('1');
  }, 120_000);

  it('decides on both models measured on the same window, and records the decision', async () => {
    const round = continualSplit(data, 10, 12);
    const result = await retrain(round, { registryDir, seed: 3, epochs: 2, minImprovement: 0 });
    expect(result.promoted).toBe(result.candidateNce < result.productionNce);
    expect(production()).toBe(result.promoted ? result.version : '1');
    const registry = ModelRegistry.open(registryDir);
    try {
      const last = registry.history('ad-click-prediction.dcn-v2').at(-1)!;
      expect(last.productionValue).toBeCloseTo(result.productionNce, 12);
      expect(last.candidateValue).toBeCloseTo(result.candidateNce, 12);
      // The fine-tuned candidate carries tfjs weights, so it can be fine-tuned again.
      expect(registry.get('ad-click-prediction.dcn-v2', result.version)?.stage).toBe(
        result.promoted ? 'production' : 'candidate',
      );
    } finally {
      registry.close();
    }
  }, 120_000);

  it('refuses a window that does not come after the new rows', () => {
    expect(() => continualSplit(data, 12, 12)).toThrow(/fromDay \(12\) must be before windowDay \(12\)/);
  });
});

describe('mlsd simulate', () => {
  it('shows data drift on country and decay when traffic shifts, and no country drift when it does not', async () => {
    const steady = await simulateTraffic({
      registryDir: simulateRegistryDir,
      requests: 400,
      drift: false,
      seed: 1,
    });
    expect(steady.rejectedEvents).toBe(0);
    expect(steady.monitoring.driftedColumns).not.toContain('country');
    const shifted = await simulateTraffic({
      registryDir: simulateRegistryDir,
      requests: 2000,
      drift: true,
      seed: 1,
    });
    expect(shifted.monitoring.driftedColumns).toContain('country');
    expect(shifted.monitoring.status).toBe('alert');
    expect(shifted.monitoring.decay).toMatchObject({ status: 'alert', alert: true });
  }, 120_000);
});
