/**
 * Convolution gradients written as forward convolutions, so they run on the backend's fast
 * Conv2D (XNNPACK on wasm) instead of tfjs's scalar loops.
 *
 * - Filter gradient: dW[p,q,c,k] = sum_{b,i,j} x[b, i*s+p-top, j*s+q-left, c] * dy[b,i,j,k].
 *   With x laid out as [C, H, W, B] (channels become the batch, the batch becomes channels) and dy
 *   as a filter [oH, oW, B, K] dilated by the stride, this is one stride-1 convolution whose
 *   output [C, fh, fw, K] is dW up to a transpose.
 * - Input gradient: a "full" convolution of dy (zero-dilated by the stride) with the filter
 *   rotated by 180 degrees and its in/out channels swapped.
 * The re-layouts are O(size) copies in JS; the O(size * filter) work stays in the fast kernel.
 * Anything outside the supported case (NCHW, negative derived padding) runs the stock kernel.
 */
import * as tf from '@tensorflow/tfjs';
import { accessBackend, type TensorInfo } from './backend-access.js';

type Pad = number | 'same' | 'valid' | number[][];
type Fallback = (args: unknown) => TensorInfo;

interface FilterGradArgs {
  inputs: { x: TensorInfo; dy: TensorInfo };
  backend: unknown;
  attrs: {
    strides: number | [number, number];
    pad: Pad;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    filterShape: [number, number, number, number];
  };
}

interface InputGradArgs {
  inputs: { dy: TensorInfo; filter: TensorInfo };
  backend: unknown;
  attrs: {
    strides: number | [number, number];
    pad: Pad;
    dataFormat: 'NHWC' | 'NCHW';
    dimRoundingMode?: 'floor' | 'round' | 'ceil';
    inputShape: [number, number, number, number];
  };
}

function convInfo(
  xShape: number[],
  filterShape: number[],
  strides: number | [number, number],
  pad: Pad,
  dimRoundingMode?: 'floor' | 'round' | 'ceil',
) {
  return tf.backend_util.computeConv2DInfo(
    xShape as [number, number, number, number],
    filterShape as [number, number, number, number],
    strides,
    1,
    pad as 'same',
    dimRoundingMode,
    false,
    'channelsLast',
  );
}

/** `Conv2DBackpropFilter` as a convolution; `fallback` is the stock kernel. */
export function makeConv2DBackpropFilterKernel(backendName: 'cpu' | 'wasm', fallback: Fallback) {
  return (args: FilterGradArgs): TensorInfo => {
    const { x, dy } = args.inputs;
    const { strides, pad, dataFormat, dimRoundingMode, filterShape } = args.attrs;
    if (dataFormat === 'NCHW') return fallback(args);
    const info = convInfo(x.shape, filterShape, strides, pad, dimRoundingMode);
    const {
      batchSize: B,
      inHeight: H,
      inWidth: W,
      inChannels: C,
      outHeight: oH,
      outWidth: oW,
      outChannels: K,
    } = info;
    const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
    const top = info.padInfo.top;
    const left = info.padInfo.left;
    if (top < 0 || left < 0) return fallback(args);
    // Rows past the last one any filter tap reaches are cut off instead of padded negatively.
    const bottom = fh + (oH - 1) * sh - H - top;
    const right = fw + (oW - 1) * sw - W - left;
    const Hc = H + Math.min(0, bottom);
    const Wc = W + Math.min(0, right);
    const b = accessBackend(backendName, args.backend);

    const xt = b.alloc([C, Hc, Wc, B], 'float32');
    const ft = b.alloc([oH, oW, B, K], 'float32');
    {
      const xv = b.read(x);
      const xtv = b.read(xt);
      for (let bb = 0; bb < B; bb++) {
        for (let h = 0; h < Hc; h++) {
          for (let w = 0; w < Wc; w++) {
            const src = ((bb * H + h) * W + w) * C;
            const dst = (h * Wc + w) * B + bb;
            for (let c = 0; c < C; c++) xtv[dst + c * Hc * Wc * B] = xv[src + c];
          }
        }
      }
      const dyv = b.read(dy);
      const ftv = b.read(ft);
      const plane = oH * oW;
      for (let bb = 0; bb < B; bb++) {
        for (let ij = 0; ij < plane; ij++) {
          const src = (bb * plane + ij) * K;
          const dst = (ij * B + bb) * K;
          for (let k = 0; k < K; k++) ftv[dst + k] = dyv[src + k];
        }
      }
    }
    const conv = b.call(
      'Conv2D',
      { x: xt, filter: ft },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [top, Math.max(0, bottom)],
          [left, Math.max(0, right)],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [sh, sw],
        dimRoundingMode: undefined,
      },
    );
    b.free(xt);
    b.free(ft);
    const dw = b.alloc([fh, fw, C, K], 'float32');
    {
      const cv = b.read(conv);
      const dwv = b.read(dw);
      const taps = fh * fw;
      for (let c = 0; c < C; c++) {
        for (let pq = 0; pq < taps; pq++) {
          const src = (c * taps + pq) * K;
          const dst = (pq * C + c) * K;
          for (let k = 0; k < K; k++) dwv[dst + k] = cv[src + k];
        }
      }
    }
    b.free(conv);
    return dw;
  };
}

/** `Conv2DBackpropInput` as a convolution; `fallback` is the stock kernel. */
export function makeConv2DBackpropInputKernel(backendName: 'cpu' | 'wasm', fallback: Fallback) {
  return (args: InputGradArgs): TensorInfo => {
    const { dy, filter } = args.inputs;
    const { strides, pad, dataFormat, dimRoundingMode, inputShape } = args.attrs;
    if (dataFormat === 'NCHW') return fallback(args);
    const info = convInfo(inputShape, filter.shape, strides, pad, dimRoundingMode);
    const {
      batchSize: B,
      inHeight: H,
      inWidth: W,
      inChannels: C,
      outHeight: oH,
      outWidth: oW,
      outChannels: K,
    } = info;
    const { filterHeight: fh, filterWidth: fw, strideHeight: sh, strideWidth: sw } = info;
    const dH = (oH - 1) * sh + 1;
    const dW = (oW - 1) * sw + 1;
    const pt = fh - 1 - info.padInfo.top;
    const pl = fw - 1 - info.padInfo.left;
    const pb = H + fh - 1 - dH - pt;
    const pr = W + fw - 1 - dW - pl;
    if (pt < 0 || pl < 0 || pb < 0 || pr < 0) return fallback(args);
    const b = accessBackend(backendName, args.backend);

    let src = dy;
    let dilated: TensorInfo | undefined;
    if (sh !== 1 || sw !== 1) {
      dilated = b.alloc([B, dH, dW, K], 'float32');
      const dyv = b.read(dy);
      const dv = b.read(dilated);
      for (let bb = 0; bb < B; bb++) {
        for (let i = 0; i < oH; i++) {
          for (let j = 0; j < oW; j++) {
            const s = ((bb * oH + i) * oW + j) * K;
            const d = ((bb * dH + i * sh) * dW + j * sw) * K;
            for (let k = 0; k < K; k++) dv[d + k] = dyv[s + k];
          }
        }
      }
      src = dilated;
    }
    const wt = b.alloc([fh, fw, K, C], 'float32');
    {
      const wv = b.read(filter);
      const wtv = b.read(wt);
      for (let p = 0; p < fh; p++) {
        for (let q = 0; q < fw; q++) {
          const s = ((fh - 1 - p) * fw + (fw - 1 - q)) * C * K;
          const d = (p * fw + q) * K * C;
          for (let c = 0; c < C; c++) {
            for (let k = 0; k < K; k++) wtv[d + k * C + c] = wv[s + c * K + k];
          }
        }
      }
    }
    const out = b.call(
      'Conv2D',
      { x: src, filter: wt },
      {
        strides: [1, 1],
        pad: [
          [0, 0],
          [pt, pb],
          [pl, pr],
          [0, 0],
        ],
        dataFormat: 'NHWC',
        dilations: [1, 1],
        dimRoundingMode: undefined,
      },
    );
    b.free(wt);
    if (dilated) b.free(dilated);
    return out;
  };
}
