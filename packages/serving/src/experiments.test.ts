/**
 * Experiments: sticky and weighted assignment, canary share, shadow traffic that never affects the
 * answer, predictions logged with model/version/arm, and the A/B result route checked against
 * SciPy (src/fixtures/ab-reference.json, made by scripts/ab-reference.py).
 */
import { readFileSync } from 'node:fs';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { createCanary, createExperiment, experimentRoutes, predictWithExperiment } from './experiments.js';
import type { InferenceModel } from './model.js';
import { createPredictionLog, type PredictionLog } from './prediction-log.js';
import { createSampleService, scoreRows, TEST_API_KEY } from './testing/sample-service.js';
import { loadTinyModel, tinyModelReference } from './testing/tiny-model.js';

const reference = JSON.parse(readFileSync(new URL('./fixtures/ab-reference.json', import.meta.url), 'utf8'));

let control: InferenceModel;
let treatment: InferenceModel;
beforeAll(async () => {
  control = await loadTinyModel({ name: 'ctr', version: '1' });
  treatment = await loadTinyModel({ name: 'ctr', version: '2', weights: { w: [1, 1, 1, 1], b: 0 } });
});
afterAll(async () => {
  await control.close?.();
  await treatment.close?.();
});

const units = Array.from({ length: 10_000 }, (_, i) => `user-${i}`);

describe('assignment', () => {
  it('is sticky: a unit always gets the same arm, also from a fresh experiment object', () => {
    const a = createExperiment({
      name: 'ranker',
      arms: [
        { name: 'control', model: 'v1', weight: 50 },
        { name: 'treatment', model: 'v2', weight: 50 },
      ],
    });
    const b = createExperiment({ name: 'ranker', arms: a.arms.map((x) => ({ ...x })) });
    for (const u of units.slice(0, 500)) expect(b.assign(u).name).toBe(a.assign(u).name);
  });

  it('splits by weight, and a different experiment name or salt reshuffles units', () => {
    const arms = [
      { name: 'control', model: 'v1', weight: 50 },
      { name: 'treatment', model: 'v2', weight: 50 },
    ];
    const e = createExperiment({ name: 'ranker', arms });
    const share = units.filter((u) => e.assign(u).name === 'treatment').length / units.length;
    // Binomial sd at n=10,000 is 0.005: 0.03 is six of them.
    expect(Math.abs(share - 0.5)).toBeLessThan(0.03);
    const other = createExperiment({ name: 'ranker', salt: 'round-2', arms });
    const same = units.filter((u) => other.assign(u).name === e.assign(u).name).length / units.length;
    expect(Math.abs(same - 0.5)).toBeLessThan(0.03);
  });

  it('a 5% canary sends about 5% of units to the canary', () => {
    const c = createCanary({ name: 'release-7', stable: 'v1', canary: 'v2', percent: 5 });
    const share = units.filter((u) => c.assign(u).name === 'canary').length / units.length;
    expect(share).toBeGreaterThan(0.035);
    expect(share).toBeLessThan(0.065);
    expect(createCanary({ name: 'off', stable: 'v1', canary: 'v2', percent: 0 }).assign('u').name).toBe(
      'stable',
    );
  });

  it('rejects bad options naming the argument', () => {
    expect(() => createExperiment({ name: 'x', arms: [] })).toThrow(/options\.arms/);
    expect(() => createExperiment({ name: 'x', arms: [{ name: 'a', model: 'm', weight: -1 }] })).toThrow(
      /options\.arms\[0\]\.weight/,
    );
    expect(() => createCanary({ name: 'x', stable: 'a', canary: 'b', percent: 101 })).toThrow(
      /options\.percent/,
    );
    expect(() =>
      createExperiment({ name: 'x', arms: [{ name: 'a', model: 'm', weight: 1 }] }).assign(''),
    ).toThrow(/unitId/);
  });
});

const Body = z.object({ userId: z.string().min(1), features: z.array(z.number().finite()).length(4) });

function experimentService(log: PredictionLog, shadowModel?: InferenceModel, onShadow?: () => void) {
  const experiment = createExperiment({
    name: 'ctr-v2',
    shadow: shadowModel ? 'shadow' : undefined,
    arms: [
      { name: 'control', model: 'v1', weight: 50 },
      { name: 'treatment', model: 'v2', weight: 50 },
    ],
  });
  const models: Record<string, InferenceModel> = { v1: control, v2: treatment };
  if (shadowModel) models.shadow = shadowModel;
  return {
    experiment,
    service: createSampleService({
      model: control,
      closeModels: false,
      models,
      routes: (router, ctx) => {
        router.post('/score', ctx.validate(Body), async (req, res) => {
          const { userId, features } = req.body as z.infer<typeof Body>;
          const out = await predictWithExperiment({
            experiment,
            unitId: userId,
            models: ctx.model,
            run: async (m) => (await scoreRows(m, [features]))[0],
            score: (s) => s,
            features,
            log,
            logger: ctx.logger,
            onShadow,
          });
          res.json({ score: out.result, arm: out.arm, version: out.version, predictionId: out.predictionId });
        });
        experimentRoutes(router, ctx, {
          experiments: [experiment],
          log,
          feedbackKind: 'click',
          metric: 'rate',
        });
      },
    }),
  };
}

describe('serving under an experiment', () => {
  it('answers with the arm model, logs model, version and arm', async () => {
    const log = createPredictionLog({ db: ':memory:' });
    const { service, experiment } = experimentService(log);
    const features = [0.5, 0.5, -0.5, 1];
    for (const userId of ['alice', 'bob', 'carol', 'dave', 'erin', 'frank']) {
      const res = await request(service.app).post('/score').send({ userId, features });
      const arm = experiment.assign(userId).name;
      expect(res.body.arm).toBe(arm);
      const weights = arm === 'treatment' ? { w: [1, 1, 1, 1], b: 0 } : undefined;
      expect(res.body.score).toBeCloseTo(tinyModelReference(features, weights), 6);
      log.flush();
      expect(log.getPrediction(res.body.predictionId)).toMatchObject({
        model: 'ctr',
        version: arm === 'treatment' ? '2' : '1',
        arm,
        experiment: 'ctr-v2',
        unitId: userId,
        shadow: false,
      });
    }
    log.close();
  });

  it('shadow: the mirror model runs and is logged, but only the primary answers', async () => {
    const log = createPredictionLog({ db: ':memory:' });
    const shadow = await loadTinyModel({
      name: 'ctr',
      version: '3-shadow',
      weights: { w: [-1, 0, 0, 0], b: 2 },
    });
    let shadowDone!: () => void;
    const finished = new Promise<void>((r) => {
      shadowDone = r;
    });
    const { service, experiment } = experimentService(log, shadow, () => shadowDone());
    const features = [1, 2, 3, 4];
    const res = await request(service.app).post('/score').send({ userId: 'alice', features });
    await finished;
    log.flush();
    const arm = experiment.assign('alice').name;
    const weights = arm === 'treatment' ? { w: [1, 1, 1, 1], b: 0 } : undefined;
    expect(res.body.score).toBeCloseTo(tinyModelReference(features, weights), 6);
    const rows = log.labelled({ kind: 'click' });
    expect(rows).toHaveLength(1); // shadow rows are excluded from outcomes
    const shadowRows = log.sqlite
      .prepare('SELECT version, arm, shadow, score FROM predictions WHERE shadow = 1')
      .all();
    expect(shadowRows).toHaveLength(1);
    expect(shadowRows[0]).toMatchObject({ version: '3-shadow', arm: 'shadow', shadow: 1 });
    expect((shadowRows[0] as { score: number }).score).toBeCloseTo(
      tinyModelReference(features, { w: [-1, 0, 0, 0], b: 2 }),
      6,
    );
    await shadow.close?.();
    log.close();
  });

  it('a failing or hanging shadow never affects the response', async () => {
    const log = createPredictionLog({ db: ':memory:' });
    const failing: InferenceModel = {
      name: 'broken',
      version: '0',
      run: async () => {
        throw new Error('shadow exploded');
      },
    };
    let shadowOutcome: unknown;
    const { service } = experimentService(log, failing, () => {
      shadowOutcome = 'done';
    });
    const res = await request(service.app)
      .post('/score')
      .send({ userId: 'bob', features: [0, 0, 0, 0] });
    expect(res.status).toBe(200);
    for (let i = 0; i < 200 && shadowOutcome === undefined; i++) await new Promise((r) => setTimeout(r, 10));
    expect(shadowOutcome).toBe('done');

    const hanging: InferenceModel = { name: 'slow', version: '0', run: () => new Promise(() => {}) };
    const slow = experimentService(log, hanging);
    const res2 = await request(slow.service.app)
      .post('/score')
      .send({ userId: 'bob', features: [0, 0, 0, 0] });
    expect(res2.status).toBe(200);
    log.close();
  });
});

describe('A/B result route', () => {
  it('reports per-arm rates and the two-proportion z-test equal to SciPy', async () => {
    const log = createPredictionLog({ db: ':memory:' });
    const { service } = experimentService(log);
    const p = reference.proportions;
    for (const [arm, { clicks, n }] of [
      ['control', p.control],
      ['treatment', p.treatment],
    ] as const) {
      for (let i = 0; i < n; i++) {
        const id = log.logPrediction({
          model: 'ctr',
          version: '1',
          arm,
          experiment: 'ctr-v2',
          unitId: `${arm}-${i}`,
        });
        if (i < clicks) log.logFeedback({ predictionId: id, kind: 'click', value: 1 });
      }
    }
    // Feedback also arrives through the authenticated route.
    const extra = log.logPrediction({ model: 'ctr', version: '1', arm: 'control', experiment: 'other' });
    expect(
      (await request(service.app).post('/feedback').send({ predictionId: extra, value: 1 })).status,
    ).toBe(401);
    const accepted = await request(service.app)
      .post('/feedback')
      .set('x-api-key', TEST_API_KEY)
      .send({ predictionId: extra, value: 1 });
    expect(accepted.status).toBe(202);
    const bad = await request(service.app)
      .post('/feedback')
      .set('x-api-key', TEST_API_KEY)
      .send({ predictionId: '', value: 'yes' });
    expect(bad.status).toBe(400);
    expect(bad.body.error.details.map((d: { path: string }) => d.path).sort()).toEqual([
      'predictionId',
      'value',
    ]);

    const res = await request(service.app).get('/experiments/ctr-v2/result');
    expect(res.status).toBe(200);
    expect(res.body.arms).toEqual([
      { name: 'control', model: 'v1', predictions: 200, mean: 0.15 },
      { name: 'treatment', model: 'v2', predictions: 200, mean: 0.24 },
    ]);
    const [cmp] = res.body.comparisons;
    expect(cmp.test).toBe('two-proportion z-test');
    expect(cmp.statistic).toBeCloseTo(p.z, 10);
    expect(cmp.pValue).toBeCloseTo(p.pValue, 10);
    expect(cmp.difference).toBeCloseTo(p.difference, 12);
    expect((await request(service.app).get('/experiments/nope/result')).status).toBe(404);
    log.close();
  });

  it("compares means with Welch's t-test equal to SciPy", async () => {
    const { experimentResult } = await import('./experiments.js');
    const log = createPredictionLog({ db: ':memory:' });
    const m = reference.means;
    for (const [arm, values] of [
      ['control', m.control],
      ['treatment', m.treatment],
    ] as const) {
      for (const value of values as number[]) {
        const id = log.logPrediction({ model: 'r', version: '1', arm, experiment: 'ratings' });
        log.logFeedback({ predictionId: id, kind: 'rating', value });
      }
    }
    const experiment = createExperiment({
      name: 'ratings',
      arms: [
        { name: 'control', model: 'a', weight: 1 },
        { name: 'treatment', model: 'b', weight: 1 },
      ],
    });
    const result = experimentResult(experiment, log, { feedbackKind: 'rating', metric: 'mean' });
    expect(result.comparisons[0].test).toBe("Welch's t-test");
    expect(result.comparisons[0].statistic).toBeCloseTo(m.t, 8);
    expect(result.comparisons[0].pValue).toBeCloseTo(m.pValue, 8);
    expect(result.comparisons[0].difference).toBeCloseTo(m.difference, 12);
    log.close();
  });
});
