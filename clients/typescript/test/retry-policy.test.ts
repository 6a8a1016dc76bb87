import { ApiError, DEFAULT_RETRY, InferenceClient, parseRetryAfter, RetryOptions, retryWait, TransportError } from '../src';

/**
 * The retry policy of api/vectors/README.md beyond what the vectors reach: Retry-After as an HTTP date, full
 * jitter's bounds, the backoff's cap, maxWaitSeconds against either wait, and what is not retried.
 */

const BASE_URL = 'https://api.example.test/v1/';

/** A problem response as the API sends it. */
function problem(code: string, status: number, retryable: boolean, extra: { retryAfterSeconds?: number; headers?: Record<string, string> } = {}): Response {
  const body = { type: `urn:fmft:problem:${code}`, title: code, status, detail: `a ${code}`, retryable, ...(extra.retryAfterSeconds === undefined ? {} : { retryAfterSeconds: extra.retryAfterSeconds }) };
  return new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/problem+json', ...extra.headers } });
}

const OK = () => new Response(JSON.stringify({ models: [] }), { status: 200, headers: { 'content-type': 'application/json' } });

/** A client whose fetch answers `answers` in turn (a function throws or answers), recording the waits. */
function scripted(answers: readonly (() => Response)[], options: { retry?: RetryOptions; random?: () => number } = {}) {
  const waits: number[] = [];
  let attempts = 0;
  const client = new InferenceClient({
    baseUrl: BASE_URL,
    apiKey: 'key',
    retry: { jitter: 'none', ...options.retry },
    ...(options.random ? { random: options.random } : {}),
    sleep: async (seconds) => {
      waits.push(seconds);
    },
    fetch: async () => {
      const answer = answers[attempts++];
      if (!answer) throw new Error(`no answer scripted for attempt ${attempts}`);
      return answer();
    },
  });
  return { client, waits, attempts: () => attempts };
}

const refused = (): Response => {
  throw new TypeError('fetch failed', { cause: Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }) });
};

describe('parseRetryAfter', () => {
  const now = Date.parse('2026-05-01T12:00:00Z');
  test.each([
    ['7', 7],
    [' 0 ', 0],
    ['Fri, 01 May 2026 12:00:42 GMT', 42],
    ['Fri, 01 May 2026 11:59:00 GMT', 0],
    ['Friday, 01-May-26 12:00:05 GMT', 5],
    ['Fri May  1 12:01:00 2026', 60],
    ['1.5', undefined],
    ['soon', undefined],
    ['-3', undefined],
    [undefined, undefined],
    [null, undefined],
  ] as const)('%p -> %p', (header, seconds) => {
    expect(parseRetryAfter(header, now)).toBe(seconds);
  });
});

describe('retryWait', () => {
  const policy = { ...DEFAULT_RETRY, jitter: 'none' as const };
  const throttled = new ApiError({ status: 429, problem: { type: 'urn:fmft:problem:throttled', title: 't', status: 429, retryable: true, retryAfterSeconds: 1 } });

  test('is max(backoff, retryAfter): the backoff doubles from baseDelaySeconds up to maxDelaySeconds', () => {
    const capped = { ...policy, baseDelaySeconds: 1, maxDelaySeconds: 3, maxAttempts: 10 };
    expect([1, 2, 3, 4, 5].map((n) => retryWait(throttled, n, capped, Math.random, 0))).toEqual([1, 2, 3, 3, 3]);
  });

  test('full jitter multiplies the backoff by the random factor, never the Retry-After', () => {
    const full = { ...policy, jitter: 'full' as const, baseDelaySeconds: 4, maxDelaySeconds: 8 };
    expect(retryWait(throttled, 1, full, () => 0.5, 0)).toBe(2);
    expect(retryWait(throttled, 1, full, () => 0, 0)).toBe(1);
    expect(retryWait(new TransportError('x', true), 2, full, () => 0, 0)).toBe(0);
  });

  test('is undefined for an error that is not retryable, or once the attempts are used up', () => {
    expect(retryWait(new TransportError('x', false), 1, policy, Math.random, 0)).toBeUndefined();
    expect(retryWait(new Error('bug'), 1, policy, Math.random, 0)).toBeUndefined();
    expect(retryWait(throttled, policy.maxAttempts, policy, Math.random, 0)).toBeUndefined();
  });
});

describe('the client', () => {
  test('waits until the HTTP date of Retry-After', async () => {
    const at = new Date(Date.now() + 10_000).toUTCString();
    const { client, waits } = scripted([() => problem('throttled', 429, true, { retryAfterSeconds: 1, headers: { 'retry-after': at } }), OK]);
    await expect(client.listModels()).resolves.toEqual({ models: [] });
    expect(waits).toHaveLength(1);
    // HTTP dates have whole seconds: the wait is what is left of the 10 s, less the part second cut off.
    expect(waits[0]).toBeGreaterThan(8.5);
    expect(waits[0]).toBeLessThanOrEqual(10);
  });

  test('takes Retry-After over the problem retryAfterSeconds, and the problem value when there is no header', async () => {
    const { client, waits } = scripted([() => problem('model-not-ready', 503, true, { retryAfterSeconds: 30, headers: { 'retry-after': '5' } }), () => problem('model-not-ready', 503, true, { retryAfterSeconds: 4 }), OK]);
    await client.listModels();
    expect(waits).toEqual([5, 4]);
  });

  test('full jitter keeps each backoff in [0, min(maxDelay, base * 2^(n-1)))', async () => {
    const policy: RetryOptions = { jitter: 'full', maxAttempts: 6, baseDelaySeconds: 0.5, maxDelaySeconds: 4 };
    const caps = [0.5, 1, 2, 4, 4];
    for (let run = 0; run < 20; run++) {
      const { client, waits } = scripted([refused, refused, refused, refused, refused, OK], { retry: policy });
      await client.listModels();
      expect(waits).toHaveLength(5);
      waits.forEach((wait, i) => {
        expect(wait).toBeGreaterThanOrEqual(0);
        expect(wait).toBeLessThan(caps[i]);
      });
    }
  });

  test('full jitter takes its factor from the injected random', async () => {
    const { client, waits } = scripted([refused, refused, OK], { retry: { jitter: 'full' }, random: () => 0.25 });
    await client.listModels();
    expect(waits).toEqual([0.125, 0.25]);
  });

  test('does not wait longer than maxWaitSeconds: a longer Retry-After raises the error at once', async () => {
    const { client, waits, attempts } = scripted([() => problem('throttled', 429, true, { headers: { 'retry-after': '31' } })]);
    const error = await client.listModels().catch((e: unknown) => e);
    expect(error).toBeInstanceOf(ApiError);
    expect((error as ApiError).code).toBe('throttled');
    expect(waits).toEqual([]);
    expect(attempts()).toBe(1);
  });

  test('does not wait longer than maxWaitSeconds: nor a longer backoff', async () => {
    const { client, waits, attempts } = scripted([refused, refused, refused], { retry: { baseDelaySeconds: 20, maxDelaySeconds: 100, maxWaitSeconds: 30, maxAttempts: 3 } });
    await expect(client.listModels()).rejects.toBeInstanceOf(TransportError);
    expect(waits).toEqual([20]);
    expect(attempts()).toBe(2);
  });

  test('a wait of exactly maxWaitSeconds is waited', async () => {
    const { client, waits } = scripted([() => problem('throttled', 429, true, { headers: { 'retry-after': '30' } }), OK]);
    await client.listModels();
    expect(waits).toEqual([30]);
  });

  test.each([502, 503, 504])('retries a %d that is not a problem document (a proxy page)', async (status) => {
    const page = () => new Response('<html>Bad gateway</html>', { status, headers: { 'content-type': 'text/html' } });
    const { client, waits } = scripted([page, OK]);
    await client.listModels();
    expect(waits).toEqual([0.5]);
  });

  test.each([
    ['a 500 page', () => new Response('oops', { status: 500 })],
    ['a 404 page', () => new Response('<html>no</html>', { status: 404, headers: { 'content-type': 'text/html' } })],
    ['a problem that is not retryable, whatever its status', () => problem('internal', 503, false)],
  ])('does not retry %s', async (_name, answer) => {
    const { client, waits, attempts } = scripted([answer, OK]);
    const error = (await client.listModels().catch((e: unknown) => e)) as ApiError;
    expect(error).toBeInstanceOf(ApiError);
    expect(error.retryable).toBe(false);
    expect(waits).toEqual([]);
    expect(attempts()).toBe(1);
  });

  test('retries a connection refused, then raises the last error after maxAttempts', async () => {
    const { client, waits, attempts } = scripted([refused, refused, refused]);
    const error = (await client.listModels().catch((e: unknown) => e)) as TransportError;
    expect(error).toBeInstanceOf(TransportError);
    expect(error.retryable).toBe(true);
    expect(error.message).toMatch(/ECONNREFUSED/);
    expect(waits).toEqual([0.5, 1]);
    expect(attempts()).toBe(3);
  });

  test('raises the last error, not the first', async () => {
    const { client } = scripted([() => problem('model-timeout', 504, true, { retryAfterSeconds: 1 }), () => problem('model-throttled', 429, true, { retryAfterSeconds: 2 }), () => problem('model-not-ready', 503, true, { retryAfterSeconds: 3 })]);
    await expect(client.listModels()).rejects.toMatchObject({ code: 'model-not-ready', status: 503 });
  });

  test('maxAttempts 1 turns retries off', async () => {
    const { client, waits, attempts } = scripted([refused], { retry: { maxAttempts: 1 } });
    await expect(client.listModels()).rejects.toBeInstanceOf(TransportError);
    expect(waits).toEqual([]);
    expect(attempts()).toBe(1);
  });
});
