/**
 * The registry's SQLite tables (drizzle): one row per model version, one row per promotion
 * decision (the continual-learning gate's audit trail).
 */
import { integer, primaryKey, real, sqliteTable, text } from 'drizzle-orm/sqlite-core';

/** Lifecycle of a model version. */
export type ModelStage = 'candidate' | 'production' | 'archived';

export const models = sqliteTable(
  'models',
  {
    name: text('name').notNull(),
    version: text('version').notNull(),
    sha256: text('sha256').notNull(),
    sizeBytes: integer('size_bytes').notNull(),
    featureSpecSha256: text('feature_spec_sha256').notNull(),
    metrics: text('metrics').notNull(),
    stage: text('stage').$type<ModelStage>().notNull(),
    stageReason: text('stage_reason').notNull(),
    createdAt: integer('created_at').notNull(),
    stageChangedAt: integer('stage_changed_at').notNull(),
  },
  (t) => [primaryKey({ columns: [t.name, t.version] })],
);

export const promotions = sqliteTable('promotions', {
  id: integer('id').primaryKey({ autoIncrement: true }),
  name: text('name').notNull(),
  version: text('version').notNull(),
  promoted: integer('promoted', { mode: 'boolean' }).notNull(),
  metric: text('metric').notNull(),
  candidateValue: real('candidate_value'),
  productionVersion: text('production_version'),
  productionValue: real('production_value'),
  reason: text('reason').notNull(),
  at: integer('at').notNull(),
});

/** DDL kept beside the schema: the registry creates its tables on open (no migration tool needed). */
export const CREATE_TABLES = `
CREATE TABLE IF NOT EXISTS models (
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  sha256 TEXT NOT NULL,
  size_bytes INTEGER NOT NULL,
  feature_spec_sha256 TEXT NOT NULL,
  metrics TEXT NOT NULL,
  stage TEXT NOT NULL CHECK (stage IN ('candidate', 'production', 'archived')),
  stage_reason TEXT NOT NULL,
  created_at INTEGER NOT NULL,
  stage_changed_at INTEGER NOT NULL,
  PRIMARY KEY (name, version)
);
CREATE UNIQUE INDEX IF NOT EXISTS one_production_per_name ON models (name) WHERE stage = 'production';
CREATE TABLE IF NOT EXISTS promotions (
  id INTEGER PRIMARY KEY AUTOINCREMENT,
  name TEXT NOT NULL,
  version TEXT NOT NULL,
  promoted INTEGER NOT NULL,
  metric TEXT NOT NULL,
  candidate_value REAL,
  production_version TEXT,
  production_value REAL,
  reason TEXT NOT NULL,
  at INTEGER NOT NULL
);
`;
