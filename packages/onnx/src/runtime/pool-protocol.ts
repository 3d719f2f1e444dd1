/**
 * Messages between OnnxWorkerPool and its workers (threads or child processes). Typed arrays
 * travel by structured clone (`serialization: 'advanced'` for child processes).
 */
import type {
  OnnxFeeds,
  OnnxModelLoadOptions,
  OnnxRunOptions,
  OnnxTensorData,
  OnnxValueSignature,
} from './onnx-model.js';

export type ToWorker =
  | { type: 'init'; source: string | Uint8Array; options: OnnxModelLoadOptions }
  | {
      type: 'run';
      id: number;
      feeds: OnnxFeeds;
      options: OnnxRunOptions & { maxBatchSize?: number };
      batch: boolean;
    }
  | { type: 'close' };

export interface SerializedError {
  name: string;
  message: string;
  input?: string;
  expected?: string;
  received?: string;
  source?: string;
}

export interface ModelDescription {
  name: string;
  version: string;
  metadata: Record<string, string>;
  inputs: OnnxValueSignature[];
  outputs: OnnxValueSignature[];
}

export type FromWorker =
  | { type: 'ready'; model: ModelDescription }
  | { type: 'init-error'; error: SerializedError }
  | { type: 'result'; id: number; outputs: Record<string, OnnxTensorData> }
  | { type: 'error'; id: number; error: SerializedError };

export function serializeError(error: unknown): SerializedError {
  const e = error as Partial<SerializedError> & Error;
  return {
    name: e?.name ?? 'Error',
    message: e?.message ?? String(error),
    input: e?.input,
    expected: e?.expected,
    received: e?.received,
    source: e?.source,
  };
}
