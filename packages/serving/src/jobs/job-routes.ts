/**
 * HTTP routes for batch jobs: triggering a job changes state and needs the API key; reading a
 * job's state and the failed list is open like the other read-only routes.
 */
import type { Router } from 'express';
import { z } from 'zod';
import { HttpError } from '../errors.js';
import type { ServiceContext } from '../service.js';
import type { JobRunner } from './job-runner.js';

/** Body of `POST /jobs/:name`. */
export const EnqueueBody = z.object({
  data: z.unknown().optional(),
  idempotencyKey: z.string().min(1).max(200).optional(),
  delayMs: z
    .number()
    .int()
    .min(0)
    .max(7 * 24 * 3600 * 1000)
    .optional(),
});

/**
 * Adds `POST /jobs/:name` (API key; 202 with the job), `GET /jobs/:name/failed` and
 * `GET /jobs/:name/:id` for the jobs in `names`.
 */
export function jobRoutes(
  router: Router,
  context: ServiceContext,
  runner: JobRunner,
  names: readonly string[],
): void {
  const known = new Set(names);
  const jobName = (name: unknown): string => {
    if (typeof name !== 'string' || !known.has(name)) {
      throw new HttpError(404, 'job_not_found', `no job named '${String(name)}'`);
    }
    return name;
  };
  router.post('/jobs/:name', context.requireApiKey, context.validate(EnqueueBody), async (req, res) => {
    const name = jobName(req.params.name);
    const body = req.body as z.infer<typeof EnqueueBody>;
    const job = await runner.enqueue(name, body.data ?? {}, {
      idempotencyKey: body.idempotencyKey,
      delayMs: body.delayMs,
    });
    res.status(202).json(job);
  });
  router.get('/jobs/:name/failed', async (req, res) => {
    res.json({ failed: await runner.failed(jobName(req.params.name)) });
  });
  router.get('/jobs/:name/:id', async (req, res) => {
    const job = await runner.get(jobName(req.params.name), String(req.params.id));
    if (!job) throw new HttpError(404, 'job_not_found', `no job '${req.params.id}' for '${req.params.name}'`);
    res.json(job);
  });
}
