import { mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import express from 'express';
import sharp from 'sharp';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeImage, generateCatalogue } from './data.js';
import { embedLibrary } from './pipeline.js';
import { createSearchService, parseMultipart, type SearchService } from './service.js';

const MODEL_DIR = new URL('../../../fixtures/visual-search/model/', import.meta.url).pathname;
const KEY = 'test-key-0123456789';
const catalogue = generateCatalogue({ count: 300, seed: 11 });
let svc: SearchService;
let dir: string;
let app: SearchService['service']['app'];
let publicIds: string[];

async function png(i: number): Promise<Buffer> {
  return encodeImage(catalogue.pixels(i), catalogue.size, 'png');
}

/** Everything a rejected request must leave untouched. */
async function state() {
  svc.log.flush();
  const searches = (svc.log.sqlite.prepare('SELECT count(*) AS n FROM predictions').get() as { n: number }).n;
  const feedback = (svc.log.sqlite.prepare('SELECT count(*) AS n FROM feedback').get() as { n: number }).n;
  return {
    searches,
    feedback,
    index: svc.index.size,
    library: svc.library.size,
    files: (await readdir(join(dir, 'uploads'))).length,
  };
}

async function expectNothingWritten(before: Awaited<ReturnType<typeof state>>) {
  expect(await state()).toEqual(before);
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'vs-service-'));
  svc = await createSearchService({
    modelDir: MODEL_DIR,
    workDir: dir,
    catalogue,
    config: { MLSD_API_KEY: KEY },
    maxImageBytes: 60_000,
    maxImagePixels: 1_000_000,
    logLevel: 'silent',
  });
  app = svc.service.app;
  await svc.indexed;
  publicIds = svc.library.ids().filter((id) => svc.library.isVisible(id));
});
afterAll(async () => {
  await svc?.close();
  await rm(dir, { recursive: true, force: true });
});

describe('operations routes', () => {
  it('answers /healthz, /readyz, /models, /metrics and /monitoring', async () => {
    expect((await request(app).get('/healthz')).body).toMatchObject({
      status: 'ok',
      service: 'visual-search',
    });
    expect((await request(app).get('/readyz')).status).toBe(200);
    const models = await request(app).get('/models');
    expect(models.body.models[0]).toMatchObject({
      key: 'encoder',
      name: 'cnn-contrastive',
      version: svc.encoder.version,
    });
    await request(app).post('/search').send({ id: publicIds[0] }).expect(200);
    const metrics = await request(app).get('/metrics');
    expect(metrics.text).toMatch(/http_request_duration_seconds_count\{[^}]*route="\/search"/);
    expect(metrics.text).toMatch(/inference_duration_seconds_count\{model="cnn-contrastive"/);
    const mon = await request(app).get('/monitoring');
    expect(mon.body.searches).toBeGreaterThanOrEqual(1);
    expect(mon.body.index).toMatchObject({ size: catalogue.count, ready: true });
    expect((await request(app).get('/search')).status).toBe(405);
  });
});

describe('POST /search', () => {
  it('finds the catalogue image a PNG was made from, with the offline embedding (score 1)', async () => {
    const id = publicIds[3];
    const i = catalogue.indexOf(id);
    const res = await request(app)
      .post('/search?k=5')
      .set('content-type', 'image/png')
      .send(await png(i));
    expect(res.status).toBe(200);
    expect(res.body.results).toHaveLength(5);
    expect(res.body.results[0]).toMatchObject({ id, url: `/images/${id}` });
    // Online path (PNG bytes -> decode -> resize -> normalise -> ONNX) equals the offline one.
    const offline = await embedLibrary(svc.library, svc.encoder.embedder, [id]);
    const online = svc.index.current.getVector(id) as Float32Array;
    let dot = 0;
    for (let k = 0; k < offline.length; k++) dot += offline[k] * online[k];
    expect(res.body.results[0].score).toBeGreaterThan(0.99999);
    expect(dot).toBeGreaterThan(0.99999);
    const scores = res.body.results.map((r: { score: number }) => r.score);
    expect(scores).toEqual([...scores].sort((a: number, b: number) => b - a));
    // The service's own listener (no express) answers the same results.
    const plain = await request(svc.service.handler)
      .post('/search?k=5')
      .set('content-type', 'image/png')
      .send(await png(i));
    expect(plain.status).toBe(200);
    expect(plain.body.results).toEqual(res.body.results);
    expect(plain.body.searchId).not.toBe(res.body.searchId);
    // The CaseStudy handle (what `mlsd serve` mounts) is that listener, so /search keeps its fast path there.
    expect(svc.handler).toBe(svc.service.handler);
  });

  it('accepts an indexed id (never returning the query itself) and hides private and removed images', async () => {
    const hidden = new Set(svc.library.ids().filter((id) => !svc.library.isVisible(id)));
    expect(hidden.size).toBeGreaterThan(0);
    for (const id of publicIds.slice(0, 15)) {
      const res = await request(app).post('/search').send({ id, k: 20 });
      expect(res.status).toBe(200);
      const ids = res.body.results.map((r: { id: string }) => r.id);
      expect(ids).toHaveLength(20);
      expect(ids).not.toContain(id);
      for (const r of ids) expect(hidden.has(r)).toBe(false);
    }
    // Without the filter these searches would have returned hidden images: the index holds them.
    const any = [...hidden][0];
    expect(svc.index.search(svc.index.current.getVector(any) as Float32Array, 1)[0].id).toBe(any);
  });

  it('links results under the path the service is mounted at', async () => {
    const id = publicIds[0];
    const root = await request(app).post('/search').send({ id, k: 3 });
    expect(root.body.results[0].url).toBe(`/images/${root.body.results[0].id}`);
    const mounted = express().use('/visual-search', app);
    const res = await request(mounted).post('/visual-search/search').send({ id, k: 3 });
    expect(res.status).toBe(200);
    for (const r of res.body.results as Array<{ id: string; url: string }>) {
      expect(r.url).toBe(`/visual-search/images/${r.id}`);
      expect((await request(mounted).get(r.url)).status).toBe(200);
    }
  });

  it('takes JPEG, WebP, multipart and a crop box', async () => {
    const i = catalogue.indexOf(publicIds[4]);
    for (const format of ['jpeg', 'webp'] as const) {
      const body = await encodeImage(catalogue.pixels(i), catalogue.size, format, 95);
      const res = await request(app).post('/search').set('content-type', `image/${format}`).send(body);
      expect(res.status).toBe(200);
      expect(res.body.results[0].id).toBe(publicIds[4]);
    }
    const multi = await request(app)
      .post('/search')
      .field('k', '4')
      .field('crop', '8,8,40,40')
      .attach('image', await png(i), { filename: 'q.png', contentType: 'image/png' });
    expect(multi.status).toBe(200);
    expect(multi.body.results).toHaveLength(4);
    const cropped = await request(app)
      .post('/search')
      .send({ id: publicIds[4], crop: { x: 8, y: 8, width: 40, height: 40 }, k: 3 });
    expect(cropped.status).toBe(200);
    // The same crop by id and by file gives the same neighbours (the id search leaves out its query).
    const fromFile = multi.body.results
      .map((r: { id: string }) => r.id)
      .filter((id: string) => id !== publicIds[4]);
    expect(cropped.body.results.map((r: { id: string }) => r.id)).toEqual(fromFile.slice(0, 3));
  });

  it('answers every bad input with a 4xx and its reason, and writes nothing', async () => {
    const before = await state();
    const good = await png(0);
    const noisePng = (side: number) =>
      sharp(Buffer.from(Array.from({ length: side * side * 3 }, (_, k) => (k * 7919) % 251)), {
        raw: { width: side, height: side, channels: 3 },
      })
        .png({ compressionLevel: 0 })
        .toBuffer();
    // The service takes 60,000 bytes: the first is refused by the decoder, the second by the body reader.
    const [over, farOver] = [await noisePng(160), await noisePng(260)];
    const huge = await sharp({ create: { width: 2000, height: 1000, channels: 3, background: '#888' } })
      .png()
      .toBuffer();
    const gif = await sharp({ create: { width: 8, height: 8, channels: 3, background: '#f00' } })
      .gif()
      .toBuffer();
    // Through express (what supertest and `mlsd serve` mount) and through the service's own
    // listener (what `listen()` serves, without express): the same answers.
    for (const target of [app, svc.service.handler]) {
      const cases: Array<[string, request.Test, number, string, RegExp]> = [
        [
          'not an image',
          request(target)
            .post('/search')
            .set('content-type', 'image/png')
            .send(Buffer.from('hello, not a picture')),
          400,
          'not_an_image',
          /not a readable image/,
        ],
        [
          'truncated',
          request(target)
            .post('/search')
            .set('content-type', 'image/png')
            .send(good.subarray(0, Math.floor(good.length * 0.6))),
          400,
          'truncated_image',
          /could not decode/,
        ],
        [
          'over the byte limit',
          request(target).post('/search').set('content-type', 'image/png').send(over),
          413,
          'image_too_large',
          /bytes is over the limit of 60000/,
        ],
        [
          'far over the byte limit',
          request(target).post('/search').set('content-type', 'image/png').send(farOver),
          413,
          'payload_too_large',
          /too large/i,
        ],
        [
          'over the pixel limit',
          request(target).post('/search').set('content-type', 'image/png').send(huge),
          413,
          'image_too_large',
          /2000 x 1000 is over the limit/,
        ],
        [
          'GIF',
          request(target).post('/search').set('content-type', 'image/gif').send(gif),
          415,
          'unsupported_image_format',
          /expected PNG, JPEG or WebP, got gif/,
        ],
        [
          'crop outside',
          request(target).post('/search?crop=40,40,30,30').set('content-type', 'image/png').send(good),
          400,
          'bad_crop',
          /not inside the 64 x 64 image/,
        ],
        [
          'crop malformed',
          request(target).post('/search?crop=1,2,3').set('content-type', 'image/png').send(good),
          400,
          'invalid_request',
          /crop: expected x,y,width,height/,
        ],
        [
          'crop outside by id',
          request(target)
            .post('/search')
            .send({ id: publicIds[0], crop: { x: 0, y: 60, width: 10, height: 10 } }),
          400,
          'bad_crop',
          /not inside/,
        ],
        [
          'unknown id',
          request(target).post('/search').send({ id: 'img-999999' }),
          404,
          'unknown_image',
          /no indexed image 'img-999999'/,
        ],
        [
          'bad k',
          request(target).post('/search').send({ id: publicIds[0], k: 1000 }),
          400,
          'invalid_request',
          /^k:/,
        ],
        [
          'unknown field',
          request(target).post('/search').send({ id: publicIds[0], colour: 'red' }),
          400,
          'invalid_request',
          /colour|Unrecognized/,
        ],
        [
          'empty body',
          request(target).post('/search').set('content-type', 'image/png').send(Buffer.alloc(0)),
          400,
          'invalid_request',
          /empty/,
        ],
        [
          'text',
          request(target).post('/search').set('content-type', 'text/plain').send('a cat'),
          415,
          'unsupported_media_type',
          /content-type/,
        ],
        [
          'malformed JSON',
          request(target).post('/search').set('content-type', 'application/json').send('{"id": '),
          400,
          'malformed_json',
          /not valid JSON/,
        ],
        [
          'multipart without image',
          request(target).post('/search').field('k', '3'),
          400,
          'invalid_request',
          /image/,
        ],
      ];
      for (const [what, req, status, code, message] of cases) {
        const res = await req;
        expect({ what, status: res.status, code: res.body.error?.code }).toEqual({ what, status, code });
        expect(res.body.error.message, what).toMatch(message);
      }
    }
    await expectNothingWritten(before);
  });
});

describe('POST /images and GET /images/:id', () => {
  it('stores an upload, makes it searchable without a rebuild and serves it back', async () => {
    const i = catalogue.indexOf(publicIds[5]);
    const body = await encodeImage(catalogue.pixels((i + 1) % catalogue.count), catalogue.size, 'jpeg', 92);
    const current = svc.index.current;
    const res = await request(app)
      .post('/images')
      .set('x-api-key', KEY)
      .set('content-type', 'image/jpeg')
      .send(body);
    expect(res.status).toBe(201);
    const id = res.body.id;
    expect(svc.index.current).toBe(current); // added, not rebuilt
    expect(svc.index.has(id)).toBe(true);
    const file = await request(app)
      .get(`/images/${id}`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    expect(file.headers['content-type']).toBe('image/jpeg');
    expect(Buffer.compare(file.body, body)).toBe(0);
    const byId = await request(app).post('/search').send({ id, k: 5 });
    expect(byId.status).toBe(200);
    expect(byId.body.results.map((r: { id: string }) => r.id)).not.toContain(id);
  });

  it('collapses a re-uploaded copy of a catalogue image onto one result', async () => {
    const id = publicIds[6];
    const i = catalogue.indexOf(id);
    const up = await request(app)
      .post('/images')
      .set('x-api-key', KEY)
      .set('content-type', 'image/png')
      .send(await png(i));
    expect(up.status).toBe(201);
    const res = await request(app)
      .post('/search?k=10')
      .set('content-type', 'image/png')
      .send(await png(i));
    const ids = res.body.results.map((r: { id: string }) => r.id);
    expect(ids.filter((x: string) => x === id || x === up.body.id)).toHaveLength(1);
    expect(res.body.collapsed).toBeGreaterThanOrEqual(1);
  });

  it('keeps private uploads out of results and behind the API key', async () => {
    const i = catalogue.indexOf(publicIds[7]);
    const up = await request(app)
      .post('/images')
      .set('x-api-key', KEY)
      .field('private', 'true')
      .attach('image', await encodeImage(catalogue.pixels(i), catalogue.size, 'webp', 99), {
        filename: 'x.webp',
        contentType: 'image/webp',
      });
    expect(up.status).toBe(201);
    expect(up.body.private).toBe(true);
    const res = await request(app)
      .post('/search')
      .set('content-type', 'image/png')
      .send(await png(i));
    expect(res.body.results.map((r: { id: string }) => r.id)).not.toContain(up.body.id);
    expect((await request(app).get(`/images/${up.body.id}`)).status).toBe(404);
    const keyed = await request(app).get(`/images/${up.body.id}`).set('x-api-key', KEY);
    expect(keyed.status).toBe(200);
    expect(keyed.headers['content-type']).toBe('image/webp');
  });

  it('serves catalogue images as PNG and refuses unknown and removed ones', async () => {
    const id = publicIds[0];
    const res = await request(app)
      .get(`/images/${id}`)
      .buffer(true)
      .parse((r, cb) => {
        const chunks: Buffer[] = [];
        r.on('data', (c: Buffer) => chunks.push(c));
        r.on('end', () => cb(null, Buffer.concat(chunks)));
      });
    expect(res.status).toBe(200);
    const { data } = await sharp(res.body).raw().toBuffer({ resolveWithObject: true });
    expect(new Uint8Array(data)).toEqual(catalogue.pixels(catalogue.indexOf(id)));
    expect((await request(app).get('/images/img-999999')).body.error.code).toBe('unknown_image');
    const removed = svc.library.ids().find((x) => svc.library.get(x)?.visibility === 'removed') as string;
    expect((await request(app).get(`/images/${removed}`)).status).toBe(404);
  });

  it('rejects uploads without a key or with a bad image, writing nothing', async () => {
    const before = await state();
    const good = await png(1);
    expect((await request(app).post('/images').set('content-type', 'image/png').send(good)).status).toBe(401);
    expect(
      (
        await request(app)
          .post('/images')
          .set('x-api-key', 'wrong-key-000')
          .set('content-type', 'image/png')
          .send(good)
      ).status,
    ).toBe(403);
    const bad = [
      [
        request(app)
          .post('/images')
          .set('x-api-key', KEY)
          .set('content-type', 'image/png')
          .send(Buffer.from('%PDF-1.4')),
        400,
        'not_an_image',
      ],
      [
        request(app)
          .post('/images')
          .set('x-api-key', KEY)
          .set('content-type', 'image/png')
          .send(good.subarray(0, 300)),
        400,
        'truncated_image',
      ],
      [
        request(app).post('/images').set('x-api-key', KEY).send({ id: publicIds[0] }),
        415,
        'unsupported_media_type',
      ],
      [
        request(app)
          .post('/images?crop=0,0,8,8')
          .set('x-api-key', KEY)
          .set('content-type', 'image/png')
          .send(good),
        400,
        'invalid_request',
      ],
      [
        request(app)
          .post('/images?private=maybe')
          .set('x-api-key', KEY)
          .set('content-type', 'image/png')
          .send(good),
        400,
        'invalid_request',
      ],
    ] as const;
    for (const [req, status, code] of bad) {
      const res = await req;
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
    }
    await expectNothingWritten(before);
  });
});

describe('POST /clicks', () => {
  it('logs a click on a result as feedback, and refuses clicks that match no search', async () => {
    const search = await request(app).post('/search').send({ id: publicIds[1], k: 5 });
    const target = search.body.results[2].id;
    const before = await state();
    expect(
      (await request(app).post('/clicks').send({ searchId: search.body.searchId, imageId: target })).status,
    ).toBe(401);
    const bad = [
      [{ searchId: 'nope', imageId: target }, 404, 'unknown_search'],
      [{ searchId: search.body.searchId, imageId: 'img-000000-not-shown' }, 400, 'invalid_request'],
      [{ searchId: search.body.searchId }, 400, 'invalid_request'],
    ] as const;
    for (const [body, status, code] of bad) {
      const res = await request(app).post('/clicks').set('x-api-key', KEY).send(body);
      expect({ status: res.status, code: res.body.error?.code }).toEqual({ status, code });
    }
    await expectNothingWritten(before);
    const ok = await request(app)
      .post('/clicks')
      .set('x-api-key', KEY)
      .send({ searchId: search.body.searchId, imageId: target });
    expect(ok.status).toBe(202);
    expect(ok.body.position).toBe(3);
    svc.log.flush();
    const stored = svc.log.feedbackFor(search.body.searchId);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ kind: 'click', value: 1 });
    expect(JSON.parse(stored[0].payload as string)).toEqual({ imageId: target, position: 3 });
    expect((await request(app).get('/monitoring')).body.searchesWithClick).toBe(1);
  });
});

describe('index routes', () => {
  it('rebuilds on request (API key) and keeps the uploads', async () => {
    const size = svc.index.size;
    const old = svc.index.current;
    expect((await request(app).post('/index/rebuild')).status).toBe(401);
    const res = await request(app).post('/index/rebuild').set('x-api-key', KEY);
    expect(res.status).toBe(202);
    const done = await svc.jobs.waitFor('visual-search-index', res.body.jobId, 60_000);
    expect(done.state).toBe('completed');
    expect(svc.index.current).not.toBe(old);
    expect(svc.index.size).toBe(size);
    expect((await request(app).get('/index')).body).toMatchObject({ ready: true, size });
  });
});

describe('parseMultipart', () => {
  it('reads fields and files, and rejects a body without its closing boundary', () => {
    const body = Buffer.from(
      '--XX\r\ncontent-disposition: form-data; name="k"\r\n\r\n7\r\n--XX\r\ncontent-disposition: form-data; name="image"; filename="a.png"\r\ncontent-type: image/png\r\n\r\n\x89PNG\r\n--XX--\r\n',
      'latin1',
    );
    const parts = parseMultipart(body, 'multipart/form-data; boundary=XX');
    expect(parts.map((p) => [p.name, p.filename, p.data.toString('latin1')])).toEqual([
      ['k', undefined, '7'],
      ['image', 'a.png', '\x89PNG'],
    ]);
    expect(() =>
      parseMultipart(body.subarray(0, body.length - 10), 'multipart/form-data; boundary=XX'),
    ).toThrow(/closing boundary/);
    expect(() => parseMultipart(body, 'multipart/form-data')).toThrow(/boundary/);
  });
});
