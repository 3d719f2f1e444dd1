import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Service } from '@mlsd/serving';
import express from 'express';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateScene } from './data.js';
import { OnnxDetector } from './detector.js';
import { BlurPipeline, blurImage } from './pipeline.js';
import { encodePng } from './raster.js';
import { createBlurService } from './service.js';
import { ImageStore } from './store.js';
import { decodePng, FIXTURES, scenePng } from './test-helpers.js';

let service: Service;
let pipeline: BlurPipeline;
let done: string;
let failed: string;
let original: Uint8Array;
const KEY = 'svb-test-key-0123';

async function waitDone(id: string) {
  for (let i = 0; i < 300; i++) {
    const r = await request(service.app).get(`/jobs/${id}`);
    if (r.body.state === 'completed' || r.body.state === 'failed') return r;
    await new Promise((res) => setTimeout(res, 20));
  }
  throw new Error(`job ${id} did not finish`);
}

beforeAll(async () => {
  const store = await ImageStore.open(mkdtempSync(join(tmpdir(), 'svb-svc-')));
  pipeline = await BlurPipeline.create({
    store,
    detector: await OnnxDetector.load(join(FIXTURES, 'models/detector.onnx')),
    retainOriginals: true,
    spec: { inputSize: 256, padValue: 114, maxPixels: 1_000_000, minSide: 16 },
  });
  service = createBlurService({
    pipeline,
    apiKeys: [KEY],
    maxUploadBytes: 600_000,
    maxBlurBytes: 400_000,
    maxBlurPixels: 200_000,
    logLevel: 'silent',
  });
  const a = await scenePng(11);
  original = a.png;
  const up = await request(service.app)
    .post('/images')
    .set('content-type', 'image/png')
    .send(Buffer.from(a.png));
  expect(up.status).toBe(202);
  done = up.body.id;
  const bad = await request(service.app)
    .post('/images')
    .set('content-type', 'image/png')
    .send(Buffer.from(a.truncated));
  expect(bad.status).toBe(202);
  failed = bad.body.id;
  await waitDone(done);
  await waitDone(failed);
});

afterAll(async () => {
  await service?.close();
});

describe('POST /images, GET /jobs/:id, GET /images/:id', () => {
  it('answers 202 with the job id, reports completion, and serves only the blurred image', async () => {
    const status = await request(service.app).get(`/jobs/${done}`);
    expect(status.status).toBe(200);
    expect(status.body).toMatchObject({ id: done, state: 'completed', stage: 'done' });
    const img = await request(service.app).get(`/images/${done}`).buffer(true);
    expect(img.status).toBe(200);
    expect(img.headers['content-type']).toBe('image/png');
    const served = await decodePng(img.body);
    const source = await decodePng(original);
    expect([served.width, served.height]).toEqual([source.width, source.height]);
    let differing = 0;
    for (let i = 0; i < served.data.length; i++) if (served.data[i] !== source.data[i]) differing++;
    expect(differing).toBeGreaterThan(0);
    expect(Buffer.compare(img.body, Buffer.from(original))).not.toBe(0);
  });

  it('gives links under the mount path when mounted under a prefix (as mlsd serve mounts it)', async () => {
    const outer = express();
    outer.use('/street-view-blurring', service.app);
    const a = await scenePng(12);
    const up = await request(outer)
      .post('/street-view-blurring/images')
      .set('content-type', 'image/png')
      .send(Buffer.from(a.png));
    expect(up.status).toBe(202);
    const { id } = up.body;
    expect(up.body).toMatchObject({
      status: `/street-view-blurring/jobs/${id}`,
      image: `/street-view-blurring/images/${id}`,
    });
    expect(up.headers.location).toBe(`/street-view-blurring/jobs/${id}`);
    const followed = await request(outer).get(up.body.status);
    expect(followed.status).toBe(200);
    expect(followed.body.id).toBe(id);
    await waitDone(id);
    // Unmounted, the links start at the root.
    const direct = await request(service.app)
      .post('/images')
      .set('content-type', 'image/png')
      .send(Buffer.from(a.png));
    expect(direct.body.status).toBe(`/jobs/${direct.body.id}`);
    await waitDone(direct.body.id);
  });

  it('marks a corrupt upload failed with the reason, and has no image for it', async () => {
    const status = await request(service.app).get(`/jobs/${failed}`);
    expect(status.body).toMatchObject({ state: 'failed', stage: 'preprocess', code: 'truncated' });
    expect(status.body.reason).toMatch(/cannot decode/);
    const img = await request(service.app).get(`/images/${failed}`);
    expect(img.status).toBe(409);
    expect(img.body.error.code).toBe('image_failed');
  });

  it('refuses what is not an image, empty bodies, other media types and oversize uploads', async () => {
    const text = await request(service.app)
      .post('/images')
      .set('content-type', 'image/jpeg')
      .send(Buffer.from('not an image at all'));
    expect(text.status).toBe(415);
    expect(text.body.error).toMatchObject({ code: 'not_an_image', details: { field: 'body' } });
    const empty = await request(service.app)
      .post('/images')
      .set('content-type', 'image/png')
      .send(Buffer.alloc(0));
    expect(empty.status).toBe(400);
    expect(empty.body.error.code).toBe('empty_body');
    const json = await request(service.app).post('/images').send({ image: 'x' });
    expect(json.status).toBe(415);
    expect(json.body.error.details.field).toBe('content-type');
    const huge = await request(service.app)
      .post('/images')
      .set('content-type', 'application/octet-stream')
      .send(Buffer.alloc(700_000, 1));
    expect(huge.status).toBe(413);
    // A small file with too many pixels (1,200 x 1,000 above the 1 MP limit of this service).
    const many = await encodePng({ width: 1200, height: 1000, data: new Uint8Array(1200 * 1000 * 3) });
    const big = await request(service.app).post('/images').set('content-type', 'image/png').send(many);
    expect(big.status).toBe(413);
    expect(big.body.error.code).toBe('too_large');
    const tiny = await encodePng({ width: 8, height: 8, data: new Uint8Array(8 * 8 * 3) });
    const small = await request(service.app).post('/images').set('content-type', 'image/png').send(tiny);
    expect(small.status).toBe(400);
    expect(small.body.error.code).toBe('too_small');
  });

  it('answers 404 for unknown and malformed ids', async () => {
    for (const path of [
      '/jobs/img-0123456789abcdef01234567',
      '/jobs/nope',
      '/images/img-0123456789abcdef01234567',
      '/images/../x',
    ]) {
      const r = await request(service.app).get(path);
      expect(r.status, path).toBe(404);
    }
  });
});

describe('POST /blur', () => {
  it('blurs a small image synchronously and lists what it blurred', async () => {
    const scene = generateScene(5, 12, { width: 256, height: 192 });
    const png = await encodePng(scene.image);
    const r = await request(service.app)
      .post('/blur')
      .set('content-type', 'image/png')
      .send(png)
      .buffer(true);
    expect(r.status).toBe(200);
    expect(r.headers['content-type']).toBe('image/png');
    const expected = await blurImage(scene.image, pipeline.currentDetector);
    const counts = { face: 0, plate: 0 };
    for (const d of expected.kept) counts[d.label]++;
    expect(counts.face + counts.plate).toBeGreaterThan(0);
    expect(r.headers['x-detections']).toBe(`face=${counts.face}, plate=${counts.plate}`);
    expect(Buffer.compare(r.body, expected.png)).toBe(0);
    const out = await decodePng(r.body);
    expect([out.width, out.height]).toEqual([256, 192]);
    expect(Buffer.compare(Buffer.from(out.data), Buffer.from(scene.image.data))).not.toBe(0);
  });

  it('refuses bad and too large images with the reason', async () => {
    const bad = await request(service.app)
      .post('/blur')
      .set('content-type', 'image/png')
      .send(Buffer.from('zzz'));
    expect(bad.status).toBe(415);
    const { truncated } = await scenePng(13);
    const cut = await request(service.app)
      .post('/blur')
      .set('content-type', 'image/png')
      .send(Buffer.from(truncated));
    expect(cut.status).toBe(400);
    expect(cut.body.error.code).toBe('truncated');
    const big = await encodePng({ width: 600, height: 400, data: new Uint8Array(600 * 400 * 3) });
    const large = await request(service.app).post('/blur').set('content-type', 'image/png').send(big);
    expect(large.status).toBe(413);
    expect(large.body.error.message).toMatch(/200000 pixels/);
  });
});

describe('POST /reports', () => {
  it('stores a report as a hard example (the original was retained)', async () => {
    const r = await request(service.app)
      .post('/reports')
      .send({ imageId: done, box: [30, 40, 12, 14], label: 'face' });
    expect(r.status).toBe(201);
    expect(r.body).toMatchObject({ imageId: done, kind: 'missed', label: 'face', usable: true });
    expect(await pipeline.store.list('hard')).toEqual([done]);
    expect((await pipeline.store.reports()).map((x) => x.id)).toContain(r.body.id);
  });

  it('rejects zero-size and outside boxes, unknown and failed images, and bad fields', async () => {
    const post = (body: object) => request(service.app).post('/reports').send(body);
    const zero = await post({ imageId: done, box: [10, 10, 0, 5], label: 'plate' });
    expect(zero.status).toBe(400);
    expect(zero.body.error.details[0]).toMatchObject({ path: 'box' });
    const outside = await post({ imageId: done, box: [310, 10, 40, 5], label: 'plate' });
    expect(outside.status).toBe(400);
    expect(outside.body.error).toMatchObject({ code: 'invalid_box', details: { field: 'box' } });
    const unknown = await post({ imageId: 'img-0123456789abcdef01234567', box: [1, 1, 4, 4], label: 'face' });
    expect(unknown.status).toBe(404);
    const malformed = await post({ imageId: '../../etc/passwd', box: [1, 1, 4, 4], label: 'face' });
    expect(malformed.status).toBe(404);
    const onFailed = await post({ imageId: failed, box: [1, 1, 4, 4], label: 'face' });
    expect(onFailed.status).toBe(409);
    const label = await post({ imageId: done, box: [1, 1, 4, 4], label: 'car' });
    expect(label.status).toBe(400);
    expect(label.body.error.details[0].path).toBe('label');
    const kind = await post({ imageId: done, box: [1, 1, 4, 4], label: 'face', kind: 'maybe' });
    expect(kind.status).toBe(400);
    const short = await post({ imageId: done, box: [1, 1, 4], label: 'face' });
    expect(short.status).toBe(400);
  });
});

describe('built-in routes', () => {
  it('is healthy and ready, and has no retraining route without retraining settings', async () => {
    expect((await request(service.app).get('/healthz')).status).toBe(200);
    expect((await request(service.app).get('/readyz')).body.ready).toBe(true);
    // Only GET /jobs/:id matches: there is no retraining route to post to.
    const retrain = await request(service.app).post('/jobs/svb-retrain').set('x-api-key', KEY).send({});
    expect(retrain.status).toBe(405);
  });
});
