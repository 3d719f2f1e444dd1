/**
 * exportToOnnx: walks a tfjs LayersModel (functional or sequential, nested models included)
 * through its symbolic tensors and writes one ONNX node group per layer call. tfjs is read
 * structurally (types below), never imported, so this module runs where tfjs is not installed.
 */
import { applyActivation } from './activations.js';
import { getLayerConverter, type OnnxElementType, type TfLayerLike } from './converter.js';
import { GraphBuilder, type GraphValue } from './graph-builder.js';
import { BUILTIN_CONVERTERS, batchNormFold, FOLDABLE_CONVERTERS } from './layers.js';

/** A tfjs SymbolicTensor, structurally. */
export interface TfSymbolicTensorLike {
  readonly name: string;
  readonly shape: readonly (number | null)[];
  readonly dtype: string;
  readonly sourceLayer: TfGraphLayerLike;
  readonly nodeIndex: number;
  readonly tensorIndex: number;
}

/** One call of a tfjs layer (tfjs `Node`), structurally. */
export interface TfNodeLike {
  readonly inputTensors: readonly TfSymbolicTensorLike[];
  readonly outputTensors: readonly TfSymbolicTensorLike[];
}

/** A tfjs layer with its call sites. */
export interface TfGraphLayerLike extends TfLayerLike {
  readonly inboundNodes: readonly TfNodeLike[];
}

/** A tfjs LayersModel (functional or Sequential), structurally. */
export interface TfLayersModelLike {
  readonly name: string;
  readonly inputs: readonly TfSymbolicTensorLike[];
  readonly outputs: readonly TfSymbolicTensorLike[];
  readonly inputNames: readonly string[];
  readonly outputNames: readonly string[];
}

/** Options of {@link exportToOnnx}; everything given ends up in the model's `metadata_props`. */
export interface ExportOptions {
  /** Model name (metadata `name`, graph name); defaults to the tfjs model's name. */
  name?: string;
  /** Model version (metadata `version`). */
  version?: string;
  /** Hash of the feature spec the model was trained on (metadata `feature_spec_hash`). */
  featureSpecHash?: string;
  /** Training/validation metrics (metadata `metrics`, a JSON object). */
  metrics?: Record<string, number>;
  /** Any other metadata, written as given. */
  metadata?: Record<string, string>;
  /** Fold BatchNormalization into a preceding linear Dense/Conv2D/DepthwiseConv2D (default true). */
  foldBatchNorm?: boolean;
  /** Free-text description (ModelProto doc_string). */
  docString?: string;
}

const TF_DTYPES: Record<string, OnnxElementType> = { float32: 'float32', int32: 'int32', bool: 'bool' };

function isContainer(layer: unknown): layer is TfGraphLayerLike & TfLayersModelLike {
  const l = layer as Partial<TfLayersModelLike>;
  return Array.isArray(l.inputs) && Array.isArray(l.outputs) && Array.isArray(l.outputNames);
}

/** Stable identity of a symbolic tensor: layer object + call index + output index. */
class TensorKeys {
  private readonly ids = new WeakMap<object, number>();
  private next = 0;
  key(t: TfSymbolicTensorLike): string {
    let id = this.ids.get(t.sourceLayer);
    if (id === undefined) {
      id = this.next++;
      this.ids.set(t.sourceLayer, id);
    }
    return `${id}:${t.nodeIndex}:${t.tensorIndex}`;
  }
  nodeKey(layer: object, nodeIndex: number): string {
    return this.key({ sourceLayer: layer, nodeIndex, tensorIndex: -1 } as unknown as TfSymbolicTensorLike);
  }
}

function dtypeOf(t: TfSymbolicTensorLike, what: string): OnnxElementType {
  const dtype = TF_DTYPES[t.dtype];
  if (!dtype) throw new TypeError(`${what}: expected a float32, int32 or bool tensor, got ${t.dtype}`);
  return dtype;
}

interface FoldPlan {
  /** producer call key -> BatchNormalization layer folded into it */
  into: Map<string, TfLayerLike>;
  /** BatchNormalization call keys that become identities */
  removed: Set<string>;
}

/** Finds BatchNormalization calls whose input is a linear Dense/Conv used by nothing else. */
function planFolds(model: TfLayersModelLike, keys: TensorKeys): FoldPlan {
  const consumers = new Map<string, number>();
  const bnCalls: Array<{ layer: TfGraphLayerLike; nodeIndex: number; input: TfSymbolicTensorLike }> = [];
  const seen = new Set<string>();
  const visit = (t: TfSymbolicTensorLike) => {
    const nodeKey = keys.nodeKey(t.sourceLayer, t.nodeIndex);
    if (seen.has(nodeKey)) return;
    seen.add(nodeKey);
    const node = t.sourceLayer.inboundNodes[t.nodeIndex];
    if (!node || isContainer(t.sourceLayer)) return;
    for (const input of node.inputTensors) {
      consumers.set(keys.key(input), (consumers.get(keys.key(input)) ?? 0) + 1);
      visit(input);
    }
    if (t.sourceLayer.getClassName() === 'BatchNormalization' && node.inputTensors.length === 1) {
      bnCalls.push({ layer: t.sourceLayer, nodeIndex: t.nodeIndex, input: node.inputTensors[0] });
    }
  };
  for (const out of model.outputs) {
    consumers.set(keys.key(out), (consumers.get(keys.key(out)) ?? 0) + 1);
    visit(out);
  }
  const plan: FoldPlan = { into: new Map(), removed: new Set() };
  for (const bn of bnCalls) {
    if (getLayerConverter('BatchNormalization') !== BUILTIN_CONVERTERS.get('BatchNormalization')) continue;
    const producer = bn.input.sourceLayer;
    const cls = producer.getClassName();
    if (!FOLDABLE_CONVERTERS.has(cls) || getLayerConverter(cls) !== BUILTIN_CONVERTERS.get(cls)) continue;
    const activation = producer.getConfig().activation ?? 'linear';
    const rank = bn.input.shape.length;
    const axis = Number(bn.layer.getConfig().axis ?? -1);
    if (activation !== 'linear' || consumers.get(keys.key(bn.input)) !== 1) continue;
    if (axis !== -1 && axis !== rank - 1) continue;
    const producerNode = producer.inboundNodes[bn.input.nodeIndex];
    if (producerNode?.outputTensors.length !== 1) continue;
    plan.into.set(keys.nodeKey(producer, bn.input.nodeIndex), bn.layer);
    plan.removed.add(keys.nodeKey(bn.layer, bn.nodeIndex));
  }
  return plan;
}

/**
 * Converts a tfjs LayersModel into a serialized ONNX ModelProto (IR 8, opset 17).
 *
 * Graph inputs and outputs keep the tfjs names (`model.inputNames`, `model.outputNames`), element
 * types (float32 / int32 as declared by the tfjs inputs: Embedding ids stay as the caller feeds
 * them and float ids are cast to int64 inside the graph) and shapes, with the first dimension the
 * dynamic `batch`. Layers are translated by the converter registered for their class name.
 *
 * @throws RangeError when a layer class has no converter or a layer configuration is unsupported.
 */
export function exportToOnnx(model: TfLayersModelLike, options: ExportOptions = {}): Uint8Array {
  if (!model || !isContainer(model)) {
    throw new TypeError('model: expected a tfjs LayersModel (with inputs, outputs and outputNames)');
  }
  const builder = new GraphBuilder((x, activation, ctx) => applyActivation(x, activation, ctx));
  const keys = new TensorKeys();
  const plan =
    options.foldBatchNorm === false
      ? { into: new Map(), removed: new Set<string>() }
      : planFolds(model, keys);

  // tfjs names inputs and outputs after their layers; a Sequential leaves inputNames/outputNames empty.
  const inputNames = model.inputs.map((t, i) => model.inputNames[i] ?? t.sourceLayer.name);
  const outputNames = model.outputs.map((t, i) => model.outputNames[i] ?? t.sourceLayer.name);
  const inputs: GraphValue[] = model.inputs.map((t, i) => ({
    name: inputNames[i],
    dtype: dtypeOf(t, `input ${inputNames[i]}`),
    shape: [...t.shape],
  }));
  for (const name of [...inputs.map((i) => i.name), ...outputNames]) builder.reserve(name);

  const topScope = new Map<string, string>();
  model.inputs.forEach((t, i) => {
    topScope.set(keys.key(t), inputs[i].name);
    builder.setShape(inputs[i].name, inputs[i].shape);
    builder.setDtype(inputs[i].name, inputs[i].dtype);
  });

  // Each (nested) model call has its own scope: a model applied twice gets two sets of values.
  const convert = (t: TfSymbolicTensorLike, values: Map<string, string>): string => {
    const cached = values.get(keys.key(t));
    if (cached !== undefined) return cached;
    const layer = t.sourceLayer;
    const node = layer.inboundNodes[t.nodeIndex];
    if (!node) throw new RangeError(`layer ${layer.name}: call ${t.nodeIndex} not found`);
    if (node.inputTensors.some((i) => i === t) || layer.getClassName() === 'InputLayer') {
      throw new RangeError(`input layer ${layer.name} is not among the model's inputs`);
    }
    const inputValues = node.inputTensors.map((i) => convert(i, values));
    let outputs: string[];
    const callKey = keys.nodeKey(layer, t.nodeIndex);
    if (isContainer(layer)) {
      outputs = convertNested(layer, inputValues);
    } else if (plan.removed.has(callKey)) {
      outputs = inputValues;
    } else {
      const cls = layer.getClassName();
      const bn = plan.into.get(callKey);
      const foldable = FOLDABLE_CONVERTERS.get(cls);
      if (bn && foldable) {
        outputs = foldable(layer, inputValues, builder, batchNormFold(bn));
      } else {
        const converter = getLayerConverter(cls);
        if (!converter) {
          throw new RangeError(
            `layer ${layer.name}: no ONNX converter for class ${cls}; register one with registerLayerConverter('${cls}', ...)`,
          );
        }
        outputs = converter(layer, inputValues, builder);
      }
    }
    if (!Array.isArray(outputs) || outputs.length !== node.outputTensors.length) {
      throw new RangeError(
        `layer ${layer.name}: its converter returned ${Array.isArray(outputs) ? outputs.length : typeof outputs} outputs, expected ${node.outputTensors.length}`,
      );
    }
    node.outputTensors.forEach((out, i) => {
      values.set(keys.key(out), outputs[i]);
      // tfjs's static shape is the reference; a dimension tfjs leaves open but the converter
      // resolved (Reshape's free dimension) keeps the converter's value.
      const prior = builder.shapeOf(outputs[i]);
      const merged = out.shape.map((d, j) =>
        d !== null || j === 0 || prior?.length !== out.shape.length ? d : prior[j],
      );
      builder.setShape(outputs[i], merged);
      builder.setDtype(outputs[i], dtypeOf(out, `layer ${layer.name} output`));
    });
    return values.get(keys.key(t)) as string;
  };

  const convertNested = (inner: TfLayersModelLike, inputValues: string[]): string[] => {
    if (inner.inputs.length !== inputValues.length) {
      throw new RangeError(
        `nested model ${inner.name}: expected ${inner.inputs.length} inputs, got ${inputValues.length}`,
      );
    }
    const scope = new Map<string, string>();
    inner.inputs.forEach((t, i) => {
      scope.set(keys.key(t), inputValues[i]);
    });
    return inner.outputs.map((o) => convert(o, scope));
  };

  const outputs: GraphValue[] = model.outputs.map((t, i) => {
    const value = convert(t, topScope);
    builder.addNode('Identity', [value], [outputNames[i]]);
    const shape = builder.shapeOf(value) ?? [...t.shape];
    return { name: outputNames[i], dtype: dtypeOf(t, `output ${outputNames[i]}`), shape };
  });

  const name = options.name ?? model.name;
  const metadata: Record<string, string> = { ...(options.metadata ?? {}), name };
  if (options.version !== undefined) metadata.version = options.version;
  if (options.featureSpecHash !== undefined) metadata.feature_spec_hash = options.featureSpecHash;
  if (options.metrics !== undefined) metadata.metrics = JSON.stringify(options.metrics);
  metadata.exporter = '@mlsd/onnx';
  const integralVersion =
    options.version !== undefined && /^\d+$/.test(options.version) ? Number(options.version) : 0;
  return builder.toModelBytes(inputs, outputs, {
    graphName: name,
    docString: options.docString,
    modelVersion: integralVersion,
    metadata,
  });
}
