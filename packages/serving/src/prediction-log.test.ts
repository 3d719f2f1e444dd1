/**
 * The prediction log: batched appends (size, interval, close), bad rows reported while good rows
 * are kept, lookup by id and the join of delayed labels.
 */
import { copyFileSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { afterEach, describe, expect, it, vi } from 'vitest';
import { type CheckpointInfo, createPredictionLog } from './prediction-log.js';

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

/** Rows of `table` in the database file alone, without its WAL: what checkpoints have copied there. */
function countInFileAlone(file: string, table: string): number {
  const copy = join(mkdtempSync(join(tmpdir(), 'serving-log-copy-')), 'copy.sqlite');
  dirs.push(join(copy, '..'));
  copyFileSync(file, copy);
  const db = new Database(copy);
  try {
    const exists = db.prepare('SELECT 1 FROM sqlite_master WHERE name = ?').get(table);
    return exists ? (db.prepare(`SELECT COUNT(*) AS n FROM ${table}`).get() as { n: number }).n : 0;
  } finally {
    db.close();
  }
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

  it("'worker' checkpoints copy the WAL into the database file from a worker thread", async () => {
    const rows = 300;
    const log = (walCheckpoint: 'auto' | 'worker', file: string, infos: CheckpointInfo[] = []) => {
      const l = createPredictionLog({
        db: file,
        batchSize: 50,
        flushIntervalMs: 60_000,
        walCheckpoint,
        checkpointIntervalMs: 0,
        onCheckpoint: (info) => infos.push(info),
      });
      for (let i = 0; i < rows; i++) l.logPrediction({ model: 'ctr', version: '1', score: i });
      return l;
    };
    // SQLite's own checkpoint waits for 1,000 WAL pages: these rows stay in the WAL.
    const autoFile = tempFile();
    const auto = log('auto', autoFile);
    expect(auto.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(1000);
    expect(countInFileAlone(autoFile, 'predictions')).toBe(0);
    auto.close();

    const file = tempFile();
    const infos: CheckpointInfo[] = [];
    const background = log('worker', file, infos);
    // The writing connection never checkpoints; the worker does, and reports it.
    expect(background.sqlite.pragma('wal_autocheckpoint', { simple: true })).toBe(0);
    // The worker's report can arrive after its checkpoint is visible in the file: wait for both.
    await vi.waitFor(
      () => {
        expect(countInFileAlone(file, 'predictions')).toBe(rows);
        expect(infos.length).toBeGreaterThan(0);
      },
      { timeout: 5000 },
    );
    expect(infos.every((i) => i.error === undefined && i.checkpointedFrames <= i.walFrames)).toBe(true);
    expect(Math.max(...infos.map((i) => i.checkpointedFrames))).toBeGreaterThan(0);
    // More rows after a checkpoint: the next flush asks for another.
    const before = infos.length;
    for (let i = 0; i < 50; i++) background.logPrediction({ model: 'ctr', version: '1', score: i });
    await vi.waitFor(
      () => {
        expect(countInFileAlone(file, 'predictions')).toBe(rows + 50);
        expect(infos.length).toBeGreaterThan(before);
      },
      { timeout: 5000 },
    );
    background.close();
    expect(count(file, 'predictions')).toBe(rows + 50);
  });

  it("refuses 'worker' checkpoints on a database it did not open or one in memory", () => {
    expect(() => createPredictionLog({ db: ':memory:', walCheckpoint: 'worker' })).toThrow(
      /options\.walCheckpoint: expected 'auto', or 'worker' with db a file path, got worker with db :memory:/,
    );
    const handle = new Database(tempFile());
    expect(() => createPredictionLog({ db: handle, walCheckpoint: 'worker' })).toThrow(/a database handle/);
    handle.close();
  });
});
