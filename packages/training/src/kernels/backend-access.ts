/**
 * Uniform access to tensor memory inside a kernel, for the cpu backend (JS typed arrays) and the
 * wasm backend (views on the wasm heap). The project's kernels compute on typed arrays and call
 * the backend's own fast kernels (Conv2D) through this one interface.
 */
import * as tf from '@tensorflow/tfjs';

/** The tensor description kernels receive and return. */
export interface TensorInfo {
  dataId: object;
  shape: number[];
  dtype: tf.DataType;
}

type Typed = Float32Array | Int32Array | Uint8Array;

/** What a project kernel needs from a backend. */
export interface KernelBackend {
  readonly name: 'cpu' | 'wasm';
  /** A view (wasm) or the array (cpu) of a tensor's values; re-read after any `alloc`. */
  read(t: TensorInfo): Typed;
  /** A new zero-filled tensor the kernel owns. */
  alloc(shape: number[], dtype: 'float32' | 'int32'): TensorInfo;
  /** Frees an intermediate tensor made by `alloc` or by a kernel call. */
  free(t: TensorInfo): void;
  /** Runs another kernel of the same backend (the stock implementation registered for it). */
  call(kernelName: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>): TensorInfo;
}

interface CpuBackendLike {
  data: { get(id: object): { values: Typed } };
  makeTensorInfo(shape: number[], dtype: string, values?: Typed): TensorInfo;
  disposeIntermediateTensorInfo(t: TensorInfo): void;
}

interface WasmBackendLike {
  makeOutput(shape: number[], dtype: string): TensorInfo;
  typedArrayFromHeap(t: TensorInfo): Typed;
  disposeData(id: object): boolean;
}

/** Wraps the raw backend object a kernel function receives. */
export function accessBackend(name: 'cpu' | 'wasm', raw: unknown): KernelBackend {
  const call = (kernelName: string, inputs: Record<string, TensorInfo>, attrs: Record<string, unknown>) => {
    const kernel = tf.getKernel(kernelName, name);
    if (!kernel) throw new Error(`kernel ${kernelName} is not registered for backend ${name}`);
    return kernel.kernelFunc({ inputs, backend: raw as tf.KernelBackend, attrs } as never) as TensorInfo;
  };
  if (name === 'cpu') {
    const b = raw as CpuBackendLike;
    return {
      name,
      read: (t) => b.data.get(t.dataId).values,
      alloc: (shape, dtype) => {
        const size = shape.reduce((a, c) => a * c, 1);
        return b.makeTensorInfo(
          shape,
          dtype,
          dtype === 'float32' ? new Float32Array(size) : new Int32Array(size),
        );
      },
      free: (t) => b.disposeIntermediateTensorInfo(t),
      call,
    };
  }
  const b = raw as WasmBackendLike;
  return {
    name,
    read: (t) => b.typedArrayFromHeap(t),
    alloc: (shape, dtype) => {
      const out = b.makeOutput(shape, dtype);
      // _malloc'd memory is not zeroed.
      b.typedArrayFromHeap(out).fill(0);
      return out;
    },
    free: (t) => {
      b.disposeData(t.dataId);
    },
    call,
  };
}
