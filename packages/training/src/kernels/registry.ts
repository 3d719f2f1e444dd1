/**
 * Registers the project's kernels over (or beside) tfjs's, once per backend, and keeps the stock
 * kernels so a benchmark or a test can switch between the two in one process.
 */
import * as tf from '@tensorflow/tfjs';
import { makeConv2DBackpropFilterKernel, makeConv2DBackpropInputKernel } from './conv-grad.js';
import { makeMaxPoolGradKernel } from './max-pool-grad.js';
import { makeSegmentSumKernel } from './segment-sum.js';

type BackendId = 'cpu' | 'wasm';
type KernelFunc = (args: never) => unknown;

/** The kernels the project provides, by tfjs kernel name. */
export const PROJECT_KERNELS = [
  'UnsortedSegmentSum',
  'Conv2DBackpropFilter',
  'Conv2DBackpropInput',
  'MaxPoolGrad',
] as const;

/** One of {@link PROJECT_KERNELS}. */
export type ProjectKernel = (typeof PROJECT_KERNELS)[number];

const stock = new Map<string, tf.KernelConfig | null>();
const mine = new Map<string, tf.KernelConfig>();

function key(name: string, backend: BackendId) {
  return `${backend}/${name}`;
}

interface WasmLike {
  makeOutput(shape: number[], dtype: string): { dataId: object; shape: number[]; dtype: string };
  typedArrayFromHeap(t: {
    dataId: object;
    shape: number[];
    dtype: string;
  }): Float32Array | Int32Array | Uint8Array;
  dataIdMap: { get(id: object): { shape: number[]; dtype: string } };
}

/**
 * Runs a self-contained tfjs cpu kernel (one that only reads inputs and makes one output) on wasm
 * memory. This is how the wasm backend gets the *reference* filter gradient it lacks: the
 * "stock" baseline of the benchmark and the fallback for layouts the fast form does not cover.
 */
export function cpuKernelOnWasm(name: string): tf.KernelFunc {
  return ((args: {
    inputs: Record<string, { dataId: object; shape: number[]; dtype: string }>;
    backend: WasmLike;
    attrs: unknown;
  }) => {
    const cpu = tf.getKernel(name, 'cpu');
    if (!cpu) throw new Error(`no cpu ${name} kernel to run on wasm`);
    const wasm = args.backend;
    const shim = {
      data: {
        get: (dataId: object) => {
          const d = wasm.dataIdMap.get(dataId);
          return { values: wasm.typedArrayFromHeap({ dataId, shape: d.shape, dtype: d.dtype }).slice() };
        },
      },
      makeTensorInfo: (shape: number[], dtype: string, values: Float32Array | Int32Array) => {
        const out = wasm.makeOutput(shape, dtype);
        wasm.typedArrayFromHeap(out).set(values);
        return out;
      },
    };
    return cpu.kernelFunc({ inputs: args.inputs, backend: shim, attrs: args.attrs } as never);
  }) as unknown as tf.KernelFunc;
}

function stockFallback(name: string, backend: BackendId) {
  return (args: unknown) => {
    const k = stock.get(key(name, backend));
    if (!k) throw new Error(`no stock ${name} kernel on ${backend} to fall back to`);
    return k.kernelFunc(args as never) as never;
  };
}

function build(name: ProjectKernel, backend: BackendId): KernelFunc {
  switch (name) {
    case 'UnsortedSegmentSum':
      return makeSegmentSumKernel(backend) as KernelFunc;
    case 'Conv2DBackpropFilter': {
      // wasm has no stock filter gradient: its fallback is the cpu algorithm on wasm memory,
      // which the conv form always covers for NHWC, the only layout wasm supports.
      return makeConv2DBackpropFilterKernel(backend, stockFallback(name, backend)) as KernelFunc;
    }
    case 'Conv2DBackpropInput':
      return makeConv2DBackpropInputKernel(backend, stockFallback(name, backend)) as KernelFunc;
    case 'MaxPoolGrad':
      return makeMaxPoolGradKernel(backend) as KernelFunc;
  }
}

function recordStock(name: string, backend: BackendId) {
  const k = key(name, backend);
  if (stock.has(k)) return;
  let config = tf.getKernel(name, backend) ?? null;
  if (!config && backend === 'wasm' && name === 'Conv2DBackpropFilter') {
    config = { kernelName: name, backendName: 'wasm', kernelFunc: cpuKernelOnWasm(name) };
  }
  stock.set(k, config);
}

function install(config: tf.KernelConfig | null, name: string, backend: BackendId) {
  if (tf.getKernel(name, backend)) tf.unregisterKernel(name, backend);
  if (config) tf.registerKernel(config);
}

/**
 * Registers the project's kernels for a backend (first call per backend records the stock ones).
 * Returns the kernel names now active.
 */
export function registerProjectKernels(backend: BackendId): string[] {
  for (const name of PROJECT_KERNELS) {
    const k = key(name, backend);
    recordStock(name, backend);
    let config = mine.get(k);
    if (!config) {
      config = { kernelName: name, backendName: backend, kernelFunc: build(name, backend) as tf.KernelFunc };
      mine.set(k, config);
    }
    install(config, name, backend);
  }
  return [...PROJECT_KERNELS];
}

/**
 * Switches a backend between the project's kernels (`project`) and tfjs's own (`stock`), for
 * benchmarks and equivalence tests. `only` limits the switch to some kernels.
 */
export function useKernels(
  mode: 'project' | 'stock',
  backend: BackendId,
  only?: readonly ProjectKernel[],
): void {
  if (mode !== 'project' && mode !== 'stock') {
    throw new RangeError(`mode: expected 'project' or 'stock', got ${JSON.stringify(mode)}`);
  }
  if (mode === 'project') registerProjectKernels(backend);
  for (const name of only ?? PROJECT_KERNELS) {
    const k = key(name, backend);
    recordStock(name, backend);
    if (mode === 'stock') install(stock.get(k) ?? null, name, backend);
  }
  if (mode === 'project' && only) {
    for (const name of PROJECT_KERNELS)
      if (!only.includes(name)) install(stock.get(key(name, backend)) ?? null, name, backend);
  }
}

/** The stock tfjs kernel function for a name and backend (for reference comparisons), if any. */
export function stockKernel(name: ProjectKernel, backend: BackendId): tf.KernelConfig | undefined {
  recordStock(name, backend);
  return stock.get(key(name, backend)) ?? undefined;
}
