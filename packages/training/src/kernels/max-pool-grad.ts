/**
 * `MaxPoolGrad` as one pass: each output cell's window is scanned once, channel-vectorised, and
 * its gradient is added at the (first) maximum, the position tfjs's reference kernel picks.
 * The stock kernels recompute positions per input pixel and were a visible part of a CNN step.
 */
import * as tf from '@tensorflow/tfjs';
import { accessBackend, type TensorInfo } from './backend-access.js';

interface MaxPoolGradArgs {
  inputs: { dy: TensorInfo; input: TensorInfo; output: TensorInfo };
  backend: unknown;
  attrs: {
    filterSize: number | [number, number];
    strides: number | [number, number];
    pad: 'same' | 'valid' | number;
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
  };
}

/** Kernel function for `MaxPoolGrad` on the given backend. */
export function makeMaxPoolGradKernel(backendName: 'cpu' | 'wasm') {
  return (args: MaxPoolGradArgs): TensorInfo => {
    const { dy, input } = args.inputs;
    const { filterSize, strides, pad, dimRoundingMode } = args.attrs;
    const info = tf.backend_util.computePool2DInfo(
      input.shape as [number, number, number, number],
      filterSize,
      strides,
      1,
      pad,
      dimRoundingMode,
    );
    const { batchSize: B, inHeight: H, inWidth: W, inChannels: C, outHeight: oH, outWidth: oW } = info;
    const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    const b = accessBackend(backendName, args.backend);
    const dx = b.alloc(input.shape, 'float32');
    const xv = b.read(input);
    const dyv = b.read(dy);
    const dxv = b.read(dx);
    const best = new Float32Array(C);
    const where = new Int32Array(C);
    for (let bb = 0; bb < B; bb++) {
      for (let i = 0; i < oH; i++) {
        const h0 = i * sh - top;
        for (let j = 0; j < oW; j++) {
          const w0 = j * sw - left;
          best.fill(Number.NEGATIVE_INFINITY);
          where.fill(-1);
          for (let r = 0; r < fh; r++) {
            const h = h0 + r;
            if (h < 0 || h >= H) continue;
            for (let q = 0; q < fw; q++) {
              const w = w0 + q;
              if (w < 0 || w >= W) continue;
              const base = ((bb * H + h) * W + w) * C;
              for (let c = 0; c < C; c++) {
                const v = xv[base + c];
                if (v > best[c] || where[c] < 0) {
                  best[c] = v;
                  where[c] = base + c;
                }
              }
            }
          }
          const o = ((bb * oH + i) * oW + j) * C;
          for (let c = 0; c < C; c++) if (where[c] >= 0) dxv[where[c]] += dyv[o + c];
        }
      }
    }
    return dx;
  };
}
