import usearch from 'usearch';
import { clusteredVectors } from './src/test-helpers.ts';
const D = 64, N = 20000;
const data = clusteredVectors(1, N, D, 40);
const idx = new usearch.Index({ dimensions: D, metric: usearch.MetricKind.L2sq, quantization: usearch.ScalarKind.F32, connectivity: 16, expansion_add: 200, expansion_search: 64, multi: false });
const keys = new BigUint64Array(N); for (let i = 0; i < N; i++) keys[i] = BigInt(i);
let t = performance.now();
idx.add(keys, data, 1);
console.log('build', performance.now() - t, idx.size());
idx.save('/tmp/us.bin');
for (const ef of [8, 64, 512]) {
  const j = new usearch.Index({ dimensions: D, metric: usearch.MetricKind.L2sq, quantization: usearch.ScalarKind.F32, connectivity: 16, expansion_add: 200, expansion_search: ef, multi: false });
  j.load('/tmp/us.bin');
  const q = data.subarray(0, D);
  t = performance.now();
  let m; for (let r = 0; r < 1000; r++) m = j.search(data.subarray((r % 1000) * D, (r % 1000 + 1) * D), 10, 1);
  console.log(ef, (performance.now() - t) / 1000, 'ms/query', m!.keys.slice(0, 3));
}
