/**
 * Backend set-up for training: picks the WebAssembly backend when it loads (falling back to the
 * CPU backend with a logged reason), registers the project's kernels once, and seeds everything
 * a training run draws at random.
 */
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import * as tf from '@tensorflow/tfjs';
import { setWasmPaths } from '@tensorflow/tfjs-backend-wasm';
import { registerProjectKernels } from './kernels/registry.js';
import { registerCustomLayers } from './layers.js';

/** Which backend to try first. */
export type BackendName = 'wasm' | 'cpu';

/** Options of {@link initBackend}. */
export interface InitBackendOptions {
  /** Backend to try first; `cpu` never tries wasm. Default `wasm`. */
  prefer?: BackendName;
  /** Register the project's kernels (scatter-add, convolution gradients, ...). Default true. */
  fastKernels?: boolean;
  /** Folder holding the tfjs `.wasm` binaries (read by the first call only). Default: the installed package's dist folder. */
  wasmPath?: string;
  /** Where a fallback reason goes. Default `console.warn`. */
  log?: (message: string) => void;
}

/** What {@link initBackend} set up. */
export interface BackendInfo {
  /** The backend that runs. */
  backend: BackendName;
  /** Why the preferred backend is not the one that runs, when it is not. */
  fallbackReason?: string;
  /** Kernel names the project replaced or added on the running backend. */
  kernels: string[];
}

let wasmPathsSet = false;

function wasmDistFolder(): string {
  const require = createRequire(import.meta.url);
  // The package's main entry sits in dist/; the .wasm binaries are next to it.
  return dirname(require.resolve('@tensorflow/tfjs-backend-wasm'));
}

/** The folder holding the tfjs wasm binaries (exposed for diagnostics). */
export function wasmBinaryFolder(): string {
  return wasmDistFolder();
}

/**
 * Initialises tfjs for training. Safe to call more than once: kernels are registered once, and a
 * second call only switches backend.
 */
export async function initBackend(options: InitBackendOptions = {}): Promise<BackendInfo> {
  const prefer = options.prefer ?? 'wasm';
  if (prefer !== 'wasm' && prefer !== 'cpu') {
    throw new RangeError(`prefer: expected 'wasm' or 'cpu', got ${JSON.stringify(prefer)}`);
  }
  const log = options.log ?? ((m: string) => console.warn(m));
  let fallbackReason: string | undefined;
  let backend: BackendName = 'cpu';
  if (prefer === 'wasm') {
    try {
      if (!wasmPathsSet) {
        // Node resolves file:// URLs here; the prefix form makes all three binaries findable.
        setWasmPaths(join(options.wasmPath ?? wasmDistFolder(), '/'));
        wasmPathsSet = true;
      }
      const ok = await tf.setBackend('wasm');
      if (!ok) throw new Error('tf.setBackend("wasm") returned false');
      await tf.ready();
      backend = 'wasm';
    } catch (err) {
      fallbackReason = `wasm backend unavailable (${(err as Error).message}); using cpu`;
      log(`@mlsd/training: ${fallbackReason}`);
    }
  }
  if (backend === 'cpu') {
    await tf.setBackend('cpu');
    await tf.ready();
  }
  registerCustomLayers();
  const kernels = options.fastKernels === false ? [] : registerProjectKernels(backend);
  return { backend, kernels, ...(fallbackReason ? { fallbackReason } : {}) };
}

/** The name of the backend tfjs runs on now. */
export function currentBackend(): string {
  return tf.getBackend();
}
