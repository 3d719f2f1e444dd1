import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { generateVideoWorld, SMALL_WORLD, worldInteractions } from './data.js';
import { worldSideInfo } from './features.js';
import { createVideoService, type VideoService } from './service.js';
import { trainModels } from './train.js';

const world = generateVideoWorld({ ...SMALL_WORLD, seed: 3 });
const dir = mkdtempSync(join(tmpdir(), 'vr-service-'));
const KEY = 'test-key-123456';
let svc: VideoService;
const tiny = { seed: 1, tower: { epochs: 1, batchSize: 256 }, ranker: { epochs: 1 }, rankerUsers: 300 };

beforeAll(async () => {
  const table = worldInteractions(world);
  await trainModels(table, worldSideInfo(world), {
    ...tiny,
    outDir: join(dir, 'v1'),
    version: 'v1',
    world: { seed: 3, size: 'small' },
  });
  svc = await createVideoService({
    modelsDir: join(dir, 'v1'),
    world,
    workDir: dir,
    config: { MLSD_API_KEY: KEY },
    now: () => world.endTs,
    restrictions: new Map(),
    retrain: async (t, side, o) => {
      await trainModels(t, side, { ...tiny, outDir: o.outDir, version: 'v2' });
      return o.outDir;
    },
  });
}, 120_000);

afterAll(async () => {
  await svc?.close();
});

/** A user with a relevant history (known, not cold). */
const active = (nth: number) => {
  const users = svc.state().histories.relevant.flatMap((h, u) => (h.length >= 3 ? [u] : []));
  return users[nth];
};

async function waitForJob(name: string, id: string) {
  for (let i = 0; i < 600; i++) {
    const res = await request(svc.service.app).get(`/jobs/${name}/${id}`);
    if (res.body.state === 'completed' || res.body.state === 'failed') return res.body;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error('job did not finish');
}

describe('GET /users/:id/recommendations', () => {
  it('answers a known user with k videos, each with a score, sources and reasons, none already watched', async () => {
    const u = active(0);
    const res = await request(svc.service.app).get(`/users/u${u}/recommendations?k=12`);
    expect(res.status).toBe(200);
    expect(res.body.cold_start).toBe(false);
    expect(res.body.recommendations).toHaveLength(12);
    const seen = svc.state().histories.seen[u];
    expect(seen.size).toBeGreaterThan(0);
    const ids = res.body.recommendations.map((r: { video_id: string }) => r.video_id);
    expect(new Set(ids).size).toBe(12);
    for (const r of res.body.recommendations) {
      expect(typeof r.score).toBe('number');
      expect(r.sources.length).toBeGreaterThan(0);
      expect(r.reasons.length).toBeGreaterThan(0);
      expect(seen.has(Number(r.video_id.slice(1)))).toBe(false);
    }
  });

  it('defaults to k = 20', async () => {
    const res = await request(svc.service.app).get('/users/u8/recommendations');
    expect(res.status).toBe(200);
    expect(res.body.recommendations).toHaveLength(20);
  });

  it('serves an unknown user through the cold-start path, demographics optional', async () => {
    const plain = await request(svc.service.app).get('/users/someone-new/recommendations?k=5');
    expect(plain.status).toBe(200);
    expect(plain.body.cold_start).toBe(true);
    expect(plain.body.recommendations).toHaveLength(5);
    const withDemo = await request(svc.service.app).get(
      '/users/someone-new/recommendations?k=5&age=1&gender=0&country=1&language=1',
    );
    expect(withDemo.status).toBe(200);
    expect(withDemo.body.recommendations).toHaveLength(5);
  });

  it.each([
    ['k=0', 'k'],
    ['k=101', 'k'],
    ['k=ten', 'k'],
    ['k=2.5', 'k'],
    ['age=-1', 'age'],
    ['colour=red', 'query'],
  ])('rejects %s with 400 naming the field', async (query, field) => {
    const res = await request(svc.service.app).get(`/users/u1/recommendations?${query}`);
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toContain(field);
  });
});

describe('POST /events', () => {
  it('updates the user history online: a long watch becomes history and leaves the list', async () => {
    const u = active(1);
    const before = await request(svc.service.app).get(`/users/u${u}/recommendations?k=5`);
    const top = before.body.recommendations[0].video_id as string;
    const item = Number(top.slice(1));
    const res = await request(svc.service.app)
      .post('/events')
      .send({
        events: [
          { type: 'impression', user_id: `u${u}`, video_id: top },
          { type: 'watch', user_id: `u${u}`, video_id: top, watch_seconds: world.videos.lengthSeconds[item] },
        ],
      });
    expect(res.status).toBe(200);
    expect(res.body).toMatchObject({ accepted: 2, rejected: [] });
    expect(svc.state().histories.relevant[u].at(-1)).toBe(item);
    const after = await request(svc.service.app).get(`/users/u${u}/recommendations?k=5`);
    expect(after.body.recommendations.map((r: { video_id: string }) => r.video_id)).not.toContain(top);
  });

  it('gives a new user a history from their events', async () => {
    await request(svc.service.app)
      .post('/events')
      .send({ events: [{ type: 'like', user_id: 'fresh-user', video_id: 'v3' }] })
      .expect(200);
    const res = await request(svc.service.app).get('/users/fresh-user/recommendations?k=5');
    expect(res.status).toBe(200);
    expect(res.body.recommendations.map((r: { video_id: string }) => r.video_id)).not.toContain('v3');
  });

  it('rejects malformed events with their index, field and reason and keeps the rest', async () => {
    const n = svc.events.length;
    const res = await request(svc.service.app)
      .post('/events')
      .send({
        events: [
          { type: 'click', user_id: 'u1', video_id: 'v1' },
          { type: 'teleport', user_id: 'u1', video_id: 'v1' },
          { type: 'click', user_id: 'u1', video_id: 'v999999' },
          { type: 'watch', user_id: 'u1', video_id: 'v2' },
          { type: 'like', user_id: 'u1', video_id: 'v2', extra: 1 },
          'not an event',
        ],
      });
    expect(res.status).toBe(400);
    expect(res.body.accepted).toBe(1);
    const fields = res.body.rejected.map((r: { index: number; field: string }) => `${r.index}:${r.field}`);
    expect(fields).toEqual(expect.arrayContaining(['1:type', '2:video_id', '3:watch_seconds', '5:(event)']));
    expect(res.body.rejected.some((r: { index: number }) => r.index === 4)).toBe(true);
    expect(svc.events.length).toBe(n + 1);
  });

  it('rejects a body that is not a batch', async () => {
    for (const body of [{}, { events: [] }, { events: 'x' }, []]) {
      const res = await request(svc.service.app).post('/events').send(body);
      expect(res.status).toBe(400);
    }
  });
});

describe('jobs', () => {
  it('need an API key', async () => {
    expect((await request(svc.service.app).post('/jobs/reindex')).status).toBe(401);
    expect(
      (await request(svc.service.app).post('/jobs/reindex').set('x-api-key', 'wrong-key-0000')).status,
    ).toBe(403);
  });

  it('reindex re-embeds every video and swaps the index in', async () => {
    const before = svc.state().index;
    const res = await request(svc.service.app).post('/jobs/reindex').set('x-api-key', KEY);
    expect(res.status).toBe(202);
    const job = await waitForJob('reindex', res.body.job.id);
    expect(job.state).toBe('completed');
    expect(job.result.videos).toBe(svc.state().catalogue.reduce((a, b) => a + b, 0));
    expect(svc.state().index).not.toBe(before);
    expect((await request(svc.service.app).get('/users/u7/recommendations?k=3')).status).toBe(200);
  });

  it('retrain trains on the log plus the events and swaps the new models in', async () => {
    expect(svc.models().card.version).toBe('v1');
    const bad = await request(svc.service.app)
      .post('/jobs/retrain')
      .set('x-api-key', KEY)
      .send({ epochs: 0 });
    expect(bad.status).toBe(400);
    const res = await request(svc.service.app)
      .post('/jobs/retrain')
      .set('x-api-key', KEY)
      .send({ epochs: 1 });
    expect(res.status).toBe(202);
    const job = await waitForJob('retrain', res.body.job.id);
    expect(job.state).toBe('completed');
    expect(job.result.events).toBeGreaterThan(0);
    expect(svc.models().card.version).toBe('v2');
    const after = await request(svc.service.app).get('/users/u7/recommendations?k=3');
    expect(after.body.model).toBe('v2');
  }, 120_000);

  it('answers an unknown job with 404', async () => {
    expect((await request(svc.service.app).get('/jobs/reindex/nope')).status).toBe(404);
    expect((await request(svc.service.app).get('/jobs/other/1')).status).toBe(404);
  });
});
