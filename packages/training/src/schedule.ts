/**
 * Learning-rate schedules, evaluated per epoch: step decay, cosine annealing, exponential decay.
 */

/** A per-epoch learning-rate schedule. */
export type LrSchedule =
  | { type: 'step'; stepSize: number; gamma: number }
  | { type: 'cosine'; minLearningRate?: number; epochs?: number }
  | { type: 'exponential'; gamma: number };

/** The learning rate for `epoch` (0-based) of `totalEpochs`, starting from `base`. */
export function learningRateAt(
  schedule: LrSchedule,
  base: number,
  epoch: number,
  totalEpochs: number,
): number {
  switch (schedule.type) {
    case 'step':
      if (!(schedule.stepSize >= 1))
        throw new RangeError(`schedule.stepSize: expected >= 1, got ${schedule.stepSize}`);
      return base * schedule.gamma ** Math.floor(epoch / schedule.stepSize);
    case 'cosine': {
      const span = schedule.epochs ?? totalEpochs;
      const min = schedule.minLearningRate ?? 0;
      const t = span <= 1 ? 0 : Math.min(epoch, span - 1) / (span - 1);
      return min + 0.5 * (base - min) * (1 + Math.cos(Math.PI * t));
    }
    case 'exponential':
      if (!(schedule.gamma > 0)) throw new RangeError(`schedule.gamma: expected > 0, got ${schedule.gamma}`);
      return base * schedule.gamma ** epoch;
    default:
      throw new RangeError(
        `schedule.type: expected 'step', 'cosine' or 'exponential', got ${JSON.stringify((schedule as { type: unknown }).type)}`,
      );
  }
}
