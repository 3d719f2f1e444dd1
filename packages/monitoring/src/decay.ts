/**
 * Model decay from delayed labels: predictions are logged with an id, labels join them later by
 * id, and a rolling window of labelled predictions (by count or by time) recomputes the task's
 * metric and compares it with the value recorded at training time. Storage is in memory; the
 * serving package persists the prediction log and can replay it into a monitor.
 */
import { assertFiniteNumber, assertPositiveInteger, describe } from './errors.js';

/** The task's metric, e.g. `{ name: 'roc_auc', fn: rocAucScore, higherIsBetter: true }` from @mlsd/metrics. */
export interface DecayMetric {
  name: string;
  fn: (yTrue: number[], yScore: number[]) => number;
  higherIsBetter: boolean;
}

/** Rolling window: the last `count` labelled predictions, or those made in the last `ms` milliseconds (by prediction time, up to the newest labelled one). */
export type DecayWindow = { count: number } | { ms: number };

/** Options of {@link DecayMonitor}. */
export interface DecayMonitorOptions {
  metric: DecayMetric;
  /** The metric's value at training time (on the held-out set). */
  baseline: number;
  window: DecayWindow;
  /** Alert when the metric is worse than the baseline by more than this (in metric units, or a fraction of the baseline when `relativeDrop`). */
  maxDrop: number;
  relativeDrop?: boolean;
  /** Fewest labelled predictions in the window for a verdict. Default 100. */
  minLabels?: number;
  /** Re-evaluate the metric after this many new labels. Default 10. */
  evaluateEvery?: number;
  /** Unlabelled predictions kept waiting for their label; the oldest are evicted (and counted) beyond this. Default 100,000. */
  maxPending?: number;
  /** Called when the monitor goes from not alerting to alerting. */
  onAlert?: (status: DecayStatus) => void;
}

/** State of a decay monitor. */
export interface DecayStatus {
  status: 'ok' | 'alert' | 'insufficient_data';
  alert: boolean;
  metric: string;
  higherIsBetter: boolean;
  baseline: number;
  /** Metric over the window; null without enough labels. */
  current: number | null;
  /** How much worse than the baseline (positive = worse), in metric units. */
  drop: number | null;
  maxDrop: number;
  relativeDrop: boolean;
  /** Labelled predictions in the window and the span of their prediction times. */
  windowCount: number;
  windowStart: number | null;
  windowEnd: number | null;
  /** Predictions still waiting for a label. */
  pending: number;
  labelled: number;
  /** Labels whose id matched no logged prediction, labels for an id already labelled, predictions evicted unlabelled. */
  unmatchedLabels: number;
  duplicateLabels: number;
  evictedPredictions: number;
  /** Prediction time of the newest labelled prediction when the alert first fired (since the last ok). */
  alertSince: number | null;
  reason?: string;
}

interface Pending {
  score: number;
  ts: number;
  meta?: Record<string, unknown>;
}

interface Labelled {
  score: number;
  label: number;
  ts: number;
}

/** Result of {@link DecayMonitor.logLabel}. */
export type LabelJoin = 'joined' | 'unknown_id' | 'duplicate';

/**
 * Watches a model's metric on delayed labels.
 *
 * ```ts
 * const decay = new DecayMonitor({
 *   metric: { name: 'roc_auc', fn: rocAucScore, higherIsBetter: true },
 *   baseline: 0.81, window: { count: 1000 }, maxDrop: 0.05,
 * });
 * decay.logPrediction(requestId, score, Date.now());
 * // later, when the click (or no click) is known:
 * decay.logLabel(requestId, 1, Date.now());
 * decay.status(); // { status: 'ok' | 'alert' | 'insufficient_data', current, drop, ... }
 * ```
 */
export class DecayMonitor {
  private readonly options: Required<Omit<DecayMonitorOptions, 'onAlert' | 'relativeDrop'>> & {
    relativeDrop: boolean;
    onAlert?: (status: DecayStatus) => void;
  };
  private readonly pending = new Map<string, Pending>();
  private readonly labelledIds = new Set<string>();
  /** Labelled predictions sorted by prediction time; the live window is window[head..]. */
  private window: Labelled[] = [];
  private head = 0;
  private labelled = 0;
  private unmatched = 0;
  private duplicates = 0;
  private evicted = 0;
  private sinceEval = 0;
  private last: DecayStatus;
  private alertSince: number | null = null;

  constructor(options: DecayMonitorOptions) {
    if (options === null || typeof options !== 'object') {
      throw new TypeError(`options: expected an object, got ${describe(options)}`);
    }
    const m = options.metric;
    if (
      !m ||
      typeof m.fn !== 'function' ||
      typeof m.name !== 'string' ||
      typeof m.higherIsBetter !== 'boolean'
    ) {
      throw new TypeError(
        `options.metric: expected { name: string, fn: (yTrue, yScore) => number, higherIsBetter: boolean }, got ${describe(m)}`,
      );
    }
    assertFiniteNumber('options.baseline', options.baseline);
    assertFiniteNumber('options.maxDrop', options.maxDrop);
    if (options.maxDrop < 0)
      throw new RangeError(`options.maxDrop: expected a number >= 0, got ${options.maxDrop}`);
    const w = options.window as { count?: number; ms?: number } | undefined;
    if (!w || (w.count === undefined) === (w.ms === undefined)) {
      throw new TypeError(`options.window: expected { count } or { ms }, got ${describe(w)}`);
    }
    if (w.count !== undefined) assertPositiveInteger('options.window.count', w.count);
    if (w.ms !== undefined && !(typeof w.ms === 'number' && w.ms > 0)) {
      throw new RangeError(
        `options.window.ms: expected a positive number of milliseconds, got ${describe(w.ms)}`,
      );
    }
    const minLabels = options.minLabels ?? 100;
    const evaluateEvery = options.evaluateEvery ?? 10;
    const maxPending = options.maxPending ?? 100_000;
    assertPositiveInteger('options.minLabels', minLabels);
    assertPositiveInteger('options.evaluateEvery', evaluateEvery);
    assertPositiveInteger('options.maxPending', maxPending);
    if (w.count !== undefined && minLabels > w.count) {
      throw new RangeError(`options.minLabels: expected at most window.count (${w.count}), got ${minLabels}`);
    }
    this.options = {
      ...options,
      relativeDrop: options.relativeDrop ?? false,
      minLabels,
      evaluateEvery,
      maxPending,
    };
    this.last = this.evaluate();
  }

  /** Log a prediction; its label may arrive later through {@link DecayMonitor.logLabel}. */
  logPrediction(id: string, score: number, ts: number = Date.now(), meta?: Record<string, unknown>): void {
    if (typeof id !== 'string' || id.length === 0)
      throw new TypeError(`id: expected a non-empty string, got ${describe(id)}`);
    assertFiniteNumber('score', score);
    assertFiniteNumber('ts', ts);
    if (this.pending.has(id) || this.labelledIds.has(id)) {
      throw new RangeError(`id: prediction ${JSON.stringify(id)} was already logged`);
    }
    this.pending.set(id, meta === undefined ? { score, ts } : { score, ts, meta });
    if (this.pending.size > this.options.maxPending) {
      // Map iteration order is insertion order: the first key is the oldest prediction.
      const oldest = this.pending.keys().next().value as string;
      this.pending.delete(oldest);
      this.evicted++;
    }
  }

  /** Join a label to its prediction by id. Unknown ids and repeated labels are counted, not thrown. */
  logLabel(id: string, label: number, ts: number = Date.now()): LabelJoin {
    if (typeof id !== 'string' || id.length === 0)
      throw new TypeError(`id: expected a non-empty string, got ${describe(id)}`);
    assertFiniteNumber('label', label);
    assertFiniteNumber('ts', ts);
    const p = this.pending.get(id);
    if (p === undefined) {
      if (this.labelledIds.has(id)) {
        this.duplicates++;
        return 'duplicate';
      }
      this.unmatched++;
      return 'unknown_id';
    }
    this.pending.delete(id);
    this.labelledIds.add(id);
    this.labelled++;
    this.insert({ score: p.score, label, ts: p.ts });
    this.trim();
    if (++this.sinceEval >= this.options.evaluateEvery) this.refresh();
    return 'joined';
  }

  private insert(e: Labelled): void {
    const w = this.window;
    // Labels mostly arrive in prediction order; otherwise binary-search the slot.
    if (w.length === this.head || w[w.length - 1].ts <= e.ts) {
      w.push(e);
      return;
    }
    let lo = this.head;
    let hi = w.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (w[mid].ts <= e.ts) lo = mid + 1;
      else hi = mid;
    }
    w.splice(lo, 0, e);
  }

  private trim(): void {
    const w = this.options.window as { count?: number; ms?: number };
    const all = this.window;
    if (w.count !== undefined) this.head = Math.max(this.head, all.length - w.count);
    else {
      const from = all[all.length - 1].ts - (w.ms as number);
      while (this.head < all.length && all[this.head].ts < from) this.head++;
    }
    // Entries before `head` are expired; compacting only when they outnumber the live ones keeps
    // each label O(1) amortized instead of shifting the whole window.
    if (this.head > 64 && this.head > all.length - this.head) {
      this.window = all.slice(this.head);
      this.head = 0;
    }
    if (this.labelledIds.size > 4 * this.options.maxPending) this.labelledIds.clear();
  }

  private evaluate(): DecayStatus {
    const o = this.options;
    const w = this.window.slice(this.head);
    const base: DecayStatus = {
      status: 'insufficient_data',
      alert: false,
      metric: o.metric.name,
      higherIsBetter: o.metric.higherIsBetter,
      baseline: o.baseline,
      current: null,
      drop: null,
      maxDrop: o.maxDrop,
      relativeDrop: o.relativeDrop,
      windowCount: w.length,
      windowStart: w.length ? w[0].ts : null,
      windowEnd: w.length ? w[w.length - 1].ts : null,
      pending: this.pending.size,
      labelled: this.labelled,
      unmatchedLabels: this.unmatched,
      duplicateLabels: this.duplicates,
      evictedPredictions: this.evicted,
      alertSince: null,
    };
    if (w.length < o.minLabels) {
      return {
        ...base,
        reason: `${w.length} labelled predictions in the window, fewer than minLabels ${o.minLabels}`,
      };
    }
    let current: number;
    try {
      current = o.metric.fn(
        w.map((e) => e.label),
        w.map((e) => e.score),
      );
    } catch (err) {
      return { ...base, reason: `${o.metric.name} undefined on the window: ${(err as Error).message}` };
    }
    if (!Number.isFinite(current)) {
      return { ...base, reason: `${o.metric.name} undefined on the window (got ${current})` };
    }
    const drop = o.metric.higherIsBetter ? o.baseline - current : current - o.baseline;
    const limit = o.relativeDrop ? o.maxDrop * Math.abs(o.baseline) : o.maxDrop;
    const alert = drop > limit;
    return { ...base, status: alert ? 'alert' : 'ok', alert, current, drop };
  }

  private refresh(): void {
    this.sinceEval = 0;
    const wasAlert = this.last.alert;
    const s = this.evaluate();
    if (s.alert) {
      if (!wasAlert) this.alertSince = s.windowEnd;
      s.alertSince = this.alertSince;
    } else this.alertSince = null;
    this.last = s;
    if (s.alert && !wasAlert) this.options.onAlert?.(s);
  }

  /** Current state, re-evaluated now. */
  status(): DecayStatus {
    this.refresh();
    return { ...this.last };
  }

  /** Predictions still waiting for labels (e.g. for {@link estimatePerformance}). */
  pendingScores(): number[] {
    return [...this.pending.values()].map((p) => p.score);
  }
}
