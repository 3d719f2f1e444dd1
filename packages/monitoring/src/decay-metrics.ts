/**
 * Ready-made metrics for {@link DecayMonitor} on binary tasks, from @mlsd/metrics, so every case
 * study names and orients them the same way (`...Score` higher is better, `...Loss` lower).
 */
import {
  averagePrecisionScore,
  brierScoreLoss,
  logLoss,
  normalizedCrossEntropy,
  rocAucScore,
} from '@mlsd/metrics';
import type { DecayMetric } from './decay.js';

/** Binary-classification metrics for decay monitoring: yTrue in {0, 1}, yScore a probability. */
export const BINARY_DECAY_METRICS = {
  rocAuc: { name: 'roc_auc', fn: (y, s) => rocAucScore(y, s), higherIsBetter: true },
  averagePrecision: {
    name: 'average_precision',
    fn: (y, s) => averagePrecisionScore(y, s),
    higherIsBetter: true,
  },
  logLoss: { name: 'log_loss', fn: (y, s) => logLoss(y, s), higherIsBetter: false },
  normalizedCrossEntropy: {
    name: 'normalized_cross_entropy',
    fn: (y, s) => normalizedCrossEntropy(y, s),
    higherIsBetter: false,
  },
  brierScore: { name: 'brier_score', fn: (y, s) => brierScoreLoss(y, s), higherIsBetter: false },
} as const satisfies Record<string, DecayMetric>;
