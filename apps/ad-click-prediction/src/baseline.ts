/**
 * The baselines the book insists on first: the base-rate predictor (the training click rate for
 * every impression, which is what NCE divides by) and logistic regression, alone or with the
 * hand-made crosses a domain expert would try. Both are built as the same tfjs model shape as the
 * others (model.ts), so they are exported, served and evaluated exactly like them.
 */
import type * as tf from '@tensorflow/tfjs';
import { WORLD_CROSSES } from './features.js';
import type { PreparedData } from './pipeline.js';

/**
 * Turns a freshly built logistic-regression model (whose output bias starts at the log-odds of the
 * training rate) into the base-rate predictor: every weight but that bias set to zero.
 */
export function toBaseRate(model: tf.LayersModel): void {
  for (const layer of model.layers) {
    const weights = layer.getWeights();
    if (weights.length === 0) continue;
    layer.setWeights(
      weights.map((w, i) => (layer.name === 'linear_logit' && i === 1 ? w.clone() : w.mul(0))),
    );
  }
}

/** Crosses for the LR-with-crosses baseline: the world's hand-made ones, or for a user's file,
 * pairs of its lowest-cardinality categorical fields (the cheapest crosses to try). */
export function crossesFor(data: PreparedData): string[][] {
  if (data.source === 'generated') return WORLD_CROSSES;
  const names = data.table.categoricalNames;
  const card = names.map((_, j) => {
    const seen = new Set<string>();
    const col = data.table.categorical[j];
    for (let i = 0; i < Math.min(col.length, 20_000); i++) seen.add(col[i]);
    return seen.size;
  });
  const smallest = names
    .map((n, j) => ({ n, c: card[j] }))
    .filter((x) => x.c > 1)
    .sort((a, b) => a.c - b.c)
    .slice(0, 4);
  const out: string[][] = [];
  for (let a = 0; a < smallest.length; a++)
    for (let b = a + 1; b < smallest.length; b++) out.push([smallest[a].n, smallest[b].n]);
  return out;
}
