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

/** Body of `POST /predict` for a model with `n` input features. */
export function predictBody(n: number) {
  return z.object({
    features: z.array(z.number().finite()).length(n),
    userId: z.string().min(1).max(64).optional(),
  });
}
export const PredictBody = predictBody(4);

export const TEST_API_KEY = 'test-key-0123456789';

export interface SampleServiceOptions extends Partial<ServiceOptions> {
  model: InferenceModel;
  /** Coalesce concurrent /predict calls with a dynamic batcher. */
  batching?: {
    maxBatchSize: number;
    maxQueueDelayMs: number;
    maxQueueSize: number;
    dispatchWhenIdle?: boolean;
  };
}

/** Width of the model's input `x` (4 for the tiny model). */
export function inputWidth(model: InferenceModel): number {
  const dims = model.inputs?.[0]?.dims;
  const n = dims?.[dims.length - 1];
  return typeof n === 'number' && n > 0 ? n : 4;
}

/** Runs the model on rows of features, returning one score per row. */
export async function scoreRows(model: InferenceModel, rows: number[][]): Promise<number[]> {
  const n = inputWidth(model);
  const data = new Float32Array(rows.length * n);
  for (const [i, row] of rows.entries()) data.set(row, i * n);
  const out = await model.run({ x: { data, dims: [rows.length, n] } });
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
      ctx.jsonRoute('/predict', { body: predictBody(inputWidth(model)) }, async ({ features }) => {
        const score = batcher ? await batcher.call(features) : (await scoreRows(model, [features]))[0];
        return { score, model: model.name, version: model.version };
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
