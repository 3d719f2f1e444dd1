/**
 * Tests of the JSON monitoring report (status and alerts derived from its parts, JSON-safe) and of
 * the HTML page (self-contained, escaped, one chart per column).
 */
import { createRng } from '@mlsd/core';
import { describe, expect, it } from 'vitest';
import { DecayMonitor } from './decay.js';
import { detectDrift } from './drift.js';
import { estimatePerformance } from './estimate.js';
import { LatencyRecorder } from './latency.js';
import { buildReferenceProfile } from './profile.js';
import { buildMonitoringReport, renderHtmlReport } from './report.js';

/** Current = the reference rows, with age shifted by `shift` standard deviations: only age can drift. */
function driftFixture(shift: number) {
  const rng = createRng(21);
  const n = 400;
  const ref = {
    'age<script>': Array.from({ length: n }, () => rng.normal(40, 10)),
    country: Array.from({ length: n }, () => ['DE', 'FR', 'US'][rng.int(3)]),
    device: Array.from({ length: n }, () => ['ios', 'android', 'web'][rng.int(3)]),
    score: Array.from({ length: n }, () => rng.float()),
  };
  const cur = { ...ref, 'age<script>': ref['age<script>'].map((v) => v + shift * 10) };
  return detectDrift(buildReferenceProfile(ref, { predictionColumn: 'score' }), cur);
}

describe('buildMonitoringReport', () => {
  it('no findings: status ok, latency recorders turned into quantiles, NaN as null', () => {
    const rec = new LatencyRecorder();
    for (let i = 1; i <= 100; i++) rec.record(i);
    const report = buildMonitoringReport({
      service: 'ad-click',
      latency: { predict: rec, empty: new LatencyRecorder() },
      drift: driftFixture(0),
      generatedAt: new Date('2026-01-02T03:04:05Z'),
    });
    expect(report.status).toBe('ok');
    expect(report.alerts).toEqual([]);
    expect(report.generatedAt).toBe('2026-01-02T03:04:05.000Z');
    expect(report.latency.predict.count).toBe(100);
    expect(report.latency.predict.p50).toBeCloseTo(50, 1);
    expect(report.latency.empty.p50).toBeNull();
    expect(JSON.parse(JSON.stringify(report))).toEqual(report);
  });

  it('one drifted column of three is a warning; a decay alert makes the report an alert, listed first', () => {
    const drift = driftFixture(1);
    expect(drift.columns.find((c) => c.column === 'age<script>')?.drifted).toBe(true);
    const warn = buildMonitoringReport({ drift });
    expect(warn.status).toBe('warning');
    expect(warn.alerts).toEqual(['column drift: age<script>']);

    const decay = new DecayMonitor({
      metric: {
        name: 'accuracy',
        fn: (y, s) => y.filter((v, i) => v === (s[i] >= 0.5 ? 1 : 0)).length / y.length,
        higherIsBetter: true,
      },
      baseline: 0.9,
      window: { count: 10 },
      maxDrop: 0.05,
      minLabels: 10,
    });
    for (let i = 0; i < 10; i++) {
      decay.logPrediction(`${i}`, 0.8, i);
      decay.logLabel(`${i}`, i < 5 ? 1 : 0, i);
    }
    const alert = buildMonitoringReport({ drift, decay: decay.status() });
    expect(alert.status).toBe('alert');
    expect(alert.alerts[0]).toBe(
      'decay: accuracy 0.5 against 0.9 at training time (worse by 0.4, limit 0.05)',
    );
  });

  it('rejects a latency entry that is neither a recorder nor quantiles', () => {
    expect(() => buildMonitoringReport({ latency: { predict: 5 as never } })).toThrow(
      /input.latency.predict: expected a LatencyRecorder/,
    );
  });
});

describe('renderHtmlReport', () => {
  const drift = driftFixture(1);
  const html = renderHtmlReport(
    buildMonitoringReport({
      service: 'ad-click',
      model: { name: 'dcn', version: '3', specHash: 'ab12cd', stage: 'production' },
      drift,
      estimated: estimatePerformance([0.1, 0.7, 0.4, 0.9]),
    }),
  );

  it('is self-contained: no scripts, no external links or images', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html).not.toMatch(/<script/i);
    expect(html).not.toMatch(/(src|href)\s*=\s*["']?(https?:)?\/\//i);
    expect(html).not.toMatch(/<link/i);
  });

  it('escapes names and shows one chart per column with a distribution plus the prediction', () => {
    expect(html).toContain('age&#60;script&#62;');
    const charts = html.match(/aria-label="reference and current distribution"/g) ?? [];
    expect(charts).toHaveLength(4); // age, country, device, prediction score
    expect(html).toContain('Prediction drift');
    expect(html).toContain('dcn v3 (production)');
    expect(html).toContain('Estimated performance');
  });

  it('rejects something that is not a report', () => {
    expect(() => renderHtmlReport({} as never)).toThrow(
      /report: expected the output of buildMonitoringReport/,
    );
  });
});
