/**
 * The service with @mlsd/onnx's OnnxModel: it satisfies InferenceModel structurally (checked by the
 * typechecker on the assignment below) and answers the reference scores.
 */
import { OnnxModel } from '@mlsd/onnx';
import { pino } from 'pino';
import request from 'supertest';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { InferenceModel } from './model.js';
import { createSampleService } from './testing/sample-service.js';
import { buildTinyModelBytes, tinyModelReference } from './testing/tiny-model.js';

let onnx: OnnxModel;
beforeAll(async () => {
  onnx = await OnnxModel.load(buildTinyModelBytes());
});
afterAll(async () => {
  await onnx.close();
});

describe('OnnxModel behind createService', () => {
  it('serves predictions and lists its signature', async () => {
    const model: InferenceModel = onnx;
    const service = createSampleService({ model, closeModels: false, logger: pino({ level: 'silent' }) });
    const features = [1.5, -0.5, 0.25, 2];
    const res = await request(service.app).post('/predict').send({ features });
    expect(res.status).toBe(200);
    expect(res.body.score).toBeCloseTo(tinyModelReference(features), 6);
    const models = await request(service.app).get('/models');
    expect(models.body.models[0].inputs[0]).toMatchObject({ name: 'x', dtype: 'float32' });
    expect(models.body.models[0].outputs[0]).toMatchObject({ name: 'y', dtype: 'float32' });
  });
});
