/**
 * The HTTP side of street-view blurring, on @mlsd/serving's `createService`:
 *
 *   POST /images       an image (raw body, image/*): stored, queued, 202 with the job id
 *   GET  /jobs/:id     the image's processing state (both stages), the failure reason if any
 *   GET  /images/:id   the blurred PNG; the original is never served
 *   POST /blur         a small image, blurred synchronously (demos and tests)
 *   POST /reports      { imageId, box, label, kind }: a missed or wrong blur, kept as a hard example
 *   POST /jobs/svb-retrain, GET /jobs/svb-retrain/:id   retraining (API key), through jobRoutes
 *
 * `openBlurService` wires the detector (registry production, else the committed default), the store
 * and the pipeline; `createBlurService` only builds routes around a pipeline (tests use both).
 */
import { join } from 'node:path';
import { createService, HttpError, jobRoutes, type Service } from '@mlsd/serving';
import express from 'express';
import { pino } from 'pino';
import { z } from 'zod';
import { parseBlurConfig } from './config.js';
import { CLASSES } from './data.js';
import { OnnxDetector } from './detector.js';
import { decodeImage, ImageInputError } from './features.js';
import {
  APP_ID,
  BlurPipeline,
  blurImage,
  detectorSource,
  RETRAIN_JOB,
  ReportError,
  type RetrainOptions,
} from './pipeline.js';
import { ImageStore, isStoreId } from './store.js';

/** Body of `POST /reports`. */
export const ReportBody = z.object({
  imageId: z.string().min(1).max(100),
  box: z
    .tuple([z.number().finite(), z.number().finite(), z.number().finite(), z.number().finite()])
    .refine((b) => b[2] > 0 && b[3] > 0, {
      message: 'width and height must be > 0 (a zero-size box marks nothing)',
    }),
  label: z.enum(CLASSES),
  kind: z.enum(['missed', 'wrong']).default('missed'),
});

export interface BlurServiceOptions {
  pipeline: BlurPipeline;
  apiKeys?: string[];
  /** Largest upload to `POST /images`, bytes (default 20 MB). */
  maxUploadBytes?: number;
  /** Largest image `POST /blur` takes: bytes (default 2 MB) and pixels (default 4 MP). */
  maxBlurBytes?: number;
  maxBlurPixels?: number;
  version?: string;
  logLevel?: string;
  /** Closed with the service (besides the pipeline). */
  closeables?: { close(): unknown }[];
}

const IMAGE_TYPES = (req: { headers: Record<string, unknown> }) => {
  const type = String(req.headers['content-type'] ?? '');
  return /^image\//i.test(type) || /^application\/octet-stream/i.test(type);
};

/** Maps the app's named errors to HTTP answers with the field and the reason. */
function inputError(err: unknown): never {
  if (err instanceof ImageInputError) {
    const status = err.code === 'too-large' ? 413 : err.code === 'not-an-image' ? 415 : 400;
    throw new HttpError(status, err.code.replace(/-/g, '_'), err.message, { field: 'body' });
  }
  throw err;
}

function rawBody(limit: number): express.RequestHandler {
  const parse = express.raw({ type: IMAGE_TYPES, limit });
  return (req, res, next) => {
    if (!IMAGE_TYPES(req)) {
      next(
        new HttpError(
          415,
          'unsupported_media_type',
          `Content-Type: expected image/* or application/octet-stream, got ${req.get('content-type') ?? 'none'}`,
          { field: 'content-type' },
        ),
      );
      return;
    }
    parse(req, res, next);
  };
}

function bodyBytes(body: unknown): Uint8Array {
  if (!(body instanceof Uint8Array) || body.length === 0) {
    throw new HttpError(400, 'empty_body', 'body: expected image bytes, got an empty body', {
      field: 'body',
    });
  }
  return body;
}

/** The express service around a pipeline (never listens). */
export function createBlurService(options: BlurServiceOptions): Service {
  const { pipeline } = options;
  const maxBlurPixels = options.maxBlurPixels ?? 4_000_000;
  return createService({
    name: APP_ID,
    version: options.version ?? '0.1.0',
    logger: pino({ name: APP_ID, level: options.logLevel ?? 'warn' }),
    auth: { apiKeys: options.apiKeys ?? [] },
    closeables: [...(options.closeables ?? []), pipeline],
    routes: (router, ctx) => {
      router.post(
        '/images',
        ctx.predictionAuth,
        rawBody(options.maxUploadBytes ?? 20 * 1024 * 1024),
        async (req, res) => {
          const bytes = bodyBytes(req.body);
          const { id } = await pipeline.submit(bytes).catch(inputError);
          // Links relative to where the service is mounted (`/street-view-blurring` under `mlsd serve`).
          const base = req.baseUrl;
          res
            .status(202)
            .location(`${base}/jobs/${id}`)
            .json({ id, state: 'queued', status: `${base}/jobs/${id}`, image: `${base}/images/${id}` });
        },
      );

      router.get('/jobs/:id', async (req, res) => {
        const id = String(req.params.id);
        const status = await pipeline.status(id);
        if (!status) throw new HttpError(404, 'job_not_found', `no image job '${id}'`, { field: 'id' });
        res.json(status);
      });

      router.get('/images/:id', async (req, res) => {
        const id = String(req.params.id);
        if (!isStoreId(id)) throw new HttpError(404, 'image_not_found', `no image '${id}'`, { field: 'id' });
        const png = await pipeline.blurred(id);
        if (!png) {
          const status = await pipeline.status(id);
          if (!status) throw new HttpError(404, 'image_not_found', `no image '${id}'`, { field: 'id' });
          if (status.state === 'failed') {
            throw new HttpError(409, 'image_failed', `image ${id} failed: ${status.reason}`, status);
          }
          throw new HttpError(409, 'not_ready', `image ${id} is ${status.state} (${status.stage})`, status);
        }
        res.type('image/png').set('Cache-Control', 'no-store').send(png);
      });

      router.post(
        '/blur',
        ctx.predictionAuth,
        rawBody(options.maxBlurBytes ?? 2 * 1024 * 1024),
        async (req, res) => {
          const bytes = bodyBytes(req.body);
          const image = await decodeImage(bytes, { ...pipeline.spec, maxPixels: maxBlurPixels }).catch(
            inputError,
          );
          const { kept, png } = await blurImage(image, pipeline.currentDetector);
          const counts = { face: 0, plate: 0 };
          for (const d of kept) counts[d.label]++;
          res.type('image/png').set('X-Detections', `face=${counts.face}, plate=${counts.plate}`).send(png);
        },
      );

      router.post('/reports', ctx.predictionAuth, ctx.validate(ReportBody), async (req, res) => {
        const body = req.body as z.output<typeof ReportBody>;
        if (!isStoreId(body.imageId)) {
          throw new HttpError(404, 'image_not_found', `no image '${body.imageId}'`, { field: 'imageId' });
        }
        try {
          const report = await pipeline.report(body);
          res.status(201).json(report);
        } catch (err) {
          if (err instanceof ReportError) {
            const status = err.code === 'unknown_image' ? 404 : err.code === 'not_completed' ? 409 : 400;
            const field = err.code === 'invalid_box' ? 'box' : 'imageId';
            throw new HttpError(status, err.code, err.message, { field });
          }
          throw err;
        }
      });

      if (pipeline.runner && pipeline.hasRetraining) jobRoutes(router, ctx, pipeline.runner, [RETRAIN_JOB]);
    },
    readiness: {
      detector: () => (pipeline.currentDetector ? true : 'no detector loaded'),
    },
  });
}

export interface OpenBlurServiceOptions {
  /** Folder for the image store (overridden by SVB_STORE_DIR). */
  workDir: string;
  /** Registry with a production detector to serve, and where retraining registers. */
  registryDir?: string;
  fixturesDir: string;
  /** Raw configuration from the edge (REDIS_URL, MLSD_API_KEY, SVB_RETAIN_ORIGINALS, SVB_STORE_DIR). */
  config?: Record<string, string | undefined>;
  /** Retraining job settings (sizes for a quick run); retraining needs `registryDir`. */
  retrain?: Partial<Omit<RetrainOptions, 'store' | 'registryDir' | 'fixturesDir'>>;
  seed?: number;
  logLevel?: string;
}

/** Opens everything the service needs: store, detector, pipeline (and its runner), routes. */
export async function openBlurService(options: OpenBlurServiceOptions): Promise<Service> {
  const config = parseBlurConfig(options.config ?? {});
  const store = await ImageStore.open(config.SVB_STORE_DIR ?? join(options.workDir, 'store'));
  const source = detectorSource(options.registryDir, options.fixturesDir);
  const detector = await OnnxDetector.load(source.onnx);
  const pipeline = await BlurPipeline.create({
    store,
    detector,
    retainOriginals: config.SVB_RETAIN_ORIGINALS,
    redisUrl: config.REDIS_URL,
    retrain: options.registryDir
      ? {
          registryDir: options.registryDir,
          fixturesDir: options.fixturesDir,
          seed: options.seed ?? 42,
          ...options.retrain,
        }
      : undefined,
  });
  return createBlurService({
    pipeline,
    apiKeys: config.MLSD_API_KEY ? [config.MLSD_API_KEY] : [],
    version: source.version,
    logLevel: options.logLevel,
  });
}
