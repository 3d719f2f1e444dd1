/**
 * Training for serving: fits the pipeline on the whole log (the ranker at an inner cut, the towers
 * on everything) and writes the model folder the service loads: user-tower.onnx, video-tower.onnx,
 * ranker.onnx and model.json (shape, feature scaler, candidate sizes, the world it was trained on).
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { exportToOnnx } from '@mlsd/onnx';
import { initBackend } from '@mlsd/training';
import type { InteractionTable } from './data.js';
import { sliceTable } from './evaluate.js';
import { RANKING_FEATURES, type SideInfo } from './features.js';
import { exportTwoTower } from './model.js';
import { DEFAULT_SIZES, type FittedPipeline, fitPipeline, type PipelineOptions } from './pipeline.js';
import type { ModelCard } from './service.js';

export interface TrainModelsOptions extends PipelineOptions {
  outDir: string;
  version?: string;
  world?: ModelCard['world'];
}

/** Trains on every row of `table` (the cut is the end of the log) and writes the model folder. */
export async function trainModels(
  table: InteractionTable,
  side: SideInfo,
  options: TrainModelsOptions,
): Promise<{ card: ModelCard; fitted: FittedPipeline }> {
  await initBackend({ prefer: 'wasm', log: () => {} });
  const t0 = performance.now();
  const view = sliceTable(table, 0, table.rows);
  const endTs = table.rows ? table.ts[table.rows - 1] + 1 : 0;
  const fitted = await fitPipeline({ table: view, cutTs: endTs }, side, options);
  const trainingSeconds = (performance.now() - t0) / 1000;
  const version = options.version ?? new Date().toISOString().replace(/[:.]/g, '-');
  const towers = exportTwoTower(fitted.tower, version);
  mkdirSync(options.outDir, { recursive: true });
  writeFileSync(join(options.outDir, 'user-tower.onnx'), towers.user);
  writeFileSync(join(options.outDir, 'video-tower.onnx'), towers.video);
  writeFileSync(
    join(options.outDir, 'ranker.onnx'),
    exportToOnnx(fitted.rankerModel, { name: 'video-recommendation-ranker', version }),
  );
  const card: ModelCard = {
    version,
    shape: fitted.tower.shape,
    scaler: fitted.scaler,
    features: RANKING_FEATURES,
    sizes: options.sizes ?? DEFAULT_SIZES,
    world: options.world,
    trainedAt: new Date().toISOString(),
    trainingSeconds: Number(trainingSeconds.toFixed(1)),
    metrics: {
      towerFinalLoss: fitted.tower.losses.at(-1) ?? Number.NaN,
      rankerRows: fitted.rankerRows,
      rankerPositives: fitted.rankerPositives,
    },
  };
  writeFileSync(join(options.outDir, 'model.json'), `${JSON.stringify(card, null, 1)}\n`);
  return { card, fitted };
}
