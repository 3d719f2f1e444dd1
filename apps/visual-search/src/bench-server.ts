/**
 * The search service in a process of its own, for `mlsd bench visual-search`: the load generator
 * must not share a thread with the server it measures. Arguments: model folder, work folder,
 * catalogue size, and optionally a JSON object of further service options. Builds (or loads the
 * saved) index, reports its port and the index over IPC, and stops on 'stop'.
 *
 * It also watches its own event loop while the load runs ('pauses-reset' starts a window,
 * 'pauses' reports it): the event-loop delay (perf_hooks.monitorEventLoopDelay) and every garbage
 * collection with its kind and length (a PerformanceObserver on 'gc'). In a closed-loop test a
 * p99 far above the p50 comes from pauses, and these say which ones.
 */
import { constants, monitorEventLoopDelay, PerformanceObserver } from 'node:perf_hooks';
import { getHeapSpaceStatistics, getHeapStatistics } from 'node:v8';
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

// Pauses of the event loop in the current window.
const GC_KINDS: Record<number, string> = {
  [constants.NODE_PERFORMANCE_GC_MINOR]: 'scavenge',
  [constants.NODE_PERFORMANCE_GC_MAJOR]: 'mark-compact',
  [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
  [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak-callbacks',
};
const delay = monitorEventLoopDelay({ resolution: 1 });
let gcs: Array<{ kind: string; ms: number }> = [];
const observer = new PerformanceObserver((list) => {
  for (const e of list.getEntries()) {
    const kind = (e as unknown as { detail?: { kind?: number } }).detail?.kind ?? -1;
    gcs.push({ kind: GC_KINDS[kind] ?? String(kind), ms: e.duration });
  }
});
observer.observe({ entryTypes: ['gc'] });

// Handler times of the searches logged in the window (from reading the body to the answer).
let firstRow = 0;
function handlerMs() {
  svc.log.flush();
  const rows = svc.log.sqlite
    .prepare('SELECT latency_ms AS ms FROM predictions WHERE rowid > ? ORDER BY latency_ms')
    .all(firstRow) as Array<{ ms: number }>;
  const q = (p: number) =>
    Math.round((rows[Math.min(rows.length - 1, Math.floor(p * rows.length))]?.ms ?? 0) * 100) / 100;
  return { searches: rows.length, p50: q(0.5), p99: q(0.99), max: q(1) };
}

function pauses() {
  const byKind: Record<string, { count: number; totalMs: number; maxMs: number }> = {};
  for (const { kind, ms } of gcs) {
    byKind[kind] ??= { count: 0, totalMs: 0, maxMs: 0 };
    const k = byKind[kind];
    k.count++;
    k.totalMs += ms;
    k.maxMs = Math.max(k.maxMs, ms);
  }
  for (const k of Object.values(byKind)) {
    k.totalMs = Math.round(k.totalMs * 10) / 10;
    k.maxMs = Math.round(k.maxMs * 100) / 100;
  }
  const ms = (ns: number) => Math.round(ns / 1e4) / 100;
  return {
    handlerMs: handlerMs(),
    // The delay of a 1 ms timer: how long the loop was busy with something else when it was due.
    eventLoopDelayMs: {
      p50: ms(delay.percentile(50)),
      p99: ms(delay.percentile(99)),
      max: ms(delay.max),
    },
    gc: byKind,
    heap: {
      usedMb: Math.round(getHeapStatistics().used_heap_size / 2 ** 20),
      // The young generation's current size (it grows up to twice --max-semi-space-size).
      newSpaceMb: Math.round(
        (getHeapSpaceStatistics().find((s) => s.space_name === 'new_space')?.space_size ?? 0) / 2 ** 20,
      ),
    },
  };
}

process.send?.({ port: listening.port, size: svc.index.size, startSeconds: seconds, index });
process.on('message', async (m) => {
  // CPU time of the whole server process (event loop, encoder worker, libuv pool), microseconds.
  if (m === 'cpu') process.send?.({ cpu: process.cpuUsage() });
  if (m === 'pauses-reset') {
    delay.reset();
    delay.enable();
    gcs = [];
    svc.log.flush();
    firstRow =
      (svc.log.sqlite.prepare('SELECT max(rowid) AS n FROM predictions').get() as { n: number | null }).n ??
      0;
    process.send?.({ reset: true });
  }
  if (m === 'pauses') {
    delay.disable();
    process.send?.({ pauses: pauses() });
  }
  if (m === 'stop') {
    observer.disconnect();
    await listening.close();
    process.exit(0);
  }
});
