/**
 * `mlsd bench ad-click-prediction`: throughput and latency percentiles of POST /ads/rank with 100
 * candidates per request, at several concurrency levels, with autocannon on loopback against the
 * service running in a child process.
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

export async function benchRank(options: {
  registryDir: string;
  concurrency: number[];
  durationSeconds: number;
  candidates?: number;
  seed: number;
  /** Node flags of the server process (e.g. `--cpu-prof`, see scripts/profile-rank.ts). */
  execArgv?: string[];
}): Promise<{ route: string; candidates: number; rows: BenchRow[] }> {
  const entry = fileURLToPath(new URL('./bench-server.js', import.meta.url));
  const child = fork(entry, [options.registryDir], {
    stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
    ...(options.execArgv ? { execArgv: [...process.execArgv, ...options.execArgv] } : {}),
  });
  const info = await new Promise<{ port: number; ads: number; users: number }>((resolve, reject) => {
    child.once('message', (m) => resolve(m as { port: number; ads: number; users: number }));
    child.once('exit', (code) => reject(new Error(`bench server exited with code ${code}`)));
  });
  const k = options.candidates ?? 100;
  const rng = createRng(options.seed);
  // A pool of request bodies: random users, 100 random candidate ads each.
  const bodies = Array.from({ length: 256 }, () =>
    JSON.stringify({
      user_id: String(rng.int(Math.max(1, info.users))),
      candidates: rng.sampleIndices(info.ads, Math.min(k, info.ads)).map(String),
      k: 10,
    }),
  );
  let next = 0;
  const rows: BenchRow[] = [];
  try {
    for (const connections of options.concurrency) {
      const opts = {
        url: `http://127.0.0.1:${info.port}/ads/rank`,
        connections,
        requests: [
          {
            method: 'POST' as const,
            headers: { 'content-type': 'application/json' },
            setupRequest: (req: Request): Request => ({ ...req, body: bodies[next++ % bodies.length] }),
          },
        ],
      };
      await autocannon({ ...opts, duration: 1 }); // warm-up
      const r = await autocannon({ ...opts, duration: options.durationSeconds });
      rows.push({
        concurrency: connections,
        requestsPerSecond: r.requests.average,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        errors: r.errors,
        non2xx: r.non2xx,
      });
    }
  } finally {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
  return { route: 'POST /ads/rank', candidates: k, rows };
}
