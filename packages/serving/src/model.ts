/**
 * The model shape the service needs. Any object with these members serves (OnnxModel from
 * @mlsd/onnx satisfies it structurally), so serving never depends on one runtime's classes.
 */

/** Numeric typed arrays a model accepts or returns. */
export type TypedArray =
  | Float32Array
  | Float64Array
  | Int8Array
  | Uint8Array
  | Int16Array
  | Uint16Array
  | Int32Array
  | Uint32Array
  | BigInt64Array;

/** A tensor: flat data in row-major order and its dimensions. */
export interface TensorLike {
  data: TypedArray | readonly number[];
  dims: readonly number[];
}

/** Name, element type and dimensions (negative, null or a string for dynamic axes) of one tensor. */
export interface TensorSignature {
  name: string;
  dtype: string;
  dims: ReadonlyArray<number | string | null>;
}

/** A loaded model that can run inference. */
export interface InferenceModel {
  readonly name: string;
  readonly version: string;
  readonly inputs?: readonly TensorSignature[];
  readonly outputs?: readonly TensorSignature[];
  readonly metadata?: unknown;
  run(feeds: Record<string, TypedArray | TensorLike>): Promise<Record<string, TensorLike>>;
  close?(): unknown;
}

/** One model as the service lists it on `/models`. */
export interface ServedModel {
  model: InferenceModel;
  /** Registry stage, e.g. 'production', 'staging', 'shadow'. Default 'production'. */
  stage?: string;
  /** Hash of the feature spec the model was trained with, shown on `/models` and in `model_info`. */
  specHash?: string;
}

/** Normalises `InferenceModel | ServedModel` to `ServedModel`. */
export function toServedModel(key: string, entry: InferenceModel | ServedModel): ServedModel {
  if (entry === null || typeof entry !== 'object') {
    throw new TypeError(
      `models.${key}: expected an InferenceModel or { model, stage }, got ${String(entry)}`,
    );
  }
  if ('model' in entry && entry.model && typeof (entry.model as InferenceModel).run === 'function') {
    return entry as ServedModel;
  }
  if (typeof (entry as InferenceModel).run === 'function') return { model: entry as InferenceModel };
  throw new TypeError(
    `models.${key}: expected an object with run(feeds), got keys ${Object.keys(entry).join(', ')}`,
  );
}
