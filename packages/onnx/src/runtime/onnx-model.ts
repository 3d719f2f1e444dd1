/**
 * OnnxModel: one ONNX Runtime session with the model's signature and metadata, request checks
 * against that signature, batch splitting, warm-up and release.
 *
 * The file is parsed with onnx-buf before ONNX Runtime sees it, so a corrupt or truncated file is
 * reported as an OnnxLoadError naming the source instead of surfacing as a native error.
 */
import { readFile } from 'node:fs/promises';
import { fromBinary } from '@bufbuild/protobuf';
import { type ModelProto, ModelProtoSchema, TensorProto_DataType, type ValueInfoProto } from 'onnx-buf';
import { InferenceSession, Tensor } from 'onnxruntime-node';
import { OnnxInputError, OnnxLoadError } from './errors.js';

/** Element types of model inputs and outputs. */
export type OnnxDtype = 'float32' | 'float64' | 'int32' | 'int64' | 'uint8' | 'int8' | 'bool';

/** The typed arrays a request may carry (per dtype: see {@link TYPED_ARRAY_OF}). */
export type OnnxTypedArray =
  | Float32Array
  | Float64Array
  | Int32Array
  | BigInt64Array
  | Uint8Array
  | Int8Array;

/** One input or output: dims hold numbers, `'batch'` (or another symbolic name) or null when unknown. */
export interface OnnxValueSignature {
  name: string;
  dtype: OnnxDtype;
  dims: (number | string | null)[];
}

/** A tensor handed to or returned by {@link OnnxModel.run}. */
export interface OnnxTensorData {
  data: OnnxTypedArray;
  dims: number[];
}

/** A request: per input name, a typed array (shape inferred) or data with explicit dims. */
export type OnnxFeeds = Record<string, OnnxTypedArray | OnnxTensorData>;

/** Options of {@link OnnxModel.load}. */
export interface OnnxModelLoadOptions {
  /** Threads for one operator (ORT default: one per core). */
  intraOpNumThreads?: number;
  /** Threads across operators (only used by parallel execution). */
  interOpNumThreads?: number;
  /** Graph optimisation level (ORT default 'all'). */
  graphOptimizationLevel?: 'disabled' | 'basic' | 'extended' | 'all';
  /** Where ORT writes the optimised model (a cache to inspect or load later). */
  optimizedModelFilePath?: string;
  /** Run one zero-filled batch of 1 after loading, so the first request is not the slow one. */
  warmup?: boolean;
  /** Declared signature the file must match; a mismatch is an OnnxLoadError. */
  expect?: {
    inputs?: Array<Partial<OnnxValueSignature> & { name: string }>;
    outputs?: Array<Partial<OnnxValueSignature> & { name: string }>;
  };
}

/** Options of {@link OnnxModel.run}. */
export interface OnnxRunOptions {
  /** Only fetch these outputs (default: all). */
  outputs?: string[];
}

const DTYPES: Partial<Record<number, OnnxDtype>> = {
  [TensorProto_DataType.FLOAT]: 'float32',
  [TensorProto_DataType.DOUBLE]: 'float64',
  [TensorProto_DataType.INT32]: 'int32',
  [TensorProto_DataType.INT64]: 'int64',
  [TensorProto_DataType.UINT8]: 'uint8',
  [TensorProto_DataType.INT8]: 'int8',
  [TensorProto_DataType.BOOL]: 'bool',
};

/** The typed array each dtype is fed with. */
export const TYPED_ARRAY_OF: Record<OnnxDtype, { name: string; ctor: new (n: number) => OnnxTypedArray }> = {
  float32: { name: 'Float32Array', ctor: Float32Array },
  float64: { name: 'Float64Array', ctor: Float64Array },
  int32: { name: 'Int32Array', ctor: Int32Array },
  int64: { name: 'BigInt64Array', ctor: BigInt64Array },
  uint8: { name: 'Uint8Array', ctor: Uint8Array },
  int8: { name: 'Int8Array', ctor: Int8Array },
  bool: { name: 'Uint8Array', ctor: Uint8Array },
};

function describeSource(source: string | Uint8Array): string {
  return typeof source === 'string' ? source : `<buffer of ${source.byteLength} bytes>`;
}

function signatureOf(v: ValueInfoProto, source: string): OnnxValueSignature {
  if (v.type?.value.case !== 'tensorType') {
    throw new OnnxLoadError(source, `value "${v.name}" is not a tensor (${v.type?.value.case ?? 'no type'})`);
  }
  const tensor = v.type.value.value;
  const dtype = DTYPES[tensor.elemType];
  if (!dtype)
    throw new OnnxLoadError(source, `value "${v.name}" has unsupported element type ${tensor.elemType}`);
  const dims = (tensor.shape?.dim ?? []).map((d) =>
    d.value.case === 'dimValue' ? Number(d.value.value) : d.value.case === 'dimParam' ? d.value.value : null,
  );
  return { name: v.name, dtype, dims };
}

function formatDims(dims: readonly (number | string | null)[]): string {
  return `[${dims.map((d) => (d === null ? '?' : String(d))).join(', ')}]`;
}

function checkExpected(
  source: string,
  kind: 'input' | 'output',
  actual: OnnxValueSignature[],
  expected: Array<Partial<OnnxValueSignature> & { name: string }> | undefined,
): void {
  if (!expected) return;
  const names = actual.map((a) => a.name);
  for (const e of expected) {
    const a = actual.find((x) => x.name === e.name);
    if (!a)
      throw new OnnxLoadError(
        source,
        `expected ${kind} "${e.name}", the model declares ${kind}s [${names.join(', ')}]`,
      );
    if (e.dtype && e.dtype !== a.dtype) {
      throw new OnnxLoadError(
        source,
        `${kind} "${e.name}": expected dtype ${e.dtype}, the model declares ${a.dtype}`,
      );
    }
    if (e.dims && formatDims(e.dims) !== formatDims(a.dims)) {
      throw new OnnxLoadError(
        source,
        `${kind} "${e.name}": expected dims ${formatDims(e.dims)}, the model declares ${formatDims(a.dims)}`,
      );
    }
  }
}

/**
 * Checks a request against input signatures and fills in the dims of bare typed arrays (shared by
 * OnnxModel and OnnxWorkerPool, which checks on the caller's thread before sending).
 * @throws OnnxInputError naming the input, what was expected and what arrived.
 */
export function checkFeeds(
  inputs: readonly OnnxValueSignature[],
  feeds: OnnxFeeds,
): Record<string, OnnxTensorData> {
  if (feeds === null || typeof feeds !== 'object') {
    throw new TypeError(
      `feeds: expected an object of input name -> typed array, got ${feeds === null ? 'null' : typeof feeds}`,
    );
  }
  const expectedNames = inputs.map((i) => i.name);
  for (const name of Object.keys(feeds)) {
    if (!expectedNames.includes(name)) {
      throw new OnnxInputError(
        name,
        `one of the inputs [${expectedNames.join(', ')}]`,
        'an unknown input name',
      );
    }
  }
  const out: Record<string, OnnxTensorData> = {};
  const symbols = new Map<string, { value: number; input: string }>();
  for (const sig of inputs) {
    const feed = feeds[sig.name];
    const expectedDims = formatDims(sig.dims);
    if (feed === undefined)
      throw new OnnxInputError(sig.name, `a ${sig.dtype} tensor ${expectedDims}`, 'nothing (missing input)');
    const isBare = ArrayBuffer.isView(feed);
    const data = isBare ? feed : (feed as OnnxTensorData).data;
    const want = TYPED_ARRAY_OF[sig.dtype];
    if (!(data instanceof want.ctor)) {
      const got =
        data === null || data === undefined
          ? String(data)
          : ((data as object).constructor?.name ?? typeof data);
      throw new OnnxInputError(sig.name, `${want.name} (${sig.dtype})`, got);
    }
    let dims: number[];
    if (isBare) {
      const dynamic = sig.dims.filter((d) => typeof d !== 'number').length;
      const known = sig.dims.reduce<number>((p, d) => (typeof d === 'number' ? p * d : p), 1);
      if (dynamic > 1) {
        throw new OnnxInputError(
          sig.name,
          `{ data, dims } (the input has ${dynamic} dynamic dims ${expectedDims})`,
          'a bare typed array',
        );
      }
      if (known === 0 || data.length % known !== 0 || (dynamic === 0 && data.length !== known)) {
        throw new OnnxInputError(
          sig.name,
          `a length that is a multiple of ${known} for dims ${expectedDims}`,
          `length ${data.length}`,
        );
      }
      dims = sig.dims.map((d) => (typeof d === 'number' ? d : data.length / known));
    } else {
      dims = (feed as OnnxTensorData).dims;
      if (!Array.isArray(dims) || !dims.every((d) => Number.isInteger(d) && d >= 0)) {
        throw new OnnxInputError(sig.name, `dims ${expectedDims}`, `dims ${JSON.stringify(dims)}`);
      }
      if (
        sig.dims.length > 0 &&
        (dims.length !== sig.dims.length || sig.dims.some((d, i) => typeof d === 'number' && d !== dims[i]))
      ) {
        throw new OnnxInputError(sig.name, `dims ${expectedDims}`, `dims ${formatDims(dims)}`);
      }
      const size = dims.reduce((a, b) => a * b, 1);
      if (size !== data.length) {
        throw new OnnxInputError(
          sig.name,
          `${size} values for dims ${formatDims(dims)}`,
          `${data.length} values`,
        );
      }
    }
    sig.dims.forEach((d, i) => {
      if (typeof d !== 'string') return;
      const seen = symbols.get(d);
      if (seen && seen.value !== dims[i]) {
        throw new OnnxInputError(
          sig.name,
          `${d} = ${seen.value} as in input "${seen.input}"`,
          `${d} = ${dims[i]}`,
        );
      }
      symbols.set(d, { value: dims[i], input: sig.name });
    });
    out[sig.name] = { data: data as OnnxTypedArray, dims };
  }
  return out;
}

/** A loaded ONNX model. Create with {@link OnnxModel.load}; release with {@link OnnxModel.close}. */
export class OnnxModel {
  /** metadata `name` (or the graph name). */
  readonly name: string;
  /** metadata `version` (or the ModelProto model_version). */
  readonly version: string;
  /** All `metadata_props`. */
  readonly metadata: Readonly<Record<string, string>>;
  /** Graph inputs (initializers excluded). */
  readonly inputs: readonly OnnxValueSignature[];
  readonly outputs: readonly OnnxValueSignature[];
  private session: InferenceSession | undefined;

  private constructor(
    session: InferenceSession,
    proto: ModelProto,
    inputs: OnnxValueSignature[],
    outputs: OnnxValueSignature[],
  ) {
    this.session = session;
    const metadata: Record<string, string> = {};
    for (const p of proto.metadataProps) metadata[p.key] = p.value;
    this.metadata = Object.freeze(metadata);
    this.name = metadata.name ?? proto.graph?.name ?? '';
    this.version = metadata.version ?? String(proto.modelVersion);
    this.inputs = Object.freeze(inputs);
    this.outputs = Object.freeze(outputs);
  }

  /**
   * Loads a model from a file path or bytes.
   * @throws OnnxLoadError when the file is missing, not an ONNX model, truncated, rejected by ONNX
   *   Runtime or does not match `options.expect`.
   */
  static async load(source: string | Uint8Array, options: OnnxModelLoadOptions = {}): Promise<OnnxModel> {
    const label = describeSource(source);
    if (typeof source !== 'string' && !(source instanceof Uint8Array)) {
      throw new TypeError(`source: expected a file path or a Uint8Array, got ${typeof source}`);
    }
    let bytes: Uint8Array;
    try {
      bytes = typeof source === 'string' ? await readFile(source) : source;
    } catch (error) {
      throw new OnnxLoadError(label, `cannot read the model file (${(error as Error).message})`, {
        cause: error,
      });
    }
    if (bytes.byteLength === 0) throw new OnnxLoadError(label, 'the model is empty (0 bytes)');
    let proto: ModelProto;
    try {
      proto = fromBinary(ModelProtoSchema, bytes);
    } catch (error) {
      throw new OnnxLoadError(
        label,
        `not a valid ONNX protobuf, corrupt or truncated (${(error as Error).message})`,
        {
          cause: error,
        },
      );
    }
    if (!proto.graph || proto.irVersion === 0n || proto.graph.output.length === 0) {
      throw new OnnxLoadError(label, 'not an ONNX model: no ir_version, graph or graph outputs');
    }
    const initializers = new Set(proto.graph.initializer.map((t) => t.name));
    const inputs = proto.graph.input
      .filter((v) => !initializers.has(v.name))
      .map((v) => signatureOf(v, label));
    const outputs = proto.graph.output.map((v) => signatureOf(v, label));
    checkExpected(label, 'input', inputs, options.expect?.inputs);
    checkExpected(label, 'output', outputs, options.expect?.outputs);

    for (const key of ['intraOpNumThreads', 'interOpNumThreads'] as const) {
      const v = options[key];
      if (v !== undefined && (!Number.isInteger(v) || v < 0)) {
        throw new RangeError(`${key}: expected an integer >= 0 (0 = ONNX Runtime's default), got ${v}`);
      }
    }
    const levels = ['disabled', 'basic', 'extended', 'all'];
    if (options.graphOptimizationLevel !== undefined && !levels.includes(options.graphOptimizationLevel)) {
      throw new RangeError(
        `graphOptimizationLevel: expected one of ${levels.join(', ')}, got ${JSON.stringify(options.graphOptimizationLevel)}`,
      );
    }
    const sessionOptions: InferenceSession.SessionOptions = { executionProviders: ['cpu'] };
    if (options.intraOpNumThreads !== undefined) sessionOptions.intraOpNumThreads = options.intraOpNumThreads;
    if (options.interOpNumThreads !== undefined) sessionOptions.interOpNumThreads = options.interOpNumThreads;
    if (options.graphOptimizationLevel !== undefined)
      sessionOptions.graphOptimizationLevel = options.graphOptimizationLevel;
    if (options.optimizedModelFilePath !== undefined)
      sessionOptions.optimizedModelFilePath = options.optimizedModelFilePath;
    let session: InferenceSession;
    try {
      session = await InferenceSession.create(bytes, sessionOptions);
    } catch (error) {
      throw new OnnxLoadError(label, `ONNX Runtime rejected the model (${(error as Error).message})`, {
        cause: error,
      });
    }
    const model = new OnnxModel(session, proto, inputs, outputs);
    if (options.warmup) await model.warmup();
    return model;
  }

  /**
   * Runs the model. Each feed is checked against the signature: unknown or missing names, the
   * wrong typed array, or a shape the model does not accept raise an {@link OnnxInputError}.
   * A bare typed array gets its dynamic dimension (the batch) from its length.
   */
  async run(feeds: OnnxFeeds, options: OnnxRunOptions = {}): Promise<Record<string, OnnxTensorData>> {
    const session = this.requireSession();
    const tensors = this.prepareFeeds(feeds);
    let fetches: string[] | undefined;
    if (options.outputs) {
      for (const o of options.outputs) {
        if (!this.outputs.some((s) => s.name === o)) {
          throw new RangeError(
            `outputs: expected names among [${this.outputs.map((s) => s.name).join(', ')}], got "${o}"`,
          );
        }
      }
      fetches = options.outputs;
    }
    const result = fetches ? await session.run(tensors, fetches) : await session.run(tensors);
    const out: Record<string, OnnxTensorData> = {};
    for (const [name, tensor] of Object.entries(result)) {
      out[name] = { data: tensor.data as OnnxTypedArray, dims: tensor.dims.map(Number) };
      tensor.dispose();
    }
    return out;
  }

  /**
   * Runs a request whose batch may exceed `maxBatchSize` in slices of at most that many rows
   * and concatenates the outputs along the first dimension.
   */
  async runBatch(
    feeds: OnnxFeeds,
    options: OnnxRunOptions & { maxBatchSize?: number } = {},
  ): Promise<Record<string, OnnxTensorData>> {
    const maxBatchSize = options.maxBatchSize ?? 256;
    if (!Number.isInteger(maxBatchSize) || maxBatchSize < 1) {
      throw new RangeError(`maxBatchSize: expected a positive integer, got ${maxBatchSize}`);
    }
    const prepared = this.normalizeFeeds(feeds);
    const batch = Object.values(prepared)[0]?.dims[0] ?? 0;
    if (batch <= maxBatchSize) return this.run(prepared, options);
    const parts: Array<Record<string, OnnxTensorData>> = [];
    for (let start = 0; start < batch; start += maxBatchSize) {
      const end = Math.min(start + maxBatchSize, batch);
      const slice: Record<string, OnnxTensorData> = {};
      for (const [name, t] of Object.entries(prepared)) {
        const row = t.dims.slice(1).reduce((a, b) => a * b, 1);
        slice[name] = {
          data: t.data.subarray(start * row, end * row) as OnnxTypedArray,
          dims: [end - start, ...t.dims.slice(1)],
        };
      }
      parts.push(await this.run(slice, options));
    }
    const out: Record<string, OnnxTensorData> = {};
    for (const name of Object.keys(parts[0])) {
      const pieces = parts.map((p) => p[name]);
      const total = pieces.reduce((n, p) => n + p.data.length, 0);
      const data = new (pieces[0].data.constructor as new (n: number) => OnnxTypedArray)(total);
      let offset = 0;
      for (const p of pieces) {
        (data as Float32Array).set(p.data as Float32Array, offset);
        offset += p.data.length;
      }
      out[name] = { data, dims: [pieces.reduce((n, p) => n + p.dims[0], 0), ...pieces[0].dims.slice(1)] };
    }
    return out;
  }

  /** Runs one zero-filled request with every dynamic dimension set to 1. */
  async warmup(): Promise<void> {
    const feeds: OnnxFeeds = {};
    for (const input of this.inputs) {
      const dims = input.dims.map((d) => (typeof d === 'number' ? d : 1));
      const size = dims.reduce((a, b) => a * b, 1);
      feeds[input.name] = { data: new TYPED_ARRAY_OF[input.dtype].ctor(size), dims };
    }
    await this.run(feeds);
  }

  /** Releases the native session; later calls to run() throw. */
  async close(): Promise<void> {
    const session = this.session;
    this.session = undefined;
    if (session) await session.release();
  }

  /** Checks feeds and fills in the dims of bare typed arrays. */
  normalizeFeeds(feeds: OnnxFeeds): Record<string, OnnxTensorData> {
    return checkFeeds(this.inputs, feeds);
  }

  private prepareFeeds(feeds: OnnxFeeds): Record<string, Tensor> {
    const normalized = this.normalizeFeeds(feeds);
    const tensors: Record<string, Tensor> = {};
    for (const sig of this.inputs) {
      const { data, dims } = normalized[sig.name];
      tensors[sig.name] = new Tensor(sig.dtype, data as Float32Array, dims);
    }
    return tensors;
  }

  private requireSession(): InferenceSession {
    if (!this.session) throw new Error(`model ${this.name}: run() after close()`);
    return this.session;
  }
}
