/**
 * ModelRegistry: model versions on disk (`<root>/<name>/<version>/model.onnx`, `feature-spec.json`,
 * `reference-profile.json`, `card.json`) indexed in SQLite through drizzle, with stages
 * (candidate -> production -> archived) and a promotion gate that only replaces the production
 * model when the candidate beats it on a chosen metric by a set margin.
 */
import { createHash, randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { and, asc, desc, eq } from 'drizzle-orm';
import { type BetterSQLite3Database, drizzle } from 'drizzle-orm/better-sqlite3';
import { OnnxModel, type OnnxModelLoadOptions } from '../runtime/onnx-model.js';
import { CREATE_TABLES, type ModelStage, models, promotions } from './schema.js';

/** What `card.json` holds: where the data came from, what the model scored, how it was trained. */
export interface ModelCard {
  /** Training data: source, time range, row counts... */
  data: Record<string, unknown> | string;
  /** Offline metrics (the registry indexes these). */
  metrics: Record<string, number>;
  /** Wall-clock training time in milliseconds. */
  trainingTimeMs?: number;
  /** Seed of the run. */
  seed?: number;
  /** Split sizes and model size: { train, validation, test, parameters... }. */
  sizes?: Record<string, number>;
  [key: string]: unknown;
}

/** Input of {@link ModelRegistry.register}. */
export interface RegisterModelInput {
  name: string;
  /** Defaults to the next integer after the highest integer version of this name. */
  version?: string;
  /** The ONNX bytes (from exportToOnnx). */
  model: Uint8Array;
  featureSpec: unknown;
  referenceProfile?: unknown;
  card: ModelCard;
}

/** One registered version. */
export interface RegistryEntry {
  name: string;
  version: string;
  sha256: string;
  sizeBytes: number;
  featureSpecSha256: string;
  metrics: Record<string, number>;
  stage: ModelStage;
  /** Why the version is in its stage (e.g. why a promotion was refused). */
  stageReason: string;
  createdAt: Date;
  stageChangedAt: Date;
  dir: string;
  modelPath: string;
  featureSpecPath: string;
  referenceProfilePath: string | undefined;
  cardPath: string;
}

/** The gate of {@link ModelRegistry.promote}. */
export interface PromotionGate {
  /** Metric name in the card's metrics. */
  metric: string;
  /** True for AUC-like metrics, false for losses (default true). */
  higherIsBetter?: boolean;
  /** Required improvement over production, in metric units (default 0: any strict improvement). */
  minImprovement?: number;
  /**
   * The production model's value of `metric` measured on the same data as the candidate's. A
   * continual-learning gate should compare both models on the newest window; without this the
   * value recorded in the production model's card (from its own, older evaluation) is used.
   */
  productionValue?: number;
}

/** Outcome of {@link ModelRegistry.promote}. */
export interface PromotionResult {
  promoted: boolean;
  reason: string;
  candidate: RegistryEntry;
  /** The production version before the decision, if any. */
  previous: RegistryEntry | undefined;
  /** Candidate minus production in the "better" direction, when both had the metric. */
  improvement: number | undefined;
}

/** One recorded promotion decision. */
export interface PromotionRecord {
  name: string;
  version: string;
  promoted: boolean;
  metric: string;
  candidateValue: number | null;
  productionVersion: string | null;
  productionValue: number | null;
  reason: string;
  at: Date;
}

/** A model file whose bytes no longer match the sha256 recorded at registration. */
export class ModelIntegrityError extends Error {
  override readonly name = 'ModelIntegrityError';
  constructor(
    readonly path: string,
    readonly expected: string,
    readonly actual: string,
  ) {
    super(`${path}: expected sha256 ${expected}, the file has ${actual} (corrupt or replaced)`);
  }
}

/** Options of {@link ModelRegistry.open}. */
export interface ModelRegistryOptions {
  /** SQLite file (default `<root>/registry.sqlite`); ':memory:' for tests. */
  dbFile?: string;
  /** Clock (ms since epoch), for tests. */
  now?: () => number;
}

/** Where new training runs register models unless told otherwise (relative to the working folder). */
export const DEFAULT_REGISTRY_ROOT = '.mlsd/models';

const STAGES: readonly ModelStage[] = ['candidate', 'production', 'archived'];
const SAFE_NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$/;

function sha256(data: Uint8Array | string): string {
  return createHash('sha256').update(data).digest('hex');
}

function checkName(what: string, value: unknown): string {
  if (typeof value !== 'string' || !SAFE_NAME.test(value) || value.includes('..')) {
    throw new TypeError(
      `${what}: expected letters, digits, '.', '_' or '-' (max 128, no '..'), got ${JSON.stringify(value)}`,
    );
  }
  return value;
}

function checkMetrics(metrics: unknown): Record<string, number> {
  if (metrics === null || typeof metrics !== 'object' || Array.isArray(metrics)) {
    throw new TypeError(
      `card.metrics: expected an object of metric name -> number, got ${JSON.stringify(metrics)}`,
    );
  }
  for (const [k, v] of Object.entries(metrics)) {
    if (typeof v !== 'number' || !Number.isFinite(v)) {
      throw new TypeError(`card.metrics.${k}: expected a finite number, got ${JSON.stringify(v)}`);
    }
  }
  return metrics as Record<string, number>;
}

function formatValue(v: number): string {
  return Number.isInteger(v) ? String(v) : v.toPrecision(6).replace(/\.?0+$/, '');
}

/** The model registry. Open with {@link ModelRegistry.open}; close with {@link ModelRegistry.close}. */
export class ModelRegistry {
  private readonly db: BetterSQLite3Database;
  private constructor(
    /** Folder holding `<name>/<version>/...`. */
    readonly root: string,
    private readonly sqlite: Database.Database,
    private readonly now: () => number,
  ) {
    this.db = drizzle(sqlite);
  }

  /** Opens (creating if needed) the registry at `root`. */
  static open(root: string, options: ModelRegistryOptions = {}): ModelRegistry {
    if (typeof root !== 'string' || root === '')
      throw new TypeError(`root: expected a folder path, got ${JSON.stringify(root)}`);
    mkdirSync(root, { recursive: true });
    const sqlite = new Database(options.dbFile ?? join(root, 'registry.sqlite'));
    sqlite.pragma('journal_mode = WAL');
    sqlite.exec(CREATE_TABLES);
    return new ModelRegistry(root, sqlite, options.now ?? Date.now);
  }

  /**
   * Stores a new version as a candidate: files first (in a temporary folder renamed into place),
   * then the index row, so a failed registration leaves neither.
   * @throws RangeError if the version exists; TypeError for malformed input.
   */
  register(input: RegisterModelInput): RegistryEntry {
    const name = checkName('name', input?.name);
    if (!(input.model instanceof Uint8Array) || input.model.byteLength === 0) {
      throw new TypeError(
        `model: expected the ONNX bytes as a non-empty Uint8Array, got ${typeof input.model}`,
      );
    }
    if (input.featureSpec === undefined)
      throw new TypeError('featureSpec: expected the feature spec (any JSON value)');
    if (!input.card || typeof input.card !== 'object')
      throw new TypeError('card: expected a model card object');
    const metrics = checkMetrics(input.card.metrics);
    const version =
      input.version === undefined ? this.nextVersion(name) : checkName('version', input.version);
    const dir = join(this.root, name, version);
    if (existsSync(dir) || this.row(name, version)) {
      throw new RangeError(`version: ${name}/${version} is already registered`);
    }
    const featureSpecJson = JSON.stringify(input.featureSpec, null, 2);
    const tmp = join(this.root, name, `.tmp-${version}-${randomBytes(4).toString('hex')}`);
    mkdirSync(tmp, { recursive: true });
    try {
      writeFileSync(join(tmp, 'model.onnx'), input.model);
      writeFileSync(join(tmp, 'feature-spec.json'), featureSpecJson);
      if (input.referenceProfile !== undefined) {
        writeFileSync(join(tmp, 'reference-profile.json'), JSON.stringify(input.referenceProfile, null, 2));
      }
      writeFileSync(join(tmp, 'card.json'), JSON.stringify({ name, version, ...input.card }, null, 2));
      renameSync(tmp, dir);
    } catch (error) {
      rmSync(tmp, { recursive: true, force: true });
      throw error;
    }
    const at = this.now();
    try {
      this.db
        .insert(models)
        .values({
          name,
          version,
          sha256: sha256(input.model),
          sizeBytes: input.model.byteLength,
          featureSpecSha256: sha256(featureSpecJson),
          metrics: JSON.stringify(metrics),
          stage: 'candidate',
          stageReason: 'registered',
          createdAt: at,
          stageChangedAt: at,
        })
        .run();
    } catch (error) {
      rmSync(dir, { recursive: true, force: true });
      throw error;
    }
    return this.get(name, version) as RegistryEntry;
  }

  /** Versions, newest first, optionally of one name and/or one stage. */
  list(filter: { name?: string; stage?: ModelStage } = {}): RegistryEntry[] {
    const conditions = [];
    if (filter.name !== undefined) conditions.push(eq(models.name, filter.name));
    if (filter.stage !== undefined) conditions.push(eq(models.stage, filter.stage));
    const rows = this.db
      .select()
      .from(models)
      .where(conditions.length ? and(...conditions) : undefined)
      .orderBy(asc(models.name), desc(models.createdAt), desc(models.version))
      .all();
    return rows.map((r) => this.toEntry(r));
  }

  /**
   * One version by its version string, or by stage: 'production' (the current one), 'candidate'
   * or 'archived' (the newest in that stage), or 'latest'.
   */
  get(name: string, versionOrStage: string): RegistryEntry | undefined {
    if (versionOrStage === 'latest') return this.list({ name })[0];
    if ((STAGES as readonly string[]).includes(versionOrStage)) {
      return this.list({ name, stage: versionOrStage as ModelStage })[0];
    }
    const row = this.row(name, versionOrStage);
    return row ? this.toEntry(row) : undefined;
  }

  /**
   * The model bytes, checked against the sha256 recorded at registration.
   * @throws RangeError for an unknown version; ModelIntegrityError when the file changed.
   */
  readModel(name: string, versionOrStage: string): Uint8Array {
    const entry = this.require(name, versionOrStage);
    let bytes: Uint8Array;
    try {
      bytes = readFileSync(entry.modelPath);
    } catch (error) {
      throw new ModelIntegrityError(
        entry.modelPath,
        entry.sha256,
        `no readable file (${(error as Error).message})`,
      );
    }
    const actual = sha256(bytes);
    if (actual !== entry.sha256) throw new ModelIntegrityError(entry.modelPath, entry.sha256, actual);
    return bytes;
  }

  /** Loads a version into ONNX Runtime after verifying its sha256. */
  async load(name: string, versionOrStage: string, options: OnnxModelLoadOptions = {}): Promise<OnnxModel> {
    return OnnxModel.load(this.readModel(name, versionOrStage), options);
  }

  /** The parsed `feature-spec.json`, `card.json` or `reference-profile.json` (undefined when absent). */
  readJson(
    name: string,
    versionOrStage: string,
    file: 'feature-spec' | 'card' | 'reference-profile',
  ): unknown {
    const entry = this.require(name, versionOrStage);
    const path = join(entry.dir, `${file}.json`);
    if (!existsSync(path)) return undefined;
    return JSON.parse(readFileSync(path, 'utf8'));
  }

  /**
   * The continual-learning gate: makes `version` the production model only when it beats the
   * current production model on `gate.metric` by at least `gate.minImprovement` (strictly better
   * when the margin is 0). Otherwise it stays a candidate and the reason is recorded. The first
   * production model of a name is promoted without comparison. The replaced production model
   * becomes archived.
   */
  promote(name: string, version: string, gate: PromotionGate): PromotionResult {
    if (!gate || typeof gate.metric !== 'string' || gate.metric === '') {
      throw new TypeError(`gate.metric: expected a metric name, got ${JSON.stringify(gate?.metric)}`);
    }
    const minImprovement = gate.minImprovement ?? 0;
    if (!Number.isFinite(minImprovement) || minImprovement < 0) {
      throw new RangeError(`gate.minImprovement: expected a finite number >= 0, got ${minImprovement}`);
    }
    const higherIsBetter = gate.higherIsBetter ?? true;
    const candidate = this.require(name, version);
    const previous = this.get(name, 'production');
    const value = candidate.metrics[gate.metric];
    if (gate.productionValue !== undefined && !Number.isFinite(gate.productionValue)) {
      throw new RangeError(`gate.productionValue: expected a finite number, got ${gate.productionValue}`);
    }
    const prodValue = previous ? (gate.productionValue ?? previous.metrics[gate.metric]) : undefined;
    let promoted = false;
    let reason: string;
    let improvement: number | undefined;
    if (candidate.stage === 'production') {
      reason = `${name}/${version} is already the production model`;
    } else if (value === undefined) {
      reason = `not promoted: ${name}/${version} has no metric "${gate.metric}" (has ${Object.keys(candidate.metrics).join(', ') || 'none'})`;
    } else if (!previous) {
      promoted = true;
      reason = `promoted: first production model of ${name} (${gate.metric} ${formatValue(value)})`;
    } else if (prodValue === undefined) {
      promoted = true;
      reason = `promoted: production ${name}/${previous.version} has no metric "${gate.metric}" to compare`;
    } else {
      improvement = higherIsBetter ? value - prodValue : prodValue - value;
      const direction = higherIsBetter ? 'higher' : 'lower';
      const comparison = `${gate.metric} ${formatValue(value)} vs production ${previous.version} ${formatValue(prodValue)} (${direction} is better, improvement ${formatValue(improvement)}, required ${minImprovement > 0 ? `>= ${formatValue(minImprovement)}` : '> 0'})`;
      promoted = improvement > 0 && improvement >= minImprovement;
      reason = `${promoted ? 'promoted' : 'not promoted'}: ${comparison}`;
    }
    const at = this.now();
    this.db.transaction((tx) => {
      if (promoted && previous) {
        tx.update(models)
          .set({ stage: 'archived', stageReason: `replaced by ${version}`, stageChangedAt: at })
          .where(and(eq(models.name, name), eq(models.version, previous.version)))
          .run();
      }
      if (candidate.stage !== 'production') {
        tx.update(models)
          .set(
            promoted
              ? { stage: 'production', stageReason: reason, stageChangedAt: at }
              : { stageReason: reason },
          )
          .where(and(eq(models.name, name), eq(models.version, version)))
          .run();
      }
      tx.insert(promotions)
        .values({
          name,
          version,
          promoted,
          metric: gate.metric,
          candidateValue: value ?? null,
          productionVersion: previous?.version ?? null,
          productionValue: prodValue ?? null,
          reason,
          at,
        })
        .run();
    });
    return { promoted, reason, candidate: this.require(name, version), previous, improvement };
  }

  /** Every promotion decision for a name, oldest first. */
  history(name: string): PromotionRecord[] {
    return this.db
      .select()
      .from(promotions)
      .where(eq(promotions.name, name))
      .orderBy(asc(promotions.id))
      .all()
      .map((r) => ({ ...r, at: new Date(r.at) }));
  }

  /** Closes the SQLite connection. */
  close(): void {
    if (this.sqlite.open) this.sqlite.close();
  }

  private row(name: string, version: string) {
    return this.db
      .select()
      .from(models)
      .where(and(eq(models.name, name), eq(models.version, version)))
      .get();
  }

  private require(name: string, versionOrStage: string): RegistryEntry {
    const entry = this.get(name, versionOrStage);
    if (!entry) {
      const known = this.list({ name }).map((e) => `${e.version} (${e.stage})`);
      throw new RangeError(
        `${name}/${versionOrStage}: no such version or stage; registered: ${known.length ? known.join(', ') : 'none'}`,
      );
    }
    return entry;
  }

  private nextVersion(name: string): string {
    const numeric = this.list({ name })
      .map((e) => Number(e.version))
      .filter((n) => Number.isInteger(n));
    return String(numeric.length ? Math.max(...numeric) + 1 : 1);
  }

  private toEntry(r: typeof models.$inferSelect): RegistryEntry {
    const dir = join(this.root, r.name, r.version);
    const referenceProfilePath = join(dir, 'reference-profile.json');
    return {
      name: r.name,
      version: r.version,
      sha256: r.sha256,
      sizeBytes: r.sizeBytes,
      featureSpecSha256: r.featureSpecSha256,
      metrics: JSON.parse(r.metrics),
      stage: r.stage,
      stageReason: r.stageReason,
      createdAt: new Date(r.createdAt),
      stageChangedAt: new Date(r.stageChangedAt),
      dir,
      modelPath: join(dir, 'model.onnx'),
      featureSpecPath: join(dir, 'feature-spec.json'),
      referenceProfilePath: existsSync(referenceProfilePath) ? referenceProfilePath : undefined,
      cardPath: join(dir, 'card.json'),
    };
  }
}
