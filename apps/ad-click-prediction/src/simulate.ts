/**
 * `mlsd simulate ad-click-prediction [--drift]`: replays traffic through the ranking service so the
 * monitoring has something to show. Requests are impressions of the generated world's last two days
 * (user, ad, position), answered by POST /ads/rank; impressions and clicks go back through
 * POST /events. The service runs in-process on a simulated clock that advances a few seconds per
 * request, so unclicked impressions get their negative label once their click window has passed.
 *
 * With --drift the traffic shifts the way production traffic does: the users come from two
 * countries that were minor in training (a new market), and the click relation changes (the ads
 * that used to be clicked are now ignored and the reverse), so the report shows data drift and,
 * once labels arrive, decay.
 */
import { randomBytes } from 'node:crypto';
import { createRng } from '@mlsd/core';
import { COUNTRIES, DAY_SECONDS } from './data.js';
import { worldMs } from './features.js';
import { createAdService } from './service.js';

export interface SimulationResult {
  requests: number;
  drift: boolean;
  clicks: number;
  rejectedEvents: number;
  monitoring: {
    status: string;
    alerts: string[];
    driftedColumns: string[];
    decay: unknown;
  };
}

const NEW_MARKET = ['NG', 'JP'];

export async function simulateTraffic(options: {
  registryDir: string;
  requests: number;
  drift: boolean;
  seed: number;
  target?: string;
}): Promise<SimulationResult> {
  if (options.target) {
    throw new RangeError(
      'target: replay against a remote service is not supported yet; run without --target',
    );
  }
  const key = randomBytes(16).toString('hex');
  let clock = 0;
  const ad = await createAdService({
    registryDir: options.registryDir,
    config: { MLSD_API_KEY: key },
    now: () => clock,
    logLevel: 'silent',
  });
  try {
    await ad.ready?.();
    const world = ad.world;
    if (!world) throw new Error('simulation needs a model trained on the generated world');
    clock = worldMs(world.options.days * DAY_SECONDS);
    const imp = world.impressions;
    const from = (world.options.days - 2) * DAY_SECONDS;
    const market = new Set(NEW_MARKET.map((c) => COUNTRIES.indexOf(c as (typeof COUNTRIES)[number])));
    const pool: number[] = [];
    for (let k = 0; k < imp.count; k++) {
      if (imp.ts[k] < from) continue;
      if (options.drift && !market.has(world.users.country[imp.user[k]])) continue;
      pool.push(k);
    }
    if (pool.length === 0) throw new Error('no impressions to replay');
    const rng = createRng(options.seed).fork('simulate');
    const server = ad.handler;
    let clicks = 0;
    let rejectedEvents = 0;
    const call = async (method: string, path: string, body?: unknown) => {
      // Requests go through the express app directly: no socket needed in-process.
      const { default: request } = await import('supertest');
      const r = request(server as never)
        [method as 'post' | 'get'](path)
        .set('x-api-key', key);
      return body === undefined ? r : r.send(body as object);
    };
    for (let i = 0; i < options.requests; i++) {
      clock += 2_000;
      const k = pool[rng.int(pool.length)];
      const res = await call('post', '/ads/rank', {
        user_id: String(imp.user[k]),
        candidates: [String(imp.ad[k])],
        context: { timestamp: clock, position: imp.position[k] },
      });
      if (res.status !== 200)
        throw new Error(`/ads/rank answered ${res.status}: ${JSON.stringify(res.body)}`);
      const impressionId = res.body.ads[0].impression_id as string;
      // The world's true click probability, or under drift its mirror image around the mean.
      const p = imp.pLabel[k];
      const clickP = options.drift ? Math.max(0, Math.min(1, 0.045 - p)) : p;
      const events: Array<{ type: string; impression_id: string; timestamp: number }> = [
        { type: 'impression', impression_id: impressionId, timestamp: clock },
      ];
      if (rng.float() < clickP) {
        clicks++;
        events.push({ type: 'click', impression_id: impressionId, timestamp: clock + 1_000 });
      }
      const ev = await call('post', '/events', { events });
      rejectedEvents += (ev.body.rejected as unknown[] | undefined)?.length ?? 0;
    }
    clock += 10 * 60_000; // let the last click windows close
    const report = (await call('get', '/monitoring')).body as {
      status: string;
      alerts: string[];
      drift: { columns: Array<{ column: string; drifted: boolean }> } | null;
      decay: unknown;
    };
    return {
      requests: options.requests,
      drift: options.drift,
      clicks,
      rejectedEvents,
      monitoring: {
        status: report.status,
        alerts: report.alerts,
        driftedColumns: report.drift?.columns.filter((c) => c.drifted).map((c) => c.column) ?? [],
        decay: report.decay,
      },
    };
  } finally {
    await ad.close();
  }
}
