/**
 * Backend set-up: a wasm backend that cannot load falls back to cpu with the reason logged, the
 * project's kernels are registered on the backend that runs, and bad options are named.
 * (Its own file: a failed wasm initialisation is per process.)
 */
import * as tf from '@tensorflow/tfjs';
import { describe, expect, it } from 'vitest';
import { initBackend } from './backend.js';
import { useKernels } from './kernels/registry.js';

describe('initBackend', () => {
  it('falls back to cpu with a logged reason when the wasm binaries are missing', async () => {
    const logged: string[] = [];
    const warn = console.warn;
    console.warn = () => {};
    try {
      const info = await initBackend({
        prefer: 'wasm',
        wasmPath: '/nonexistent/wasm-folder',
        log: (m) => logged.push(m),
      });
      expect(info.backend).toBe('cpu');
      expect(info.fallbackReason).toMatch(/wasm/);
      expect(logged.join('\n')).toMatch(/using cpu/);
    } finally {
      console.warn = warn;
    }
    expect(tf.getBackend()).toBe('cpu');
  });

  it('registers the project kernels once and can switch back to the stock ones', async () => {
    const info = await initBackend({ prefer: 'cpu', log: () => {} });
    expect(info.kernels).toContain('UnsortedSegmentSum');
    const mine = tf.getKernel('UnsortedSegmentSum', 'cpu');
    await initBackend({ prefer: 'cpu', log: () => {} });
    expect(tf.getKernel('UnsortedSegmentSum', 'cpu')).toBe(mine);
    useKernels('stock', 'cpu');
    expect(tf.getKernel('UnsortedSegmentSum', 'cpu')).not.toBe(mine);
    useKernels('project', 'cpu');
    expect(tf.getKernel('UnsortedSegmentSum', 'cpu')).toBe(mine);
  });

  it('rejects an unknown backend name', async () => {
    await expect(initBackend({ prefer: 'webgl' as never })).rejects.toThrow(
      /prefer: expected 'wasm' or 'cpu', got "webgl"/,
    );
  });
});
