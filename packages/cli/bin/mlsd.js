#!/usr/bin/env node
// The `mlsd` command. Its code is compiled to dist/ by `npm install` (the root prepare script) or
// `npm run build`; this file exists before that, so npm can link the command on a fresh clone.
import { existsSync } from 'node:fs';

const entry = new URL('../dist/bin.js', import.meta.url);
if (!existsSync(entry)) {
  console.error('mlsd: the command is not built yet; run npm run build at the repository root');
  process.exit(1);
}
await import(entry.href);
