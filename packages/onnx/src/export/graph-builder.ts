/**
 * The ONNX graph under construction: the ConversionContext converters write into, plus the final
 * clean-up (dead-node removal, so unused layout transposes disappear) and serialization to a
 * ModelProto at IR 8 / opset 17 through onnx-buf.
 */
import { create, toBinary } from '@bufbuild/protobuf';
import {
  type AttributeProto,
  AttributeProto_AttributeType,
  AttributeProtoSchema,
  GraphProtoSchema,
  ModelProtoSchema,
  NodeProtoSchema,
  OperatorSetIdProtoSchema,
  StringStringEntryProtoSchema,
  type TensorProto,
  TensorProto_DataType,
  TensorProtoSchema,
  TensorShapeProto_DimensionSchema,
  TensorShapeProtoSchema,
  TypeProto_TensorSchema,
  TypeProtoSchema,
  type ValueInfoProto,
  ValueInfoProtoSchema,
} from 'onnx-buf';
import type { AttributeValue, ConversionContext, InitializerData, OnnxElementType } from './converter.js';

/** The ONNX IR version and default-domain opset every export targets (the Debian onnx.checker's ceiling). */
export const IR_VERSION = 8;
export const OPSET = 17;

/**
 * Attributes that are INT/INTS in the ONNX operator schemas (opset 17) of the ops converters use.
 * Every other numeric attribute is written as FLOAT/FLOATS.
 */
const INT_ATTRIBUTES: Record<string, readonly string[]> = {
  ArgMax: ['axis', 'keepdims', 'select_last_index'],
  ArgMin: ['axis', 'keepdims', 'select_last_index'],
  AveragePool: ['ceil_mode', 'count_include_pad', 'kernel_shape', 'pads', 'strides'],
  Cast: ['to'],
  Concat: ['axis'],
  Conv: ['dilations', 'group', 'kernel_shape', 'pads', 'strides'],
  ConvTranspose: ['dilations', 'group', 'kernel_shape', 'output_padding', 'output_shape', 'pads', 'strides'],
  CumSum: ['exclusive', 'reverse'],
  DepthToSpace: ['blocksize'],
  Flatten: ['axis'],
  Gather: ['axis'],
  GatherElements: ['axis'],
  GatherND: ['batch_dims'],
  Gemm: ['transA', 'transB'],
  Hardmax: ['axis'],
  LayerNormalization: ['axis', 'stash_type'],
  LogSoftmax: ['axis'],
  LpNormalization: ['axis', 'p'],
  MaxPool: ['ceil_mode', 'dilations', 'kernel_shape', 'pads', 'storage_order', 'strides'],
  OneHot: ['axis'],
  ReduceL2: ['axes', 'keepdims'],
  ReduceLogSumExp: ['axes', 'keepdims'],
  ReduceMax: ['axes', 'keepdims'],
  ReduceMean: ['axes', 'keepdims'],
  ReduceMin: ['axes', 'keepdims'],
  ReduceProd: ['axes', 'keepdims'],
  ReduceSum: ['keepdims', 'noop_with_empty_axes'],
  ReduceSumSquare: ['axes', 'keepdims'],
  Reshape: ['allowzero'],
  Scatter: ['axis'],
  ScatterElements: ['axis'],
  Softmax: ['axis'],
  Split: ['axis'],
  TopK: ['axis', 'largest', 'sorted'],
  Transpose: ['perm'],
  Trilu: ['upper'],
};

const ELEMENT_TYPES: Record<OnnxElementType, TensorProto_DataType> = {
  float32: TensorProto_DataType.FLOAT,
  int32: TensorProto_DataType.INT32,
  int64: TensorProto_DataType.INT64,
  bool: TensorProto_DataType.BOOL,
};

interface PendingNode {
  name: string;
  opType: string;
  domain: string;
  inputs: string[];
  outputs: string[];
  attributes: AttributeProto[];
}

/** A graph input or output: name, element type and shape with null for the batch dimension. */
export interface GraphValue {
  name: string;
  dtype: OnnxElementType;
  shape: (number | null)[];
}

/** Options for {@link GraphBuilder.toModelBytes}. */
export interface SerializeOptions {
  graphName: string;
  docString?: string;
  producerVersion?: string;
  modelVersion?: number;
  metadata: Record<string, string>;
}

function attribute(opType: string, name: string, value: AttributeValue): AttributeProto {
  const intNames = INT_ATTRIBUTES[opType] ?? [];
  const isInt = intNames.includes(name);
  const attr = create(AttributeProtoSchema, { name });
  if (typeof value === 'string') {
    attr.type = AttributeProto_AttributeType.STRING;
    attr.s = new TextEncoder().encode(value);
  } else if (typeof value === 'number') {
    if (isInt && Number.isInteger(value)) {
      attr.type = AttributeProto_AttributeType.INT;
      attr.i = BigInt(value);
    } else {
      attr.type = AttributeProto_AttributeType.FLOAT;
      attr.f = value;
    }
  } else if (Array.isArray(value)) {
    if (value.every((v) => typeof v === 'string')) {
      attr.type = AttributeProto_AttributeType.STRINGS;
      attr.strings = (value as string[]).map((v) => new TextEncoder().encode(v));
    } else if (isInt && (value as number[]).every((v) => Number.isInteger(v))) {
      attr.type = AttributeProto_AttributeType.INTS;
      attr.ints = (value as number[]).map((v) => BigInt(v));
    } else {
      attr.type = AttributeProto_AttributeType.FLOATS;
      attr.floats = value as number[];
    }
  } else if ('float' in value) {
    attr.type = AttributeProto_AttributeType.FLOAT;
    attr.f = value.float;
  } else if ('floats' in value) {
    attr.type = AttributeProto_AttributeType.FLOATS;
    attr.floats = value.floats;
  } else if ('int' in value) {
    attr.type = AttributeProto_AttributeType.INT;
    attr.i = BigInt(Math.trunc(value.int));
  } else if ('ints' in value) {
    attr.type = AttributeProto_AttributeType.INTS;
    attr.ints = value.ints.map((v) => BigInt(Math.trunc(v)));
  } else {
    throw new TypeError(`attribute ${opType}.${name}: unsupported value ${JSON.stringify(value)}`);
  }
  return attr;
}

function tensorProto(name: string, data: InitializerData, dims: number[]): TensorProto {
  const count = dims.reduce((a, b) => a * b, 1);
  if (data.length !== count) {
    throw new RangeError(
      `initializer ${name}: dims [${dims.join(', ')}] need ${count} values, got ${data.length}`,
    );
  }
  const dataType =
    data instanceof Float32Array
      ? TensorProto_DataType.FLOAT
      : data instanceof Int32Array
        ? TensorProto_DataType.INT32
        : TensorProto_DataType.INT64;
  // raw_data is little-endian by the ONNX spec; copy so later edits to `data` cannot leak in.
  const bytes = new Uint8Array(data.byteLength);
  const view = new DataView(bytes.buffer);
  for (let i = 0; i < data.length; i++) {
    if (data instanceof Float32Array) view.setFloat32(i * 4, data[i], true);
    else if (data instanceof Int32Array) view.setInt32(i * 4, data[i], true);
    else view.setBigInt64(i * 8, (data as BigInt64Array)[i], true);
  }
  return create(TensorProtoSchema, { name, dataType, dims: dims.map((d) => BigInt(d)), rawData: bytes });
}

function valueInfo(v: GraphValue): ValueInfoProto {
  // The first unknown dimension is the batch; any other unknown one gets its own symbolic name.
  const dim = v.shape.map((d, i) =>
    create(TensorShapeProto_DimensionSchema, {
      value:
        d === null
          ? { case: 'dimParam', value: i === 0 ? 'batch' : `${v.name}_dim${i}` }
          : { case: 'dimValue', value: BigInt(d) },
    }),
  );
  return create(ValueInfoProtoSchema, {
    name: v.name,
    type: create(TypeProtoSchema, {
      value: {
        case: 'tensorType',
        value: create(TypeProto_TensorSchema, {
          elemType: ELEMENT_TYPES[v.dtype],
          shape: create(TensorShapeProtoSchema, { dim }),
        }),
      },
    }),
  });
}

const CHANNELS_FIRST_PERM: Record<number, number[]> = { 3: [0, 2, 1], 4: [0, 3, 1, 2], 5: [0, 4, 1, 2, 3] };
const CHANNELS_LAST_PERM: Record<number, number[]> = { 3: [0, 2, 1], 4: [0, 2, 3, 1], 5: [0, 2, 3, 4, 1] };

/** Builds one ONNX graph; implements the converter-facing {@link ConversionContext}. */
export class GraphBuilder implements ConversionContext {
  readonly opset = OPSET;
  private readonly used = new Set<string>();
  private readonly counters = new Map<string, number>();
  private readonly nodes: PendingNode[] = [];
  private readonly initializers = new Map<string, TensorProto>();
  private readonly shapes = new Map<string, (number | null)[]>();
  private readonly dtypes = new Map<string, OnnxElementType>();
  private readonly channelsFirstOf = new Map<string, string>();
  private readonly channelsLastOf = new Map<string, string>();
  private readonly derivedFromChannelsFirst = new Set<string>();
  private readonly activationHandlers: (x: string, activation: string, ctx: GraphBuilder) => string;

  constructor(activationHandler: (x: string, activation: string, ctx: GraphBuilder) => string) {
    this.activationHandlers = activationHandler;
  }

  /** Claims an exact name (graph inputs and outputs) so generated names never collide with it. */
  reserve(name: string): void {
    if (this.used.has(name)) throw new RangeError(`graph value name "${name}" is used twice`);
    this.used.add(name);
  }

  uniqueName(prefix: string): string {
    const base = (prefix || 'v').replace(/[^A-Za-z0-9_./:-]/g, '_');
    let n = this.counters.get(base) ?? 0;
    let name = n === 0 ? base : `${base}_${n}`;
    while (this.used.has(name)) {
      n++;
      name = `${base}_${n}`;
    }
    this.counters.set(base, n + 1);
    this.used.add(name);
    return name;
  }

  addInitializer(prefix: string, data: InitializerData, dims: number[]): string {
    const name = this.uniqueName(prefix);
    this.initializers.set(name, tensorProto(name, data, dims));
    this.shapes.set(name, [...dims]);
    this.dtypes.set(
      name,
      data instanceof Float32Array ? 'float32' : data instanceof Int32Array ? 'int32' : 'int64',
    );
    return name;
  }

  addInt64(prefix: string, values: number[]): string {
    return this.addInitializer(prefix, BigInt64Array.from(values.map((v) => BigInt(v))), [values.length]);
  }

  addNode(
    opType: string,
    inputs: string[],
    outputs: string[] | number,
    attributes: Record<string, AttributeValue> = {},
    domain = '',
  ): string[] {
    const outs =
      typeof outputs === 'number'
        ? Array.from({ length: outputs }, () => this.uniqueName(opType.toLowerCase()))
        : outputs;
    if (typeof outputs !== 'number') for (const o of outs) if (!this.used.has(o)) this.used.add(o);
    const attrs = Object.entries(attributes).map(([k, v]) => attribute(opType, k, v));
    this.nodes.push({
      name: this.uniqueName(`${opType}_node`),
      opType,
      domain,
      inputs,
      outputs: outs,
      attributes: attrs,
    });
    return outs;
  }

  shapeOf(name: string): (number | null)[] | undefined {
    return this.shapes.get(name);
  }

  setShape(name: string, shape: (number | null)[]): void {
    this.shapes.set(name, [...shape]);
  }

  dtypeOf(name: string): OnnxElementType {
    return this.dtypes.get(name) ?? 'float32';
  }

  setDtype(name: string, dtype: OnnxElementType): void {
    this.dtypes.set(name, dtype);
  }

  toChannelsFirst(name: string): string {
    const twin = this.channelsFirstOf.get(name);
    if (twin) return twin;
    const shape = this.requireShape(name, 'toChannelsFirst');
    const perm = CHANNELS_FIRST_PERM[shape.length];
    if (!perm)
      throw new RangeError(`toChannelsFirst(${name}): expected a rank 3-5 value, got rank ${shape.length}`);
    const [out] = this.addNode('Transpose', [name], 1, { perm });
    this.setShape(
      out,
      perm.map((p) => shape[p]),
    );
    this.setDtype(out, this.dtypeOf(name));
    this.channelsFirstOf.set(name, out);
    this.channelsLastOf.set(out, name);
    return out;
  }

  fromChannelsFirst(name: string): string {
    const twin = this.channelsLastOf.get(name);
    if (twin) return twin;
    const shape = this.requireShape(name, 'fromChannelsFirst');
    const perm = CHANNELS_LAST_PERM[shape.length];
    if (!perm)
      throw new RangeError(`fromChannelsFirst(${name}): expected a rank 3-5 value, got rank ${shape.length}`);
    const [out] = this.addNode('Transpose', [name], 1, { perm });
    this.setShape(
      out,
      perm.map((p) => shape[p]),
    );
    this.setDtype(out, this.dtypeOf(name));
    this.channelsLastOf.set(name, out);
    this.channelsFirstOf.set(out, name);
    this.derivedFromChannelsFirst.add(out);
    return out;
  }

  hasChannelsFirstOrigin(name: string): boolean {
    return this.derivedFromChannelsFirst.has(name);
  }

  applyActivation(name: string, activation: string): string {
    return this.activationHandlers(name, activation, this);
  }

  private requireShape(name: string, what: string): (number | null)[] {
    const shape = this.shapes.get(name);
    if (!shape) throw new RangeError(`${what}: the shape of "${name}" is unknown`);
    return shape;
  }

  /** Serializes the graph: nodes that no output depends on (unused transposes) are dropped. */
  toModelBytes(inputs: GraphValue[], outputs: GraphValue[], options: SerializeOptions): Uint8Array {
    const live = new Set(outputs.map((o) => o.name));
    const kept: PendingNode[] = [];
    for (let i = this.nodes.length - 1; i >= 0; i--) {
      const node = this.nodes[i];
      if (!node.outputs.some((o) => live.has(o))) continue;
      kept.push(node);
      for (const input of node.inputs) if (input) live.add(input);
    }
    kept.reverse();
    const nodeProtos = kept.map((n) =>
      create(NodeProtoSchema, {
        name: n.name,
        opType: n.opType,
        domain: n.domain,
        input: n.inputs,
        output: n.outputs,
        attribute: n.attributes,
      }),
    );
    const initializer = [...this.initializers.values()].filter((t) => live.has(t.name));
    const customDomains = [...new Set(kept.map((n) => n.domain).filter((d) => d !== ''))];
    const graph = create(GraphProtoSchema, {
      name: options.graphName,
      node: nodeProtos,
      initializer,
      input: inputs.map(valueInfo),
      output: outputs.map(valueInfo),
    });
    const model = create(ModelProtoSchema, {
      irVersion: BigInt(IR_VERSION),
      producerName: '@mlsd/onnx',
      producerVersion: options.producerVersion ?? '0.1.0',
      modelVersion: BigInt(options.modelVersion ?? 0),
      docString: options.docString ?? '',
      graph,
      opsetImport: [
        create(OperatorSetIdProtoSchema, { domain: '', version: BigInt(OPSET) }),
        ...customDomains.map((domain) => create(OperatorSetIdProtoSchema, { domain, version: 1n })),
      ],
      metadataProps: Object.entries(options.metadata).map(([key, value]) =>
        create(StringStringEntryProtoSchema, { key, value }),
      ),
    });
    return toBinary(ModelProtoSchema, model);
  }
}
