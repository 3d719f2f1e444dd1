/**
 * Bad-input fuzzing of a sample service: 1,000 generated malformed bodies (wrong types, missing
 * fields, huge arrays, deep nesting, invalid UTF-8, NaN/Infinity, random bytes) never produce a 500
 * or crash the process, while valid requests sent in between keep being answered correctly.
 */
import fc from 'fast-check';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Listening, listen } from './listen.js';
import type { InferenceModel } from './model.js';
import { createSampleService, TEST_API_KEY } from './testing/sample-service.js';
import { loadTinyModel, tinyModelReference } from './testing/tiny-model.js';

let model: InferenceModel;
let server: Listening;
let base: string;
beforeAll(async () => {
  model = await loadTinyModel();
  const service = createSampleService({
    model,
    batching: { maxBatchSize: 8, maxQueueDelayMs: 1, maxQueueSize: 1000 },
  });
  server = await listen(service, 0);
  base = `http://127.0.0.1:${server.port}`;
});
afterAll(async () => {
  await server.close();
});

type Malformed = { body: string | Uint8Array; contentType: string; label: string };

const finite = fc.double({ noNaN: true, noDefaultInfinity: true, min: -1e6, max: 1e6 });

const malformed: fc.Arbitrary<Malformed> = fc.oneof(
  // Any JSON value at all as the body (wrong types, missing fields, extra fields).
  fc
    .jsonValue()
    .map((v) => ({ body: JSON.stringify(v) ?? 'null', contentType: 'application/json', label: 'json' })),
  // Right shape, wrong field types.
  fc
    .record({ features: fc.anything(), userId: fc.anything() }, { requiredKeys: [] })
    .map((v) => ({ body: JSON.stringify(v) ?? '{}', contentType: 'application/json', label: 'wrong-types' })),
  // Wrong lengths, including huge arrays (some above the body limit).
  fc
    .integer({ min: 0, max: 60_000 })
    .filter((n) => n !== 4)
    .map((n) => ({
      body: JSON.stringify({ features: Array.from({ length: n }, (_, i) => i % 7) }),
      contentType: 'application/json',
      label: 'length',
    })),
  // Deep nesting.
  fc.integer({ min: 100, max: 45_000 }).map((d) => ({
    body: `{"features":${'['.repeat(d)}${']'.repeat(d)}}`,
    contentType: 'application/json',
    label: 'deep',
  })),
  // NaN, Infinity, overflowing literals, and non-finite numbers in otherwise valid bodies.
  fc.constantFrom('NaN', 'Infinity', '-Infinity', '1e999', 'null', '"NaN"').map((t) => ({
    body: `{"features":[${t},1,2,3]}`,
    contentType: 'application/json',
    label: 'nan',
  })),
  // Invalid UTF-8 inside a JSON string and as the whole body.
  fc.uint8Array({ minLength: 1, maxLength: 64 }).map((bytes) => {
    const head = Buffer.from('{"features":[1,2,3,4],"userId":"');
    const bad = Buffer.from([0xff, 0xfe, 0xc3, 0x28, ...bytes]);
    return {
      body: Buffer.concat([head, bad, Buffer.from('"}')]),
      contentType: 'application/json',
      label: 'utf8',
    };
  }),
  fc.uint8Array({ minLength: 0, maxLength: 2048 }).map((bytes) => ({
    body: bytes,
    contentType: 'application/json',
    label: 'bytes',
  })),
  // Truncated JSON and odd content types.
  fc
    .string({ maxLength: 200 })
    .map((s) => ({ body: `{"features": [${s}`, contentType: 'application/json', label: 'trunc' })),
  fc
    .constantFrom(
      'text/plain',
      'application/x-www-form-urlencoded',
      'application/json; charset=latin1',
      'application/json; charset=bogus',
    )
    .map((ct) => ({
      body: 'features=1,2,3,4',
      contentType: ct,
      label: 'ctype',
    })),
);

async function send(path: string, m: Malformed, headers: Record<string, string> = {}) {
  const res = await fetch(`${base}${path}`, {
    method: 'POST',
    headers: { 'content-type': m.contentType, ...headers },
    body: m.body,
  });
  const text = await res.text();
  return { status: res.status, text };
}

describe('fuzzing malformed bodies', () => {
  it('1,000 malformed bodies: never a 500, always a JSON error; interleaved valid requests stay correct', async () => {
    const samples = fc.sample(malformed, { numRuns: 1000, seed: 20_240_601 });
    const validRows = fc.sample(fc.array(finite, { minLength: 4, maxLength: 4 }), { numRuns: 100, seed: 7 });
    const statuses = new Map<number, number>();
    let validChecked = 0;
    for (let i = 0; i < samples.length; i += 10) {
      const chunk = samples.slice(i, i + 10);
      const row = validRows[i / 10];
      // Ten malformed requests and one valid one in flight at the same time.
      const [valid, ...bad] = await Promise.all([
        fetch(`${base}/predict`, {
          method: 'POST',
          headers: { 'content-type': 'application/json' },
          body: JSON.stringify({ features: row }),
        }).then(async (r) => ({ status: r.status, body: (await r.json()) as { score: number } })),
        ...chunk.map((m, j) =>
          send(j % 2 === 0 ? '/predict' : '/admin/echo', m, j % 4 === 1 ? { 'x-api-key': TEST_API_KEY } : {}),
        ),
      ]);
      expect(valid.status).toBe(200);
      expect(valid.body.score).toBeCloseTo(tinyModelReference(row), 5);
      validChecked++;
      for (const [j, r] of bad.entries()) {
        statuses.set(r.status, (statuses.get(r.status) ?? 0) + 1);
        if (r.status >= 500)
          throw new Error(`${chunk[j].label} body gave ${r.status}: ${r.text.slice(0, 200)}`);
        if (r.status !== 200) expect(JSON.parse(r.text).error.code).toEqual(expect.any(String));
      }
    }
    expect(validChecked).toBe(100);
    // Only client errors (and 200 for the admin echo of well-formed JSON with a key).
    for (const status of statuses.keys()) expect([200, 400, 401, 403, 413, 415]).toContain(status);
    expect(statuses.get(400)).toBeGreaterThan(300);
    // The server is still up and healthy after the run.
    expect((await fetch(`${base}/healthz`)).status).toBe(200);
  });
});
