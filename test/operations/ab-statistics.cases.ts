import { normalCdf, regularizedIncompleteBeta, studentTTwoSidedP, summarize, twoProportionZTest, welchTTest } from '../../lib/operations/ab-statistics';

// Reference values: worked by hand where noted, otherwise from scipy 1.17.1 (scipy.stats.norm, t, beta,
// ttest_ind(equal_var=False)) in this repository's .venv, rounded as written.

describe('two-proportion z-test', () => {
  test('30 errors in 1000 invocations (A) vs 50 in 1000 (B), worked by hand', () => {
    // pooled p = 80/2000 = 0.04; se = sqrt(0.04 * 0.96 * (1/1000 + 1/1000)) = 0.0087636;
    // z = (0.05 - 0.03) / 0.0087636 = 2.28218; p = 2 * (1 - Phi(2.28218)) = 0.022479
    const r = twoProportionZTest(30, 1000, 50, 1000);
    expect(r.rateA).toBeCloseTo(0.03, 12);
    expect(r.rateB).toBeCloseTo(0.05, 12);
    expect(r.difference).toBeCloseTo(0.02, 12);
    expect(r.statistic).toBeCloseTo(2.2821773229, 6);
    expect(r.pValue).toBeCloseTo(0.0224788734, 6);
    expect(r).toEqual(expect.objectContaining({ nA: 1000, nB: 1000, significant: true, alpha: 0.05, test: 'two-proportion z-test' }));
  });

  test('the same rates are not significant at alpha 0.01', () => {
    expect(twoProportionZTest(30, 1000, 50, 1000, 0.01).significant).toBe(false);
  });

  test('equal rates give z = 0 and p = 1; zero errors on both sides too', () => {
    expect(twoProportionZTest(10, 500, 10, 500)).toEqual(expect.objectContaining({ statistic: 0, pValue: 1, significant: false }));
    expect(twoProportionZTest(0, 500, 0, 800)).toEqual(expect.objectContaining({ statistic: 0, pValue: 1 }));
  });

  test.each([
    [[5, 0, 1, 10], /nA: got 0; allowed: a whole number > 0/],
    [[11, 10, 1, 10], /eventsA: got 11; allowed: a whole number from 0 to nA \(10\)/],
    [[1, 10, -1, 10], /eventsB: got -1/],
    [[1, 10, 1, 10.5], /nB: got 10.5/],
  ])('rejects %j', (args, message) => {
    expect(() => twoProportionZTest(...(args as [number, number, number, number]))).toThrow(message);
  });
});

describe("Welch's t-test", () => {
  const a = [120, 131, 118, 140, 125, 133, 129, 122];
  const b = [138, 142, 150, 129, 147, 139, 151];

  test('latency samples of two variants, against scipy ttest_ind(b, a, equal_var=False)', () => {
    const r = welchTTest(summarize(a), summarize(b));
    expect(r.statistic).toBeCloseTo(3.8189181196, 6);
    expect(r.degreesOfFreedom).toBeCloseTo(12.5288068164, 6);
    expect(r.pValue).toBeCloseTo(0.0022684606, 7);
    expect(r).toEqual(expect.objectContaining({ nA: 8, nB: 7, significant: true }));
    expect(r.meanA).toBeCloseTo(127.25, 12);
  });

  test('summaries by hand: mean and unbiased variance', () => {
    expect(summarize([2, 4, 4, 4, 5, 5, 7, 9])).toEqual({ n: 8, mean: 5, variance: 32 / 7 });
  });

  test('identical constant samples: no difference; different constants: certain difference', () => {
    expect(welchTTest({ n: 5, mean: 3, variance: 0 }, { n: 5, mean: 3, variance: 0 }).pValue).toBe(1);
    expect(welchTTest({ n: 5, mean: 3, variance: 0 }, { n: 5, mean: 4, variance: 0 }).pValue).toBe(0);
  });

  test.each([
    [{ n: 1, mean: 1, variance: 1 }, /sample A.n: got 1; allowed: a whole number >= 2/],
    [{ n: 5, mean: NaN, variance: 1 }, /sample A.mean: got NaN/],
    [{ n: 5, mean: 1, variance: -1 }, /sample A.variance: got -1/],
  ])('rejects %j', (sample, message) => {
    expect(() => welchTTest(sample, { n: 5, mean: 1, variance: 1 })).toThrow(message);
  });

  test('rejects an alpha outside (0, 1)', () => {
    expect(() => welchTTest(summarize(a), summarize(b), 1.5)).toThrow(/alpha: got 1.5; allowed: a number between 0 and 1/);
  });
});

describe('distribution functions', () => {
  test.each([
    [1.96, 0.9750021049],
    [-3.1, 0.0009676032],
    [0, 0.5],
  ])('Phi(%d) = %d', (x, expected) => {
    expect(normalCdf(x)).toBeCloseTo(expected, 6);
  });

  test.each([
    [2.5, 3, 0.087706647],
    [-1.9, 7.3, 0.0974850688],
  ])('two-sided Student t p(t=%d, df=%d) = %d', (t, df, expected) => {
    expect(studentTTwoSidedP(t, df)).toBeCloseTo(expected, 7);
  });

  test('regularized incomplete beta I_0.3(2.5, 0.5)', () => {
    expect(regularizedIncompleteBeta(0.3, 2.5, 0.5)).toBeCloseTo(0.0189271241, 8);
  });
});
