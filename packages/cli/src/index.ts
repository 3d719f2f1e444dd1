/**
 * @mlsd/cli: the `mlsd` command, usable as a library for tests and scripts.
 */
export { type CliConfig, ConfigError, readConfig } from './config.js';
export { latestReport, type Paths, resolvePaths, saveReport } from './context.js';
export { type CliIO, runCli } from './program.js';
export { APP_PACKAGES, findStudy, type LoadedStudies, loadCaseStudies, UsageError } from './registry.js';
export { createServeAllApp, type MountedStudy } from './serve-all.js';
