/**
 * Test helpers shared by every package. Import from tests only.
 */
import { randomBytes } from 'node:crypto';
import { describe, inject } from 'vitest';

export { findExecutable, freePort, type PrivateRedis, startPrivateRedis } from './redis-global-setup.ts';

/** URL of the private redis-server started for the `slow` project, or '' when there is none. */
export function redisUrl(): string {
  try {
    return inject('redisUrl') ?? '';
  } catch {
    return '';
  }
}

/**
 * `describe` for suites that need Redis: runs against the private server, or is skipped with a
 * visible name when none could be started (the global setup already failed the run if
 * REQUIRE_REDIS=1).
 */
export function describeWithRedis(name: string, fn: (url: string) => void): void {
  const url = redisUrl();
  if (url) describe(name, () => fn(url));
  else describe.skip(`${name} [SKIPPED: no redis-server]`, () => fn(''));
}

/** A key prefix unique to one test, so suites sharing the private Redis never see each other's keys. */
export function uniquePrefix(label = 'test'): string {
  return `${label}:${randomBytes(6).toString('hex')}:`;
}
