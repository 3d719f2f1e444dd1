import { defineMlsdConfig } from '../../vitest.shared.ts';

export default defineMlsdConfig(import.meta.dirname);
