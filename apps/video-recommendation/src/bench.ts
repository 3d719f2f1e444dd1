/**
 * Benchmark of GET /users/:id/recommendations?k=20 (not a test): the service runs in a child process
 * over a catalogue of 100,000 videos; autocannon drives it at each concurrency for a fixed time after
 * a one-second warm-up. Requests cycle through a seeded pool of users (95 % known, 5 % unknown ids,
 * which take the cold-start path). Reports requests/s, p50 and p99.
 */
import { fork } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { createRng } from '@mlsd/core';
import autocannon, { type Request } from 'autocannon';

export interface BenchRow {
  concurrency: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
}

export interface BenchOptions {
  modelsDir: string;
  concurrency: number[];
  durationSeconds: number;
  videos: number;
  seed: number;
  /** The world's other dimensions: `default` (20,000 users) unless `small` (smoke tests). */
  size?: 'small' | 'default';
  log?: (message: string) => void;
}

export async function benchRecommendations(options: BenchOptions) {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  const entry = fileURLToPath(new URL(`./bench-server.${ext}`, import.meta.url));
  const child = fork(
    entry,
    [options.modelsDir, String(options.videos), String(options.seed), options.size ?? 'default'],
    {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    },
  );
  const info = await new Promise<{
    port: number;
    users: number;
    videos: number;
    catalogue: number;
    worldSeconds: number;
    serviceSeconds: number;
  }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as never));
    child.once('exit', (code) => reject(new Error(`bench server exited with code ${code}`)));
  });
  options.log?.(
    `service up: ${info.videos} videos (${info.catalogue} in the catalogue), world ${info.worldSeconds.toFixed(1)} s, state + index ${info.serviceSeconds.toFixed(1)} s`,
  );
  const rng = createRng(options.seed).fork('bench');
  const paths = Array.from({ length: 512 }, (_, k) =>
    k % 20 === 19
      ? `/users/new-${k}/recommendations?k=20`
      : `/users/u${rng.int(info.users)}/recommendations?k=20`,
  );
  let next = 0;
  const rows: BenchRow[] = [];
  try {
    for (const connections of options.concurrency) {
      const opts = {
        url: `http://127.0.0.1:${info.port}`,
        connections,
        requests: [
          {
            method: 'GET' as const,
            setupRequest: (req: Request): Request => ({ ...req, path: paths[next++ % paths.length] }),
          },
        ],
      };
      await autocannon({ ...opts, duration: 1 });
      const r = await autocannon({ ...opts, duration: options.durationSeconds });
      rows.push({
        concurrency: connections,
        requestsPerSecond: r.requests.average,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        errors: r.errors,
        non2xx: r.non2xx,
      });
      options.log?.(
        `c=${connections}: ${r.requests.average} req/s, p50 ${r.latency.p50} ms, p99 ${r.latency.p99} ms`,
      );
    }
  } finally {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
  return {
    route: 'GET /users/:id/recommendations?k=20',
    videos: info.videos,
    catalogue: info.catalogue,
    rows,
  };
}
