/**
 * Test and benchmark helper: builds a tiny real ONNX model (MatMul + Add + Sigmoid, dynamic batch
 * dimension, IR 8 / opset 17) in memory and loads it in ONNX Runtime, wrapped in the serving
 * `InferenceModel` shape. Used by tests and the benchmark only; not exported from the package.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import {
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  TensorProto_DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import * as ort from 'onnxruntime-node';
import type { InferenceModel, TensorLike } from '../model.js';

/** Weights of the tiny logistic model: y = sigmoid(x · w + b). */
export interface TinyModelWeights {
  w: number[];
  b: number;
}

export const DEFAULT_WEIGHTS: TinyModelWeights = { w: [0.5, -1.25, 2, 0.75], b: -0.3 };

function valueInfo(name: string, dims: Array<number | string>) {
  return create(ValueInfoProtoSchema, {
    name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType: TensorProto_DataType.FLOAT,
          shape: create(TensorShapeProtoSchema, {
            dim: dims.map((d) =>
              create(TensorShapeProto_DimensionSchema, {
                value:
                  typeof d === 'number'
                    ? { case: 'dimValue', value: BigInt(d) }
                    : { case: 'dimParam', value: d },
              }),
            ),
          }),
        }),
      },
    }),
  });
}

/** Serialized ONNX bytes of `sigmoid(x · w + b)` with input `x: [batch, n]` and output `y: [batch, 1]`. */
export function buildTinyModelBytes(weights: TinyModelWeights = DEFAULT_WEIGHTS): Uint8Array {
  const n = weights.w.length;
  const graph = create(GraphProtoSchema, {
    name: 'tiny',
    node: [
      create(NodeProtoSchema, { opType: 'MatMul', input: ['x', 'W'], output: ['xw'], name: 'matmul' }),
      create(NodeProtoSchema, { opType: 'Add', input: ['xw', 'B'], output: ['z'], name: 'add' }),
      create(NodeProtoSchema, { opType: 'Sigmoid', input: ['z'], output: ['y'], name: 'sigmoid' }),
    ],
    initializer: [
      create(TensorProtoSchema, {
        name: 'W',
        dims: [BigInt(n), 1n],
        dataType: TensorProto_DataType.FLOAT,
        floatData: weights.w,
      }),
      create(TensorProtoSchema, {
        name: 'B',
        dims: [1n],
        dataType: TensorProto_DataType.FLOAT,
        floatData: [weights.b],
      }),
    ],
    input: [valueInfo('x', ['batch', n])],
    output: [valueInfo('y', ['batch', 1])],
  });
  const model = create(ModelProtoSchema, {
    irVersion: 8n,
    producerName: 'mlsd-serving-test',
    opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
    graph,
  });
  return toBinary(ModelProtoSchema, model);
}

/** Reference output computed in plain JS, for comparing with what the service answers. */
export function tinyModelReference(x: number[], weights: TinyModelWeights = DEFAULT_WEIGHTS): number {
  let z = weights.b;
  for (let i = 0; i < x.length; i++) z += x[i] * weights.w[i];
  return 1 / (1 + Math.exp(-z));
}

/** Loads the tiny model in ONNX Runtime, shaped as an `InferenceModel`. */
export async function loadTinyModel(
  options: { name?: string; version?: string; weights?: TinyModelWeights } = {},
): Promise<InferenceModel> {
  const weights = options.weights ?? DEFAULT_WEIGHTS;
  const session = await ort.InferenceSession.create(buildTinyModelBytes(weights), {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
  const n = weights.w.length;
  return {
    name: options.name ?? 'tiny',
    version: options.version ?? '1',
    inputs: [{ name: 'x', dtype: 'float32', dims: [-1, n] }],
    outputs: [{ name: 'y', dtype: 'float32', dims: [-1, 1] }],
    async run(feeds: Record<string, TensorLike>) {
      const ortFeeds: Record<string, ort.Tensor> = {};
      for (const [key, value] of Object.entries(feeds)) {
        const t = value as { data: Float32Array; dims: number[] };
        ortFeeds[key] = new ort.Tensor('float32', t.data, t.dims);
      }
      const out = await session.run(ortFeeds);
      const result: Record<string, { data: Float32Array; dims: number[] }> = {};
      for (const [key, tensor] of Object.entries(out)) {
        result[key] = { data: tensor.data as Float32Array, dims: [...tensor.dims] };
      }
      return result;
    },
    async close() {
      await session.release();
    },
  };
}
