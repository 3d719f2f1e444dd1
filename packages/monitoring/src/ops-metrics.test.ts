/**
 * Tests of the operations metrics: names, labels, bucket layout and registry isolation, read back
 * through prom-client's own exposition and JSON APIs.
 */
import { Registry } from 'prom-client';
import { describe, expect, it } from 'vitest';
import { createOpsMetrics } from './ops-metrics.js';

describe('createOpsMetrics', () => {
  it('registers every metric in a fresh registry with the mlsd_ prefix', async () => {
    const ops = createOpsMetrics({ collectDefaultMetrics: false });
    const names = (await ops.registry.getMetricsAsJSON()).map((m) => m.name).sort();
    expect(names).toEqual(
      [
        'mlsd_feature_missing_total',
        'mlsd_http_request_duration_seconds',
        'mlsd_inference_batch_size',
        'mlsd_inference_duration_seconds',
        'mlsd_job_duration_seconds',
        'mlsd_job_failures_total',
        'mlsd_model_info',
        'mlsd_prediction_score',
        'mlsd_queue_wait_seconds',
      ].sort(),
    );
  });

  it('two services do not share metrics', async () => {
    const a = createOpsMetrics({ collectDefaultMetrics: false });
    const b = createOpsMetrics({ collectDefaultMetrics: false });
    a.jobFailures.inc({ job: 'retrain' });
    expect(await a.metrics()).toContain('mlsd_job_failures_total{job="retrain"} 1');
    expect(await b.metrics()).not.toContain('job="retrain"');
  });

  it('histograms put observations in the right cumulative buckets', async () => {
    const ops = createOpsMetrics({ collectDefaultMetrics: false, prefix: 'x_' });
    ops.requestDuration.observe({ route: '/predict', method: 'POST', status: '200' }, 0.003);
    ops.requestDuration.observe({ route: '/predict', method: 'POST', status: '200' }, 0.2);
    ops.predictionScore.observe({ model: 'ctr', version: '3' }, 0.72);
    const text = await ops.metrics();
    expect(text).toContain(
      'x_http_request_duration_seconds_bucket{le="0.0025",route="/predict",method="POST",status="200"} 0',
    );
    expect(text).toContain(
      'x_http_request_duration_seconds_bucket{le="0.005",route="/predict",method="POST",status="200"} 1',
    );
    expect(text).toContain(
      'x_http_request_duration_seconds_bucket{le="0.25",route="/predict",method="POST",status="200"} 2',
    );
    expect(text).toContain(
      'x_http_request_duration_seconds_count{route="/predict",method="POST",status="200"} 2',
    );
    expect(text).toContain('x_prediction_score_bucket{le="0.7",model="ctr",version="3"} 0');
    expect(text).toContain('x_prediction_score_bucket{le="0.75",model="ctr",version="3"} 1');
    expect(text).toContain('# TYPE x_http_request_duration_seconds histogram');
  });

  it('model info carries name, version, spec hash and stage', async () => {
    const ops = createOpsMetrics({ collectDefaultMetrics: false });
    ops.modelInfo.set({ name: 'ctr', version: '7', spec_hash: 'ab12', stage: 'production' }, 1);
    expect(await ops.metrics()).toContain(
      'mlsd_model_info{name="ctr",version="7",spec_hash="ab12",stage="production"} 1',
    );
  });

  it('default process metrics include event-loop lag, in the service registry only', async () => {
    const registry = new Registry();
    const ops = createOpsMetrics({ registry });
    expect(ops.registry).toBe(registry);
    const text = await ops.metrics();
    expect(text).toContain('mlsd_nodejs_eventloop_lag_seconds');
    expect(text).toContain('mlsd_process_cpu_user_seconds_total');
    expect(ops.contentType).toMatch(/^text\/plain/);
  });

  it('custom duration buckets are used and bad buckets are rejected', async () => {
    const ops = createOpsMetrics({ collectDefaultMetrics: false, durationBuckets: [0.1, 1] });
    ops.jobDuration.observe({ job: 'index', status: 'ok' }, 0.5);
    const text = await ops.metrics();
    expect(text).toContain('mlsd_job_duration_seconds_bucket{le="1",job="index",status="ok"} 1');
    expect(text).not.toContain('mlsd_job_duration_seconds_bucket{le="0.5"');
    expect(() => createOpsMetrics({ durationBuckets: [1, 0.5] })).toThrow(
      /options.durationBuckets: expected strictly increasing/,
    );
    expect(() => createOpsMetrics({ prefix: 'bad-prefix' })).toThrow(/options.prefix/);
  });
});
