/**
 * A user's Criteo-format file, end to end: read (malformed lines reported, good ones kept), split
 * by row order, train, evaluate. The file is drawn from a known logistic model so the test can
 * tell a model that learned from one that did not.
 */
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRng } from '@mlsd/core';
import { beforeAll, describe, expect, it } from 'vitest';
import { evaluateModels } from './evaluate.js';
import { prepareData, trainAll } from './pipeline.js';

const dir = mkdtempSync(join(tmpdir(), 'adc-criteo-'));
const file = join(dir, 'day_0.tsv');

/** 4,000 rows: the label depends on C1 (20 values) and on I1; 6 malformed lines in between. */
function writeCriteoFile(): void {
  const rng = createRng(5);
  const effect = Array.from({ length: 20 }, () => rng.normal(0, 1.2));
  const lines: string[] = [];
  for (let i = 0; i < 4000; i++) {
    const c1 = rng.int(20);
    const i1 = rng.bernoulli(0.1) ? '' : String(rng.poisson(3));
    const logit = -2.2 + effect[c1] + (i1 === '' ? 0 : 0.3 * Math.log1p(Number(i1)));
    const label = rng.float() < 1 / (1 + Math.exp(-logit)) ? '1' : '0';
    const ints = [
      i1,
      ...Array.from({ length: 12 }, () => (rng.bernoulli(0.2) ? '' : String(rng.poisson(10)))),
    ];
    const cats = [
      (0x1000 + c1).toString(16),
      ...Array.from({ length: 25 }, () => (rng.bernoulli(0.1) ? '' : (0x2000 + rng.int(50)).toString(16))),
    ];
    lines.push([label, ...ints, ...cats].join('\t'));
    if (i % 700 === 0) lines.push(`1\tnot-a-number${'\t'.repeat(38)}`);
  }
  writeFileSync(file, `${lines.join('\n')}\n`);
}

describe('a Criteo-format file, end to end', () => {
  beforeAll(() => writeCriteoFile());

  it('trains and evaluates on the file, reporting its malformed lines', async () => {
    const data = await prepareData({ path: file, format: 'criteo' }, 'small', 1);
    expect(data.table.rows).toBe(4000);
    expect(data.badRows).toHaveLength(6);
    expect(data.badRows[0]).toEqual({
      line: 2,
      reason: "I1: expected an integer or empty, got 'not-a-number'",
    });
    expect([data.train.length, data.validation.length, data.test.length]).toEqual([3200, 400, 400]);
    // Row order is time order: the test rows are the file's last ones.
    expect(Math.min(...data.test)).toBeGreaterThan(Math.max(...data.train));

    const registryDir = join(dir, 'models');
    await trainAll(data, {
      size: 'small',
      seed: 1,
      epochs: 4,
      registryDir,
      implementations: ['base-rate', 'logistic-regression'],
    });
    const report = await evaluateModels(data, { registryDir, resamples: 0, seed: 1 });
    const nce = Object.fromEntries(
      report.results.map((r) => [r.implementation, r.metrics.normalized_cross_entropy.value]),
    );
    const auc = Object.fromEntries(report.results.map((r) => [r.implementation, r.metrics.roc_auc.value]));
    expect(report.dataset.source).toBe('user');
    expect(report.results.map((r) => r.implementation)).toEqual(['base-rate', 'logistic-regression']);
    // C1 carries most of the signal: a model that learned it ranks well above chance.
    expect(auc['logistic-regression']).toBeGreaterThan(0.7);
    expect(nce['logistic-regression']).toBeLessThan(nce['base-rate'] - 0.05);
    expect(report.notes?.join(' ')).toMatch(/6 malformed lines skipped \(first: line 2/);
  }, 120_000);

  it('refuses to evaluate models trained on other data', async () => {
    const data = await prepareData({ path: file, format: 'criteo' }, 'small', 1);
    const worldData = await prepareData(undefined, 'small', 1);
    const registryDir = join(dir, 'world-models');
    await trainAll(worldData, {
      size: 'small',
      seed: 1,
      epochs: 1,
      registryDir,
      implementations: ['base-rate'],
    });
    await expect(evaluateModels(data, { registryDir, resamples: 0, seed: 1 })).rejects.toThrow(
      /trained on generated world .* but the evaluation data is criteo file/,
    );
  }, 120_000);

  it('fails clearly on a file with too few good rows', async () => {
    const tiny = join(dir, 'tiny.tsv');
    writeFileSync(tiny, `0${'\t'.repeat(39)}\n`);
    await expect(prepareData({ path: tiny, format: 'criteo' }, 'small', 1)).rejects.toThrow(
      /only 1 good rows/,
    );
  });
});
