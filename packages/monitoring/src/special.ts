/**
 * Special functions the drift tests need for their p-values: log-gamma, the regularized incomplete
 * gamma functions (chi-square and normal tails) and the Kolmogorov distributions. Written here
 * because @mlsd/metrics has no distribution functions and a statistics dependency for three
 * functions is not worth its weight.
 */

const LANCZOS_G = 7;
const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** log Γ(x) for x > 0 (Lanczos approximation, relative error around 1e-15). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const xm = x - 1;
  let a = LANCZOS[0];
  const t = xm + LANCZOS_G + 0.5;
  for (let i = 1; i < LANCZOS.length; i++) a += LANCZOS[i] / (xm + i);
  return 0.5 * Math.log(2 * Math.PI) + (xm + 0.5) * Math.log(t) - t + Math.log(a);
}

const EPS = 1e-16;
const TINY = 1e-300;

/** Lower regularized gamma P(a, x) by its power series; converges fast for x < a + 1. */
function gammaPSeries(a: number, x: number): number {
  let sum = 1 / a;
  let term = sum;
  for (let n = 1; n < 10000; n++) {
    term *= x / (a + n);
    sum += term;
    if (Math.abs(term) < Math.abs(sum) * EPS) break;
  }
  return sum * Math.exp(-x + a * Math.log(x) - logGamma(a));
}

/** Upper regularized gamma Q(a, x) by Lentz's continued fraction; converges fast for x >= a + 1. */
function gammaQContinuedFraction(a: number, x: number): number {
  let b = x + 1 - a;
  let c = 1 / TINY;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < TINY) d = TINY;
    c = b + an / c;
    if (Math.abs(c) < TINY) c = TINY;
    d = 1 / d;
    const delta = d * c;
    h *= delta;
    if (Math.abs(delta - 1) < EPS) break;
  }
  return Math.exp(-x + a * Math.log(x) - logGamma(a)) * h;
}

/** Upper regularized incomplete gamma Q(a, x) = Γ(a, x) / Γ(a). */
export function gammaQ(a: number, x: number): number {
  if (x <= 0) return 1;
  if (!Number.isFinite(x)) return 0;
  return x < a + 1 ? 1 - gammaPSeries(a, x) : gammaQContinuedFraction(a, x);
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
