/**
 * Paths and run contexts: where data, models and reports of a run go, and where the committed
 * fixtures (default models, reference reports) are.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { EvaluationReport, ProgressReporter, RunContext } from '@mlsd/core';
import type { CliConfig } from './config.js';

export interface Paths {
  /** `.mlsd` (or MLSD_HOME): everything a run writes. */
  home: string;
  models: string;
  reports: string;
  data: string;
  /** The committed fixtures folder (default models and reports). */
  fixtures: string;
}

/** The repository's `fixtures/`, found from this module's location (packages/cli/{src,dist}). */
function defaultFixtures(cwd: string): string {
  const here = dirname(fileURLToPath(import.meta.url));
  const fromPackage = resolve(here, '..', '..', '..', 'fixtures');
  return existsSync(fromPackage) ? fromPackage : resolve(cwd, 'fixtures');
}

export function resolvePaths(config: CliConfig, cwd: string): Paths {
  const home = resolve(cwd, config.MLSD_HOME ?? '.mlsd');
  return {
    home,
    models: join(home, 'models'),
    reports: join(home, 'reports'),
    data: join(home, 'data'),
    fixtures: config.MLSD_FIXTURES ? resolve(cwd, config.MLSD_FIXTURES) : defaultFixtures(cwd),
  };
}

export function createRunContext(
  appId: string,
  paths: Paths,
  seed: number,
  progress: ProgressReporter,
  signal?: AbortSignal,
): RunContext {
  const workDir = join(paths.data, appId);
  mkdirSync(workDir, { recursive: true });
  mkdirSync(paths.models, { recursive: true });
  return {
    workDir,
    modelsDir: paths.models,
    fixturesDir: join(paths.fixtures, appId),
    seed,
    progress,
    signal,
  };
}

/** Saves a report where `mlsd compare` and the index page find it. */
export function saveReport(paths: Paths, report: EvaluationReport): string {
  mkdirSync(paths.reports, { recursive: true });
  const file = join(paths.reports, `${report.caseStudy}.json`);
  writeFileSync(file, `${JSON.stringify(report, null, 2)}\n`);
  return file;
}

/**
 * The latest report of an app: the user's own `mlsd eval` run first, else the committed one
 * (`fixtures/<app>/report.json`), else undefined.
 */
export function latestReport(
  paths: Paths,
  appId: string,
): { report: EvaluationReport; file: string } | undefined {
  for (const file of [join(paths.reports, `${appId}.json`), join(paths.fixtures, appId, 'report.json')]) {
    if (!existsSync(file)) continue;
    try {
      return { report: JSON.parse(readFileSync(file, 'utf8')) as EvaluationReport, file };
    } catch (err) {
      throw new Error(`report ${file} is not valid JSON: ${(err as Error).message}`);
    }
  }
  return undefined;
}
