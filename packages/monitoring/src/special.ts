/**
 * Special functions the drift tests need for their p-values: chi-square and normal tails (from the
 * regularized incomplete gamma of @mlsd/metrics) and the Kolmogorov distributions.
 */

import { upperGamma } from '@mlsd/metrics';

/** Upper regularized incomplete gamma Q(a, x) = Γ(a, x) / Γ(a), from @mlsd/metrics (1 for x <= 0, 0 for x not finite). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (!Number.isFinite(x)) return 0;
  return upperGamma(a, x);
}

/** Survival function of the chi-square distribution with `df` degrees of freedom. */
export function chiSquareSf(x: number, df: number): number {
  return gammaQ(df / 2, x / 2);
}

/** Two-sided normal tail 2·P(Z > |z|) = erfc(|z|/√2), via Q(1/2, z²/2). */
export function normalTwoSidedP(z: number): number {
  if (Number.isNaN(z)) return Number.NaN;
  return gammaQ(0.5, (z * z) / 2);
}

/**
 * Exact P(D ≥ h/lcm) of the two-sample two-sided KS statistic for n1 = n2 = n (Hodges' reflection
 * sum, evaluated Horner-style so the alternating terms do not cancel).
 */
export function ksExactEqualSizes(n: number, h: number): number {
  let p = 0;
  for (let k = Math.floor(n / h); k >= 0; k--) {
    let term = 1;
    for (let j = 0; j < h; j++) term = ((n - k * h - j) * term) / (n + k * h + j + 1);
    p = term * (1 - p);
  }
  return 2 * p;
}

/**
 * Exact P(D ≥ h/lcm) for unequal sizes: lattice paths from (0,0) to (m,n) that leave the band
 * |x/m − y/n| < h/lcm, by Hodges' inside method carried as a proportion of paths that already left
 * (Viehmann 2021), which stays in [0, 1] and needs no huge binomials. O(m·n) time, O(n) memory.
 */
export function ksExactUnequalSizes(n1: number, n2: number, g: number, h: number): number {
  const m = Math.max(n1, n2);
  const n = Math.min(n1, n2);
  const mg = m / g;
  const ng = n / g;
  let minj = 0;
  let maxj = Math.min(Math.ceil(h / mg), n + 1);
  let curlen = maxj - minj;
  const lenA = Math.min(2 * maxj + 2, n + 1);
  // Column of the path table: 1 = all paths to this point already left the band, 0 = none did.
  // The window only moves up, so a column can be updated in place from low j to high j.
  const a = new Float64Array(Math.max(lenA, n + 2)).fill(1);
  for (let j = minj; j < maxj; j++) a[j] = 0;
  for (let i = 1; i <= m; i++) {
    const lastminj = minj;
    const lastlen = curlen;
    minj = Math.min(Math.max(Math.floor((ng * i - h) / mg) + 1, 0), n);
    maxj = Math.min(Math.ceil((ng * i + h) / mg), n + 1);
    if (maxj <= minj) return 1;
    let val = minj === 0 ? 0 : 1;
    for (let jj = 0; jj < maxj - minj; jj++) {
      const j = jj + minj;
      val = (a[jj + minj - lastminj] * i + val * j) / (i + j);
      a[jj] = val;
    }
    curlen = maxj - minj;
    if (lastlen > curlen) a.fill(1, maxj - minj, maxj - minj + (lastlen - curlen));
  }
  return a[maxj - minj - 1];
}

const PI2 = Math.PI * Math.PI;
const SQRT2PI = Math.sqrt(2 * Math.PI);

/**
 * Pelz-Good approximation of the one-sample two-sided Kolmogorov CDF P(D_n ≤ x), accurate for the
 * large n at which the two-sample test switches to its asymptotic mode.
 */
export function kolmogorovCdfPelzGood(n: number, x: number): number {
  if (x <= 0) return 0;
  if (x >= 1) return 1;
  const z = Math.sqrt(n) * x;
  const z2 = z * z;
  const z4 = z2 * z2;
  const z6 = z4 * z2;
  const qlog = -PI2 / 8 / z2;
  if (qlog < -708) return 0;
  let q = Math.exp(qlog);
  const k1a = -z2;
  const k1b = PI2 / 4;
  const k2a = 6 * z6 + 2 * z4;
  const k2b = ((2 * z4 - 5 * z2) * PI2) / 4;
  const k2c = (PI2 * PI2 * (1 - 2 * z2)) / 16;
  const k3d = (PI2 * PI2 * PI2 * (5 - 30 * z2)) / 64;
  const k3c = (PI2 * PI2 * (-60 * z2 + 212 * z4)) / 16;
  const k3b = (PI2 * (135 * z4 - 96 * z6)) / 4;
  const k3a = -30 * z6 - 90 * z4 * z4;
  const k = [0, 0, 0, 0];
  const maxk = Math.ceil((16 * z) / Math.PI);
  for (let kk = maxk; kk > 0; kk--) {
    const m = 2 * kk - 1;
    const m2 = m * m;
    const qp = q ** (8 * kk);
    k[0] = k[0] * qp + 1;
    k[1] = k[1] * qp + (k1a + k1b * m2);
    k[2] = k[2] * qp + (k2a + k2b * m2 + k2c * m2 * m2);
    k[3] = k[3] * qp + (k3a + k3b * m2 + k3c * m2 * m2 + k3d * m2 * m2 * m2);
  }
  const denom = [z, 6 * z4, 72 * z4 * z2 * z, 6480 * z4 * z6];
  for (let i = 0; i < 4; i++) k[i] = (k[i] * q * SQRT2PI) / denom[i];
  q = Math.exp(-PI2 / 2 / z2);
  let k2extra = 0;
  let k3extra = 0;
  const s3z = Math.sqrt(3) * z;
  for (let kk = maxk; kk > 0; kk--) {
    const kpi = Math.PI * kk;
    const qp = q ** (kk * kk);
    k2extra += kk * kk * qp;
    k3extra += (s3z + kpi) * (s3z - kpi) * kk * kk * qp;
  }
  k[2] += (k2extra * PI2 * SQRT2PI) / (-36 * z2 * z);
  k[3] += (k3extra * PI2 * SQRT2PI) / (216 * z6);
  return k[0] + k[1] / Math.sqrt(n) + k[2] / n + k[3] / (n * Math.sqrt(n));
}

export function gcd(a: number, b: number): number {
  while (b) [a, b] = [b, a % b];
  return a;
}
