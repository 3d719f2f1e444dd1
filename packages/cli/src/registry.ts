/**
 * Where the CLI finds the case studies: each app is a workspace package that exports a
 * `CaseStudy` as `caseStudy`. The list is explicit so that the build knows the order (the CLI
 * depends on every app) and a user can see at a glance which apps exist.
 */
import { type CaseStudy, validateCaseStudy } from '@mlsd/core';

/** Package names of the apps, in the book's order. An app adds itself here when it lands. */
export const APP_PACKAGES: readonly string[] = [
  '@mlsd/visual-search',
  '@mlsd/street-view-blurring',
  '@mlsd/video-recommendation',
  '@mlsd/ad-click-prediction',
];

export interface LoadedStudies {
  studies: CaseStudy[];
  /** Packages that could not be loaded, with the reason (shown by `mlsd list`). */
  failures: Array<{ pkg: string; reason: string }>;
}

/** Imports every app package and validates its export. */
export async function loadCaseStudies(packages: readonly string[] = APP_PACKAGES): Promise<LoadedStudies> {
  const studies: CaseStudy[] = [];
  const failures: LoadedStudies['failures'] = [];
  for (const pkg of packages) {
    try {
      const mod = (await import(pkg)) as { caseStudy?: CaseStudy; default?: CaseStudy };
      const study = mod.caseStudy ?? mod.default;
      if (!study) throw new TypeError(`${pkg} exports no 'caseStudy'`);
      studies.push(validateCaseStudy(study));
    } catch (err) {
      failures.push({ pkg, reason: err instanceof Error ? err.message : String(err) });
    }
  }
  studies.sort((a, b) => a.chapter - b.chapter);
  return { studies, failures };
}

/** Finds a case study by id, or throws an error that lists the known ids. */
export function findStudy(studies: CaseStudy[], id: string): CaseStudy {
  const study = studies.find((s) => s.id === id);
  if (!study) {
    const known = studies.map((s) => s.id);
    throw new UsageError(
      `unknown case study '${id}'${known.length ? ` (known: ${known.join(', ')})` : ' (no case studies are registered yet)'}`,
    );
  }
  return study;
}

/** A mistake in how the command was called; printed as one line with exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError';
}
