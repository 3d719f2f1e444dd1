/**
 * Matrix factorisation with the book's weighted loss, solved by weighted alternating least squares:
 *
 *   L(U, V) = sum_obs (A_ij - u_i . v_j)^2 + W sum_unobs (u_i . v_j)^2 + lambda (|U|^2 + |V|^2)
 *
 * Observed pairs combine explicit and implicit feedback, as the book chooses: A_ij = 1 when the user
 * found the video relevant (liked, or watched at least half), 0 when the user engaged without
 * relevance (a click abandoned early, a dislike). Every other pair is unobserved and pulled towards 0
 * with the small weight W. The ridge term is not in the book; without it the solves are singular for
 * users and videos with few interactions.
 *
 * Each half-sweep fixes one side and solves every row of the other exactly: the normal equations of
 * row x are (W G^T G + (1 - W) sum_obs g_j g_j^T + lambda I) x = sum_obs A_j g_j, where G^T G over all
 * rows is computed once per half-sweep. Each half-sweep minimises L over one side exactly, so L never
 * increases.
 */
import { createRng } from '@mlsd/core';
import type { InteractionTable } from './data.js';
import type { Recommender, RecommenderSpec, TrainingData } from './evaluate.js';

export interface WalsOptions {
  /** Embedding size (default 32). */
  dim?: number;
  /** Weight W of unobserved pairs (default 0.05). */
  unobservedWeight?: number;
  /** Ridge lambda (default 0.5). */
  lambda?: number;
  /** Full sweeps, users then videos (default 10). */
  sweeps?: number;
  seed?: number;
  /** Called after each sweep with its number and the loss. */
  onSweep?: (sweep: number, loss: number) => void;
}

/** Sparse observed pairs in compressed rows: row r has columns col[ptr[r]..ptr[r+1]) with values val. */
export interface SparseRows {
  rows: number;
  ptr: Int32Array;
  col: Int32Array;
  val: Float64Array;
}

/**
 * The observed feedback matrix from an interaction table: one entry per (user, item) that has any
 * interaction, 1 if any of them was relevant, else 0.
 */
export function feedbackMatrix(table: InteractionTable): { byUser: SparseRows; byItem: SparseRows } {
  const pairs = new Map<number, number>();
  for (let r = 0; r < table.rows; r++) {
    const key = table.user[r] * table.items + table.item[r];
    pairs.set(key, Math.max(pairs.get(key) ?? 0, table.relevant[r]));
  }
  const keys = [...pairs.keys()].sort((a, b) => a - b);
  const toRows = (
    rows: number,
    rowOf: (k: number) => number,
    colOf: (k: number) => number,
    order: number[],
  ) => {
    const ptr = new Int32Array(rows + 1);
    for (const k of order) ptr[rowOf(k) + 1]++;
    for (let r = 0; r < rows; r++) ptr[r + 1] += ptr[r];
    const fill = ptr.slice(0, rows);
    const col = new Int32Array(order.length);
    const val = new Float64Array(order.length);
    for (const k of order) {
      const p = fill[rowOf(k)]++;
      col[p] = colOf(k);
      val[p] = pairs.get(k) as number;
    }
    return { rows, ptr, col, val };
  };
  const userOf = (k: number) => Math.floor(k / table.items);
  const itemOf = (k: number) => k % table.items;
  return {
    byUser: toRows(table.users, userOf, itemOf, keys),
    byItem: toRows(table.items, itemOf, userOf, keys),
  };
}

/**
 * Solves A x = b in place for a symmetric positive definite d x d matrix A (row-major), by Cholesky
 * (A = L L^T, L stored in A's lower triangle); the solution overwrites b.
 */
export function choleskySolve(a: Float64Array, b: Float64Array, d: number): void {
  for (let j = 0; j < d; j++) {
    let s = a[j * d + j];
    for (let k = 0; k < j; k++) s -= a[j * d + k] * a[j * d + k];
    if (!(s > 0)) throw new RangeError(`a: expected a positive definite matrix, pivot ${j} is ${s}`);
    const ljj = Math.sqrt(s);
    a[j * d + j] = ljj;
    for (let i = j + 1; i < d; i++) {
      let t = a[i * d + j];
      for (let k = 0; k < j; k++) t -= a[i * d + k] * a[j * d + k];
      a[i * d + j] = t / ljj;
    }
  }
  for (let i = 0; i < d; i++) {
    let t = b[i];
    for (let k = 0; k < i; k++) t -= a[i * d + k] * b[k];
    b[i] = t / a[i * d + i];
  }
  for (let i = d - 1; i >= 0; i--) {
    let t = b[i];
    for (let k = i + 1; k < d; k++) t -= a[k * d + i] * b[k];
    b[i] = t / a[i * d + i];
  }
}

/** G^T G of an n x d row-major matrix. */
function gram(g: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(d * d);
  for (let r = 0; r < n; r++) {
    const o = r * d;
    for (let a = 0; a < d; a++) {
      const x = g[o + a];
      if (x === 0) continue;
      for (let b = a; b < d; b++) out[a * d + b] += x * g[o + b];
    }
  }
  for (let a = 0; a < d; a++) for (let b = 0; b < a; b++) out[a * d + b] = out[b * d + a];
  return out;
}

/** Solves every row of `x` with the other side `g` fixed (one half-sweep). */
export function solveSide(
  x: Float64Array,
  g: Float64Array,
  gRows: number,
  obs: SparseRows,
  d: number,
  w: number,
  lambda: number,
): void {
  const base = gram(g, gRows, d);
  for (let i = 0; i < d * d; i++) base[i] *= w;
  for (let i = 0; i < d; i++) base[i * d + i] += lambda;
  const a = new Float64Array(d * d);
  const b = new Float64Array(d);
  for (let r = 0; r < obs.rows; r++) {
    a.set(base);
    b.fill(0);
    for (let p = obs.ptr[r]; p < obs.ptr[r + 1]; p++) {
      const o = obs.col[p] * d;
      const v = obs.val[p];
      for (let i = 0; i < d; i++) {
        const gi = g[o + i];
        if (v !== 0) b[i] += v * gi;
        const s = (1 - w) * gi;
        for (let j = i; j < d; j++) a[i * d + j] += s * g[o + j];
      }
    }
    for (let i = 0; i < d; i++) for (let j = 0; j < i; j++) a[i * d + j] = a[j * d + i];
    choleskySolve(a, b, d);
    x.set(b, r * d);
  }
}

/** The weighted loss L(U, V) exactly, using sum_all (u.v)^2 = <U^T U, V^T V>. */
export function weightedLoss(
  u: Float64Array,
  v: Float64Array,
  byUser: SparseRows,
  items: number,
  d: number,
  w: number,
  lambda: number,
): number {
  let obsErr = 0;
  let obsSq = 0;
  for (let r = 0; r < byUser.rows; r++) {
    for (let p = byUser.ptr[r]; p < byUser.ptr[r + 1]; p++) {
      let dot = 0;
      const ou = r * d;
      const ov = byUser.col[p] * d;
      for (let k = 0; k < d; k++) dot += u[ou + k] * v[ov + k];
      obsErr += (byUser.val[p] - dot) ** 2;
      obsSq += dot * dot;
    }
  }
  const gu = gram(u, byUser.rows, d);
  const gv = gram(v, items, d);
  let all = 0;
  for (let i = 0; i < d * d; i++) all += gu[i] * gv[i];
  let reg = 0;
  for (const x of u) reg += x * x;
  for (const x of v) reg += x * x;
  return obsErr + w * (all - obsSq) + lambda * reg;
}

export interface WalsModel {
  dim: number;
  users: number;
  items: number;
  userFactors: Float64Array;
  itemFactors: Float64Array;
  /** Loss after initialisation, then after each sweep. */
  losses: number[];
}

/** Fits U and V by WALS on the observed feedback of a training table. */
export function trainWals(table: InteractionTable, options: WalsOptions = {}): WalsModel {
  const d = options.dim ?? 32;
  const w = options.unobservedWeight ?? 0.05;
  const lambda = options.lambda ?? 0.5;
  const sweeps = options.sweeps ?? 10;
  if (!Number.isInteger(d) || d < 1) throw new RangeError(`dim: expected an integer >= 1, got ${d}`);
  if (!(w > 0 && w <= 1)) throw new RangeError(`unobservedWeight: expected in (0, 1], got ${w}`);
  if (!(lambda > 0)) throw new RangeError(`lambda: expected > 0, got ${lambda}`);
  if (!Number.isInteger(sweeps) || sweeps < 1)
    throw new RangeError(`sweeps: expected an integer >= 1, got ${sweeps}`);
  const { byUser, byItem } = feedbackMatrix(table);
  const rng = createRng(options.seed ?? 0).fork('wals-init');
  const u = new Float64Array(table.users * d);
  const v = new Float64Array(table.items * d);
  const scale = 0.1 / Math.sqrt(d);
  for (let i = 0; i < u.length; i++) u[i] = rng.normal(0, scale);
  for (let i = 0; i < v.length; i++) v[i] = rng.normal(0, scale);
  const losses = [weightedLoss(u, v, byUser, table.items, d, w, lambda)];
  for (let s = 1; s <= sweeps; s++) {
    solveSide(u, v, table.items, byUser, d, w, lambda);
    solveSide(v, u, table.users, byItem, d, w, lambda);
    const loss = weightedLoss(u, v, byUser, table.items, d, w, lambda);
    losses.push(loss);
    options.onSweep?.(s, loss);
  }
  return { dim: d, users: table.users, items: table.items, userFactors: u, itemFactors: v, losses };
}

/** Scores by the dot product of user and video factors. */
export function walsRecommender(model: WalsModel): Recommender {
  const d = model.dim;
  return {
    id: 'wals',
    scoreUser(user, out) {
      const u = model.userFactors.subarray(user * d, user * d + d);
      for (let i = 0; i < model.items; i++) {
        let s = 0;
        const o = i * d;
        for (let k = 0; k < d; k++) s += u[k] * model.itemFactors[o + k];
        out[i] = s;
      }
    },
  };
}

export function fitWals(data: TrainingData, options: WalsOptions = {}): Recommender {
  return walsRecommender(trainWals(data.table, options));
}

/** The models of this module as comparable implementations. */
export const MODELS: readonly RecommenderSpec[] = [
  {
    id: 'wals',
    title: 'Matrix factorisation, weighted loss, WALS (d = 32, W = 0.05)',
    role: 'alternative',
    fit: (data) => fitWals(data),
  },
];
