/**
 * The search benchmark with its knobs (what `mlsd bench visual-search` runs with 100,000 images):
 *   flock /tmp/mlsd-cpu.lock npx tsx --conditions=@mlsd/source scripts/bench.ts [--count 100000] [--duration 10] [--concurrency 1,16] [--work DIR] [--service JSON] [--server-flags=FLAGS]
 */
import { parseArgs } from 'node:util';
import { benchSearch } from '../src/bench.js';

const { values } = parseArgs({
  options: {
    count: { type: 'string', default: '100000' },
    duration: { type: 'string', default: '10' },
    concurrency: { type: 'string', default: '1,16' },
    work: { type: 'string', default: '../../.mlsd/data/visual-search/bench' },
    // JSON of further service options, e.g. '{"encoderBatching":{"maxBatchSize":32,"maxConcurrentBatches":1}}'.
    service: { type: 'string', default: '{}' },
    // Node/V8 flags of the server process, space-separated, written --server-flags=--max-semi-space-size=64.
    'server-flags': { type: 'string', default: '' },
    model: {
      type: 'string',
      default: new URL('../../../fixtures/visual-search/model/', import.meta.url).pathname,
    },
  },
});
const result = await benchSearch({
  modelDir: values.model,
  workDir: values.work,
  concurrency: values.concurrency.split(',').map(Number),
  durationSeconds: Number(values.duration),
  seed: 42,
  count: Number(values.count),
  serviceOptions: JSON.parse(values.service) as Record<string, unknown>,
  serverFlags: values['server-flags'].split(/\s+/).filter(Boolean),
});
console.log(JSON.stringify(result, null, 2));
