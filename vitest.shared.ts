/**
 * One vitest configuration for every package and app.
 *
 * Two projects, so the fast loop stays fast (CONVENTIONS 10):
 *  - `unit`: `src/**\/*.test.ts`, pure and quick;
 *  - `slow`: `src/**\/*.slow.test.ts`, training, servers, Redis. The slow project starts a private
 *    redis-server for the run (see packages/test-utils) and hands its URL to tests via `inject('redisUrl')`.
 *
 * Workspace packages resolve to their TypeScript sources through the `@mlsd/source` export
 * condition, so a test never needs another package to be built first.
 */
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

const redisSetup = fileURLToPath(new URL('./packages/test-utils/src/redis-global-setup.ts', import.meta.url));
// Vitest also hands ssr.resolve.conditions to Node as --conditions for external modules, so keep
// 'import' and 'module' out: with them Node's require() picks packages' ESM builds (is-promise's
// index.mjs broke express's router that way).
const conditions = ['@mlsd/source', 'node', 'development|production'];

export interface MlsdVitestOptions {
  /** Timeout for one slow test, in ms. */
  slowTestTimeout?: number;
}

export function defineMlsdConfig(root: string, options: MlsdVitestOptions = {}) {
  return defineConfig({
    root,
    resolve: { conditions },
    ssr: { resolve: { conditions, externalConditions: ['@mlsd/source'] } },
    test: {
      passWithNoTests: false,
      projects: [
        {
          extends: true,
          test: {
            name: 'unit',
            include: ['src/**/*.test.ts'],
            exclude: ['src/**/*.slow.test.ts', '**/node_modules/**', '**/dist/**'],
            testTimeout: 20_000,
          },
        },
        {
          extends: true,
          test: {
            name: 'slow',
            include: ['src/**/*.slow.test.ts'],
            globalSetup: [redisSetup],
            testTimeout: options.slowTestTimeout ?? 120_000,
            hookTimeout: 120_000,
            // Slow suites train models and start servers: one file at a time keeps a 2-core machine usable.
            fileParallelism: false,
          },
        },
      ],
    },
  });
}
