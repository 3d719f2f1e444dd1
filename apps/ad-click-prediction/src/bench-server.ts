/**
 * The ad ranking service in a process of its own, for `mlsd bench`: the load generator must not
 * share a thread with the server it measures. Started by bench.ts with the registry folder as its
 * argument; reports its port over IPC and stops on 'stop'.
 */
import { listen } from '@mlsd/serving';
import { createAdService } from './service.js';

const registryDir = process.argv[2];
if (!registryDir) {
  console.error('usage: bench-server <registry-dir>');
  process.exit(2);
}
// The environment configures it as it configures `mlsd serve` (e.g. INFERENCE_WORKERS=0).
const ad = await createAdService({ registryDir, config: process.env, logLevel: 'silent' });
await ad.ready?.();
const listening = await listen(ad.service, 0, { host: '127.0.0.1' });
process.send?.({ port: listening.port, ads: ad.world?.ads.count ?? 0, users: ad.world?.users.count ?? 0 });
process.on('message', async (m) => {
  if (m === 'stop') {
    await listening.close();
    process.exit(0);
  }
});
