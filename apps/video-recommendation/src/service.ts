/**
 * The online recommendation path on @mlsd/serving:
 *
 *   GET  /users/:id/recommendations?k=20   candidates from every generator (tagged by source), the
 *        ranking features, one batched ONNX ranking call, the re-ranking rules; scores and reasons.
 *        An unknown user is served by the cold-start path (demographics from the query, if any, through
 *        the user tower; popular, trending and fresh videos), not refused.
 *   POST /events                            impressions, clicks, watches, likes and dislikes: update the
 *        user's history online (the next request sees them) and are kept for the next training set.
 *        Malformed events are rejected one by one with their reasons; the rest of the batch is kept.
 *   POST /jobs/reindex, /jobs/retrain       re-embed every video with the video tower and rebuild the
 *        HNSW index; retrain all models on the log plus the logged events. Both build on the side and
 *        swap the new state in with one assignment, so a request sees either the old or the new one.
 *   GET  /jobs/:name/:id                   a job's state and result.
 */
import { mkdirSync } from 'node:fs';
import { join } from 'node:path';
import type { ServiceHandle } from '@mlsd/core';
import { OnnxModel } from '@mlsd/onnx';
import { createService, defineJob, HttpError, InProcessJobRunner, jobRoutes } from '@mlsd/serving';
import { pino } from 'pino';
import { z } from 'zod';
import { type InteractionTable, type VideoWorld, worldInteractions } from './data.js';
import { sliceTable } from './evaluate.js';
import {
  ageFeature,
  type Demographics,
  demographicTokens,
  HISTORY_SLOTS,
  historySlots,
  pushRecent,
  RANKING_FEATURE_COUNT,
  type SideInfo,
  USER_SLOTS,
  VIDEO_NUMERIC,
  VIDEO_TOKEN_SLOTS,
  worldSideInfo,
} from './features.js';
import type { TwoTowerShape } from './model.js';
import {
  applyScaler,
  buildIndex,
  buildState,
  type CandidateSizes,
  DEFAULT_SIZES,
  type FeatureScaler,
  generateCandidates,
  type RecommenderState,
  rankingFeatures,
  rebuildLists,
  rerank,
  type UserContext,
  userContext,
} from './pipeline.js';

export const APP_ID = 'video-recommendation';
export const MAX_K = 100;
const HISTORY_LIMIT = 200;

/** What `model.json` beside the three ONNX files holds. */
export interface ModelCard {
  version: string;
  shape: TwoTowerShape;
  scaler: FeatureScaler;
  features: readonly string[];
  sizes: CandidateSizes;
  /** The generated world the models were trained on (regenerated from its options at start-up). */
  world?: { seed: number; size: 'small' | 'default' };
  trainedAt: string;
  trainingSeconds: number;
  metrics: Record<string, number>;
}

/** The served models: replaced as a whole on retraining. */
export interface ServedModels {
  card: ModelCard;
  userTower: OnnxModel;
  videoTower: OnnxModel;
  ranker: OnnxModel;
}

export async function loadServedModels(dir: string): Promise<ServedModels> {
  const { readFileSync } = await import('node:fs');
  const card = JSON.parse(readFileSync(join(dir, 'model.json'), 'utf8')) as ModelCard;
  if (card.features.length !== RANKING_FEATURE_COUNT)
    throw new TypeError(
      `${dir}/model.json: expected ${RANKING_FEATURE_COUNT} ranking features, got ${card.features.length}; retrain the models`,
    );
  const load = (f: string) => OnnxModel.load(join(dir, f), { intraOpNumThreads: 1 });
  return {
    card,
    userTower: await load('user-tower.onnx'),
    videoTower: await load('video-tower.onnx'),
    ranker: await load('ranker.onnx'),
  };
}

/** Video tower (ONNX) embeddings of `items` at `ts`, in batches. */
export async function onnxVideoEmbeddings(
  models: ServedModels,
  side: SideInfo,
  uploadTs: ArrayLike<number>,
  items: Int32Array,
  ts: number,
): Promise<Float32Array> {
  const shape = models.card.shape;
  const out = new Float32Array(items.length * shape.dim);
  const batch = 4096;
  for (let s = 0; s < items.length; s += batch) {
    const part = items.subarray(s, Math.min(items.length, s + batch));
    const n = part.length;
    const ids = new Int32Array(n);
    const tokens = new Int32Array(n * VIDEO_TOKEN_SLOTS);
    const numeric = new Float32Array(n * VIDEO_NUMERIC);
    for (let k = 0; k < n; k++) {
      const i = part[k];
      ids[k] = i < shape.items ? i + 1 : 0;
      for (let j = 0; j < VIDEO_TOKEN_SLOTS; j++) {
        const t = side.itemTokens[i * VIDEO_TOKEN_SLOTS + j];
        tokens[k * VIDEO_TOKEN_SLOTS + j] = t < shape.itemVocab ? t : 0;
      }
      numeric[k * 2] = side.itemLength[i];
      numeric[k * 2 + 1] = ageFeature(uploadTs[i], ts);
    }
    const res = await models.videoTower.run({
      video_id: { data: ids, dims: [n, 1] },
      video_tokens: { data: tokens, dims: [n, VIDEO_TOKEN_SLOTS] },
      video_numeric: { data: numeric, dims: [n, VIDEO_NUMERIC] },
    });
    out.set(res.video_embedding.data as Float32Array, s * shape.dim);
  }
  return out;
}

/** Builds the serving state from a table (the log, or the log plus logged events) with ONNX towers. */
export async function servingState(
  models: ServedModels,
  table: InteractionTable,
  side: SideInfo,
  ts: number,
): Promise<RecommenderState> {
  return buildState(table, side, ts, models.card.shape.dim, (items, at) =>
    onnxVideoEmbeddings(models, side, table.itemStart, items, at),
  );
}

// Request and event schemas

const RecommendationsQuery = z
  .object({
    k: z.coerce.number().int().min(1).max(MAX_K).default(20),
    age: z.coerce.number().int().min(0).optional(),
    gender: z.coerce.number().int().min(0).optional(),
    country: z.coerce.number().int().min(0).optional(),
    language: z.coerce.number().int().min(0).optional(),
  })
  .strict();

const EVENT_TYPES = ['impression', 'click', 'watch', 'like', 'dislike'] as const;

const EventSchema = z
  .object({
    type: z.enum(EVENT_TYPES),
    user_id: z.string().min(1).max(64),
    video_id: z.string().min(1).max(64),
    /** Seconds in world time; default now. */
    timestamp: z.number().finite().optional(),
    /** Watch events: seconds watched. */
    watch_seconds: z.number().finite().min(0).optional(),
  })
  .strict();

const EventsBody = z.object({ events: z.array(z.unknown()).min(1).max(1000) }).strict();

const RetrainBody = z
  .object({ epochs: z.number().int().min(1).max(20).optional() })
  .strict()
  .default({});

export type VideoEvent = z.infer<typeof EventSchema>;

/** An event accepted by the service, with dense indices (the next training set reads these). */
export interface LoggedEvent {
  type: (typeof EVENT_TYPES)[number];
  user: number;
  item: number;
  ts: number;
  relevant: boolean;
}

export interface VideoServiceOptions {
  /** Folder with user-tower.onnx, video-tower.onnx, ranker.onnx and model.json. */
  modelsDir: string;
  /** The world to serve; regenerated from the model card when absent. */
  world?: VideoWorld;
  /** Where retrained models are written (default: a temp folder). */
  workDir?: string;
  config?: Record<string, string | undefined>;
  /** Seconds in world time "now" is (default: the end of the log, advancing with the wall clock). */
  now?: () => number;
  /** Region restrictions: video index -> blocked country indices. */
  restrictions?: ReadonlyMap<number, ReadonlySet<number>>;
  /** Retraining: trains on a table and writes a model folder, returns its path (see index.ts). */
  retrain?: (
    table: InteractionTable,
    side: SideInfo,
    options: { epochs?: number; outDir: string },
  ) => Promise<string>;
  logLevel?: 'silent' | 'error' | 'warn' | 'info';
}

export interface VideoService extends ServiceHandle {
  service: ReturnType<typeof createService>;
  /** The current state (swapped by the jobs). */
  state(): RecommenderState;
  models(): ServedModels;
  events: LoggedEvent[];
  runner: InProcessJobRunner;
}

interface OnlineUser {
  history: number[];
  seen: Set<number>;
  disliked: Set<number>;
}

export async function createVideoService(options: VideoServiceOptions): Promise<VideoService> {
  let models = await loadServedModels(options.modelsDir);
  let world = options.world;
  if (!world) {
    const w = models.card.world;
    if (!w) throw new TypeError(`${options.modelsDir}/model.json: no world to serve; pass options.world`);
    const { generateVideoWorld, SMALL_WORLD, DEFAULT_WORLD } = await import('./data.js');
    world = generateVideoWorld({ ...(w.size === 'small' ? SMALL_WORLD : DEFAULT_WORLD), seed: w.seed });
  }
  const servedWorld = world;
  const full = worldInteractions(servedWorld);
  // The oracle is the generator's, never the service's.
  const table = sliceTable(full, 0, full.rows);
  const side = worldSideInfo(servedWorld);
  const endTs = servedWorld.endTs;
  const started = Date.now();
  const now = options.now ?? (() => endTs + (Date.now() - started) / 1000);
  let state = await servingState(models, table, side, endTs);
  const userIndex = new Map<string, number>(table.userIds.map((id, u) => [id, u]));
  const itemIndex = new Map<string, number>(table.itemIds.map((id, i) => [id, i]));
  const newUsers = new Map<string, OnlineUser>();
  const events: LoggedEvent[] = [];
  const sizes = models.card.sizes ?? DEFAULT_SIZES;
  const logger = pino({ name: APP_ID, level: options.logLevel ?? 'warn' });

  const reindexJob = defineJob('reindex', async () => {
    const current = models;
    const base = state;
    const items: number[] = [];
    for (let i = 0; i < base.items; i++) if (base.catalogue[i]) items.push(i);
    const ts = now();
    const emb = await onnxVideoEmbeddings(current, side, base.uploadTs, Int32Array.from(items), ts);
    const itemEmbeddings = new Float32Array(base.items * base.dim);
    items.forEach((i, k) => {
      itemEmbeddings.set(emb.subarray(k * base.dim, (k + 1) * base.dim), i * base.dim);
    });
    const index = buildIndex(itemEmbeddings, base.catalogue, base.dim);
    // One assignment swaps embeddings and index together; histories and counts carry over.
    state = { ...state, itemEmbeddings, index };
    return { videos: items.length, dim: base.dim, at: ts };
  });

  const retrainJob = defineJob(
    'retrain',
    async (data: { epochs?: number }) => {
      if (!options.retrain) throw new Error('retraining is not configured for this service');
      const trainingTable = withEvents(table, events);
      const outDir = join(
        options.workDir ?? join(process.cwd(), '.mlsd', APP_ID),
        'models',
        `retrain-${Date.now()}`,
      );
      mkdirSync(outDir, { recursive: true });
      const dir = await options.retrain(trainingTable, side, { epochs: data.epochs, outDir });
      const next = await loadServedModels(dir);
      const nextState = await servingState(next, trainingTable, side, now());
      const previous = models;
      models = next;
      state = nextState;
      newUsers.clear();
      setTimeout(() => {
        void previous.userTower.close();
        void previous.videoTower.close();
        void previous.ranker.close();
      }, 5_000).unref();
      return { version: next.card.version, dir, events: events.length };
    },
    { attempts: 1 },
  );
  const runner = new InProcessJobRunner({ jobs: [reindexJob, retrainJob] as never });
  await runner.start();

  const contextFor = (id: string, q: z.infer<typeof RecommendationsQuery>, ts: number) => {
    const u = userIndex.get(id);
    if (u !== undefined) {
      const ctx = userContext(state, u, ts);
      return { ctx, coldStart: ctx.history.length === 0 };
    }
    const online = newUsers.get(id);
    const demo: Demographics = { age: q.age, gender: q.gender, country: q.country, language: q.language };
    const ctx: UserContext = {
      tokens: demographicTokens(demo),
      history: online?.history ?? [],
      seen: online?.seen ?? new Set(),
      disliked: online?.disliked ?? new Set(),
      language: q.language ?? -1,
      region: q.country ?? -1,
      ts,
    };
    return { ctx, coldStart: true };
  };

  const recommend = async (ctx: UserContext, k: number) => {
    const current = models;
    const st = state;
    const hist = historySlots(ctx.history, current.card.shape.items, new Int32Array(HISTORY_SLOTS));
    const tokens = Int32Array.from(ctx.tokens, (t) => (t < current.card.shape.userVocab ? t : 0));
    const u = await current.userTower.run({
      user_tokens: { data: tokens, dims: [1, USER_SLOTS] },
      history: { data: hist, dims: [1, HISTORY_SLOTS] },
    });
    const emb = u.user_embedding.data as Float32Array;
    const cands = generateCandidates(st, ctx, emb, sizes);
    if (cands.length === 0) return [];
    const x = applyScaler(rankingFeatures(st, ctx, cands), current.card.scaler);
    const r = await current.ranker.run({
      features: { data: x, dims: [cands.length, RANKING_FEATURE_COUNT] },
    });
    const logits = r.logit.data as Float32Array;
    return rerank(st, ctx, cands, logits, { k, restrictions: options.restrictions });
  };

  const parseEvent = (raw: unknown, index: number) => {
    const parsed = EventSchema.safeParse(raw);
    if (!parsed.success) {
      return {
        error: parsed.error.issues.map((i) => ({
          index,
          field: i.path.length ? i.path.join('.') : '(event)',
          reason: i.message,
        })),
      };
    }
    const e = parsed.data;
    const item = itemIndex.get(e.video_id);
    if (item === undefined)
      return { error: [{ index, field: 'video_id', reason: `unknown video '${e.video_id}'` }] };
    if (e.type === 'watch' && e.watch_seconds === undefined)
      return { error: [{ index, field: 'watch_seconds', reason: 'required for a watch event' }] };
    return { event: e, item };
  };

  const applyEvent = (e: VideoEvent, item: number) => {
    const ts = e.timestamp ?? now();
    const st = state;
    const u = userIndex.get(e.user_id);
    let target: OnlineUser;
    if (u !== undefined) {
      target = {
        history: st.histories.relevant[u],
        seen: st.histories.seen[u],
        disliked: st.histories.disliked[u],
      };
    } else {
      let online = newUsers.get(e.user_id);
      if (!online) {
        online = { history: [], seen: new Set(), disliked: new Set() };
        newUsers.set(e.user_id, online);
      }
      target = online;
    }
    const length = servedWorld.videos.lengthSeconds[item] ?? 0;
    const relevant =
      e.type === 'like' || (e.type === 'watch' && length > 0 && (e.watch_seconds ?? 0) >= length / 2);
    if (e.type !== 'impression') target.seen.add(item);
    if (e.type === 'dislike') target.disliked.add(item);
    if (relevant) {
      pushRecent(target.history, item, HISTORY_LIMIT);
      st.pop2[item]++;
      st.pop14[item]++;
      st.popAll[item]++;
    }
    events.push({ type: e.type, user: u ?? -1, item, ts, relevant });
  };

  const service = createService({
    name: APP_ID,
    version: models.card.version,
    auth: { apiKeys: options.config?.MLSD_API_KEY ? [options.config.MLSD_API_KEY] : [] },
    logger,
    routes(router, ctx) {
      router.get('/users/:id/recommendations', ctx.predictionAuth, async (req, res) => {
        const parsed = RecommendationsQuery.safeParse(req.query);
        if (!parsed.success) {
          const issue = parsed.error.issues[0];
          throw new HttpError(400, 'invalid_request', `${issue.path.join('.') || 'query'}: ${issue.message}`);
        }
        const id = String(req.params.id);
        if (id.length > 64) throw new HttpError(400, 'invalid_request', 'id: at most 64 characters');
        const q = parsed.data;
        const ts = now();
        const { ctx: userCtx, coldStart } = contextFor(id, q, ts);
        const list = await recommend(userCtx, q.k);
        res.json({
          user_id: id,
          cold_start: coldStart,
          model: models.card.version,
          k: q.k,
          recommendations: list.map((r) => ({
            video_id: table.itemIds[r.item],
            score: Number(r.score.toFixed(5)),
            sources: r.sources,
            reasons: r.reasons,
          })),
        });
      });

      router.post('/events', ctx.predictionAuth, ctx.validate(EventsBody), (req, res) => {
        const body = req.body as z.infer<typeof EventsBody>;
        const rejected: { index: number; field: string; reason: string }[] = [];
        let accepted = 0;
        body.events.forEach((raw, index) => {
          const r = parseEvent(raw, index);
          if (r.error) {
            rejected.push(...r.error);
            return;
          }
          applyEvent(r.event, r.item);
          accepted++;
        });
        if (accepted > 0) rebuildLists(state);
        res.status(rejected.length ? 400 : 200).json({
          accepted,
          rejected,
          ...(rejected.length
            ? {
                error: {
                  code: 'invalid_events',
                  message: `${new Set(rejected.map((r) => r.index)).size} event(s) rejected; the others were kept`,
                },
              }
            : {}),
        });
      });

      router.post('/jobs/reindex', ctx.requireApiKey, async (_req, res) => {
        const job = await runner.enqueue('reindex', {});
        res.status(202).json({ job: { id: job.id, name: 'reindex', state: job.state } });
      });
      router.post('/jobs/retrain', ctx.requireApiKey, ctx.validate(RetrainBody), async (req, res) => {
        if (!options.retrain)
          throw new HttpError(501, 'not_configured', 'retraining is not configured for this service');
        const job = await runner.enqueue('retrain', req.body as z.infer<typeof RetrainBody>);
        res.status(202).json({ job: { id: job.id, name: 'retrain', state: job.state } });
      });
      jobRoutes(router, ctx, runner, ['reindex', 'retrain']);
    },
    closeables: [runner],
    closeModels: false,
  });

  return {
    service,
    handler: service.app as unknown as ServiceHandle['handler'],
    state: () => state,
    models: () => models,
    events,
    runner,
    async ready() {
      return service.accepting;
    },
    async close() {
      await service.close();
      await models.userTower.close();
      await models.videoTower.close();
      await models.ranker.close();
    },
  };
}

/** The log plus the logged events (new users are left out: they have no index in the table). */
export function withEvents(table: InteractionTable, events: readonly LoggedEvent[]): InteractionTable {
  const extra = events.filter((e) => e.user >= 0 && e.type !== 'impression');
  if (extra.length === 0) return table;
  const n = table.rows + extra.length;
  const order = [...extra].sort((a, b) => a.ts - b.ts);
  const lastTs = table.rows ? table.ts[table.rows - 1] : Number.NEGATIVE_INFINITY;
  const out: InteractionTable = {
    ...table,
    rows: n,
    user: new Int32Array(n),
    item: new Int32Array(n),
    ts: new Float64Array(n),
    relevant: new Uint8Array(n),
    negative: new Uint8Array(n),
  };
  out.user.set(table.user);
  out.item.set(table.item);
  out.ts.set(table.ts);
  out.relevant.set(table.relevant);
  out.negative.set(table.negative);
  order.forEach((e, k) => {
    const r = table.rows + k;
    out.user[r] = e.user;
    out.item[r] = e.item;
    // Events are appended after the log (time order is kept).
    out.ts[r] = Math.max(e.ts, lastTs);
    out.relevant[r] = e.relevant ? 1 : 0;
    out.negative[r] = e.type === 'dislike' ? 1 : 0;
  });
  return out;
}
