/**
 * O(n) scatter-add `UnsortedSegmentSum`, the gradient of gather (embeddings).
 *
 * Stock tfjs-backend-cpu runs several kernels per segment id (O(numSegments * n)), about 25
 * minutes per epoch on a 100k-row embedding model, and tfjs-backend-wasm has no kernel at all.
 * This one reads the inputs once and adds each row into its segment.
 */
import { accessBackend, type TensorInfo } from './backend-access.js';

/** Plain implementation on typed arrays, exposed for tests. */
export function segmentSumInto(
  x: ArrayLike<number>,
  ids: ArrayLike<number>,
  rowSize: number,
  numSegments: number,
  out: Float32Array | Int32Array,
): void {
  const n = ids.length;
  for (let i = 0; i < n; i++) {
    const s = ids[i];
    // Out-of-range ids are dropped, as TensorFlow does.
    if (s < 0 || s >= numSegments) continue;
    const src = i * rowSize;
    const dst = s * rowSize;
    for (let j = 0; j < rowSize; j++) out[dst + j] += x[src + j];
  }
}

/** Kernel function for `UnsortedSegmentSum` on the given backend. */
export function makeSegmentSumKernel(backendName: 'cpu' | 'wasm') {
  return (args: {
    inputs: { x: TensorInfo; segmentIds: TensorInfo };
    backend: unknown;
    attrs: { numSegments: number };
  }) => {
    const { x, segmentIds } = args.inputs;
    const { numSegments } = args.attrs;
    const b = accessBackend(backendName, args.backend);
    const idCount = segmentIds.shape.reduce((a, c) => a * c, 1);
    const rest = x.shape.slice(segmentIds.shape.length);
    const rowSize = rest.reduce((a, c) => a * c, 1);
    const dtype = x.dtype === 'int32' ? 'int32' : 'float32';
    if (idCount * rowSize !== x.shape.reduce((a, c) => a * c, 1)) {
      throw new RangeError(
        `segmentIds: expected a shape that prefixes x's ${JSON.stringify(x.shape)}, got ${JSON.stringify(segmentIds.shape)}`,
      );
    }
    const out = b.alloc([numSegments, ...rest], dtype);
    // Views are taken after alloc: growing the wasm heap detaches older views.
    segmentSumInto(
      b.read(x),
      b.read(segmentIds),
      rowSize,
      numSegments,
      b.read(out) as Float32Array | Int32Array,
    );
    return out;
  };
}
