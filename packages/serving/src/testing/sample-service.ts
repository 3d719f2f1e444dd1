/**
 * A small service over the tiny ONNX model, shared by the route tests, the fuzz test and the
 * benchmark: `POST /predict` (open, optionally batched), `POST /admin/echo` (API key), and a route
 * that throws, to check the 500 path. Test/bench helper, not exported from the package.
 */
import { pino } from 'pino';
import { z } from 'zod';
import { type Batcher, createBatcher } from '../batcher.js';
import type { InferenceModel } from '../model.js';
import { createService, type Service, type ServiceOptions } from '../service.js';

export const PredictBody = z.object({
  features: z.array(z.number().finite()).length(4),
  userId: z.string().min(1).max(64).optional(),
});

export const TEST_API_KEY = 'test-key-0123456789';

export interface SampleServiceOptions extends Partial<ServiceOptions> {
  model: InferenceModel;
  /** Coalesce concurrent /predict calls with a dynamic batcher. */
  batching?: { maxBatchSize: number; maxQueueDelayMs: number; maxQueueSize: number };
}

/** Runs the tiny model on rows of 4 features, returning one score per row. */
export async function scoreRows(model: InferenceModel, rows: number[][]): Promise<number[]> {
  const data = new Float32Array(rows.length * 4);
  for (const [i, row] of rows.entries()) data.set(row, i * 4);
  const out = await model.run({ x: { data, dims: [rows.length, 4] } });
  return Array.from(out.y.data as Float32Array);
}

export function createSampleService(
  options: SampleServiceOptions,
): Service & { batcher?: Batcher<number[], number> } {
  const { model, batching, ...rest } = options;
  let batcher: Batcher<number[], number> | undefined;
  const service = createService({
    name: 'sample',
    logger: pino({ level: 'silent' }),
    auth: { apiKeys: [TEST_API_KEY] },
    models: { tiny: model },
    ...rest,
    routes: (router, ctx) => {
      if (batching) {
        batcher = createBatcher({
          ...batching,
          name: 'tiny',
          metrics: ctx.metrics,
          run: (rows) => scoreRows(model, rows),
        });
        ctx.onClose(batcher);
      }
      router.post('/predict', ctx.predictionAuth, ctx.validate(PredictBody), async (req, res) => {
        const { features } = req.body as z.infer<typeof PredictBody>;
        const score = batcher ? await batcher.call(features) : (await scoreRows(model, [features]))[0];
        res.json({ score, model: model.name, version: model.version });
      });
      router.post('/admin/echo', ctx.requireApiKey, (req, res) => {
        res.json({ received: req.body ?? null });
      });
      router.get('/boom', () => {
        throw new Error('secret internal detail');
      });
      rest.routes?.(router, ctx);
    },
  });
  return Object.assign(service, { batcher });
}
