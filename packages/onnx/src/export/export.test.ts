/**
 * Whole-model export: multi-input functional, small CNN, Sequential and nested models against
 * tfjs; the graph's form (IR 8, opset 17, dynamic batch, metadata, folded BatchNormalization,
 * transposes only at the ends of a conv run); custom converter registration; clear errors.
 */
import { fromBinary } from '@bufbuild/protobuf';
import * as tf from '@tensorflow/tfjs';
import { type ModelProto, ModelProtoSchema } from 'onnx-buf';
import { afterEach, beforeAll, describe, expect, it } from 'vitest';
import { buildDcnStyleModel, buildMixedModel, buildSmallCnn } from '../../scripts/sample-models.js';
import { registerLayerConverter } from './converter.js';
import { exportToOnnx } from './export.js';
import { compareWithOnnx, randomInput, randomizeWeights, useCpuBackend } from './parity.test-helpers.js';

const TOLERANCE = 1e-5;

function decode(bytes: Uint8Array): ModelProto {
  return fromBinary(ModelProtoSchema, bytes);
}

function opTypes(bytes: Uint8Array): string[] {
  return decode(bytes).graph?.node.map((n) => n.opType) ?? [];
}

beforeAll(async () => {
  await useCpuBackend();
});

describe('whole models match tfjs', () => {
  it('multi-input DCN-style model (int32 ids + dense), batch 1 and 33, optimisation all and disabled', async () => {
    const model = buildDcnStyleModel({ vocab: 50 });
    for (const batch of [1, 33]) {
      for (const level of ['all', 'disabled'] as const) {
        const inputs = {
          ids: randomInput([null, 8], batch, batch, 50, true),
          dense: randomInput([null, 13], batch, batch + 1),
        };
        const { maxAbsDiff } = await compareWithOnnx(model, inputs, { graphOptimizationLevel: level });
        expect(maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
      }
    }
  });

  it('small CNN with folded BatchNormalization', async () => {
    const model = buildSmallCnn({ size: 16 });
    randomizeWeights(model, 9, 0.3);
    const { maxAbsDiff, bytes } = await compareWithOnnx(model, {
      image: randomInput([null, 16, 16, 3], 4, 2),
    });
    expect(maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
    const ops = opTypes(bytes);
    // Three BatchNormalization layers folded into their convolutions: no Mul/Add left for them.
    expect(ops.filter((o) => o === 'Mul' || o === 'Add')).toEqual([]);
    // One transpose into NCHW at the input and one back before Flatten: the conv run stays NCHW.
    expect(ops.filter((o) => o === 'Transpose')).toHaveLength(2);
    expect(ops.filter((o) => o === 'Conv')).toHaveLength(3);
  });

  it('mixed model: float ids, depthwise conv, pooling, gelu, cosine dot, two outputs', async () => {
    const model = buildMixedModel();
    randomizeWeights(model, 4);
    const inputs = { user_ids: randomInput([null, 3], 5, 1, 20), patch: randomInput([null, 8, 8, 2], 5, 2) };
    const { maxAbsDiff } = await compareWithOnnx(model, inputs);
    expect(maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
  });

  it('Sequential model', async () => {
    const model = tf.sequential({
      layers: [
        tf.layers.conv2d({ inputShape: [6, 6, 1], filters: 2, kernelSize: 3, activation: 'relu' }),
        tf.layers.flatten(),
        tf.layers.dense({ units: 3, activation: 'softmax' }),
      ],
    });
    randomizeWeights(model, 5);
    const { maxAbsDiff } = await compareWithOnnx(model, {
      [model.inputs[0].sourceLayer.name]: randomInput([null, 6, 6, 1], 2, 3),
    });
    expect(maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
  });

  it('a model used as a layer inside another model', async () => {
    const innerIn = tf.input({ shape: [4] });
    const inner = tf.model({
      inputs: innerIn,
      outputs: tf.layers.dense({ units: 3, activation: 'relu' }).apply(innerIn) as tf.SymbolicTensor,
    });
    const a = tf.input({ shape: [4], name: 'a' });
    const b = tf.input({ shape: [4], name: 'b' });
    // The same inner model applied twice (shared weights).
    const merged = tf.layers
      .add()
      .apply([inner.apply(a) as tf.SymbolicTensor, inner.apply(b) as tf.SymbolicTensor]);
    const outer = tf.model({
      inputs: [a, b],
      outputs: tf.layers.dense({ units: 2 }).apply(merged) as tf.SymbolicTensor,
    });
    randomizeWeights(outer, 6);
    randomizeWeights(inner, 8);
    const { maxAbsDiff } = await compareWithOnnx(outer, {
      a: randomInput([null, 4], 3, 1),
      b: randomInput([null, 4], 3, 2),
    });
    expect(maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
  });
});

describe('graph form', () => {
  it('IR 8, opset 17, named inputs/outputs, dynamic batch and metadata_props', () => {
    const model = buildDcnStyleModel({ vocab: 20 });
    const proto = decode(
      exportToOnnx(model, {
        name: 'ctr',
        version: '3',
        featureSpecHash: 'f00d',
        metrics: { auc: 0.71, logLoss: 0.4 },
        metadata: { seed: '42' },
      }),
    );
    expect(proto.irVersion).toBe(8n);
    expect(proto.opsetImport.map((o) => [o.domain, o.version])).toEqual([['', 17n]]);
    const graph = proto.graph;
    expect(graph?.input.map((i) => i.name)).toEqual(['ids', 'dense']);
    expect(graph?.output.map((o) => o.name)).toEqual(['prob']);
    const idType = graph?.input[0].type?.value;
    expect(idType?.case).toBe('tensorType');
    if (idType?.case === 'tensorType') {
      expect(idType.value.elemType).toBe(6); // INT32, as the tfjs input
      expect(idType.value.shape?.dim.map((d) => d.value.value)).toEqual(['batch', 8n]);
    }
    const meta = Object.fromEntries(proto.metadataProps.map((p) => [p.key, p.value]));
    expect(meta).toMatchObject({ name: 'ctr', version: '3', feature_spec_hash: 'f00d', seed: '42' });
    expect(JSON.parse(meta.metrics)).toEqual({ auc: 0.71, logLoss: 0.4 });
  });

  it('keeps BatchNormalization unfolded when the conv output has another consumer', () => {
    const x = tf.input({ shape: [4, 4, 2], name: 'x' });
    const c = tf.layers.conv2d({ filters: 2, kernelSize: 1 }).apply(x) as tf.SymbolicTensor;
    const bn = tf.layers.batchNormalization().apply(c) as tf.SymbolicTensor;
    const out = tf.layers.add().apply([c, bn]) as tf.SymbolicTensor;
    const ops = opTypes(exportToOnnx(tf.model({ inputs: x, outputs: out })));
    expect(ops).toContain('Mul');
  });
});

describe('custom converters and errors', () => {
  class TimesTwo extends tf.layers.Layer {
    static className = 'TimesTwoTest';
    override call(inputs: tf.Tensor | tf.Tensor[]) {
      return tf.mul(Array.isArray(inputs) ? inputs[0] : inputs, 2);
    }
  }
  tf.serialization.registerClass(TimesTwo);

  afterEach(() => {
    registerLayerConverter('TimesTwoTest', () => {
      throw new Error('reset');
    });
  });

  it('uses a registered converter for a custom layer class', async () => {
    registerLayerConverter('TimesTwoTest', (layer, [x], ctx) => {
      const two = ctx.addInitializer(`${layer.name}/two`, Float32Array.of(2), []);
      return ctx.addNode('Mul', [x, two], 1);
    });
    const x = tf.input({ shape: [3], name: 'x' });
    const y = new TimesTwo({}).apply(
      tf.layers.dense({ units: 3 }).apply(x) as tf.SymbolicTensor,
    ) as tf.SymbolicTensor;
    const model = tf.model({ inputs: x, outputs: y });
    const { maxAbsDiff } = await compareWithOnnx(model, { x: randomInput([null, 3], 2, 1) });
    expect(maxAbsDiff).toBeLessThanOrEqual(TOLERANCE);
  });

  it('names the layer and class that have no converter', () => {
    const x = tf.input({ shape: [3, 2], name: 'x' });
    const y = tf.layers.permute({ dims: [2, 1] }).apply(x) as tf.SymbolicTensor;
    expect(() => exportToOnnx(tf.model({ inputs: x, outputs: y }))).toThrow(
      /no ONNX converter for class Permute/,
    );
  });

  it('rejects channelsFirst convolutions and non-models with a clear error', () => {
    const x = tf.input({ shape: [2, 4, 4], name: 'x' });
    const y = tf.layers
      .conv2d({ filters: 1, kernelSize: 1, dataFormat: 'channelsFirst' })
      .apply(x) as tf.SymbolicTensor;
    expect(() => exportToOnnx(tf.model({ inputs: x, outputs: y }))).toThrow(/only dataFormat 'channelsLast'/);
    expect(() => exportToOnnx({} as never)).toThrow(TypeError);
  });
});

describe('output shapes', () => {
  it('keeps the dimension Reshape resolves even where tfjs leaves it open', () => {
    const x = tf.input({ shape: [12], name: 'x' });
    const y = tf.layers.reshape({ targetShape: [3, -1], name: 'r' }).apply(x) as tf.SymbolicTensor;
    const proto = decode(exportToOnnx(tf.model({ inputs: x, outputs: y })));
    const type = proto.graph?.output[0].type?.value;
    expect(type?.case).toBe('tensorType');
    if (type?.case === 'tensorType')
      expect(type.value.shape?.dim.map((d) => d.value.value)).toEqual(['batch', 3n, 4n]);
  });
});
