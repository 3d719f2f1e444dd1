/**
 * The prediction log and feedback store on SQLite (drizzle + better-sqlite3). Rows are buffered and
 * appended in batches (on size, on an interval, and on close) so logging never sits on the request
 * path; predictions are queryable by id so delayed labels (clicks, ratings, reports) join them
 * later, which is what the decay monitor and the A/B result read.
 */
import { randomUUID } from 'node:crypto';
import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import Database from 'better-sqlite3';
import { and, asc, eq, gte, sql } from 'drizzle-orm';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { index, integer, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

// 1. Schema ----------------------------------------------------------------------------------------

export const predictions = sqliteTable(
  'predictions',
  {
    id: text('id').primaryKey(),
    ts: integer('ts').notNull(),
    model: text('model').notNull(),
    version: text('version').notNull(),
    arm: text('arm').notNull(),
    experiment: text('experiment'),
    unitId: text('unit_id'),
    shadow: integer('shadow', { mode: 'boolean' }).notNull(),
    score: real('score'),
    output: text('output'),
    features: text('features'),
    latencyMs: real('latency_ms'),
  },
  (t) => [index('predictions_experiment').on(t.experiment, t.arm), index('predictions_ts').on(t.ts)],
);

export const feedback = sqliteTable(
  'feedback',
  {
    id: integer('id').primaryKey({ autoIncrement: true }),
    predictionId: text('prediction_id').notNull(),
    ts: integer('ts').notNull(),
    kind: text('kind').notNull(),
    value: real('value').notNull(),
    payload: text('payload'),
  },
  (t) => [index('feedback_prediction').on(t.predictionId, t.kind)],
);

const DDL = `
CREATE TABLE IF NOT EXISTS predictions (
  id TEXT PRIMARY KEY, ts INTEGER NOT NULL, model TEXT NOT NULL, version TEXT NOT NULL, arm TEXT NOT NULL,
  experiment TEXT, unit_id TEXT, shadow INTEGER NOT NULL, score REAL, output TEXT, features TEXT, latency_ms REAL);
CREATE INDEX IF NOT EXISTS predictions_experiment ON predictions (experiment, arm);
CREATE INDEX IF NOT EXISTS predictions_ts ON predictions (ts);
CREATE TABLE IF NOT EXISTS feedback (
  id INTEGER PRIMARY KEY AUTOINCREMENT, prediction_id TEXT NOT NULL, ts INTEGER NOT NULL, kind TEXT NOT NULL,
  value REAL NOT NULL, payload TEXT);
CREATE INDEX IF NOT EXISTS feedback_prediction ON feedback (prediction_id, kind);
`;

// 2. Records ---------------------------------------------------------------------------------------

/** One prediction to log. */
export interface PredictionRecord {
  /** Default: a fresh UUID (returned by `logPrediction`). */
  id?: string;
  model: string;
  version: string;
  /** Experiment arm ('control', 'treatment', 'canary', 'shadow', ...). Default 'default'. */
  arm?: string;
  experiment?: string;
  unitId?: string;
  /** True for shadow (mirrored) predictions that were not answered. */
  shadow?: boolean;
  /** The main score, for drift and decay. */
  score?: number;
  /** Anything else the model returned (JSON). */
  output?: unknown;
  features?: unknown;
  latencyMs?: number;
  /** Epoch ms. Default now. */
  ts?: number;
}

/** A feedback event about an earlier prediction. */
export interface FeedbackRecord {
  predictionId: string;
  /** 'click', 'label', 'report', 'rating', ... */
  kind: string;
  /** 1/0 for clicks and binary labels; any number for ratings or amounts. */
  value: number;
  payload?: unknown;
  ts?: number;
}

export type StoredPrediction = typeof predictions.$inferSelect;
export type StoredFeedback = typeof feedback.$inferSelect;

/** A prediction with the latest feedback value of one kind (undefined while no label arrived). */
export interface LabelledPrediction extends StoredPrediction {
  label: number | null;
}

/** Options of {@link createPredictionLog}. */
export interface PredictionLogOptions {
  /** A better-sqlite3 database or a file path (':memory:' for tests). */
  db: Database.Database | string;
  /** Flush when this many rows are buffered. Default 200. */
  batchSize?: number;
  /** Flush at least this often, ms. Default 1000. */
  flushIntervalMs?: number;
  /** Called with each row that could not be written and the reason; the rest of the batch is kept. */
  onRejected?: (row: unknown, reason: string) => void;
  /**
   * Who copies the WAL back into the database file (a log that opens its own file only).
   * 'auto' (default): SQLite's automatic checkpoint, run by the commit that takes the WAL past
   * 1,000 pages, on the thread that flushes, i.e. the event loop; with its fsyncs it held the loop
   * for about 20 ms every ~750 search-log rows on the project's 2-core VM. 'worker': the log's
   * connection never checkpoints (`wal_autocheckpoint = 0`); a worker thread with a connection of
   * its own runs PASSIVE checkpoints (they never block the writer) after flushes, one at a time and
   * at most one per `checkpointIntervalMs`, so the copy and its fsyncs leave the event loop.
   */
  walCheckpoint?: 'auto' | 'worker';
  /** 'worker' checkpoints: the shortest time between two, ms. Default 1000. */
  checkpointIntervalMs?: number;
  /** 'worker' checkpoints: called after each with its length and SQLite's frame counts. */
  onCheckpoint?: (info: CheckpointInfo) => void;
}

/** One background checkpoint: WAL frames at its start and frames copied into the database. */
export interface CheckpointInfo {
  ms: number;
  walFrames: number;
  checkpointedFrames: number;
  /** Why it failed, when it did (the log keeps working; the next flush asks for another). */
  error?: string;
}

/** The prediction log. */
export interface PredictionLog {
  readonly db: BetterSQLite3Database;
  /** The underlying better-sqlite3 handle (for ad-hoc SQL and sharing with other stores). */
  readonly sqlite: Database.Database;
  /** Buffers a prediction and returns its id. Throws TypeError on a malformed record. */
  logPrediction(record: PredictionRecord): string;
  /** Buffers a feedback event. Throws TypeError on a malformed record. */
  logFeedback(record: FeedbackRecord): void;
  /** Writes buffered rows now; returns how many were written. */
  flush(): number;
  readonly buffered: number;
  getPrediction(id: string): StoredPrediction | undefined;
  feedbackFor(predictionId: string): StoredFeedback[];
  /** Non-shadow predictions since `sinceTs` joined with their latest `kind` feedback. */
  labelled(options: {
    kind: string;
    model?: string;
    experiment?: string;
    sinceTs?: number;
  }): LabelledPrediction[];
  /** Per arm of an experiment: the latest `kind` feedback value of each prediction (0 when none). */
  armOutcomes(experiment: string, kind: string): Map<string, { predictions: number; values: number[] }>;
  /** Flushes, stops the timer and closes the database when this log opened it. */
  close(): void;
}

function checkString(name: string, value: unknown, optional = false): void {
  if (optional && value === undefined) return;
  if (typeof value !== 'string' || value.length === 0 || value.length > 512) {
    throw new TypeError(
      `${name}: expected a non-empty string (at most 512 chars), got ${JSON.stringify(value)}`,
    );
  }
}

function checkNumber(name: string, value: unknown, optional = false): void {
  if (optional && value === undefined) return;
  if (typeof value !== 'number' || !Number.isFinite(value)) {
    throw new TypeError(`${name}: expected a finite number, got ${String(value)}`);
  }
}

function json(value: unknown): string | null {
  return value === undefined ? null : JSON.stringify(value);
}

// 3. The log ---------------------------------------------------------------------------------------

/** Opens (creating tables if needed) a prediction log. */
export function createPredictionLog(options: PredictionLogOptions): PredictionLog {
  if (options === null || typeof options !== 'object') {
    throw new TypeError(`options: expected { db }, got ${String(options)}`);
  }
  const owned = typeof options.db === 'string';
  const sqlite = typeof options.db === 'string' ? new Database(options.db) : options.db;
  if (owned) {
    // WAL with synchronous=NORMAL: the log is written on the event loop, and with the default FULL
    // every flush waits for an fsync (about 8 ms for 200 rows on this machine, stalling every request
    // in flight). NORMAL in WAL mode keeps the file consistent; a power cut can lose the last
    // commits, as it can lose the rows still buffered in memory anyway.
    sqlite.pragma('journal_mode = WAL');
    sqlite.pragma('synchronous = NORMAL');
  }
  sqlite.exec(DDL);
  const db = drizzle(sqlite);
  const batchSize = options.batchSize ?? 200;
  if (!Number.isInteger(batchSize) || batchSize < 1) {
    throw new RangeError(`options.batchSize: expected an integer >= 1, got ${String(batchSize)}`);
  }
  const pendingPredictions: Array<typeof predictions.$inferInsert> = [];
  const pendingFeedback: Array<typeof feedback.$inferInsert> = [];
  const timer = setInterval(() => flush(), options.flushIntervalMs ?? 1000);
  timer.unref();
  let closed = false;
  const checkpointer =
    owned && options.db !== ':memory:' && options.walCheckpoint === 'worker'
      ? startCheckpointer(sqlite, options.checkpointIntervalMs ?? 1000, options.onCheckpoint)
      : undefined;
  if (options.walCheckpoint !== undefined && options.walCheckpoint !== 'auto' && !checkpointer) {
    throw new RangeError(
      `options.walCheckpoint: expected 'auto', or 'worker' with db a file path, got ${String(options.walCheckpoint)} with db ${
        owned ? String(options.db) : 'a database handle'
      }`,
    );
  }

  function writeRows<T>(rows: T[], insertOne: (row: T) => void): number {
    let written = 0;
    // One transaction per batch; a row that fails is reported and skipped, the others are kept.
    sqlite.transaction(() => {
      for (const row of rows) {
        try {
          insertOne(row);
          written++;
        } catch (err) {
          options.onRejected?.(row, err instanceof Error ? err.message : String(err));
        }
      }
    })();
    return written;
  }

  // Prepared once: building the insert with drizzle for every row cost more than the insert itself.
  const insertPrediction = db
    .insert(predictions)
    .values({
      id: sql.placeholder('id'),
      ts: sql.placeholder('ts'),
      model: sql.placeholder('model'),
      version: sql.placeholder('version'),
      arm: sql.placeholder('arm'),
      experiment: sql.placeholder('experiment'),
      unitId: sql.placeholder('unitId'),
      shadow: sql.placeholder('shadow'),
      score: sql.placeholder('score'),
      output: sql.placeholder('output'),
      features: sql.placeholder('features'),
      latencyMs: sql.placeholder('latencyMs'),
    })
    .prepare();
  const insertFeedback = db
    .insert(feedback)
    .values({
      predictionId: sql.placeholder('predictionId'),
      ts: sql.placeholder('ts'),
      kind: sql.placeholder('kind'),
      value: sql.placeholder('value'),
      payload: sql.placeholder('payload'),
    })
    .prepare();

  function flush(): number {
    if (pendingPredictions.length === 0 && pendingFeedback.length === 0) return 0;
    const p = pendingPredictions.splice(0);
    const f = pendingFeedback.splice(0);
    const written =
      writeRows(p, (row) => insertPrediction.run({ ...row, shadow: row.shadow ? 1 : 0 })) +
      writeRows(f, (row) => insertFeedback.run(row));
    if (written > 0) checkpointer?.request();
    return written;
  }

  function maybeFlush() {
    if (pendingPredictions.length + pendingFeedback.length >= batchSize) flush();
  }

  return {
    db,
    sqlite,
    logPrediction(record) {
      if (closed) throw new TypeError('logPrediction: the prediction log is closed');
      if (record === null || typeof record !== 'object') {
        throw new TypeError(`record: expected a prediction record object, got ${String(record)}`);
      }
      checkString('record.id', record.id, true);
      checkString('record.model', record.model);
      checkString('record.version', record.version);
      checkString('record.arm', record.arm, true);
      checkString('record.experiment', record.experiment, true);
      checkString('record.unitId', record.unitId, true);
      checkNumber('record.score', record.score, true);
      checkNumber('record.latencyMs', record.latencyMs, true);
      checkNumber('record.ts', record.ts, true);
      const id = record.id ?? randomUUID();
      pendingPredictions.push({
        id,
        ts: record.ts ?? Date.now(),
        model: record.model,
        version: record.version,
        arm: record.arm ?? 'default',
        experiment: record.experiment ?? null,
        unitId: record.unitId ?? null,
        shadow: record.shadow ?? false,
        score: record.score ?? null,
        output: json(record.output),
        features: json(record.features),
        latencyMs: record.latencyMs ?? null,
      });
      maybeFlush();
      return id;
    },
    logFeedback(record) {
      if (closed) throw new TypeError('logFeedback: the prediction log is closed');
      if (record === null || typeof record !== 'object') {
        throw new TypeError(`record: expected a feedback record object, got ${String(record)}`);
      }
      checkString('record.predictionId', record.predictionId);
      checkString('record.kind', record.kind);
      checkNumber('record.value', record.value);
      checkNumber('record.ts', record.ts, true);
      pendingFeedback.push({
        predictionId: record.predictionId,
        ts: record.ts ?? Date.now(),
        kind: record.kind,
        value: record.value,
        payload: json(record.payload),
      });
      maybeFlush();
    },
    flush,
    get buffered() {
      return pendingPredictions.length + pendingFeedback.length;
    },
    getPrediction(id) {
      return db.select().from(predictions).where(eq(predictions.id, id)).get();
    },
    feedbackFor(predictionId) {
      return db
        .select()
        .from(feedback)
        .where(eq(feedback.predictionId, predictionId))
        .orderBy(asc(feedback.ts), asc(feedback.id))
        .all();
    },
    labelled({ kind, model, experiment, sinceTs }) {
      // Qualified by hand: drizzle renders a bare "id" here, which the subquery would bind to f.id.
      const latest = sql<
        number | null
      >`(SELECT f.value FROM feedback f WHERE f.prediction_id = "predictions"."id"
        AND f.kind = ${kind} ORDER BY f.ts DESC, f.id DESC LIMIT 1)`;
      const conditions = [eq(predictions.shadow, false)];
      if (model) conditions.push(eq(predictions.model, model));
      if (experiment) conditions.push(eq(predictions.experiment, experiment));
      if (sinceTs !== undefined) conditions.push(gte(predictions.ts, sinceTs));
      return db
        .select({
          id: predictions.id,
          ts: predictions.ts,
          model: predictions.model,
          version: predictions.version,
          arm: predictions.arm,
          experiment: predictions.experiment,
          unitId: predictions.unitId,
          shadow: predictions.shadow,
          score: predictions.score,
          output: predictions.output,
          features: predictions.features,
          latencyMs: predictions.latencyMs,
          label: latest,
        })
        .from(predictions)
        .where(and(...conditions))
        .orderBy(asc(predictions.ts))
        .all();
    },
    armOutcomes(experiment, kind) {
      const rows = this.labelled({ kind, experiment });
      const out = new Map<string, { predictions: number; values: number[] }>();
      for (const row of rows) {
        let arm = out.get(row.arm);
        if (!arm) {
          arm = { predictions: 0, values: [] };
          out.set(row.arm, arm);
        }
        arm.predictions++;
        arm.values.push(row.label ?? 0);
      }
      return out;
    },
    close() {
      if (closed) return;
      flush();
      closed = true;
      clearInterval(timer);
      checkpointer?.stop();
      if (owned) sqlite.close();
    },
  };
}

// 4. Background checkpoints ------------------------------------------------------------------------

/** The worker: its own connection to the file, a PASSIVE checkpoint per request, the counts back. */
const CHECKPOINT_WORKER = `
const { parentPort, workerData } = require('node:worker_threads');
const Database = require(workerData.driver);
const db = new Database(workerData.file, { fileMustExist: true });
parentPort.on('message', (m) => {
  if (m === 'close') { db.close(); parentPort.close(); return; }
  const started = performance.now();
  try {
    const [r] = db.pragma('wal_checkpoint(PASSIVE)');
    parentPort.postMessage({ ms: performance.now() - started, walFrames: r.log, checkpointedFrames: r.checkpointed });
  } catch (err) {
    parentPort.postMessage({ ms: performance.now() - started, walFrames: -1, checkpointedFrames: -1, error: String(err && err.message || err) });
  }
});
`;

function startCheckpointer(
  sqlite: Database.Database,
  intervalMs: number,
  onCheckpoint: ((info: CheckpointInfo) => void) | undefined,
) {
  if (!Number.isFinite(intervalMs) || intervalMs < 0) {
    throw new RangeError(`options.checkpointIntervalMs: expected a number >= 0, got ${String(intervalMs)}`);
  }
  sqlite.pragma('wal_autocheckpoint = 0');
  const worker = new Worker(CHECKPOINT_WORKER, {
    eval: true,
    workerData: { file: sqlite.name, driver: createRequire(import.meta.url).resolve('better-sqlite3') },
  });
  // The log is closed explicitly; a worker left running must not keep a process alive.
  worker.unref();
  let running = false;
  let wanted = false;
  let last = Number.NEGATIVE_INFINITY;
  let delayed: NodeJS.Timeout | undefined;
  const start = () => {
    delayed = undefined;
    running = true;
    wanted = false;
    last = performance.now();
    worker.postMessage('checkpoint');
  };
  let stopped = false;
  worker.on('message', (info: CheckpointInfo) => {
    running = false;
    onCheckpoint?.(info);
    if (wanted) request();
  });
  // A worker that dies (it could not open the file, say) hands checkpoints back to SQLite on the
  // writing connection, so the WAL never grows without bound.
  const died = (reason: string) => {
    if (stopped) return;
    stopped = true;
    clearTimeout(delayed);
    if (sqlite.open) sqlite.pragma('wal_autocheckpoint = 1000');
    onCheckpoint?.({ ms: 0, walFrames: -1, checkpointedFrames: -1, error: reason });
  };
  worker.on('error', (err) => died(`checkpoint worker failed: ${err.message}`));
  worker.on('exit', (code) => died(`checkpoint worker exited (code ${code})`));
  function request() {
    wanted = true;
    if (stopped || running || delayed) return;
    const wait = last + intervalMs - performance.now();
    if (wait <= 0) start();
    else {
      delayed = setTimeout(start, wait);
      delayed.unref();
    }
  }
  return {
    request,
    stop() {
      stopped = true;
      clearTimeout(delayed);
      worker.postMessage('close');
    },
  };
}
