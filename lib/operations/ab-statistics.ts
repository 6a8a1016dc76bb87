/**
 * Significance tests for A/B results between two production variants: a two-proportion z-test for rates
 * (errors per invocation) and Welch's t-test for means with unequal variances (latency, feedback scores).
 * Pure functions, no dependencies: the operations Lambdas and the CLI share them.
 */

/** What every test reports: the effect, both sample sizes, the statistic and the two-sided p-value. */
export interface TestResult {
  readonly test: 'two-proportion z-test' | "Welch's t-test";
  readonly nA: number;
  readonly nB: number;
  /** B minus A, in the unit of the compared quantity. */
  readonly difference: number;
  readonly statistic: number;
  readonly pValue: number;
  /** pValue < alpha. */
  readonly significant: boolean;
  readonly alpha: number;
}

export interface ProportionResult extends TestResult {
  readonly rateA: number;
  readonly rateB: number;
}

export interface MeanResult extends TestResult {
  readonly meanA: number;
  readonly meanB: number;
  readonly degreesOfFreedom: number;
}

/** Summary of one sample: size, mean and unbiased variance. */
export interface SampleSummary {
  readonly n: number;
  readonly mean: number;
  readonly variance: number;
}

function check(condition: boolean, message: string): void {
  if (!condition) throw new RangeError(message);
}

function checkAlpha(alpha: number): void {
  check(alpha > 0 && alpha < 1, `alpha: got ${alpha}; allowed: a number between 0 and 1`);
}

/**
 * Two-sided two-proportion z-test with the pooled proportion, for `eventsA` of `nA` against `eventsB`
 * of `nB` (e.g. errors per invocation). Valid when each group has at least ~5 events and non-events.
 */
export function twoProportionZTest(eventsA: number, nA: number, eventsB: number, nB: number, alpha = 0.05): ProportionResult {
  checkAlpha(alpha);
  for (const [name, events, n] of [['A', eventsA, nA], ['B', eventsB, nB]] as const) {
    check(Number.isInteger(n) && n > 0, `n${name}: got ${n}; allowed: a whole number > 0`);
    check(Number.isInteger(events) && events >= 0 && events <= n, `events${name}: got ${events}; allowed: a whole number from 0 to n${name} (${n})`);
  }
  const rateA = eventsA / nA;
  const rateB = eventsB / nB;
  const pooled = (eventsA + eventsB) / (nA + nB);
  const se = Math.sqrt(pooled * (1 - pooled) * (1 / nA + 1 / nB));
  // Identical all-or-nothing rates carry no evidence of a difference.
  const z = se === 0 ? 0 : (rateB - rateA) / se;
  const pValue = Math.min(1, erfc(Math.abs(z) / Math.SQRT2));
  return { test: 'two-proportion z-test', nA, nB, rateA, rateB, difference: rateB - rateA, statistic: z, pValue, significant: pValue < alpha, alpha };
}

/** Welch's two-sided t-test from two samples' summaries (unequal variances, Welch–Satterthwaite df). */
export function welchTTest(a: SampleSummary, b: SampleSummary, alpha = 0.05): MeanResult {
  checkAlpha(alpha);
  for (const [name, s] of [['A', a], ['B', b]] as const) {
    check(Number.isInteger(s.n) && s.n >= 2, `sample ${name}.n: got ${s.n}; allowed: a whole number >= 2`);
    check(Number.isFinite(s.mean), `sample ${name}.mean: got ${s.mean}; allowed: a finite number`);
    check(Number.isFinite(s.variance) && s.variance >= 0, `sample ${name}.variance: got ${s.variance}; allowed: a finite number >= 0`);
  }
  const va = a.variance / a.n;
  const vb = b.variance / b.n;
  const se = Math.sqrt(va + vb);
  const difference = b.mean - a.mean;
  if (se === 0) {
    const pValue = difference === 0 ? 1 : 0;
    return { test: "Welch's t-test", nA: a.n, nB: b.n, meanA: a.mean, meanB: b.mean, difference, statistic: difference === 0 ? 0 : Math.sign(difference) * Infinity, degreesOfFreedom: a.n + b.n - 2, pValue, significant: pValue < alpha, alpha };
  }
  const t = difference / se;
  const df = (va + vb) ** 2 / (va ** 2 / (a.n - 1) + vb ** 2 / (b.n - 1));
  const pValue = studentTTwoSidedP(t, df);
  return { test: "Welch's t-test", nA: a.n, nB: b.n, meanA: a.mean, meanB: b.mean, difference, statistic: t, degreesOfFreedom: df, pValue, significant: pValue < alpha, alpha };
}

/** n, mean and unbiased variance of raw observations. */
export function summarize(values: readonly number[]): SampleSummary {
  check(values.length >= 2, `values: got ${values.length} observations; allowed: at least 2`);
  check(values.every(Number.isFinite), 'values: every observation must be a finite number');
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / n;
  const variance = values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1);
  return { n, mean, variance };
}

/** Standard normal CDF through erfc (|error| < 1.2e-7, Numerical Recipes' Chebyshev fit). */
export function normalCdf(x: number): number {
  return 0.5 * erfc(-x / Math.SQRT2);
}

function erfc(x: number): number {
  const z = Math.abs(x);
  const t = 1 / (1 + 0.5 * z);
  const r =
    t *
    Math.exp(
      -z * z -
        1.26551223 +
        t * (1.00002368 + t * (0.37409196 + t * (0.09678418 + t * (-0.18628806 + t * (0.27886807 + t * (-1.13520398 + t * (1.48851587 + t * (-0.82215223 + t * 0.17087277)))))))),
    );
  return x >= 0 ? r : 2 - r;
}

/** P(|T| >= |t|) for Student's t with `df` degrees of freedom: the regularized incomplete beta I_x(df/2, 1/2). */
export function studentTTwoSidedP(t: number, df: number): number {
  check(df > 0, `df: got ${df}; allowed: a number > 0`);
  if (!Number.isFinite(t)) return 0;
  return regularizedIncompleteBeta(df / (df + t * t), df / 2, 0.5);
}

/** I_x(a, b) by Lentz's continued fraction, using the symmetry relation where it converges faster. */
export function regularizedIncompleteBeta(x: number, a: number, b: number): number {
  check(x >= 0 && x <= 1, `x: got ${x}; allowed: 0 to 1`);
  if (x === 0 || x === 1) return x;
  const front = Math.exp(logGamma(a + b) - logGamma(a) - logGamma(b) + a * Math.log(x) + b * Math.log(1 - x));
  return x < (a + 1) / (a + b + 2) ? (front * betaContinuedFraction(x, a, b)) / a : 1 - (front * betaContinuedFraction(1 - x, b, a)) / b;
}

function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  d = Math.abs(d) < tiny ? tiny : d;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 300; m++) {
    const m2 = 2 * m;
    for (const aa of [(m * (b - m) * x) / ((a + m2 - 1) * (a + m2)), (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1))]) {
      d = 1 + aa * d;
      d = Math.abs(d) < tiny ? tiny : d;
      c = 1 + aa / c;
      c = Math.abs(c) < tiny ? tiny : c;
      d = 1 / d;
      h *= d * c;
    }
    if (Math.abs(d * c - 1) < 1e-15) break;
  }
  return h;
}

/** ln Γ(x) for x > 0 (Lanczos, g = 7, 9 terms; relative error ~1e-15). */
export function logGamma(x: number): number {
  const g = [
    0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059, 12.507343278686905,
    -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
  ];
  if (x < 0.5) return Math.log(Math.PI / Math.sin(Math.PI * x)) - logGamma(1 - x);
  const y = x - 1;
  let sum = g[0];
  for (let i = 1; i < 9; i++) sum += g[i] / (y + i);
  const t = y + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (y + 0.5) * Math.log(t) - t + Math.log(sum);
}
