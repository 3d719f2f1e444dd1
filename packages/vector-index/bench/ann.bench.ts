/**
 * Nearest-neighbour benchmark in the style of ann-benchmarks: for random and clustered 64-d vectors
 * at 100,000 and 1,000,000 items, build time, memory, and recall@10 against queries per second
 * (one thread, one query at a time) for several ef values, with exact search in the same run as the
 * reference. Also compares hnswlib-node (the chosen backend) with usearch on the same data, and the
 * three ways to answer a filtered search.
 *
 *   flock /tmp/mlsd-cpu.lock npm run bench -w @mlsd/vector-index -- [--sizes=100000,1000000]
 *     [--datasets=random,clustered] [--queries=1000] [--no-usearch] [--no-filters]
 *
 * Every (size, dataset) case runs in its own child process so memory figures do not mix.
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { createRng } from '@mlsd/core';
import usearch from 'usearch';
import { ExactIndex, HnswIndex, type SearchHit, type VectorId } from '../src/index.js';
import { clusteredVectors, randomVectors } from '../src/test-helpers.js';

const D = 64;
const K = 10;
const EFS = [10, 16, 32, 48, 64, 96, 128, 192, 256, 384, 512, 768, 1024];
const FILTER_SHARES = [0.005, 0.02, 0.05, 0.2, 0.5];

type Dataset = 'random' | 'clustered';

interface Args {
  sizes: number[];
  datasets: Dataset[];
  queries: number;
  usearch: boolean;
  filters: boolean;
  case?: string;
}

function parseArgs(argv: string[]): Args {
  const args: Args = {
    sizes: [100_000, 1_000_000],
    datasets: ['random', 'clustered'],
    queries: 1000,
    usearch: true,
    filters: true,
  };
  for (const a of argv) {
    const [key, value] = a.replace(/^--/, '').split('=');
    if (key === 'sizes') args.sizes = value.split(',').map(Number);
    else if (key === 'datasets') args.datasets = value.split(',') as Dataset[];
    else if (key === 'queries') args.queries = Number(value);
    else if (key === 'no-usearch') args.usearch = false;
    else if (key === 'no-filters') args.filters = false;
    else if (key === 'case') args.case = value;
    else throw new RangeError(`unknown argument ${a}`);
  }
  return args;
}

// 1. Data --------------------------------------------------------------------------------------

/**
 * random: i.i.d. N(0, 1) coordinates (no structure, the hardest case for a graph index).
 * clustered: a mixture of 1,000 Gaussian clusters with centres N(0, 1) and spread 0.5 per
 * coordinate, the shape of learned embeddings (items grouped by topic); queries share the clusters.
 */
function generate(dataset: Dataset, n: number, seed: number): Float32Array {
  if (dataset === 'random') return randomVectors(seed, n, D);
  return clusteredVectors(seed, n, D, { clusters: 1000, spread: 0.5, centreSeed: 7 });
}

// 2. Measuring ---------------------------------------------------------------------------------

const gc = (globalThis as { gc?: () => void }).gc;
function rssMiB(): number {
  gc?.();
  return process.memoryUsage().rss / 2 ** 20;
}

function recall(approx: SearchHit[][], truth: SearchHit[][]): number {
  let found = 0;
  let total = 0;
  approx.forEach((hits, i) => {
    const want = new Set(truth[i].slice(0, K).map((h) => h.id));
    total += want.size;
    found += hits.slice(0, K).filter((h) => want.has(h.id)).length;
  });
  return total === 0 ? 1 : found / total;
}

/**
 * Queries per second of one-at-a-time search (best of three passes over the queries, as in
 * ann-benchmarks: other work on a shared machine only ever slows a pass down), and the answers.
 */
function timeQueries(
  queries: Float32Array,
  count: number,
  search: (q: Float32Array) => SearchHit[],
): { qps: number; hits: SearchHit[][] } {
  for (let i = 0; i < Math.min(20, count); i++) search(queries.subarray(i * D, (i + 1) * D));
  let hits: SearchHit[][] = [];
  let best = 0;
  for (let pass = 0; pass < 3; pass++) {
    hits = [];
    const t0 = performance.now();
    for (let i = 0; i < count; i++) hits.push(search(queries.subarray(i * D, (i + 1) * D)));
    best = Math.max(best, (count / (performance.now() - t0)) * 1000);
  }
  return { qps: best, hits };
}

interface Row {
  algorithm: string;
  params: string;
  buildS?: number;
  rssMiB?: number;
  indexMiB?: number;
  recall: number;
  qps: number;
}

interface CaseResult {
  dataset: Dataset;
  n: number;
  queries: number;
  rows: Row[];
  filters: { share: number; strategy: string; recall: number; qps: number }[];
}

function log(msg: string): void {
  process.stderr.write(`[ann.bench ${new Date().toISOString().slice(11, 19)}] ${msg}\n`);
}

// 3. One case (child process) ------------------------------------------------------------------

function runCase(dataset: Dataset, n: number, args: Args): CaseResult {
  const rows: Row[] = [];
  const nq = args.queries;
  log(`${dataset} n=${n}: generating`);
  const data = generate(dataset, n, 1);
  const queries = generate(dataset, nq, 2);
  const ids = Array.from({ length: n }, (_, i) => i);
  const dir = mkdtempSync(join(tmpdir(), 'ann-bench-'));

  // Exact: the reference. Ground truth by the blocked batch scan; QPS one query at a time.
  let rss0 = rssMiB();
  let t0 = performance.now();
  const exact = new ExactIndex({ dimension: D, metric: 'cosine', capacity: n });
  exact.add(ids, data);
  const exactBuild = (performance.now() - t0) / 1000;
  const exactRss = rssMiB() - rss0;
  log('exact: ground truth');
  t0 = performance.now();
  const truth = exact.searchBatch(queries, K);
  const batchQps = (nq / (performance.now() - t0)) * 1000;
  const exactCount = n >= 1_000_000 ? Math.min(nq, 100) : Math.min(nq, 300);
  const exactRun = timeQueries(queries, exactCount, (q) => exact.search(q, K));
  const exactBytes = n * D * 4;
  rows.push({
    algorithm: 'exact (scan)',
    params: `${exactCount} queries`,
    buildS: exactBuild,
    rssMiB: exactRss,
    indexMiB: exactBytes / 2 ** 20,
    recall: recall(exactRun.hits, truth),
    qps: exactRun.qps,
  });
  rows.push({
    algorithm: 'exact (blocked batch)',
    params: `${nq} queries at once`,
    recall: 1,
    qps: batchQps,
  });

  // hnswlib-node through HnswIndex (what the application gets: validation, id map, normalising).
  log('hnswlib: build');
  rss0 = rssMiB();
  t0 = performance.now();
  const hnsw = new HnswIndex({ dimension: D, metric: 'cosine', M: 16, efConstruction: 200, capacity: n });
  const chunk = 10_000;
  for (let i = 0; i < n; i += chunk) {
    hnsw.add(ids.slice(i, i + chunk), data.subarray(i * D, Math.min(n, i + chunk) * D));
    if ((i / chunk) % 20 === 19) log(`hnswlib: ${i + chunk} added`);
  }
  const hnswBuild = (performance.now() - t0) / 1000;
  const hnswRss = rssMiB() - rss0;
  const graphFile = join(dir, 'hnsw.bin');
  // biome-ignore lint/suspicious/noExplicitAny: the benchmark reads the private graph to time raw hnswlib calls.
  const graph = (hnsw as any).graph as {
    writeIndexSync(p: string): void;
    searchKnn(q: number[], k: number): { neighbors: number[] };
  };
  graph.writeIndexSync(graphFile);
  const hnswBytes = statSync(graphFile).size + n * D * 4; // the graph file, plus the copy kept for exact fallback
  rmSync(graphFile);
  for (const ef of EFS) {
    hnsw.configure({ ef });
    const run = timeQueries(queries, nq, (q) => hnsw.search(q, K));
    rows.push({
      algorithm: 'hnswlib-node (HnswIndex)',
      params: `M=16 efC=200 ef=${ef}`,
      ...(ef === EFS[0] ? { buildS: hnswBuild, rssMiB: hnswRss, indexMiB: hnswBytes / 2 ** 20 } : {}),
      recall: recall(run.hits, truth),
      qps: run.qps,
    });
    log(`hnswlib ef=${ef}: recall ${rows.at(-1)?.recall.toFixed(3)} qps ${run.qps.toFixed(0)}`);
  }
  // Raw binding at two ef values: what the wrapper costs per query.
  for (const ef of [64, 128]) {
    hnsw.configure({ ef });
    const normalised = exactNormalised(queries);
    const run = timeQueries(normalised, nq, (q) =>
      graph.searchKnn(Array.from(q), K).neighbors.map((id) => ({ id, distance: 0 })),
    );
    rows.push({
      algorithm: 'hnswlib-node (raw searchKnn)',
      params: `M=16 efC=200 ef=${ef}`,
      recall: recall(run.hits, truth),
      qps: run.qps,
    });
  }

  // usearch on the same data, one thread for build and search.
  if (args.usearch) {
    log('usearch: build');
    const config = (ef: number) => ({
      dimensions: D,
      metric: usearch.MetricKind.Cos,
      quantization: usearch.ScalarKind.F32,
      connectivity: 16,
      expansion_add: 200,
      expansion_search: ef,
      multi: false,
    });
    rss0 = rssMiB();
    t0 = performance.now();
    const us = new usearch.Index(config(64));
    const keys = new BigUint64Array(n);
    for (let i = 0; i < n; i++) keys[i] = BigInt(i);
    for (let i = 0; i < n; i += 100_000)
      us.add(keys.subarray(i, i + 100_000), data.subarray(i * D, Math.min(n, i + 100_000) * D), 1);
    const usBuild = (performance.now() - t0) / 1000;
    const usRss = rssMiB() - rss0;
    const usFile = join(dir, 'usearch.bin');
    us.save(usFile);
    const usBytes = statSync(usFile).size;
    for (const ef of EFS) {
      // expansion_search is fixed at construction: reload the saved graph with each value.
      const idx = new usearch.Index(config(ef));
      idx.load(usFile);
      const run = timeQueries(queries, nq, (q) => {
        const m = idx.search(q, K, 1);
        return Array.from(m.keys, (key) => ({ id: Number(key), distance: 0 }));
      });
      rows.push({
        algorithm: 'usearch',
        params: `connectivity=16 expansion_add=200 ef=${ef}`,
        ...(ef === EFS[0] ? { buildS: usBuild, rssMiB: usRss, indexMiB: usBytes / 2 ** 20 } : {}),
        recall: recall(run.hits, truth),
        qps: run.qps,
      });
      log(`usearch ef=${ef}: recall ${rows.at(-1)?.recall.toFixed(3)} qps ${run.qps.toFixed(0)}`);
    }
  }

  // Filtered search: exact over the allowed set, hnswlib's filter callback, over-fetch and post-filter.
  const filters: CaseResult['filters'] = [];
  if (args.filters && dataset === 'clustered') {
    const fq = Math.min(nq, n >= 1_000_000 ? 100 : 200);
    const pick = createRng(11);
    hnsw.configure({ ef: 64 });
    for (const share of FILTER_SHARES) {
      const allowed = new Set<VectorId>();
      for (let i = 0; i < n; i++) if (pick.float() < share) allowed.add(i);
      const want: SearchHit[][] = [];
      for (let i = 0; i < fq; i++)
        want.push(exact.search(queries.subarray(i * D, (i + 1) * D), K, { filter: allowed }));
      const add = (strategy: string, search: (q: Float32Array) => SearchHit[]) => {
        const run = timeQueries(queries, fq, search);
        filters.push({ share, strategy, recall: recall(run.hits, want), qps: run.qps });
        log(
          `filter ${share} ${strategy}: recall ${filters.at(-1)?.recall.toFixed(3)} qps ${run.qps.toFixed(0)}`,
        );
      };
      hnsw.configure({ exactFilterCount: n, exactFilterShare: 1 });
      add('exact over the allowed ids', (q) => hnsw.search(q, K, { filter: allowed }));
      hnsw.configure({ exactFilterCount: 1, exactFilterShare: 0, graphFilter: 'callback' });
      for (const filteredEf of n >= 1_000_000 ? [64] : [64, 128, 256]) {
        hnsw.configure({ filteredEf });
        add(`hnswlib filter callback, ef=${filteredEf}`, (q) => hnsw.search(q, K, { filter: allowed }));
      }
      hnsw.configure({ graphFilter: 'overfetch', overfetch: 2 });
      add(`over-fetch 2 x k / share (k'=${Math.min(n, Math.ceil((2 * K) / share))}), then filter`, (q) =>
        hnsw.search(q, K, { filter: allowed }),
      );
      hnsw.configure({ exactFilterCount: 5000, exactFilterShare: 0.005, filteredEf: 128 });
      add('HnswIndex defaults (exact up to 5,000 ids or 0.5 %, else over-fetch)', (q) =>
        hnsw.search(q, K, { filter: allowed }),
      );
    }
  }
  rmSync(dir, { recursive: true, force: true });
  return { dataset, n, queries: nq, rows, filters };

  function exactNormalised(qs: Float32Array): Float32Array {
    const out = qs.slice();
    for (let i = 0; i < out.length; i += D) {
      let s = 0;
      for (let j = 0; j < D; j++) s += out[i + j] * out[i + j];
      const inv = 1 / Math.sqrt(s);
      for (let j = 0; j < D; j++) out[i + j] *= inv;
    }
    return out;
  }
}

// 4. Report ------------------------------------------------------------------------------------

const fmt = (x: number | undefined, digits = 1) => (x === undefined ? '' : x.toFixed(digits));

function header(): string {
  return `Machine: ${cpus().length} cores (${cpus()[0]?.model ?? 'unknown'}), Node ${process.version}, one thread per search.`;
}

function report(r: CaseResult): string {
  const lines: string[] = [];
  const exactQps = r.rows[0].qps;
  lines.push(
    '',
    `### ${r.dataset}, n = ${r.n.toLocaleString('en')}, d = ${D}, cosine, ${r.queries} queries, k = ${K}`,
    '',
  );
  lines.push(
    '| algorithm | parameters | build (s) | RSS delta (MiB) | index (MiB) | recall@10 | QPS | QPS / exact |',
  );
  lines.push('|---|---|---:|---:|---:|---:|---:|---:|');
  for (const row of r.rows) {
    lines.push(
      `| ${row.algorithm} | ${row.params} | ${fmt(row.buildS)} | ${fmt(row.rssMiB, 0)} | ${fmt(row.indexMiB, 0)} | ${row.recall.toFixed(3)} | ${row.qps.toFixed(row.qps < 100 ? 1 : 0)} | ${(row.qps / exactQps).toFixed(1)} |`,
    );
  }
  if (r.filters.length > 0) {
    lines.push(
      '',
      `Filtered search (clustered, n = ${r.n.toLocaleString('en')}, unfiltered ef = 64), recall@10 against exact search over the allowed ids:`,
      '',
    );
    lines.push('| share allowed | strategy | recall@10 | QPS |', '|---:|---|---:|---:|');
    for (const f of r.filters)
      lines.push(
        `| ${(100 * f.share).toFixed(1)} % | ${f.strategy} | ${f.recall.toFixed(3)} | ${f.qps.toFixed(0)} |`,
      );
  }
  return lines.join('\n');
}

// 5. Main --------------------------------------------------------------------------------------

const args = parseArgs(process.argv.slice(2));
if (args.case !== undefined) {
  const [dataset, n] = args.case.split(':');
  process.stdout.write(JSON.stringify(runCase(dataset as Dataset, Number(n), args)));
} else {
  // Each case is printed as soon as it is done: a long run interrupted late still leaves its tables.
  process.stdout.write(`${header()}\n`);
  const self = fileURLToPath(import.meta.url);
  for (const n of args.sizes) {
    for (const dataset of args.datasets) {
      const passOn = process.argv.slice(2).filter((a) => !a.startsWith('--case'));
      const child = spawnSync(
        process.execPath,
        [...process.execArgv, '--expose-gc', self, ...passOn, `--case=${dataset}:${n}`],
        {
          encoding: 'utf8',
          stdio: ['ignore', 'pipe', 'inherit'],
          maxBuffer: 64 * 2 ** 20,
        },
      );
      if (child.status !== 0) throw new Error(`case ${dataset}:${n} failed with status ${child.status}`);
      process.stdout.write(`${report(JSON.parse(child.stdout) as CaseResult)}\n`);
    }
  }
}
