/**
 * Tests of LatencyRecorder against exact order statistics of known samples, plus merge and JSON round trips.
 */
import { createRng } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import { LatencyRecorder } from './latency.js';

/** Nearest-rank percentile (the definition HDR histograms follow). */
function nearestRank(sorted: number[], p: number): number {
  return sorted[Math.max(0, Math.ceil((p / 100) * sorted.length) - 1)];
}

describe('LatencyRecorder', () => {
  it('1..1000 ms gives the nearest-rank quantiles within 0.1 %', () => {
    const rec = new LatencyRecorder();
    for (let i = 1; i <= 1000; i++) rec.record(i);
    const q = rec.quantiles();
    expect(q.count).toBe(1000);
    expect(q.p50).toBeCloseTo(500, -0.3);
    expect(Math.abs(q.p50 - 500) / 500).toBeLessThan(1e-3);
    expect(Math.abs(q.p95 - 950) / 950).toBeLessThan(1e-3);
    expect(Math.abs(q.p99 - 990) / 990).toBeLessThan(1e-3);
    expect(Math.abs(q.p999 - 999) / 999).toBeLessThan(1e-3);
    expect(Math.abs(q.max - 1000) / 1000).toBeLessThan(1e-3);
    expect(Math.abs(q.mean - 500.5) / 500.5).toBeLessThan(1e-3);
  });

  it('log-normal latencies: quantiles within 0.1 % of the exact order statistics', () => {
    const rng = createRng(7);
    const xs: number[] = [];
    const rec = new LatencyRecorder();
    for (let i = 0; i < 20000; i++) {
      const ms = Math.exp(rng.normal(0, 1)) * 3;
      xs.push(ms);
      rec.record(ms);
    }
    xs.sort((a, b) => a - b);
    const q = rec.quantiles();
    for (const [key, p] of [
      ['p50', 50],
      ['p95', 95],
      ['p99', 99],
      ['p999', 99.9],
    ] as const) {
      // HDR's rank rounding may land one order statistic lower; the value must lie between the two
      // neighbouring order statistics, widened by 3 significant digits plus the 1 µs input rounding.
      const hi = nearestRank(xs, p);
      const lo = xs[xs.indexOf(hi) - 1];
      expect(q[key]).toBeGreaterThanOrEqual(lo * (1 - 1e-3) - 1e-3);
      expect(q[key]).toBeLessThanOrEqual(hi * (1 + 1e-3) + 1e-3);
    }
  });

  it('merging workers equals recording everything in one place', () => {
    const all = new LatencyRecorder();
    const a = new LatencyRecorder();
    const b = new LatencyRecorder();
    const rng = createRng(1);
    for (let i = 0; i < 5000; i++) {
      const ms = rng.float() * (i % 2 ? 10 : 200);
      all.record(ms);
      (i < 2500 ? a : b).record(ms);
    }
    expect(a.merge(b).quantiles()).toEqual(all.quantiles());
  });

  it('survives a JSON round trip and merges after it', () => {
    const a = new LatencyRecorder();
    for (let i = 0; i < 1000; i++) a.record(0.25 + i * 0.01);
    const shipped = JSON.parse(JSON.stringify(a));
    const back = LatencyRecorder.fromJSON(shipped);
    expect(back.quantiles()).toEqual(a.quantiles());
    const main = new LatencyRecorder();
    main.record(5000);
    main.merge(back);
    expect(main.count).toBe(1001);
    expect(main.quantiles().max).toBeGreaterThan(4990);
  });

  it('empty recorder reports NaN quantiles and count 0; bad input throws', () => {
    const rec = new LatencyRecorder();
    const q = rec.quantiles();
    expect(q.count).toBe(0);
    expect(Number.isNaN(q.p99)).toBe(true);
    expect(() => rec.record(Number.NaN)).toThrow(/ms: expected a finite number, got NaN/);
    expect(() => rec.record(-1)).toThrow(/ms: expected a latency >= 0, got -1/);
    expect(() => rec.record(Number.POSITIVE_INFINITY)).toThrow(/ms: expected a finite number/);
    expect(() => LatencyRecorder.fromJSON({} as never)).toThrow(/json: expected the output/);
    expect(rec.count).toBe(0);
  });

  it('the wasm build gives the same quantiles, merges with pure-JS recorders and round-trips JSON', () => {
    const rng = createRng(9);
    const js = new LatencyRecorder();
    const wasm = new LatencyRecorder({ wasm: true });
    for (let i = 0; i < 5000; i++) {
      const ms = Math.exp(rng.normal(0, 1));
      js.record(ms);
      wasm.record(ms);
    }
    expect(wasm.quantiles()).toEqual(js.quantiles());
    const mixed = new LatencyRecorder().merge(wasm).merge(js);
    expect(mixed.count).toBe(10000);
    expect(mixed.quantiles().p99).toBe(js.quantiles().p99);
    const back = LatencyRecorder.fromJSON(JSON.parse(JSON.stringify(wasm)), { wasm: true });
    expect(back.quantiles()).toEqual(js.quantiles());
    back.merge(js);
    expect(back.count).toBe(10000);
    wasm.destroy();
    back.destroy();
  });
});
