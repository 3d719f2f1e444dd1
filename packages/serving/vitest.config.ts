import { defineMlsdConfig } from '../../vitest.shared.ts';

const config = defineMlsdConfig(import.meta.dirname);
// vitest hands ssr.resolve.conditions to the worker as `node --conditions`. The shared list contains
// 'import' and 'module', which make Node's own require() pick the ESM branch of dual packages
// (express's router then gets is-promise's namespace object and every thrown route error becomes
// "isPromise is not a function"). Vite adds import/require by itself, so they are dropped here.
config.ssr = {
  ...config.ssr,
  resolve: { ...config.ssr?.resolve, conditions: ['@mlsd/source', 'node', 'development|production'] },
};
export default config;
