/**
 * The service process of the benchmark: a world with `videos` videos (the committed models' ids
 * cover the first 12,000; the rest go through the video tower's cold-start path), listening on a
 * free port. Reports the port, users and build times to the parent, stops on 'stop'.
 */
import { listen } from '@mlsd/serving';
import { DEFAULT_WORLD, generateVideoWorld, SMALL_WORLD } from './data.js';
import { createVideoService } from './service.js';

const [modelsDir, videosArg, seedArg, sizeArg] = process.argv.slice(2);
if (!modelsDir) {
  console.error('usage: bench-server <models-dir> [videos] [seed] [small|default]');
  process.exit(2);
}
const t0 = performance.now();
const world = generateVideoWorld({
  ...(sizeArg === 'small' ? SMALL_WORLD : DEFAULT_WORLD),
  videos: Number(videosArg ?? 100_000),
  seed: Number(seedArg ?? 42),
});
const t1 = performance.now();
const svc = await createVideoService({ modelsDir, world, logLevel: 'silent' });
const t2 = performance.now();
const listening = await listen(svc.service, 0, { host: '127.0.0.1' });
process.send?.({
  port: listening.port,
  users: world.users.count,
  videos: world.videos.count,
  catalogue: svc.state().catalogue.reduce((a, b) => a + b, 0),
  worldSeconds: (t1 - t0) / 1000,
  serviceSeconds: (t2 - t1) / 1000,
});
process.on('message', async (m) => {
  if (m === 'stop') {
    await listening.close();
    await svc.close();
    process.exit(0);
  }
});
