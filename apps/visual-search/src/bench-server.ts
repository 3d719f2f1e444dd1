/**
 * The search service in a process of its own, for `mlsd bench visual-search`: the load generator
 * must not share a thread with the server it measures. Arguments: model folder, work folder,
 * catalogue size, and optionally a JSON object of further service options. Builds (or loads the
 * saved) index, reports its port and the index over IPC, and stops on 'stop'.
 */
import { listen } from '@mlsd/serving';
import { createSearchService } from './service.js';

const [modelDir, workDir, count, extra] = process.argv.slice(2);
if (!modelDir || !workDir || !Number(count)) {
  console.error('usage: bench-server <model-dir> <work-dir> <catalogue-size>');
  process.exit(2);
}
const started = performance.now();
const svc = await createSearchService({
  modelDir,
  workDir,
  catalogue: { count: Number(count) },
  config: {},
  logLevel: 'silent',
  // Optional fifth argument: JSON of further service options, for experiments.
  ...(extra ? (JSON.parse(extra) as object) : {}),
});
await svc.indexed;
const seconds = (performance.now() - started) / 1000;
const listening = await listen(svc.service, 0, { host: '127.0.0.1' });
const index = await (await fetch(`http://127.0.0.1:${listening.port}/index`)).json();
process.send?.({ port: listening.port, size: svc.index.size, startSeconds: seconds, index });
process.on('message', async (m) => {
  // CPU time of the whole server process (event loop, encoder worker, libuv pool), microseconds.
  if (m === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  if (m === 'stop') {
    await listening.close();
    process.exit(0);
  }
});
