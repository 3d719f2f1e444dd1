/**
 * The prediction log: batched appends (size, interval, close), bad rows reported while good rows
 * are kept, lookup by id and the join of delayed labels.
 */
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it } from 'vitest';
import { createPredictionLog } from './prediction-log.js';

const dirs: string[] = [];
function tempFile() {
  const dir = mkdtempSync(join(tmpdir(), 'serving-log-'));
  dirs.push(dir);
  return join(dir, 'log.sqlite');
}
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function count(file: string, table: string): number {
  const db = new Database(file, { readonly: true });
  const n = (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n;
  db.close();
  return n;
}

describe('createPredictionLog', () => {
  it('buffers rows and appends them when the batch is full', () => {
    const file = tempFile();
    const log = createPredictionLog({ db: file, batchSize: 3, flushIntervalMs: 60_000 });
    log.logPrediction({ model: 'ctr', version: '1', score: 0.1 });
    log.logPrediction({ model: 'ctr', version: '1', score: 0.2 });
    expect(count(file, 'predictions')).toBe(0);
    expect(log.buffered).toBe(2);
    log.logPrediction({ model: 'ctr', version: '1', score: 0.3 });
    expect(count(file, 'predictions')).toBe(3);
    expect(log.buffered).toBe(0);
    log.close();
  });

  it('flushes on its interval and on close', async () => {
    const file = tempFile();
    const log = createPredictionLog({ db: file, batchSize: 1000, flushIntervalMs: 20 });
    log.logPrediction({ model: 'ctr', version: '1' });
    await new Promise((r) => setTimeout(r, 80));
    expect(count(file, 'predictions')).toBe(1);
    log.logPrediction({ model: 'ctr', version: '1' });
    log.close();
    expect(count(file, 'predictions')).toBe(2);
    expect(() => log.logPrediction({ model: 'ctr', version: '1' })).toThrow(/closed/);
  });

  it('stores model, version, arm and output, queryable by id, and joins delayed labels', () => {
    const log = createPredictionLog({ db: ':memory:', batchSize: 100 });
    const a = log.logPrediction({
      model: 'ctr',
      version: '2',
      arm: 'treatment',
      experiment: 'ranker-v2',
      unitId: 'user-1',
      score: 0.75,
      output: { top: [3, 1] },
      ts: 1000,
    });
    const b = log.logPrediction({ model: 'ctr', version: '2', score: 0.25, ts: 2000 });
    log.logPrediction({ model: 'ctr', version: '3', shadow: true, arm: 'shadow', score: 0.5, ts: 2500 });
    log.logFeedback({ predictionId: a, kind: 'click', value: 0, ts: 3000 });
    log.logFeedback({ predictionId: a, kind: 'click', value: 1, ts: 4000 }); // the later label wins
    log.flush();
    const stored = log.getPrediction(a);
    expect(stored).toMatchObject({
      model: 'ctr',
      version: '2',
      arm: 'treatment',
      experiment: 'ranker-v2',
      unitId: 'user-1',
      shadow: false,
      score: 0.75,
    });
    expect(JSON.parse(stored!.output!)).toEqual({ top: [3, 1] });
    expect(log.feedbackFor(a).map((f) => f.value)).toEqual([0, 1]);
    const labelled = log.labelled({ kind: 'click' });
    expect(labelled.map((r) => [r.id, r.label])).toEqual([
      [a, 1],
      [b, null],
    ]);
    log.close();
  });

  it('rejects malformed records with a message naming the field, keeping what was buffered', () => {
    const log = createPredictionLog({ db: ':memory:' });
    log.logPrediction({ model: 'ctr', version: '1' });
    expect(() => log.logPrediction({ model: '', version: '1' })).toThrow(
      /record\.model: expected a non-empty string/,
    );
    expect(() => log.logPrediction({ model: 'm', version: '1', score: Number.NaN })).toThrow(/record\.score/);
    expect(() =>
      log.logFeedback({ predictionId: 'p', kind: 'click', value: Number.POSITIVE_INFINITY }),
    ).toThrow(/record\.value: expected a finite number/);
    expect(log.flush()).toBe(1);
    log.close();
  });

  it('a row failing at write time is reported with its reason and the rest of the batch is kept', () => {
    const rejected: Array<[unknown, string]> = [];
    const log = createPredictionLog({
      db: ':memory:',
      onRejected: (row, reason) => rejected.push([row, reason]),
    });
    log.logPrediction({ id: 'dup', model: 'ctr', version: '1' });
    log.logPrediction({ id: 'dup', model: 'ctr', version: '1' });
    log.logPrediction({ id: 'other', model: 'ctr', version: '1' });
    expect(log.flush()).toBe(2);
    expect(rejected).toHaveLength(1);
    expect(rejected[0][1]).toMatch(/UNIQUE constraint failed: predictions\.id/);
    expect(log.getPrediction('other')).toBeDefined();
    log.close();
  });
});
