/**
 * The online side of ad click prediction, through @mlsd/serving:
 *
 *   POST /ads/rank   a user and the request context (and optional candidate ads and bids) ->
 *                    candidates from the advertisers' targeting rules, static features from the
 *                    online store, streaming counters as of now, one batched ONNX call, ranked by
 *                    P(click) (or bid x P(click)), re-ranked to cap ads per advertiser. Each
 *                    returned ad carries an impression id for the events that follow.
 *   POST /predict    raw feature rows (the columns of the model's feature spec) -> P(click): the
 *                    generic path, also for models trained on a user's Criteo file.
 *   POST /events     impressions, clicks and hides (API key): update the streaming counters and
 *                    append labels to the prediction log; bad events are rejected with reasons,
 *                    the rest of the batch is stored.
 *   GET  /monitoring drift of served features against the training profile, decay of NCE from
 *                    delayed click labels, estimated performance before labels arrive.
 *
 * The service clock is the generated world's: it starts where the log ends and runs in real time,
 * so the counters replayed from the log and the events that follow line up.
 */
import { join } from 'node:path';
import type { RunSize, ServiceHandle } from '@mlsd/core';
import {
  createMemoryOnlineStore,
  createRedisOnlineStore,
  EVENT_ID,
  EVENT_TS,
  type OnlineStore,
  type Row,
} from '@mlsd/features';
import { normalizedCrossEntropy } from '@mlsd/metrics';
import {
  buildMonitoringReport,
  DecayMonitor,
  detectDrift,
  estimatePerformance,
  LatencyRecorder,
  ProfileBuilder,
  type ReferenceProfile,
} from '@mlsd/monitoring';
import { ModelRegistry, type OnnxModel, OnnxWorkerPool } from '@mlsd/onnx';
import {
  BullMqJobRunner,
  createPredictionLog,
  createService,
  defineJob,
  HttpError,
  InProcessJobRunner,
  type JobRunner,
  type PredictionLog,
} from '@mlsd/serving';
import { pino } from 'pino';
import { z } from 'zod';
import {
  type AdWorld,
  AGE_BUCKETS,
  COUNTRIES,
  DAY_SECONDS,
  DEFAULT_WORLD,
  generateAdWorld,
  SMALL_WORLD,
} from './data.js';
import {
  type AdKeys,
  ALL_VIEWS,
  adKeysOf,
  COUNTER_FEATURES,
  type COUNTERS,
  type CtrInputs,
  contextRow,
  counterEventsOf,
  encodeRows,
  WORLD_EPOCH_MS,
  worldCounterEvents,
  worldMs,
  worldStaticRows,
} from './features.js';
import { APP_ID, continualSplit, loadSpec, prepareData, type RetrainResult, retrain } from './pipeline.js';
import { createRankEncoder, type RankEncoder } from './rank-encoder.js';

export interface AdServiceOptions {
  /** Registry holding the production models. */
  registryDir: string;
  /** Folder for the prediction log (':memory:' when absent). */
  workDir?: string;
  /** The chosen implementation served by /ads/rank and /predict. Default dcn-v2. */
  implementation?: string;
  config: Record<string, string | undefined>;
  /** Clock in epoch ms of the world; default: the end of the log plus real time elapsed. */
  now?: () => number;
  /** Request log level (pino). Default 'info'; simulations and tests use 'silent'. */
  logLevel?: 'silent' | 'error' | 'warn' | 'info' | 'debug';
  /**
   * Worker threads running the model (ONNX Runtime, one intra-op thread each); 0 runs it on the
   * event loop. Default 1: a 100-candidate inference then overlaps the HTTP, feature and encoding
   * work of other requests on the second core. Config `INFERENCE_WORKERS` sets it too.
   */
  inferenceWorkers?: number;
  /**
   * Whether the retraining job may write new versions into `registryDir`. False for the committed
   * default models, which must stay as they are: train your own to enable retraining.
   */
  retrainable?: boolean;
}

/** Largest explicit candidate list a request may send. */
const MAX_CANDIDATES = 500;
/** A click this long after its impression does not make the impression positive. */
const CLICK_WINDOW_MS = DEFAULT_WORLD.clickWindowSeconds * 1000;
const FUTURE_TOLERANCE_MS = 5_000;
/** Served rows profiled one by one before the drift profile samples them (PROFILE_EVERY). */
const PROFILE_FULL = 5_000;
/**
 * Then one served row in this many: two rows of a 100-candidate request. The profile accumulates
 * since the service started (histograms and a fixed-size sample), so the rate sets how fast it
 * fills, not what it measures; at hundreds of requests per second that is still thousands of rows
 * a minute.
 */
const PROFILE_EVERY = 50;

const RankBody = z
  .object({
    user_id: z.string().min(1).max(64),
    context: z
      .object({
        timestamp: z.number().int().positive().optional(),
        position: z.number().int().min(1).max(20).default(1),
      })
      .strict()
      .default({ position: 1 }),
    candidates: z.array(z.string().min(1).max(64)).min(1).max(MAX_CANDIDATES).optional(),
    bids: z.record(z.string(), z.number().positive().finite()).optional(),
    k: z.number().int().min(1).max(100).default(10),
    max_per_advertiser: z.number().int().min(1).max(100).default(2),
  })
  .strict();

const PredictBody = z
  .object({
    rows: z
      .array(z.record(z.string(), z.union([z.string(), z.number(), z.null()])))
      .min(1)
      .max(1000),
  })
  .strict();

const RetrainBody = z
  .object({
    from_day: z.number().int().min(0).optional(),
    window_day: z.number().int().min(1).optional(),
    min_improvement: z.number().min(0).max(1).optional(),
  })
  .strict()
  .default({});

interface RetrainJobData {
  fromDay: number;
  windowDay: number;
  minImprovement?: number;
}

const EventBody = z
  .object({
    events: z
      .array(
        z
          .object({
            type: z.enum(['impression', 'click', 'hide']),
            impression_id: z.string().min(1).max(64),
            timestamp: z.number().int().positive().optional(),
          })
          .strict(),
      )
      .min(1)
      .max(1000),
  })
  .strict();

interface Served {
  model: OnnxModel | OnnxWorkerPool;
  name: string;
  version: string;
  spec: ReturnType<typeof loadSpec>;
  profile?: ReferenceProfile;
  validationNce: number;
  /** Encodes /ads/rank requests part by part, when the spec allows it (see rank-encoder.ts). */
  encoder?: RankEncoder;
  /** Encoded id fields of users (by user id) and of ads (by ad index), for `encoder`. */
  userIds: Map<string, Int32Array>;
  adIds: Array<Int32Array | undefined>;
}

/** Users whose encoded ids are kept; the cache starts over when it holds more. */
const USER_CACHE = 200_000;

/** State loaded in the background after the service starts answering /healthz. */
interface Catalogue {
  world: AdWorld;
  store: OnlineStore;
  /** Ads each (country, age) pair may see, by the campaigns' targeting. */
  eligible: Map<string, number[]>;
  /**
   * The static rows written to the online store (user_profile by user, ad_attributes by ad), kept
   * to serve requests without reading 100 static records per request. They never change while the
   * service runs: the world's batch views are loaded once.
   */
  users: Row[];
  ads: Row[];
  /** Each ad's row's event_ts: the row is visible from then on. */
  adsFrom: Float64Array;
  /** Each ad's counter keys (ad, advertiser and campaign ids), built once. */
  adKeys: AdKeys[];
}

/** Counter features read per ranking request, and their output names in the store's answer. */
const COUNTER_REFS = COUNTER_FEATURES.map((c) => c.ref);
const COUNTER_COLUMNS = COUNTER_FEATURES.map((c) => c.column);

function worldFromCard(card: Record<string, unknown> | undefined): AdWorld | undefined {
  const w = card?.world as { seed?: number; size?: RunSize } | undefined;
  if (!w || typeof w.seed !== 'number') return undefined;
  return generateAdWorld({ ...(w.size === 'small' ? SMALL_WORLD : DEFAULT_WORLD), seed: w.seed });
}

async function loadCatalogue(world: AdWorld, store: OnlineStore): Promise<Catalogue> {
  const statics = worldStaticRows(world);
  await store.write('user_profile', statics.user_profile);
  await store.write('ad_attributes', statics.ad_attributes);
  // Replay the log's last 29 days into the counters: the longest window is 28 days, so a request
  // timed anywhere in the log's last day sees its counters complete.
  const end = world.options.days * DAY_SECONDS;
  const events = worldCounterEvents(world, { fromSeconds: end - 29 * DAY_SECONDS, untilMs: worldMs(end) });
  for (const [counter, rows] of events) {
    for (let s = 0; s < rows.length; s += 20_000)
      await store.recordEvents(counter, rows.slice(s, s + 20_000));
  }
  const eligible = new Map<string, number[]>();
  for (let c = 0; c < COUNTRIES.length; c++) {
    for (let age = 0; age < AGE_BUCKETS.length; age++) {
      const list: number[] = [];
      for (let a = 0; a < world.ads.count; a++) {
        const campaign = world.campaigns[world.ads.campaign[a]];
        if (age < campaign.ageRange[0] || age > campaign.ageRange[1]) continue;
        if (campaign.countries && !campaign.countries.has(c)) continue;
        list.push(a);
      }
      eligible.set(`${c}:${age}`, list);
    }
  }
  const adKeys = Array.from({ length: world.ads.count }, (_, a) => adKeysOf(world, a));
  const ads = statics.ad_attributes; // one row per ad, by index
  const adsFrom = Float64Array.from(ads, (row) => row[EVENT_TS] as number);
  return { world, store, eligible, users: statics.user_profile, ads, adsFrom, adKeys };
}

/** Creates the ad ranking service. It answers at once; /readyz says when the catalogue is loaded. */
export interface AdService extends ServiceHandle {
  service: ReturnType<typeof createService>;
  /** The online feature store (for tests and the skew check). */
  store: OnlineStore;
  /** The world the catalogue comes from, when the model was trained on the generated world. */
  world: AdWorld | undefined;
  /** The service clock, epoch ms of world time. */
  now: () => number;
}

export async function createAdService(options: AdServiceOptions): Promise<AdService> {
  const implementation = options.implementation ?? 'dcn-v2';
  const name = `${APP_ID}.${implementation}`;
  const workers = options.inferenceWorkers ?? Number(options.config.INFERENCE_WORKERS ?? 1);
  if (!Number.isInteger(workers) || workers < 0 || workers > 16)
    throw new RangeError(`inferenceWorkers: expected an integer from 0 to 16, got ${workers}`);
  const loadProduction = async (): Promise<{ served: Served; card: Record<string, unknown> | undefined }> => {
    const registry = ModelRegistry.open(options.registryDir);
    try {
      const entry = registry.get(name, 'production');
      if (!entry)
        throw new Error(`no production model ${name} in ${options.registryDir}; run mlsd train ${APP_ID}`);
      const spec = loadSpec(registry, name);
      return {
        card: registry.readJson(name, 'production', 'card') as Record<string, unknown> | undefined,
        served: {
          // One intra-op thread: a 100-candidate batch is too small to gain from a second one, and
          // on a 2-core machine the spinning worker thread competed with the event loop (p99 x10).
          model:
            workers > 0
              ? await OnnxWorkerPool.create(registry.readModel(name, 'production'), {
                  workers,
                  mode: 'thread',
                  warmup: true,
                  intraOpNumThreads: 1,
                })
              : await registry.load(name, 'production', { warmup: true, intraOpNumThreads: 1 }),
          name,
          version: entry.version,
          spec,
          profile: registry.readJson(name, 'production', 'reference-profile') as ReferenceProfile | undefined,
          validationNce: entry.metrics.validation_nce ?? Number.NaN,
          encoder: createRankEncoder(spec, COUNTER_COLUMNS),
          userIds: new Map(),
          adIds: [],
        },
      };
    } finally {
      registry.close();
    }
  };
  const first = await loadProduction();
  // Replaced as a whole when a retrained model is promoted: a request keeps the one it started with.
  let served: Served = first.served;
  const card = first.card;

  const redisUrl = options.config.REDIS_URL;
  // World time lies in the past: Redis must not expire keys by wall-clock time (reads enforce TTLs).
  const store = redisUrl
    ? createRedisOnlineStore({
        views: ALL_VIEWS,
        url: redisUrl,
        keyPrefix: `mlsd:${APP_ID}:`,
        expireKeys: false,
      })
    : createMemoryOnlineStore({ views: ALL_VIEWS });
  const log: PredictionLog = createPredictionLog({
    db: options.workDir ? join(options.workDir, 'predictions.sqlite') : ':memory:',
  });
  const latency = new LatencyRecorder();
  const traffic = served.profile ? new ProfileBuilder(served.profile) : undefined;
  let profiled = 0;
  const decay = new DecayMonitor({
    metric: {
      name: 'normalized_cross_entropy',
      fn: (y, p) => normalizedCrossEntropy(y, p),
      higherIsBetter: false,
    },
    baseline: served.validationNce,
    window: { count: 2000 },
    maxDrop: 0.1,
    relativeDrop: true,
    minLabels: 200,
  });
  /** Impressions waiting for a click, labelled 0 once their click window has passed. */
  const awaitingClick = new Map<string, number>();
  const seenEvents = new Set<string>();

  const world = worldFromCard(card);
  const started = Date.now();
  const worldEnd = world ? worldMs(world.options.days * DAY_SECONDS) : WORLD_EPOCH_MS;
  const now = options.now ?? (() => worldEnd + (Date.now() - started));
  let catalogue: Catalogue | undefined;
  let loadError: Error | undefined;
  const loading = world
    ? loadCatalogue(world, store).then(
        (c) => {
          catalogue = c;
        },
        (err: Error) => {
          loadError = err;
        },
      )
    : Promise.resolve();

  const expireWaiting = (t: number) => {
    for (const [id, ts] of awaitingClick) {
      if (t - ts < CLICK_WINDOW_MS) break; // insertion order is time order
      awaitingClick.delete(id);
      decay.logLabel(id, 0, t);
    }
  };

  const score = (rows: Row[], current: Served = served): Promise<Float32Array> =>
    scoreInputs(encodeRows(current.spec, rows), current);
  const scoreInputs = async (x: CtrInputs, current: Served): Promise<Float32Array> => {
    const t0 = performance.now();
    const out = await current.model.run({
      ids: { data: x.ids, dims: [x.rows, x.fields] },
      dense: {
        data: x.denseWidth ? x.dense : new Float32Array(x.rows),
        dims: [x.rows, Math.max(1, x.denseWidth)],
      },
    });
    latency.record(performance.now() - t0);
    return out.p_click.data as Float32Array;
  };

  const retrainJob = defineJob<RetrainJobData, RetrainResult>(
    'ad-click-retrain',
    async (data) => {
      if (!world) throw new Error('retraining needs the generated world the model was trained on');
      const size = (card?.world as { size?: RunSize } | undefined)?.size ?? 'default';
      const prepared = await prepareData(undefined, size, world.options.seed);
      const result = await retrain(continualSplit(prepared, data.fromDay, data.windowDay), {
        registryDir: options.registryDir,
        implementation,
        seed: world.options.seed,
        minImprovement: data.minImprovement,
      });
      if (result.promoted) {
        const previous = served;
        served = (await loadProduction()).served;
        // Requests that started on the previous model finish on it; close it a little later.
        setTimeout(() => void previous.model.close(), 5_000).unref();
      }
      return result;
    },
    { attempts: 1, concurrency: 1 },
  );
  const runner: JobRunner = redisUrl
    ? new BullMqJobRunner({ redisUrl, jobs: [retrainJob], prefix: `mlsd-${APP_ID}` })
    : new InProcessJobRunner({ jobs: [retrainJob] });
  await runner.start();

  const service = createService({
    name: APP_ID,
    logger: pino({ name: APP_ID, level: options.logLevel ?? 'info' }),
    version: served.version,
    models: {
      [implementation]: { model: first.served.model, stage: 'production', specHash: first.served.spec.hash },
    },
    auth: { apiKeys: options.config.MLSD_API_KEY ? [options.config.MLSD_API_KEY] : [] },
    readiness: {
      catalogue: () =>
        loadError
          ? `catalogue failed to load: ${loadError.message}`
          : catalogue || !world
            ? true
            : 'loading the catalogue and replaying the counters',
    },
    closeables: [
      { close: () => runner.close() },
      { close: () => store.close() },
      { close: () => log.close() },
      // The first model is closed by the service; a model swapped in later is ours to close.
      { close: () => (served === first.served ? undefined : served.model.close()) },
    ],
    monitoringReport: async () => {
      expireWaiting(now());
      return buildMonitoringReport({
        service: APP_ID,
        model: {
          name: served.name,
          version: served.version,
          specHash: served.spec.hash,
          stage: 'production',
        },
        latency: { inference: latency },
        drift: served.profile && traffic ? detectDrift(served.profile, traffic.toProfile()) : undefined,
        decay: decay.status(),
        estimated: decay.pendingScores().length ? estimatePerformance(decay.pendingScores()) : undefined,
      });
    },
    routes: (router, ctx) => {
      ctx.jsonRoute('/ads/rank', { body: RankBody }, async (body) => {
        if (!catalogue) {
          if (!world)
            throw new HttpError(
              501,
              'no_catalogue',
              'this model was trained on a file without an ad catalogue; use POST /predict',
            );
          throw new HttpError(503, 'loading', 'the catalogue is still loading; retry shortly');
        }
        const current = served;
        const t = body.context.timestamp ?? now();
        if (t > now() + FUTURE_TOLERANCE_MS)
          throw new HttpError(
            400,
            'invalid_request',
            'context.timestamp: in the future of the service clock',
          );
        const w = catalogue.world;
        const user = Number(body.user_id);
        const knownUser = Number.isInteger(user) && user >= 0 && user < w.users.count;
        let candidates: number[];
        if (body.candidates) {
          const unknown = body.candidates.filter((id) => !/^\d+$/.test(id) || Number(id) >= w.ads.count);
          if (unknown.length)
            throw new HttpError(
              400,
              'invalid_request',
              `candidates: unknown ad ids ${unknown.slice(0, 10).join(', ')}`,
            );
          candidates = [...new Set(body.candidates.map(Number))];
        } else {
          const key = knownUser ? `${w.users.country[user]}:${w.users.age[user]}` : undefined;
          candidates = (key ? catalogue.eligible.get(key) : undefined) ?? [];
          // Every ad the targeting allows is ranked (about 2,000 at most in the generated world).
          candidates = candidates.filter((a) => worldMs(w.ads.startTs[a]) <= t);
        }
        if (candidates.length === 0) {
          return { model: { name: served.name, version: served.version }, ads: [] };
        }
        // Static attributes come from the catalogue's copy of the rows written to the online store
        // (daily batch views, valid from day 0); only the counters are read per request.
        // Same rule as the store: a row is visible from its event_ts on (the world's are from day 0).
        const visible = (r: Row | undefined) => (r && (r[EVENT_TS] as number) <= t - 1 ? r : undefined);
        const userRow =
          knownUser && String(user) === body.user_id ? visible(catalogue.users[user]) : undefined;
        const entities: Row[] = new Array(candidates.length);
        for (let i = 0; i < candidates.length; i++) {
          const keys = catalogue.adKeys[candidates[i]];
          entities[i] = {
            user_id: body.user_id,
            ad_id: keys.ad_id,
            advertiser_id: keys.advertiser_id,
            campaign_id: keys.campaign_id,
          };
        }
        // Read as of one millisecond before the impression, as the training rows were built:
        // candidates x counters, row-major.
        const counts = await catalogue.store.readNumeric(entities, COUNTER_REFS, { now: t - 1 });
        const context = contextRow(t, body.context.position);
        const counterRow = (i: number): Row => {
          const row: Row = {};
          for (let c = 0; c < COUNTER_COLUMNS.length; c++) {
            const v = counts[i * COUNTER_COLUMNS.length + c];
            row[COUNTER_COLUMNS[c]] = Number.isNaN(v) ? 0 : v;
          }
          return row;
        };
        const adRows = catalogue.ads;
        const fullRow = (i: number): Row => {
          const e = entities[i];
          const adRow = visible(adRows[candidates[i]]);
          return {
            user_id: e.user_id,
            ad_id: e.ad_id,
            position: context.position,
            hour: context.hour,
            hour_bucket: context.hour_bucket,
            weekday: context.weekday,
            age: userRow ? userRow.age : null,
            gender: userRow ? userRow.gender : null,
            country: userRow ? userRow.country : null,
            language: userRow ? userRow.language : null,
            device: userRow ? userRow.device : null,
            advertiser_id: adRow ? adRow.advertiser_id : null,
            campaign_id: adRow ? adRow.campaign_id : null,
            ad_group_id: adRow ? adRow.ad_group_id : null,
            category: adRow ? adRow.category : null,
            subcategory: adRow ? adRow.subcategory : null,
            creative: adRow ? adRow.creative : null,
            ...counterRow(i),
          };
        };
        let p: Float32Array;
        const encoder = current.encoder;
        if (encoder) {
          // The id fields of the user and of each ad are encoded once and cached; the context once
          // per request; only the counters go through the transforms per candidate.
          const userKey = userRow ? body.user_id : `${body.user_id}\u0000`;
          let userIds = current.userIds.get(userKey);
          if (!userIds) {
            userIds = encoder.encodePart('user', { ...(userRow ?? {}), user_id: body.user_id });
            if (current.userIds.size >= USER_CACHE) current.userIds.clear();
            current.userIds.set(userKey, userIds);
          }
          const contextIds = encoder.encodePart('context', context);
          const adIds: Int32Array[] = new Array(candidates.length);
          for (let i = 0; i < candidates.length; i++) {
            const a = candidates[i];
            const adRow = catalogue.adsFrom[a] <= t - 1 ? catalogue.ads[a] : undefined;
            let ids = adRow ? current.adIds[a] : undefined;
            if (!ids) {
              ids = encoder.encodePart('ad', adRow ?? { ad_id: entities[i].ad_id });
              if (adRow) current.adIds[a] = ids;
            }
            adIds[i] = ids;
          }
          p = await scoreInputs(encoder.encode(userIds, contextIds, adIds, counts), current);
        } else {
          p = await score(
            candidates.map((_, i) => fullRow(i)),
            current,
          );
        }
        // The drift profile takes every candidate until it holds PROFILE_FULL rows (so a small
        // window still has enough rows for the tests), then one row in PROFILE_EVERY, counted
        // across requests so that one-candidate requests are sampled like hundred-candidate ones.
        if (traffic)
          for (let i = 0; i < candidates.length; i++)
            if (profiled++ < PROFILE_FULL || profiled % PROFILE_EVERY === 0) traffic.addRow(fullRow(i));
        const order = candidates.map((_, i) => i);
        const value = (i: number) => (body.bids?.[String(candidates[i])] ?? 1) * p[i];
        order.sort((a, b) => value(b) - value(a) || candidates[a] - candidates[b]);
        const perAdvertiser = new Map<number, number>();
        const chosen: number[] = [];
        for (const i of order) {
          const adv = w.ads.advertiser[candidates[i]];
          const n = perAdvertiser.get(adv) ?? 0;
          if (n >= body.max_per_advertiser) continue;
          perAdvertiser.set(adv, n + 1);
          chosen.push(i);
          if (chosen.length >= body.k) break;
        }
        const ads = chosen.map((i) => {
          const impressionId = log.logPrediction({
            model: current.name,
            version: current.version,
            unitId: body.user_id,
            score: p[i],
            features: {
              user_id: body.user_id,
              ad_id: String(candidates[i]),
              position: body.context.position,
            },
            ts: t,
          });
          decay.logPrediction(impressionId, p[i], t);
          return {
            ad_id: String(candidates[i]),
            advertiser_id: String(w.ads.advertiser[candidates[i]]),
            p_click: p[i],
            score: value(i),
            impression_id: impressionId,
          };
        });
        return {
          model: { name: served.name, version: served.version },
          candidates: candidates.length,
          ads,
        };
      });

      router.post('/predict', ctx.predictionAuth, ctx.validate(PredictBody), async (req, res) => {
        const { rows } = req.body as z.infer<typeof PredictBody>;
        let p: Float32Array;
        try {
          p = await score(rows as Row[]);
        } catch (err) {
          if (err instanceof TypeError || err instanceof RangeError)
            throw new HttpError(400, 'invalid_request', err.message);
          throw err;
        }
        res.json({ model: { name: served.name, version: served.version }, p_click: Array.from(p) });
      });

      router.post('/jobs/retrain', ctx.requireApiKey, ctx.validate(RetrainBody), async (req, res) => {
        if (!options.retrainable) {
          throw new HttpError(
            409,
            'not_retrainable',
            'these are the committed default models; train your own (mlsd train ad-click-prediction) to retrain them',
          );
        }
        if (!world)
          throw new HttpError(
            501,
            'no_world',
            'retraining needs the generated world the model was trained on',
          );
        const body = req.body as z.infer<typeof RetrainBody>;
        const windowDay = body.window_day ?? world.options.days - 1;
        const fromDay = body.from_day ?? Math.max(0, windowDay - 2);
        if (windowDay >= world.options.days)
          throw new HttpError(
            400,
            'invalid_request',
            `window_day: the log has days 0-${world.options.days - 1}`,
          );
        if (fromDay >= windowDay)
          throw new HttpError(400, 'invalid_request', 'from_day: must be before window_day');
        const job = await runner.enqueue<RetrainJobData>('ad-click-retrain', {
          fromDay,
          windowDay,
          minImprovement: body.min_improvement,
        });
        res.status(202).json({ job: { id: job.id, state: job.state } });
      });

      router.get('/jobs/retrain/:id', async (req, res) => {
        const job = await runner.get('ad-click-retrain', String(req.params.id));
        if (!job) throw new HttpError(404, 'not_found', `no retraining job ${req.params.id}`);
        res.json({
          job: {
            id: job.id,
            state: job.state,
            result: job.result ?? null,
            failedReason: job.failedReason ?? null,
          },
        });
      });

      router.post('/events', ctx.requireApiKey, ctx.validate(EventBody), async (req, res) => {
        if (!catalogue) throw new HttpError(503, 'loading', 'the catalogue is still loading; retry shortly');
        const { events } = req.body as z.infer<typeof EventBody>;
        const clock = now();
        // Predictions are appended in batches; write the buffer so every ranked impression is visible.
        log.flush();
        const rejected: Array<{ index: number; reason: string }> = [];
        const counterEvents = new Map<string, Row[]>();
        const push = (counter: keyof typeof COUNTERS, row: Row) => {
          const list = counterEvents.get(counter);
          if (list) list.push(row);
          else counterEvents.set(counter, [row]);
        };
        for (const [index, e] of events.entries()) {
          const ts = e.timestamp ?? clock;
          const key = `${e.type}:${e.impression_id}`;
          const prediction = log.getPrediction(e.impression_id);
          const features = (prediction?.features ? JSON.parse(prediction.features) : undefined) as
            | { user_id?: string; ad_id?: string }
            | undefined;
          let reason: string | undefined;
          if (!prediction || !features?.ad_id) reason = `impression_id: unknown id ${e.impression_id}`;
          else if (ts > clock + FUTURE_TOLERANCE_MS) reason = 'timestamp: in the future of the service clock';
          else if (ts < prediction.ts) reason = 'timestamp: before the impression was ranked';
          else if (seenEvents.has(key))
            reason = `duplicate: ${e.type} of ${e.impression_id} already recorded`;
          if (reason || !prediction || !features?.ad_id) {
            rejected.push({ index, reason: reason ?? 'unreadable impression' });
            continue;
          }
          seenEvents.add(key);
          const keys = { ...catalogue.adKeys[Number(features.ad_id)], user_id: features.user_id ?? '' };
          if (e.type !== 'hide')
            for (const { counter, event } of counterEventsOf(e.type, keys, ts, key)) push(counter, event);
          if (e.type === 'impression') {
            awaitingClick.set(e.impression_id, ts);
          } else if (e.type === 'click') {
            const label = ts - prediction.ts <= CLICK_WINDOW_MS ? 1 : 0;
            log.logFeedback({ predictionId: e.impression_id, kind: 'click', value: label, ts });
            if (awaitingClick.delete(e.impression_id) || label === 1)
              decay.logLabel(e.impression_id, label, ts);
          } else {
            log.logFeedback({ predictionId: e.impression_id, kind: 'hide', value: 1, ts });
          }
        }
        for (const [counter, rows] of counterEvents) await catalogue.store.recordEvents(counter, rows);
        expireWaiting(clock);
        const accepted = events.length - rejected.length;
        res.status(accepted === 0 ? 400 : 200).json({ accepted, rejected });
      });
    },
  });

  return {
    service,
    store,
    world,
    now,
    handler: service.app,
    ready: async () => {
      await loading;
      if (loadError) throw loadError;
      return true;
    },
    close: () => service.close(),
  };
}
