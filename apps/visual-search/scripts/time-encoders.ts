/**
 * Times candidate encoder architectures in ONNX Runtime (one thread, as the service runs it): builds
 * each with untrained weights (the time does not depend on their values), exports it and embeds
 * generated images in batches of 8 (the service's batches) and 256. For choosing a cheaper encoder.
 * Run (under the CPU lock): npx tsx --conditions=@mlsd/source scripts/time-encoders.ts 24,48,64,96 16,32,64,96
 */
import { generateCatalogue } from '../src/data.js';
import type { Normalisation } from '../src/features.js';
import { buildEncoder, exportEncoder, initTraining, OnnxEmbedder } from '../src/model.js';

await initTraining();
const catalogue = generateCatalogue({ count: 1024, seed: 43 });
const per = catalogue.size * catalogue.size * 3;
const pixels = new Uint8Array(catalogue.count * per);
for (let i = 0; i < catalogue.count; i++) catalogue.pixels(i, pixels.subarray(i * per, (i + 1) * per));
const norm: Normalisation = { size: catalogue.size, mean: [0.5, 0.5, 0.5], std: [0.25, 0.25, 0.25] };
const configs = process.argv.slice(2).map((s) => s.split(',').map(Number));
if (configs.length === 0) throw new Error('usage: time-encoders.ts FILTERS... (e.g. 24,48,64,96)');
for (const filters of configs) {
  const model = buildEncoder({ inputSize: catalogue.size, filters, embeddingDim: 64 }, 1);
  const weights = model.countParams();
  const onnx = exportEncoder(model);
  model.dispose();
  const embedder = await OnnxEmbedder.load(onnx, norm);
  const row: Record<string, unknown> = { filters: filters.join(','), weights };
  for (const batch of [8, 256]) {
    await embedder.embed(pixels.subarray(0, batch * per), batch);
    let best = Number.POSITIVE_INFINITY;
    for (let rep = 0; rep < 3; rep++) {
      const t0 = performance.now();
      for (let s = 0; s + batch <= catalogue.count; s += batch)
        await embedder.embed(pixels.subarray(s * per, (s + batch) * per), batch);
      best = Math.min(best, (performance.now() - t0) / catalogue.count);
    }
    row[`batch${batch}MsPerImage`] = Number(best.toFixed(3));
  }
  await embedder.close();
  console.log(JSON.stringify(row));
}
