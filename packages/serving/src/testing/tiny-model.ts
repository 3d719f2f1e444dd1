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

/**
 * A larger MLP for the benchmark: `n` inputs, ReLU hidden layers, one sigmoid output, with
 * deterministic pseudo-random weights. Big enough that one batched GEMM is much cheaper per row
 * than one matrix-vector product per request.
 */
export function buildMlpModelBytes(n: number, hidden: number[]): Uint8Array {
  let state = 12345;
  const rand = () => {
    state = (state * 1103515245 + 12345) % 2147483648;
    return (state / 2147483648 - 0.5) * 0.1;
  };
  const nodes = [];
  const initializer = [];
  let prev = 'x';
  let width = n;
  const layers = [...hidden, 1];
  for (const [i, out] of layers.entries()) {
    const w = `W${i}`;
    const b = `B${i}`;
    initializer.push(
      create(TensorProtoSchema, {
        name: w,
        dims: [BigInt(width), BigInt(out)],
        dataType: TensorProto_DataType.FLOAT,
        floatData: Array.from({ length: width * out }, rand),
      }),
      create(TensorProtoSchema, {
        name: b,
        dims: [BigInt(out)],
        dataType: TensorProto_DataType.FLOAT,
        floatData: Array.from({ length: out }, rand),
      }),
    );
    nodes.push(
      create(NodeProtoSchema, { opType: 'MatMul', input: [prev, w], output: [`m${i}`] }),
      create(NodeProtoSchema, { opType: 'Add', input: [`m${i}`, b], output: [`a${i}`] }),
    );
    const last = i === layers.length - 1;
    nodes.push(
      create(NodeProtoSchema, {
        opType: last ? 'Sigmoid' : 'Relu',
        input: [`a${i}`],
        output: [last ? 'y' : `h${i}`],
      }),
    );
    prev = `h${i}`;
    width = out;
  }
  const graph = create(GraphProtoSchema, {
    name: 'mlp',
    node: nodes,
    initializer,
    input: [valueInfo('x', ['batch', n])],
    output: [valueInfo('y', ['batch', 1])],
  });
  return toBinary(
    ModelProtoSchema,
    create(ModelProtoSchema, {
      irVersion: 8n,
      producerName: 'mlsd-serving-bench',
      opsetImport: [create(OperatorSetIdProtoSchema, { domain: '', version: 17n })],
      graph,
    }),
  );
}

/** Loads the tiny model in ONNX Runtime, shaped as an `InferenceModel`. */
export async function loadTinyModel(
  options: { name?: string; version?: string; weights?: TinyModelWeights } = {},
): Promise<InferenceModel> {
  const weights = options.weights ?? DEFAULT_WEIGHTS;
  return loadOnnxBytes(buildTinyModelBytes(weights), weights.w.length, options);
}

/** Loads ONNX bytes with input `x: [batch, n]` and output `y` in ONNX Runtime (one thread). */
export async function loadOnnxBytes(
  bytes: Uint8Array,
  n: number,
  options: { name?: string; version?: string } = {},
): Promise<InferenceModel> {
  const session = await ort.InferenceSession.create(bytes, {
    intraOpNumThreads: 1,
    interOpNumThreads: 1,
  });
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
