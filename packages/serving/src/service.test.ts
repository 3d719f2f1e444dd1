/**
 * Route and error-path tests of createService against the tiny ONNX model built in the test.
 * Expected scores come from the hand-written reference sigmoid(x·w + b), not from the service.
 */

import { gzipSync } from 'node:zlib';
import { createOpsMetrics } from '@mlsd/monitoring';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { z } from 'zod';
import { apiKeyMatches } from './auth.js';
import { HttpError, QueueFullError } from './errors.js';
import { listen } from './listen.js';
import type { InferenceModel } from './model.js';
import { createService } from './service.js';
import { createSampleService, TEST_API_KEY } from './testing/sample-service.js';
import { loadTinyModel, tinyModelReference } from './testing/tiny-model.js';

let model: InferenceModel;
beforeAll(async () => {
  model = await loadTinyModel({ version: '3' });
});
afterAll(async () => {
  await model.close?.();
});

function sample(extra: Parameters<typeof createSampleService>[0] extends infer T ? Partial<T> : never = {}) {
  return createSampleService({ model, closeModels: false, ...extra });
}

describe('built-in routes', () => {
  it('/healthz answers live with name and version', async () => {
    const res = await request(sample({ version: '1.2.3' }).app).get('/healthz');
    expect(res.status).toBe(200);
    expect(res.body).toEqual({ status: 'ok', service: 'sample', version: '1.2.3' });
  });

  it('/readyz is 200 when every check passes and 503 with each failing reason', async () => {
    const ok = sample({ readiness: { store: () => true } });
    const good = await request(ok.app).get('/readyz');
    expect(good.status).toBe(200);
    expect(good.body).toMatchObject({ ready: true, models: ['tiny'], reasons: {} });

    const bad = sample({
      readiness: {
        store: () => {
          throw new Error('database is locked');
        },
        redis: async () => false,
        queue: () => 'queue paused',
        fine: async () => undefined,
      },
    });
    const res = await request(bad.app).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.reasons).toEqual({
      store: 'database is locked',
      redis: 'check returned false',
      queue: 'queue paused',
    });
  });

  it('/readyz times a hanging check out and reports shutdown once stopAccepting is called', async () => {
    const service = sample({
      readiness: { slow: () => new Promise(() => {}) },
      limits: { readinessTimeoutMs: 50 },
    });
    const res = await request(service.app).get('/readyz');
    expect(res.status).toBe(503);
    expect(res.body.reasons.slow).toMatch(/timed out after 50 ms/);
    const other = sample();
    other.stopAccepting();
    const after = await request(other.app).get('/readyz');
    expect(after.status).toBe(503);
    expect(after.body.reasons.shutdown).toMatch(/shutting down/);
  });

  it('/metrics serves Prometheus text including request durations and model info', async () => {
    const metrics = createOpsMetrics({ collectDefaultMetrics: false });
    const service = sample({ metrics, models: { tiny: { model, stage: 'staging', specHash: 'abc123' } } });
    await request(service.app)
      .post('/predict')
      .send({ features: [1, 2, 3, 4] });
    const res = await request(service.app).get('/metrics');
    expect(res.status).toBe(200);
    expect(res.headers['content-type']).toContain('text/plain');
    expect(res.text).toMatch(
      /mlsd_http_request_duration_seconds_count\{route="\/predict",method="POST",status="200"\} 1/,
    );
    expect(res.text).toMatch(
      /mlsd_model_info\{name="tiny",version="3",spec_hash="abc123",stage="staging"\} 1/,
    );
  });

  it('/monitoring returns the report, 404 when none is configured, 500 when it throws', async () => {
    const report = { drift: { psi: 0.12 }, decay: null };
    const withReport = sample({ monitoringReport: async () => report });
    expect((await request(withReport.app).get('/monitoring')).body).toEqual(report);
    const none = await request(sample().app).get('/monitoring');
    expect(none.status).toBe(404);
    expect(none.body.error.code).toBe('not_configured');
    const failing = sample({
      monitoringReport: async () => {
        throw new Error('no reference profile');
      },
    });
    expect((await request(failing.app).get('/monitoring')).status).toBe(500);
  });

  it('/models lists models with version, stage and signature', async () => {
    const res = await request(sample({ models: { tiny: { model, stage: 'production' } } }).app).get(
      '/models',
    );
    expect(res.body.models).toEqual([
      {
        key: 'tiny',
        name: 'tiny',
        version: '3',
        stage: 'production',
        specHash: null,
        inputs: [{ name: 'x', dtype: 'float32', dims: [-1, 4] }],
        outputs: [{ name: 'y', dtype: 'float32', dims: [-1, 1] }],
      },
    ]);
  });
});

describe('prediction route', () => {
  it('answers the model output, equal to the reference computation', async () => {
    const features = [0.3, -1.2, 0.8, 2.5];
    const res = await request(sample().app).post('/predict').send({ features });
    expect(res.status).toBe(200);
    expect(res.body.score).toBeCloseTo(tinyModelReference(features), 6);
    expect(res.body).toMatchObject({ model: 'tiny', version: '3' });
  });
});

describe('validation and error paths', () => {
  it('400 lists every failing field with its reason', async () => {
    const res = await request(sample().app)
      .post('/predict')
      .send({ features: [1, 'two', 3], userId: 42 });
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('invalid_request');
    const paths = res.body.error.details.map((d: { path: string }) => d.path).sort();
    expect(paths).toEqual(['features', 'features.1', 'userId']);
    for (const d of res.body.error.details) expect(typeof d.message).toBe('string');
  });

  it('400 names the root when the body is not an object, and the field when the body is empty', async () => {
    const res = await request(sample().app)
      .post('/predict')
      .set('content-type', 'application/json')
      .send('42');
    expect(res.status).toBe(400);
    expect(res.body.error.details[0].path).toBe('(root)');
    const empty = await request(sample().app).post('/predict');
    expect(empty.status).toBe(400);
    expect(empty.body.error.details.map((d: { path: string }) => d.path)).toEqual(['features']);
  });

  it('malformed JSON is 400 malformed_json', async () => {
    const res = await request(sample().app)
      .post('/predict')
      .set('content-type', 'application/json')
      .send('{"features": [1, 2,');
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('malformed_json');
  });

  it('a body over the limit is 413', async () => {
    const service = sample({ limits: { bodyBytes: 1024 } });
    const res = await request(service.app)
      .post('/predict')
      .send({ features: Array.from({ length: 1000 }, () => 1.5) });
    expect(res.status).toBe(413);
    expect(res.body.error.code).toBe('payload_too_large');
  });

  it('a body nested deeper than the limit is 400 too_deeply_nested (found by the fuzz test)', async () => {
    const app = sample({ limits: { maxJsonDepth: 10 } }).app;
    const deep = `{"features":${'['.repeat(10)}${']'.repeat(10)}}`;
    const res = await request(app)
      .post('/admin/echo')
      .set('x-api-key', TEST_API_KEY)
      .set('content-type', 'application/json')
      .send(deep);
    expect(res.status).toBe(400);
    expect(res.body.error.code).toBe('too_deeply_nested');
    const ok = `{"features":${'['.repeat(9)}${']'.repeat(9)}}`;
    expect(
      (
        await request(app)
          .post('/admin/echo')
          .set('x-api-key', TEST_API_KEY)
          .set('content-type', 'application/json')
          .send(ok)
      ).status,
    ).toBe(200);
  });

  it('unknown routes are JSON 404, wrong methods JSON 405 with Allow', async () => {
    const app = sample().app;
    const missing = await request(app).get('/nope');
    expect(missing.status).toBe(404);
    expect(missing.body.error.code).toBe('not_found');
    const wrong = await request(app).get('/predict');
    expect(wrong.status).toBe(405);
    expect(wrong.headers.allow).toBe('POST');
    expect(wrong.body.error.code).toBe('method_not_allowed');
    const wrongBuiltin = await request(app).post('/healthz');
    expect(wrongBuiltin.status).toBe(405);
    expect(wrongBuiltin.headers.allow).toBe('GET, HEAD');
  });

  it('an unexpected error is 500 without stack or message, logged with the request id', async () => {
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const res = await request(sample({ logger }).app).get('/boom').set('x-request-id', 'req-abc.1');
    expect(res.status).toBe(500);
    expect(res.headers['x-request-id']).toBe('req-abc.1');
    expect(res.body).toEqual({
      error: { code: 'internal_error', message: 'internal server error', requestId: 'req-abc.1' },
    });
    expect(res.text).not.toContain('secret internal detail');
    const logged = lines.find((l) => l.msg === 'request failed');
    expect(logged?.requestId).toBe('req-abc.1');
    expect((logged?.err as { message: string } | undefined)?.message).toBe('secret internal detail');
  });

  it('HttpError from a route keeps its status, code and details', async () => {
    const service = createService({
      name: 't',
      logger: pino({ level: 'silent' }),
      routes: (r) =>
        r.get('/teapot', () => {
          throw new HttpError(418, 'teapot', 'short and stout', { spout: true });
        }),
    });
    const res = await request(service.app).get('/teapot');
    expect(res.status).toBe(418);
    expect(res.body.error).toMatchObject({
      code: 'teapot',
      message: 'short and stout',
      details: { spout: true },
    });
  });

  it('generates a request id when none (or an unsafe one) is sent', async () => {
    const app = sample().app;
    const a = await request(app).get('/healthz');
    expect(a.headers['x-request-id']).toMatch(/^[0-9a-f-]{36}$/);
    const b = await request(app).get('/healthz').set('x-request-id', 'bad id\twith spaces');
    expect(b.headers['x-request-id']).not.toContain(' ');
  });

  it('rejects bad options with a message naming the argument', () => {
    expect(() => createService({ name: '' })).toThrow(/options\.name/);
    expect(() => createService({ name: 'x', models: { m: {} as InferenceModel } })).toThrow(/models\.m/);
    expect(() => createService({ name: 'x', auth: { apiKeys: ['short'] } })).toThrow(/auth\.apiKeys\[0\]/);
    expect(() => new HttpError(200, 'ok', 'no')).toThrow(RangeError);
  });
});

describe('JSON routes: the plain listener answers as express does', () => {
  const apiKey = TEST_API_KEY;
  function jsonService(extra: Partial<Parameters<typeof createService>[0]> = {}) {
    return createService({
      name: 'json',
      logger: pino({ level: 'silent' }),
      auth: { apiKeys: [apiKey] },
      limits: { bodyBytes: 2048, maxJsonDepth: 8 },
      ...extra,
      routes: (_r, ctx) => {
        ctx.jsonRoute('/sum', { body: z.object({ xs: z.array(z.number()).min(1) }) }, ({ xs }) => ({
          sum: xs.reduce((a, b) => a + b, 0),
        }));
        ctx.jsonRoute(
          '/slow-sum',
          { body: z.object({ xs: z.array(z.number()) }), method: 'PUT', status: 202, auth: 'apiKey' },
          async ({ xs }, { requestId }) => ({ n: xs.length, requestId }),
        );
        ctx.jsonRoute('/fail', { body: z.object({ kind: z.enum(['http', 'queue', 'bug']) }) }, ({ kind }) => {
          if (kind === 'http') throw new HttpError(422, 'unprocessable', 'no', { why: 'test' });
          if (kind === 'queue') throw new QueueFullError('queue full', 3);
          return Promise.reject(new Error('secret detail'));
        });
        ctx.rawRoute('/bytes', { limit: 64 }, (body, { contentType, query }) => {
          if (query.get('fail') === 'yes') throw new HttpError(415, 'unsupported_media_type', 'no');
          return { n: body.length, first: body[0] ?? null, type: contentType, k: query.get('k') };
        });
        ctx.rawRoute('/bytes-locked', { auth: 'apiKey', status: 201 }, (body) => ({ n: body.length }));
      },
    });
  }

  type Case = { label: string; send: (t: request.Agent | ReturnType<typeof request>) => request.Test };
  const json = 'application/json';
  const cases: Case[] = [
    { label: 'valid', send: (t) => (t as ReturnType<typeof request>).post('/sum').send({ xs: [1, 2, 3.5] }) },
    {
      label: 'query string',
      send: (t) => (t as ReturnType<typeof request>).post('/sum?x=1').send({ xs: [1] }),
    },
    {
      label: 'invalid fields',
      send: (t) => (t as ReturnType<typeof request>).post('/sum').send({ xs: ['a'], y: 1 }),
    },
    { label: 'empty array', send: (t) => (t as ReturnType<typeof request>).post('/sum').send({ xs: [] }) },
    {
      label: 'root not object',
      send: (t) => (t as ReturnType<typeof request>).post('/sum').set('content-type', json).send('42'),
    },
    {
      label: 'malformed',
      send: (t) =>
        (t as ReturnType<typeof request>).post('/sum').set('content-type', json).send('{"xs": [1,'),
    },
    {
      label: 'BOM',
      send: (t) =>
        (t as ReturnType<typeof request>).post('/sum').set('content-type', json).send('\uFEFF{"xs":[2]}'),
    },
    {
      label: 'too deep',
      send: (t) =>
        (t as ReturnType<typeof request>)
          .post('/sum')
          .set('content-type', json)
          .send(`{"xs":${'['.repeat(9)}${']'.repeat(9)}}`),
    },
    {
      label: 'too large',
      send: (t) =>
        (t as ReturnType<typeof request>).post('/sum').send({ xs: Array.from({ length: 1500 }, () => 1.25) }),
    },
    { label: 'no body', send: (t) => (t as ReturnType<typeof request>).post('/sum') },
    {
      label: 'text/plain',
      send: (t) =>
        (t as ReturnType<typeof request>).post('/sum').set('content-type', 'text/plain').send('{"xs":[1]}'),
    },
    {
      label: 'latin1 charset',
      send: (t) =>
        (t as ReturnType<typeof request>)
          .post('/sum')
          .set('content-type', 'application/json; charset=latin1')
          .send('{"xs":[1]}'),
    },
    { label: 'wrong method', send: (t) => (t as ReturnType<typeof request>).get('/sum') },
    {
      label: 'api key missing',
      send: (t) => (t as ReturnType<typeof request>).put('/slow-sum').send({ xs: [1] }),
    },
    {
      label: 'api key wrong',
      send: (t) =>
        (t as ReturnType<typeof request>)
          .put('/slow-sum')
          .set('x-api-key', 'wrong-key-0000')
          .send({ xs: [1] }),
    },
    {
      label: 'api key + status',
      send: (t) =>
        (t as ReturnType<typeof request>)
          .put('/slow-sum')
          .set('x-api-key', apiKey)
          .set('x-request-id', 'r-1')
          .send({ xs: [1, 2] }),
    },
    {
      label: 'HttpError',
      send: (t) => (t as ReturnType<typeof request>).post('/fail').send({ kind: 'http' }),
    },
    {
      label: 'QueueFullError',
      send: (t) => (t as ReturnType<typeof request>).post('/fail').send({ kind: 'queue' }),
    },
    {
      label: 'unexpected error',
      send: (t) =>
        (t as ReturnType<typeof request>).post('/fail').set('x-request-id', 'r-2').send({ kind: 'bug' }),
    },
    {
      label: 'raw: image bytes + query',
      send: (t) =>
        (t as ReturnType<typeof request>)
          .post('/bytes?k=7')
          .set('content-type', 'image/png')
          .send(Buffer.from([137, 80, 78, 71])),
    },
    {
      label: 'raw: JSON stays bytes',
      send: (t) => (t as ReturnType<typeof request>).post('/bytes').set('content-type', json).send('{"a":1}'),
    },
    {
      label: 'raw: over its limit',
      send: (t) =>
        (t as ReturnType<typeof request>)
          .post('/bytes')
          .set('content-type', 'image/png')
          .send(Buffer.alloc(100, 1)),
    },
    { label: 'raw: no body', send: (t) => (t as ReturnType<typeof request>).post('/bytes') },
    {
      label: 'raw: handler error',
      send: (t) =>
        (t as ReturnType<typeof request>)
          .post('/bytes?fail=yes')
          .set('content-type', 'image/png')
          .send(Buffer.from([1])),
    },
    {
      label: 'raw: api key missing',
      send: (t) =>
        (t as ReturnType<typeof request>)
          .post('/bytes-locked')
          .set('content-type', 'image/png')
          .send(Buffer.from([1, 2])),
    },
    {
      label: 'raw: api key + status',
      send: (t) =>
        (t as ReturnType<typeof request>)
          .post('/bytes-locked')
          .set('x-api-key', apiKey)
          .set('content-type', 'image/png')
          .send(Buffer.from([1, 2])),
    },
  ];

  it.each(cases)('$label: same status, body and headers on both paths', async ({ send }) => {
    const service = jsonService();
    const viaExpress = await send(request(service.app));
    const viaListener = await send(request(service.handler));
    expect(viaListener.status).toBe(viaExpress.status);
    const strip = (b: unknown) =>
      JSON.parse(JSON.stringify(b).replace(/"requestId":"[0-9a-f-]{36}"/g, '"requestId":"*"'));
    expect(strip(viaListener.body)).toEqual(strip(viaExpress.body));
    for (const h of ['content-type', 'allow', 'retry-after'])
      expect(viaListener.headers[h]).toBe(viaExpress.headers[h]);
    expect(viaListener.headers['x-request-id']).toBeTruthy();
    expect(viaListener.text).not.toContain('secret detail');
  });

  it('the listener answers ordinary JSON requests itself and hands the rest to express', async () => {
    const service = jsonService();
    const spy = vi.spyOn(service.app as unknown as { handle: () => void }, 'handle');
    const ok = await request(service.handler)
      .post('/sum')
      .send({ xs: [1, 2] });
    expect(ok.body).toEqual({ sum: 3 });
    const bad = await request(service.handler).post('/sum').send({ xs: 'no' });
    expect(bad.status).toBe(400);
    expect(spy).not.toHaveBeenCalled();
    const raw = await request(service.handler).post('/bytes').set('content-type', json).send('{"x":[1]}');
    expect(raw.body).toMatchObject({ n: 9, first: 123, type: json });
    expect(spy).not.toHaveBeenCalled();
    await request(service.handler).post('/sum').set('content-type', 'text/plain').send('x');
    await request(service.handler).get('/healthz');
    expect(spy).toHaveBeenCalledTimes(2);
  });

  it('a gzip-compressed body is served through express with the same answer', async () => {
    const server = await listen(jsonService(), 0);
    try {
      const res = await fetch(`http://127.0.0.1:${server.port}/sum`, {
        method: 'POST',
        headers: { 'content-type': json, 'content-encoding': 'gzip' },
        body: gzipSync(Buffer.from(JSON.stringify({ xs: [4, 5] }))),
      });
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ sum: 9 });
    } finally {
      await server.close();
    }
  });

  it('records request durations and logs each request with its route on the listener path', async () => {
    const metrics = createOpsMetrics({ collectDefaultMetrics: false });
    const lines: Array<Record<string, unknown>> = [];
    const logger = pino({ level: 'info' }, { write: (line: string) => lines.push(JSON.parse(line)) });
    const service = jsonService({ metrics, logger });
    await request(service.handler)
      .post('/sum')
      .set('x-request-id', 'r-9')
      .send({ xs: [1] });
    await request(service.handler).post('/sum').send({ xs: [] });
    const text = await metrics.metrics();
    expect(text).toMatch(/route="\/sum"[^\n]*status="200"/);
    expect(text).toMatch(/route="\/sum"[^\n]*status="400"/);
    const logged = lines.find((l) => l.msg === 'request' && l.requestId === 'r-9');
    expect(logged).toMatchObject({ route: '/sum', method: 'POST', status: 200 });
  });

  it('rejects pattern paths and duplicate declarations', () => {
    const body = z.object({});
    expect(() =>
      createService({ name: 'x', routes: (_r, ctx) => ctx.jsonRoute('/a/:id', { body }, () => 1) }),
    ).toThrow(/literal path/);
    expect(() =>
      createService({
        name: 'x',
        routes: (_r, ctx) => {
          ctx.jsonRoute('/a', { body }, () => 1);
          ctx.jsonRoute('/a', { body }, () => 2);
        },
      }),
    ).toThrow(/declared twice/);
  });
});

describe('authentication', () => {
  it('state-changing routes need a valid key; 401 without, 403 when wrong', async () => {
    const app = sample().app;
    expect((await request(app).post('/admin/echo').send({ a: 1 })).status).toBe(401);
    expect(
      (await request(app).post('/admin/echo').set('x-api-key', 'wrong-key-000000').send({})).status,
    ).toBe(403);
    const ok = await request(app).post('/admin/echo').set('x-api-key', TEST_API_KEY).send({ a: 1 });
    expect(ok.status).toBe(200);
    expect(ok.body).toEqual({ received: { a: 1 } });
    const bearer = await request(app).post('/admin/echo').set('authorization', `Bearer ${TEST_API_KEY}`);
    expect(bearer.status).toBe(200);
  });

  it('prediction routes are open by default and protected when configured', async () => {
    expect(
      (
        await request(sample().app)
          .post('/predict')
          .send({ features: [1, 1, 1, 1] })
      ).status,
    ).toBe(200);
    const locked = sample({ auth: { apiKeys: [TEST_API_KEY], protectPredictions: true } });
    expect(
      (
        await request(locked.app)
          .post('/predict')
          .send({ features: [1, 1, 1, 1] })
      ).status,
    ).toBe(401);
    const withKey = await request(locked.app)
      .post('/predict')
      .set('x-api-key', TEST_API_KEY)
      .send({ features: [1, 1, 1, 1] });
    expect(withKey.status).toBe(200);
  });

  it('with no keys configured, protected routes are refused rather than open', async () => {
    const service = createSampleService({ model, closeModels: false, auth: { apiKeys: [] } });
    expect(
      (await request(service.app).post('/admin/echo').set('x-api-key', 'anything-at-all').send({})).status,
    ).toBe(403);
  });

  it('apiKeyMatches compares keys of any length', () => {
    expect(apiKeyMatches('abcdefgh', ['zzzzzzzzzz', 'abcdefgh'])).toBe(true);
    expect(apiKeyMatches('abcdefg', ['abcdefgh'])).toBe(false);
    expect(apiKeyMatches('abcdefghi', ['abcdefgh'])).toBe(false);
  });
});

describe('graceful shutdown', () => {
  it('drains an in-flight request, then closes queues and stores, and refuses new connections', async () => {
    const events: string[] = [];
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const service = createService({
      name: 'drain',
      logger: pino({ level: 'silent' }),
      closeables: [{ close: () => events.push('store closed') }],
      routes: (r) =>
        r.get('/slow', async (_req, res) => {
          events.push('request started');
          await gate;
          events.push('request finished');
          res.json({ done: true });
        }),
    });
    const listening = await listen(service, 0);
    const base = `http://127.0.0.1:${listening.port}`;
    const inflight = fetch(`${base}/slow`).then((r) => r.json());
    while (!events.includes('request started')) await new Promise((r) => setTimeout(r, 5));
    const closed = listening.close();
    expect(service.accepting).toBe(false);
    await new Promise((r) => setTimeout(r, 20));
    expect(events).not.toContain('store closed');
    release();
    expect(await inflight).toEqual({ done: true });
    await closed;
    expect(events).toEqual(['request started', 'request finished', 'store closed']);
    await expect(fetch(`${base}/slow`)).rejects.toThrow();
  });

  it('validate() also checks query parameters', async () => {
    const service = createService({
      name: 'q',
      logger: pino({ level: 'silent' }),
      routes: (r, ctx) =>
        r.get(
          '/items',
          ctx.validate(z.object({ limit: z.coerce.number().int().max(100) }), 'query'),
          (_req, res) => {
            res.json(res.locals.query);
          },
        ),
    });
    expect((await request(service.app).get('/items?limit=5')).body).toEqual({ limit: 5 });
    const bad = await request(service.app).get('/items?limit=500');
    expect(bad.status).toBe(400);
    expect(bad.body.error.details[0].path).toBe('limit');
  });
});
