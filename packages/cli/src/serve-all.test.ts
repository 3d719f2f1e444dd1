import type { CaseStudy, EvaluationReport } from '@mlsd/core';
import request from 'supertest';
import { describe, expect, it } from 'vitest';
import { chosenResult, createServeAllApp } from './serve-all.js';

const study = (id: string): CaseStudy =>
  ({
    id,
    title: `Study ${id}`,
    chapter: 2,
    task: { kind: 'retrieval', objective: '', input: '', output: '' },
    primaryMetric: { name: 'ndcg@10', higherIsBetter: true },
    implementations: [{ id: 'cnn', title: 'CNN', role: 'chosen', description: '' }],
    dataFormats: [],
  }) as unknown as CaseStudy;

const report: EvaluationReport = {
  caseStudy: 'alpha',
  primaryMetric: 'ndcg@10',
  dataset: { name: 'generated', source: 'generated', rows: 100, split: 'test' },
  createdAt: '2026-11-01T00:00:00.000Z',
  results: [{ implementation: 'cnn', metrics: { 'ndcg@10': { value: 0.61234, higherIsBetter: true } } }],
};

function app() {
  return createServeAllApp([
    {
      study: study('alpha'),
      report,
      service: {
        handler: (req, res) => {
          res.setHeader('content-type', 'application/json');
          res.end(JSON.stringify({ app: 'alpha', url: req.url }));
        },
        ready: async () => true,
        close: async () => {},
      },
    },
    {
      study: study('beta'),
      service: {
        handler: (_req, res) => {
          res.statusCode = 204;
          res.end();
        },
        ready: async () => {
          throw new Error('model not loaded');
        },
        close: async () => {},
      },
    },
  ]);
}

describe('serve --all', () => {
  it('answers /healthz', async () => {
    const res = await request(app()).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok' });
  });

  it('lists the case studies with their latest evaluation at /', async () => {
    const res = await request(app()).get('/').set('accept', 'application/json');
    expect(res.body.caseStudies).toEqual([
      expect.objectContaining({
        id: 'alpha',
        path: '/alpha/',
        chosen: { implementation: 'cnn', value: '0.6123' },
      }),
      expect.objectContaining({ id: 'beta', path: '/beta/', chosen: null }),
    ]);
    const html = await request(app()).get('/').set('accept', 'text/html');
    expect(html.type).toBe('text/html');
    expect(html.text).toContain('<a href="/alpha/">Study alpha</a>');
    expect(html.text).toContain('not evaluated');
  });

  it('mounts each app under its id with the prefix stripped', async () => {
    const res = await request(app()).get('/alpha/search?q=1');
    expect(res.body).toEqual({ app: 'alpha', url: '/search?q=1' });
    expect((await request(app()).get('/beta/anything')).status).toBe(204);
  });

  it('reports readiness per app with the reason, 503 when one is not ready', async () => {
    const res = await request(app()).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.apps).toEqual([
      { id: 'alpha', ready: true },
      { id: 'beta', ready: false, reason: 'model not loaded' },
    ]);
  });

  it('answers unknown paths with a JSON 404', async () => {
    const res = await request(app()).get('/gamma/');
    expect(res.status).toBe(404);
    expect(res.body.error.code).toBe('not_found');
  });
});

describe('chosenResult', () => {
  const rows = [
    { implementation: 'cnn-x' },
    { implementation: 'cnn (exact)' },
    { implementation: 'cnn (hnsw)' },
    { implementation: 'base' },
  ];
  it('takes the row named by the id, else the first variant, never a longer id', () => {
    expect(chosenResult(rows, 'base')).toBe(rows[3]);
    expect(chosenResult(rows, 'cnn')).toBe(rows[1]);
    expect(chosenResult([...rows, { implementation: 'cnn' }], 'cnn')?.implementation).toBe('cnn');
    expect(chosenResult(rows, 'cn')).toBeUndefined();
  });
});
