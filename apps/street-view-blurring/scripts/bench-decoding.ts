/**
 * The pipeline benchmark (src/bench.ts, as `mlsd bench` runs it, without the training measurement)
 * once per decoding, in one process: the serving decoding before the zoomed pass (the input and its
 * mirror) and with it (plus the nine tiles of the image letterboxed at twice the side).
 * Run (take the CPU lock): flock /tmp/mlsd-cpu.lock npx tsx scripts/bench-decoding.ts [images]
 */
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { benchPipeline } from '../src/bench.js';

const images = Number(process.argv[2] ?? 40);
const fixturesDir = join(import.meta.dirname, '../../../fixtures/street-view-blurring');
for (const zoom of [1, 2]) {
  const r = await benchPipeline({
    fixturesDir,
    workDir: join(tmpdir(), `svb-bench-${process.pid}`),
    seed: 42,
    images,
    trainingCrops: 0,
    decode: { zoom },
  });
  console.log(JSON.stringify(r));
}
