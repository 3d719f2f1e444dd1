/**
 * Dynamic batching: batched results equal unbatched ones in order, batches respect maxBatchSize and
 * maxQueueDelayMs, a full queue rejects with 503 + Retry-After, errors reach every caller of a batch,
 * and batch size / queue wait land in the ops metrics.
 */
import { createOpsMetrics } from '@mlsd/monitoring';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createBatcher } from './batcher.js';
import { QueueFullError } from './errors.js';
import type { InferenceModel } from './model.js';
import { createSampleService, scoreRows } from './testing/sample-service.js';
import { loadTinyModel, tinyModelReference } from './testing/tiny-model.js';

let model: InferenceModel;
beforeAll(async () => {
  model = await loadTinyModel();
});
afterAll(async () => {
  await model.close?.();
});

function rows(n: number): number[][] {
  // Deterministic, varied rows (no RNG needed): a small affine walk.
  return Array.from({ length: n }, (_, i) => [
    ((i * 7) % 11) / 5 - 1,
    ((i * 3) % 5) - 2,
    (i % 4) * 0.25,
    -i / n,
  ]);
}

describe('createBatcher', () => {
  it('batched results equal unbatched results, in the order of the calls', async () => {
    const sizes: number[] = [];
    const batcher = createBatcher<number[], number>({
      maxBatchSize: 8,
      maxQueueDelayMs: 5,
      maxQueueSize: 1000,
      run: (inputs) => {
        sizes.push(inputs.length);
        return scoreRows(model, inputs);
      },
    });
    const inputs = rows(50);
    const batched = await Promise.all(inputs.map((x) => batcher.call(x)));
    const unbatched: number[] = [];
    for (const x of inputs) unbatched.push((await scoreRows(model, [x]))[0]);
    expect(batched).toEqual(unbatched);
    inputs.forEach((x, i) => {
      expect(batched[i]).toBeCloseTo(tinyModelReference(x), 6);
    });
    // 50 concurrent calls with maxBatchSize 8 must have been coalesced, never above the maximum.
    expect(Math.max(...sizes)).toBe(8);
    expect(sizes.reduce((a, b) => a + b, 0)).toBe(50);
    expect(sizes.length).toBeLessThan(50);
    await batcher.close();
  });

  it('dispatches a partial batch once the oldest call has waited maxQueueDelayMs', async () => {
    const sizes: number[] = [];
    const batcher = createBatcher<number, number>({
      dispatchWhenIdle: false,
      maxBatchSize: 100,
      maxQueueDelayMs: 20,
      maxQueueSize: 100,
      run: (xs) => {
        sizes.push(xs.length);
        return xs.map((x) => x * 2);
      },
    });
    const results = await Promise.all([batcher.call(1), batcher.call(2), batcher.call(3)]);
    expect(results).toEqual([2, 4, 6]);
    expect(sizes).toEqual([3]);
  });

  it('Triton policy holds a lone call for maxQueueDelayMs; idle dispatch sends it at the end of the turn', async () => {
    const sizes: number[] = [];
    const run = (xs: number[]) => {
      sizes.push(xs.length);
      return xs;
    };
    const plain = createBatcher<number, number>({
      dispatchWhenIdle: false,
      maxBatchSize: 8,
      maxQueueDelayMs: 10_000,
      maxQueueSize: 10,
      run,
    });
    const idle = createBatcher<number, number>({
      maxBatchSize: 8,
      maxQueueDelayMs: 10_000,
      maxQueueSize: 10,
      run,
    });
    let plainDone = false;
    void plain.call(1).then(() => {
      plainDone = true;
    });
    // Two calls in the same turn share one batch, without waiting for the 10 s delay.
    expect(await Promise.all([idle.call(2), idle.call(3)])).toEqual([2, 3]);
    expect(sizes).toEqual([2]);
    expect(plainDone).toBe(false);
    await plain.close();
    expect(plainDone).toBe(true);
  });

  it('an error in run() rejects every caller of that batch and spares the next batch', async () => {
    let calls = 0;
    const batcher = createBatcher<number, number>({
      maxBatchSize: 3,
      maxQueueDelayMs: 1,
      maxQueueSize: 100,
      run: (xs) => {
        calls++;
        if (calls === 1) throw new Error('model exploded');
        return xs.map((x) => x + 1);
      },
    });
    const first = [1, 2, 3].map((x) => batcher.call(x));
    const second = [4, 5].map((x) => batcher.call(x));
    const settled = await Promise.allSettled([...first, ...second]);
    expect(settled.slice(0, 3).map((s) => s.status)).toEqual(['rejected', 'rejected', 'rejected']);
    for (const s of settled.slice(0, 3))
      expect((s as PromiseRejectedResult).reason.message).toBe('model exploded');
    expect(settled.slice(3)).toEqual([
      { status: 'fulfilled', value: 5 },
      { status: 'fulfilled', value: 6 },
    ]);
  });

  it('run() returning the wrong number of outputs rejects callers with a clear TypeError', async () => {
    const batcher = createBatcher<number, number>({
      name: 'm',
      maxBatchSize: 2,
      maxQueueDelayMs: 5,
      maxQueueSize: 10,
      run: () => [1],
    });
    const settled = await Promise.allSettled([batcher.call(1), batcher.call(2)]);
    expect((settled[0] as PromiseRejectedResult).reason).toBeInstanceOf(TypeError);
    expect((settled[0] as PromiseRejectedResult).reason.message).toMatch(
      /expected an array of 2, got an array of 1/,
    );
  });

  it('rejects with QueueFullError beyond maxQueueSize instead of queueing without bound', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => {
      release = r;
    });
    const batcher = createBatcher<number, number>({
      maxBatchSize: 2,
      maxQueueDelayMs: 0,
      maxQueueSize: 3,
      run: async (xs) => {
        await gate;
        return xs;
      },
    });
    // With no queue delay the first call is dispatched alone at once and blocks on the gate.
    const running = batcher.call(1);
    const queued = [batcher.call(2), batcher.call(3), batcher.call(4)]; // fill the queue
    expect(batcher.running).toBe(1);
    expect(batcher.queued).toBe(3);
    await expect(batcher.call(5)).rejects.toBeInstanceOf(QueueFullError);
    release();
    expect(await Promise.all([running, ...queued])).toEqual([1, 2, 3, 4]);
    await batcher.close();
    await expect(batcher.call(7)).rejects.toThrow(/closed/);
  });

  it('records batch sizes and queue waits in the ops metrics', async () => {
    const metrics = createOpsMetrics({ collectDefaultMetrics: false });
    const batcher = createBatcher<number, number>({
      name: 'tiny',
      maxBatchSize: 4,
      maxQueueDelayMs: 2,
      maxQueueSize: 100,
      metrics,
      run: (xs) => xs,
    });
    await Promise.all([1, 2, 3, 4, 5, 6].map((x) => batcher.call(x)));
    const text = await metrics.metrics();
    expect(text).toMatch(/mlsd_inference_batch_size_count\{model="tiny"\} 2/);
    expect(text).toMatch(/mlsd_inference_batch_size_sum\{model="tiny"\} 6/);
    expect(text).toMatch(/mlsd_queue_wait_seconds_count\{model="tiny"\} 6/);
  });

  it('validates its options, naming the argument', () => {
    const run = (xs: number[]) => xs;
    expect(() => createBatcher({ maxBatchSize: 0, maxQueueDelayMs: 1, maxQueueSize: 1, run })).toThrow(
      /options\.maxBatchSize: expected an integer >= 1, got 0/,
    );
    expect(() => createBatcher({ maxBatchSize: 1, maxQueueDelayMs: -1, maxQueueSize: 1, run })).toThrow(
      /options\.maxQueueDelayMs/,
    );
    expect(() =>
      createBatcher({
        maxBatchSize: 1,
        maxQueueDelayMs: 1,
        maxQueueSize: 1,
        run: 3 as unknown as typeof run,
      }),
    ).toThrow(/options\.run/);
  });
});

describe('batched prediction route', () => {
  it('answers concurrent requests with the same scores as the reference', async () => {
    const service = createSampleService({
      model,
      closeModels: false,
      batching: { maxBatchSize: 16, maxQueueDelayMs: 2, maxQueueSize: 256 },
    });
    const inputs = rows(40);
    const responses = await Promise.all(
      inputs.map((features) => request(service.app).post('/predict').send({ features })),
    );
    responses.forEach((res, i) => {
      expect(res.status).toBe(200);
      expect(res.body.score).toBeCloseTo(tinyModelReference(inputs[i]), 6);
    });
    await service.close();
  });

  it('answers 503 with Retry-After when the batching queue is full', async () => {
    const slow: InferenceModel = {
      name: 'slow',
      version: '1',
      run: () => new Promise(() => {}), // never answers: every later call must queue
    };
    const service = createSampleService({
      model: slow,
      closeModels: false,
      batching: { maxBatchSize: 1, maxQueueDelayMs: 0, maxQueueSize: 1 },
    });
    const body = { features: [1, 2, 3, 4] };
    void request(service.app).post('/predict').send(body).then(); // occupies the only running batch
    await new Promise((r) => setTimeout(r, 30));
    void request(service.app).post('/predict').send(body).then(); // fills the queue
    await new Promise((r) => setTimeout(r, 30));
    const res = await request(service.app).post('/predict').send(body);
    expect(res.status).toBe(503);
    expect(res.headers['retry-after']).toBe('1');
    expect(res.body.error.code).toBe('overloaded');
  });
});
