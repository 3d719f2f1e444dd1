/**
 * `mlsd bench visual-search`: throughput and latency percentiles of `POST /search` (a PNG query as
 * the raw body, k = 10) at several concurrency levels, with autocannon on loopback against the
 * service in a child process holding 100,000 indexed images; and the encoder's time per image.
 *
 * The 100,000 catalogue images are generated and embedded by the service's own indexing job the
 * first time (minutes), and the saved index is reused by later runs for the same model.
 */
import { fork } from 'node:child_process';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import autocannon from 'autocannon';
import { encodeImage, generateCatalogue } from './data.js';
import { imageFileToPixels } from './features.js';
import { loadEncoder } from './pipeline.js';

export interface SearchBenchRow {
  concurrency: number;
  requestsPerSecond: number;
  p50Ms: number;
  p99Ms: number;
  errors: number;
  non2xx: number;
  /** CPU time of the server process per answered request (all its threads), ms. */
  serverCpuMsPerRequest: number;
  /** CPU time of the load generator (this process) per answered request, ms. */
  loadGeneratorCpuMsPerRequest: number;
  /** The server's event-loop delay and garbage collections during the measured seconds. */
  serverPauses: unknown;
}

export interface SearchBenchOptions {
  modelDir: string;
  workDir: string;
  concurrency: number[];
  durationSeconds: number;
  seed: number;
  /** Indexed catalogue images. Default 100,000. */
  count?: number;
  /** Further options of the service under test (e.g. `encoderBatching`), for comparisons. */
  serviceOptions?: Record<string, unknown>;
  /** Node/V8 flags of the server process (e.g. `--max-semi-space-size=64`), for comparisons. */
  serverFlags?: string[];
}

function quantile(sorted: number[], q: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
}

/** Encoder time per image: batches of 256 and single images, and the decode + resize of a PNG. */
async function benchEmbedding(modelDir: string, seed: number) {
  const encoder = await loadEncoder(modelDir);
  const embedder = encoder.embedder;
  const catalogue = generateCatalogue({ count: 2048, seed: seed + 1 });
  const per = catalogue.size * catalogue.size * 3;
  const pixels = new Uint8Array(catalogue.count * per);
  for (let i = 0; i < catalogue.count; i++) catalogue.pixels(i, pixels.subarray(i * per, (i + 1) * per));
  try {
    await embedder.embed(pixels.subarray(0, 256 * per), 256); // warm-up
    let t0 = performance.now();
    for (let s = 0; s < catalogue.count; s += 256)
      await embedder.embed(pixels.subarray(s * per, (s + 256) * per), 256);
    const batchedMs = (performance.now() - t0) / catalogue.count;
    const single: number[] = [];
    for (let i = 0; i < 500; i++) {
      t0 = performance.now();
      await embedder.embed(pixels.subarray(i * per, (i + 1) * per), 1);
      single.push(performance.now() - t0);
    }
    single.sort((a, b) => a - b);
    const files = await Promise.all(
      Array.from({ length: 200 }, (_, i) => encodeImage(catalogue.pixels(i), catalogue.size, 'png')),
    );
    t0 = performance.now();
    for (const f of files) await imageFileToPixels(f, catalogue.size);
    const decodeMs = (performance.now() - t0) / files.length;
    return {
      batch256MsPerImage: batchedMs,
      singleImageP50Ms: quantile(single, 0.5),
      singleImageP99Ms: quantile(single, 0.99),
      pngDecodeAndResizeMs: decodeMs,
      threads: 1,
    };
  } finally {
    await embedder.close();
  }
}

export async function benchSearch(options: SearchBenchOptions) {
  const count = options.count ?? 100_000;
  const embedding = await benchEmbedding(options.modelDir, options.seed);
  const here = fileURLToPath(import.meta.url);
  const entry = join(here, '..', here.endsWith('.ts') ? 'bench-server.ts' : 'bench-server.js');
  const child = fork(
    entry,
    [options.modelDir, options.workDir, String(count), JSON.stringify(options.serviceOptions ?? {})],
    {
      stdio: ['ignore', 'ignore', 'inherit', 'ipc'],
      execArgv: [...process.execArgv, ...(options.serverFlags ?? [])],
    },
  );
  const info = await new Promise<{ port: number; size: number; startSeconds: number; index: unknown }>(
    (resolve, reject) => {
      child.once('message', (m) =>
        resolve(m as { port: number; size: number; startSeconds: number; index: unknown }),
      );
      child.once('exit', (code) => reject(new Error(`bench server exited with code ${code}`)));
    },
  );
  // Queries: PNG files of images the index holds (a query re-finds itself and its neighbours).
  const catalogue = generateCatalogue({ count, seed: 42 });
  const bodies = await Promise.all(
    Array.from({ length: 256 }, (_, k) =>
      encodeImage(catalogue.pixels((k * 7919) % count), catalogue.size, 'png'),
    ),
  );
  const ask = <T>(question: string) =>
    new Promise<T>((resolve) => {
      child.once('message', (m) => resolve(m as T));
      child.send(question);
    });
  const serverCpu = async () => {
    const { user, system } = (await ask<{ cpu: NodeJS.CpuUsage }>('cpu')).cpu;
    return user + system;
  };
  let next = 0;
  const rows: SearchBenchRow[] = [];
  const loadAverageAtStart = loadavg();
  try {
    for (const connections of options.concurrency) {
      const opts = {
        url: `http://127.0.0.1:${info.port}/search?k=10`,
        connections,
        requests: [
          {
            method: 'POST' as const,
            headers: { 'content-type': 'image/png' },
            setupRequest: (req: autocannon.Request): autocannon.Request => ({
              ...req,
              body: bodies[next++ % bodies.length],
            }),
          },
        ],
      };
      await autocannon({ ...opts, duration: 2 }); // warm-up
      await ask('pauses-reset');
      const [server0, driver0] = [await serverCpu(), process.cpuUsage()];
      const r = await autocannon({ ...opts, duration: options.durationSeconds });
      const [server1, driver1] = [await serverCpu(), process.cpuUsage(driver0)];
      const { pauses } = await ask<{ pauses: unknown }>('pauses');
      const answered = Math.max(1, r.requests.total);
      rows.push({
        concurrency: connections,
        requestsPerSecond: r.requests.average,
        p50Ms: r.latency.p50,
        p99Ms: r.latency.p99,
        errors: r.errors,
        non2xx: r.non2xx,
        serverCpuMsPerRequest: (server1 - server0) / 1000 / answered,
        loadGeneratorCpuMsPerRequest: (driver1.user + driver1.system) / 1000 / answered,
        serverPauses: pauses,
      });
    }
  } finally {
    child.send('stop');
    await new Promise((r) => child.once('exit', r));
  }
  return {
    route: 'POST /search (PNG body, k = 10)',
    serviceOptions: options.serviceOptions ?? {},
    serverFlags: options.serverFlags ?? [],
    indexedImages: info.size,
    serverStartSeconds: info.startSeconds,
    index: info.index,
    rows,
    targetP99MsAtC16: 25,
    embedding,
    machine: {
      cpus: cpus().length,
      model: cpus()[0]?.model,
      node: process.version,
      // 1, 5 and 15-minute load averages before the first level and after the last.
      loadAverage: { atStart: loadAverageAtStart, atEnd: loadavg() },
    },
  };
}
