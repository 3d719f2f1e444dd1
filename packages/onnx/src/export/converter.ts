/**
 * The layer-converter contract of the tfjs -> ONNX exporter.
 *
 * Every supported tfjs layer class has one converter; apps and @mlsd/training register converters
 * for their custom layers next to the layer itself (`registerLayerConverter('CrossLayer', ...)`).
 * This module only describes shapes: it never imports tfjs, so the serving path never loads the
 * training framework.
 */
import { BUILTIN_CONVERTERS } from './layers.js';

/** The part of a tfjs layer a converter may read (structurally typed: no tfjs import). */
export interface TfLayerLike {
  name: string;
  getClassName(): string;
  getConfig(): Record<string, unknown>;
  /** Weights in the order of `layer.weights`; call `dataSync()` / read `shape`. */
  getWeights(): Array<{ shape: number[]; dtype: string; dataSync(): ArrayLike<number> }>;
  weights: Array<{ name: string; shape: (number | null)[] }>;
}

/** A tensor value for an initializer. */
export type InitializerData = Float32Array | Int32Array | BigInt64Array;

/** Attribute values ONNX nodes take. */
export type AttributeValue =
  | number
  | string
  | number[]
  | string[]
  | { float: number }
  | { floats: number[] }
  | { int: number }
  | { ints: number[] };

/** Element types a value in the graph can have. */
export type OnnxElementType = 'float32' | 'int32' | 'int64' | 'bool';

/** What a converter uses to write into the graph being built. */
export interface ConversionContext {
  /** The target opset (17). */
  readonly opset: number;
  /** A graph-unique name with the given prefix. */
  uniqueName(prefix: string): string;
  /** Adds a constant tensor and returns its name. */
  addInitializer(prefix: string, data: InitializerData, dims: number[]): string;
  /**
   * Adds a node. `attributes` numbers are written as INT when integral and the attribute is an
   * INT/INTS attribute of the op in the opset-17 schemas (table `INT_ATTRIBUTES` in
   * graph-builder.ts), otherwise as FLOAT; `{ float: x }` / `{ floats }` force FLOAT and
   * `{ int: x }` / `{ ints }` force INT (for ops outside that table, e.g. custom domains).
   * Returns the output names (generated from `outputs` prefixes when `outputs` is a number).
   */
  addNode(
    opType: string,
    inputs: string[],
    outputs: string[] | number,
    attributes?: Record<string, AttributeValue>,
    domain?: string,
  ): string[];
  /** Static shape of a value produced so far, with null for the dynamic batch dimension. */
  shapeOf(name: string): (number | null)[] | undefined;
  /** Records the static shape of a value a converter produced. */
  setShape(name: string, shape: (number | null)[]): void;
  /** Element type of a value produced so far ('float32' unless recorded otherwise). */
  dtypeOf(name: string): OnnxElementType;
  /** Records the element type of a value a converter produced. */
  setDtype(name: string, dtype: OnnxElementType): void;
  /**
   * The channels-first (NCHW / NCW) twin of a channels-last value, for ONNX ops such as Conv and
   * pooling. Inserts a Transpose only when no twin exists yet, so a run of convolutional layers
   * transposes once at each end.
   */
  toChannelsFirst(name: string): string;
  /** The channels-last value of a channels-first one (the tfjs layout every converter returns). */
  fromChannelsFirst(name: string): string;
  /**
   * True when the channels-last value was itself produced by transposing a channels-first one:
   * elementwise ops then run on the twin so the transposes of a conv run cancel.
   */
  hasChannelsFirstOrigin(name: string): boolean;
  /** Adds a 1-D int64 constant (shapes, axes, pads) and returns its name. */
  addInt64(prefix: string, values: number[]): string;
  /** Applies a tfjs activation by its serialized name ('relu', 'gelu', 'linear'...) to a value. */
  applyActivation(name: string, activation: string): string;
}

/**
 * Converts one layer call. `inputs` are the ONNX value names of the layer's inputs (one per
 * inbound tensor); the converter returns the ONNX value names of its outputs, in order.
 */
export type LayerConverter = (layer: TfLayerLike, inputs: string[], ctx: ConversionContext) => string[];

const converters = new Map<string, LayerConverter>();

/** Registers (or replaces) the converter for a tfjs layer class name. */
export function registerLayerConverter(className: string, converter: LayerConverter): void {
  if (!className) throw new TypeError('className: expected a non-empty layer class name');
  if (typeof converter !== 'function') throw new TypeError(`converter for ${className}: expected a function`);
  converters.set(className, converter);
}

/** The converter registered for a class name, or undefined. */
export function getLayerConverter(className: string): LayerConverter | undefined {
  return converters.get(className) ?? BUILTIN_CONVERTERS.get(className);
}

/** Class names with a converter (registered or built in). */
export function registeredLayerClasses(): string[] {
  return [...new Set([...converters.keys(), ...BUILTIN_CONVERTERS.keys()])].sort();
}
