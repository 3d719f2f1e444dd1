import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ModelRegistry } from '@mlsd/onnx';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DAY_SECONDS } from './data.js';
import { predictOnnx } from './evaluate.js';
import { encodeTable, worldMs } from './features.js';
import { type PreparedData, prepareData, trainAll } from './pipeline.js';
import { type AdService, createAdService } from './service.js';

const KEY = 'test-key-0123456789';
let data: PreparedData;
let registryDir: string;
let ad: AdService;

beforeAll(async () => {
  registryDir = mkdtempSync(join(tmpdir(), 'adc-registry-'));
  data = await prepareData(undefined, 'small', 7);
  await trainAll(data, { size: 'small', seed: 7, epochs: 1, registryDir, implementations: ['dcn-v2'] });
  ad = await createAdService({
    registryDir,
    config: { MLSD_API_KEY: KEY },
    retrainable: true,
    logLevel: 'silent',
  });
  await ad.ready?.();
}, 120_000);

afterAll(async () => {
  await ad?.close();
});

/** The last impression of the log's last day whose ad is in its user's targeting. */
function lastDayImpressions(n: number): number[] {
  const imp = data.world!.impressions;
  const out: number[] = [];
  for (let k = imp.count - 1; k >= 0 && out.length < n; k--) {
    if (imp.ts[k] > (data.world!.options.days - 1) * DAY_SECONDS) out.push(k);
  }
  return out;
}

describe('POST /ads/rank', () => {
  it('is ready once the catalogue is loaded', async () => {
    const res = await request(ad.handler).get('/readyz');
    expect(res.status).toBe(200);
  });

  it('ranks targeted candidates by P(click), at most two per advertiser', async () => {
    const w = data.world!;
    const res = await request(ad.handler).post('/ads/rank').send({ user_id: '5', k: 10 });
    expect(res.status).toBe(200);
    expect(res.body.model.name).toBe('ad-click-prediction.dcn-v2');
    const ads = res.body.ads as Array<{
      ad_id: string;
      advertiser_id: string;
      p_click: number;
      score: number;
      impression_id: string;
    }>;
    expect(ads.length).toBeGreaterThan(0);
    expect(ads.length).toBeLessThanOrEqual(10);
    for (let i = 1; i < ads.length; i++) expect(ads[i - 1].score).toBeGreaterThanOrEqual(ads[i].score);
    const perAdvertiser = new Map<string, number>();
    for (const a of ads) {
      perAdvertiser.set(a.advertiser_id, (perAdvertiser.get(a.advertiser_id) ?? 0) + 1);
      const campaign = w.campaigns[w.ads.campaign[Number(a.ad_id)]];
      expect(w.users.age[5]).toBeGreaterThanOrEqual(campaign.ageRange[0]);
      expect(w.users.age[5]).toBeLessThanOrEqual(campaign.ageRange[1]);
      if (campaign.countries) expect(campaign.countries.has(w.users.country[5])).toBe(true);
      expect(a.p_click).toBeGreaterThan(0);
      expect(a.p_click).toBeLessThan(1);
    }
    expect(Math.max(...perAdvertiser.values())).toBeLessThanOrEqual(2);
    expect(new Set(ads.map((a) => a.impression_id)).size).toBe(ads.length);
  });

  it('orders by bid x P(click) when bids are given', async () => {
    const base = await request(ad.handler)
      .post('/ads/rank')
      .send({ user_id: '9', candidates: ['1', '2', '3'], max_per_advertiser: 3 });
    const p = new Map(
      (base.body.ads as Array<{ ad_id: string; p_click: number }>).map((a) => [a.ad_id, a.p_click]),
    );
    const low = [...p.entries()].sort((a, b) => a[1] - b[1])[0][0];
    const bids = { 1: 1, 2: 1, 3: 1, [low]: 1000 };
    const res = await request(ad.handler)
      .post('/ads/rank')
      .send({ user_id: '9', candidates: ['1', '2', '3'], bids, max_per_advertiser: 3 });
    expect(res.body.ads[0].ad_id).toBe(low);
  });

  it('scores exactly what the offline pipeline computes for the same impression (no training-serving skew)', async () => {
    const registry = ModelRegistry.open(registryDir);
    const model = await registry.load('ad-click-prediction.dcn-v2', 'production');
    const spec = JSON.parse(
      JSON.stringify(registry.readJson('ad-click-prediction.dcn-v2', 'production', 'feature-spec')),
    );
    registry.close();
    const imp = data.world!.impressions;
    const ks = lastDayImpressions(5);
    const offline = encodeTable(spec, data.table, Int32Array.from(ks));
    const expected = await predictOnnx(model, offline.ids, offline.dense, offline.rows);
    await model.close();
    for (const [j, k] of ks.entries()) {
      const res = await request(ad.handler)
        .post('/ads/rank')
        .send({
          user_id: String(imp.user[k]),
          candidates: [String(imp.ad[k])],
          context: { timestamp: worldMs(imp.ts[k]), position: imp.position[k] },
        });
      expect(res.status).toBe(200);
      expect(res.body.ads[0].p_click).toBeCloseTo(expected[j], 6);
    }
  });

  it('rejects bad requests with the field and the reason', async () => {
    const res = await request(ad.handler).post('/ads/rank').send({ user_id: '', k: 0, extra: 1 });
    expect(res.status).toBe(400);
    const text = JSON.stringify(res.body);
    expect(text).toContain('user_id');
    expect(text).toContain('k');
    expect(text).toContain('extra');
    const unknown = await request(ad.handler)
      .post('/ads/rank')
      .send({ user_id: '1', candidates: ['999999', 'x'] });
    expect(unknown.status).toBe(400);
    expect(unknown.body.error.message).toMatch(/unknown ad ids 999999, x/);
    const future = await request(ad.handler)
      .post('/ads/rank')
      .send({ user_id: '1', context: { timestamp: ad.now() + 3_600_000 } });
    expect(future.status).toBe(400);
  });
});

describe('POST /events', () => {
  async function rankOne(user: string) {
    const res = await request(ad.handler).post('/ads/rank').send({ user_id: user, k: 1 });
    return res.body.ads[0] as { ad_id: string; impression_id: string };
  }

  it('needs the API key', async () => {
    const res = await request(ad.handler)
      .post('/events')
      .send({ events: [{ type: 'impression', impression_id: 'x' }] });
    expect(res.status).toBe(401);
  });

  it('stores good events, rejects bad ones with reasons, and updates the counters', async () => {
    const first = await rankOne('11');
    const read = () =>
      ad.store.read([{ ad_id: first.ad_id }], ['ad_impressions:count_1h', 'ad_clicks:count_1h'], {
        now: ad.now() + 1000,
        fullFeatureNames: true,
      });
    const before = (await read())[0];
    const t = ad.now();
    const res = await request(ad.handler)
      .post('/events')
      .set('x-api-key', KEY)
      .send({
        events: [
          { type: 'impression', impression_id: first.impression_id, timestamp: t },
          { type: 'click', impression_id: first.impression_id, timestamp: t + 100 },
          { type: 'click', impression_id: first.impression_id, timestamp: t + 200 },
          { type: 'hide', impression_id: 'no-such-impression' },
          { type: 'impression', impression_id: first.impression_id, timestamp: t + 3_600_000 },
        ],
      });
    expect(res.status).toBe(200);
    expect(res.body.accepted).toBe(2);
    expect(res.body.rejected).toEqual([
      { index: 2, reason: `duplicate: click of ${first.impression_id} already recorded` },
      { index: 3, reason: 'impression_id: unknown id no-such-impression' },
      { index: 4, reason: 'timestamp: in the future of the service clock' },
    ]);
    const after = (await read())[0];
    expect(after.ad_impressions__count_1h).toBe((before.ad_impressions__count_1h as number) + 1);
    expect(after.ad_clicks__count_1h).toBe((before.ad_clicks__count_1h as number) + 1);
  });

  it('answers 400 when every event is bad', async () => {
    const res = await request(ad.handler)
      .post('/events')
      .set('x-api-key', KEY)
      .send({ events: [{ type: 'click', impression_id: 'nope' }] });
    expect(res.status).toBe(400);
    expect(res.body.accepted).toBe(0);
  });
});

describe('POST /predict and GET /monitoring', () => {
  it('scores raw feature rows and names the bad ones', async () => {
    const row = { user_id: '3', ad_id: '4', age: '25-34', country: 'US', ad_impressions_1h: 3 };
    const res = await request(ad.handler)
      .post('/predict')
      .send({ rows: [row, row] });
    expect(res.status).toBe(200);
    expect(res.body.p_click).toHaveLength(2);
    expect(res.body.p_click[0]).toBe(res.body.p_click[1]);
    const bad = await request(ad.handler)
      .post('/predict')
      .send({ rows: [{ ad_impressions_1h: 'many' }] });
    expect(bad.status).toBe(400);
    expect(bad.body.error.message).toMatch(/ad_impressions_1h/);
  });

  it('reports drift and decay', async () => {
    const res = await request(ad.handler).get('/monitoring');
    expect(res.status).toBe(200);
    expect(res.body.format).toBe('mlsd-monitoring-report');
    expect(res.body.model.name).toBe('ad-click-prediction.dcn-v2');
    expect(res.body.drift).not.toBeNull();
    expect(res.body.decay.metric).toBe('normalized_cross_entropy');
  });
});

describe('POST /jobs/retrain', () => {
  it('fine-tunes in a job, gates on the newest window, and serves the winner without a restart', async () => {
    const bad = await request(ad.handler)
      .post('/jobs/retrain')
      .set('x-api-key', KEY)
      .send({ from_day: 12, window_day: 12 });
    expect(bad.status).toBe(400);
    const res = await request(ad.handler)
      .post('/jobs/retrain')
      .set('x-api-key', KEY)
      .send({ from_day: 10, window_day: 12 });
    expect(res.status).toBe(202);
    let job: { state: string; result: { promoted: boolean; version: string; reason: string } | null } = {
      state: 'waiting',
      result: null,
    };
    for (let i = 0; i < 600 && job.state !== 'completed' && job.state !== 'failed'; i++) {
      // Ranking keeps being answered while the job runs.
      const rank = await request(ad.handler).post('/ads/rank').send({ user_id: '4', k: 3 });
      expect(rank.status).toBe(200);
      await new Promise((r) => setTimeout(r, 100));
      job = (await request(ad.handler).get(`/jobs/retrain/${res.body.job.id}`)).body.job;
    }
    expect(job.state).toBe('completed');
    const after = await request(ad.handler).post('/ads/rank').send({ user_id: '4', k: 3 });
    expect(after.body.model.version).toBe(job.result!.promoted ? job.result!.version : '1');
    expect(job.result!.reason).toMatch(/promoted: window_nce/);
  }, 120_000);
});
