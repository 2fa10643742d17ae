import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, afterEach, beforeAll, describe, expect, it, vi } from 'vitest';
import { CircuitBreaker, GuardRefusal, ProviderGuard, ProviderGuards, type ProviderLimits } from '../../src/providers/guard.js';
import { ProviderCallError, ProviderHttpClient, type RetryClock } from '../../src/providers/http.js';

const BREAKER = { failureThreshold: 3, cooldownMs: 5_000, maxCooldownMs: 20_000, jitter: 0 };
const LIMITS: ProviderLimits = { concurrency: 2, perSecond: Number.POSITIVE_INFINITY, ...BREAKER };

/** A clock a test moves by hand. */
const manualClock = (start = Date.parse('2026-03-01T12:00:00Z')) => {
  let now = start;
  return { now: () => now, advance: (ms: number) => void (now += ms) };
};

/** A call that a test settles by hand. */
function deferred<T = string>() {
  let resolve!: (value: T) => void;
  let reject!: (error: unknown) => void;
  const promise = new Promise<T>((res, rej) => {
    resolve = res;
    reject = rej;
  });
  return { promise, resolve, reject };
}

const outage = () => new ProviderCallError('GUUSTO', 'unknown', 'GUUSTO answered HTTP 503', 503);
const refusal = () => new ProviderCallError('GUUSTO', 'rejected', 'no such order', 404);
const isOutage = (error: unknown) => !(error instanceof ProviderCallError) || error.status === undefined || error.status === 429 || error.status >= 500;
const fail = (breaker: CircuitBreaker) => breaker.failed(breaker.admit());

describe('a circuit breaker', () => {
  it('opens after the threshold of outage failures in a row, and refuses until the cooldown is over', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker('GUUSTO', { ...BREAKER, now: clock.now });
    fail(breaker);
    fail(breaker);
    expect(breaker.health()).toEqual({ state: 'CLOSED', failures: 2, openedAt: null, retryAt: null });
    fail(breaker);
    const opened = clock.now();
    expect(breaker.health()).toEqual({ state: 'OPEN', failures: 3, openedAt: opened, retryAt: opened + 5_000 });

    clock.advance(1_000);
    let refused: unknown;
    try {
      breaker.admit();
    } catch (error) {
      refused = error;
    }
    expect(refused).toBeInstanceOf(GuardRefusal);
    expect(refused).toMatchObject({ reason: 'circuit-open', retryAfterMs: 4_000 });
    expect((refused as Error).message).toBe(`GUUSTO is failing; calls are paused until ${new Date(opened + 5_000).toISOString()}`);
    expect(() => breaker.check()).toThrow(GuardRefusal);
  });

  it('counts only failures in a row: any answer, a refusal included, starts the count again', async () => {
    const guard = new ProviderGuard('GUUSTO', LIMITS, { now: manualClock().now });
    const run = (result: () => Promise<string>) => guard.run(result, { maxWaitMs: 1_000, isOutage }).catch(() => 'failed');
    await run(() => Promise.reject(outage()));
    await run(() => Promise.reject(outage()));
    await run(() => Promise.reject(refusal()));
    await run(() => Promise.reject(outage()));
    await run(() => Promise.reject(outage()));
    expect(guard.breaker.health()).toMatchObject({ state: 'CLOSED', failures: 2 });
    await run(() => Promise.reject(new Error('socket hang up')));
    expect(guard.breaker.health()).toMatchObject({ state: 'OPEN', failures: 3 });
  });

  it('lets one probe through after the cooldown: an answer closes it', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker('GUUSTO', { ...BREAKER, now: clock.now });
    for (let i = 0; i < 3; i++) fail(breaker);
    clock.advance(5_000);
    expect(breaker.health().state).toBe('HALF_OPEN');
    const probe = breaker.admit();
    expect(probe.probe).toBe(true);
    // Only the probe: everyone else is still refused while it is out.
    expect(() => breaker.admit()).toThrow(/calls are paused until a trial call gets an answer/);
    breaker.succeeded(probe);
    expect(breaker.health()).toEqual({ state: 'CLOSED', failures: 0, openedAt: null, retryAt: null });
    expect(breaker.admit().probe).toBe(false);
  });

  it('opens again after a failed probe, each time for twice as long, up to the most', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker('GUUSTO', { ...BREAKER, now: clock.now });
    for (let i = 0; i < 3; i++) fail(breaker);
    const cooldowns: number[] = [];
    for (let round = 0; round < 4; round++) {
      const { openedAt, retryAt } = breaker.health();
      cooldowns.push(retryAt! - openedAt!);
      clock.advance(retryAt! - clock.now());
      fail(breaker);
      expect(breaker.health().state).toBe('OPEN');
    }
    expect(cooldowns).toEqual([5_000, 10_000, 20_000, 20_000]);

    // After it closes, the next opening starts from the first cooldown again.
    clock.advance(breaker.health().retryAt! - clock.now());
    breaker.succeeded(breaker.admit());
    for (let i = 0; i < 3; i++) fail(breaker);
    const { openedAt, retryAt } = breaker.health();
    expect(retryAt! - openedAt!).toBe(5_000);
  });

  it('adds up to the jitter fraction of a cooldown at random', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker('GUUSTO', { ...BREAKER, jitter: 0.2, now: clock.now, random: () => 0.5 });
    for (let i = 0; i < 3; i++) fail(breaker);
    const { openedAt, retryAt } = breaker.health();
    expect(retryAt! - openedAt!).toBe(5_500);
  });

  it('does not let a call sent before it opened decide it afterwards', () => {
    const clock = manualClock();
    const breaker = new CircuitBreaker('GUUSTO', { ...BREAKER, now: clock.now });
    const slow = breaker.admit();
    for (let i = 0; i < 3; i++) fail(breaker);
    breaker.succeeded(slow);
    expect(breaker.health().state).toBe('OPEN');
  });
});

describe('a provider guard', () => {
  afterEach(() => {
    vi.useRealTimers();
  });

  it('holds calls beyond the concurrency cap until a slot frees', async () => {
    const guard = new ProviderGuard('GUUSTO', { ...LIMITS, concurrency: 2 });
    const calls = Array.from({ length: 5 }, () => deferred());
    let started = 0;
    const results = calls.map((call) =>
      guard.run(
        () => {
          started += 1;
          return call.promise;
        },
        { maxWaitMs: 60_000, isOutage },
      ),
    );
    expect(started).toBe(2);
    expect(guard.waiting).toBe(3);
    calls[0]!.resolve('a');
    await results[0];
    await vi.waitFor(() => expect(started).toBe(3));
    for (const call of calls) call.resolve('x');
    await Promise.all(results);
    expect(started).toBe(5);
  });

  it('starts no more calls a second than its rate', async () => {
    vi.useFakeTimers();
    const guard = new ProviderGuard('GUUSTO', { ...LIMITS, concurrency: 10, perSecond: 2 });
    const started: number[] = [];
    const results = Array.from({ length: 5 }, (_, i) =>
      guard.run(
        async () => {
          started.push(i);
          return i;
        },
        { maxWaitMs: 60_000, isOutage },
      ),
    );
    await vi.advanceTimersByTimeAsync(0);
    expect(started).toEqual([0, 1]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(started).toEqual([0, 1, 2, 3]);
    await vi.advanceTimersByTimeAsync(1_000);
    expect(await Promise.all(results)).toEqual([0, 1, 2, 3, 4]);
  });

  it('fails a call unsent when it waited longer than its bound, and never sends it later', async () => {
    vi.useFakeTimers();
    const guard = new ProviderGuard('GUUSTO', { ...LIMITS, concurrency: 1 });
    const first = deferred();
    const running = guard.run(() => first.promise, { maxWaitMs: 500, isOutage });
    let sent = false;
    const waiting = guard.run(
      async () => {
        sent = true;
        return 'late';
      },
      { maxWaitMs: 500, isOutage },
    );
    const outcome = waiting.catch((error: unknown) => error);
    await vi.advanceTimersByTimeAsync(500);
    const error = await outcome;
    expect(error).toBeInstanceOf(GuardRefusal);
    expect(error).toMatchObject({ reason: 'queue-timeout', message: 'GUUSTO is busy: the request waited 500 ms for its turn and was not sent' });
    // The call in flight is not bound by the wait: its own request timeout is.
    await vi.advanceTimersByTimeAsync(10_000);
    first.resolve('done');
    expect(await running).toBe('done');
    await vi.advanceTimersByTimeAsync(0);
    expect(sent).toBe(false);
    expect(guard.waiting).toBe(0);
  });

  it('refuses calls queued before the circuit opened when their turn comes', async () => {
    const clock = manualClock();
    const guard = new ProviderGuard('GUUSTO', { ...LIMITS, concurrency: 1, failureThreshold: 1 }, { now: clock.now });
    const first = deferred();
    const failing = guard.run(() => first.promise, { maxWaitMs: 60_000, isOutage }).catch((error: unknown) => error);
    let sent = false;
    const queued = guard
      .run(
        async () => {
          sent = true;
          return 'sent';
        },
        { maxWaitMs: 60_000, isOutage },
      )
      .catch((error: unknown) => error);
    first.reject(outage());
    expect(await failing).toBeInstanceOf(ProviderCallError);
    expect(await queued).toMatchObject({ reason: 'circuit-open' });
    expect(sent).toBe(false);
  });

  it('is one per provider in a registry, shared by every client that asks for it', () => {
    const guards = new ProviderGuards({ limits: { concurrency: 3 }, perProvider: { GIFTRONAUT: { perSecond: 1 } } });
    expect(guards.for('GIFTRONAUT')).toBe(guards.for('GIFTRONAUT'));
    expect(guards.for('GIFTRONAUT')).not.toBe(guards.for('GOODY'));
    expect(guards.health('ANDOPEN')).toEqual({ state: 'CLOSED', failures: 0, openedAt: null, retryAt: null });
  });
});

describe('the provider HTTP client', () => {
  let server: http.Server;
  let baseUrl = '';
  /** Statuses to answer with, in order; 200 once they run out. */
  let script: number[] = [];
  let hits = 0;

  beforeAll(async () => {
    server = http.createServer((_req, res) => {
      hits += 1;
      const status = script.shift() ?? 200;
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(status === 200 ? '{"ok":true}' : '{"code":"down"}');
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  });
  afterAll(() => new Promise<void>((resolve) => server.close(() => resolve())));

  /** A clock whose sleeps return at once and move its time by what they waited. */
  const steppedClock = () => {
    let now = 0;
    const slept: number[] = [];
    const clock: RetryClock = {
      now: () => now,
      sleep: async (ms) => {
        slept.push(ms);
        now += ms;
      },
    };
    return { clock, slept };
  };

  const client = (clock: RetryClock, extra: Partial<ConstructorParameters<typeof ProviderHttpClient>[0]> = {}) =>
    new ProviderHttpClient({
      provider: 'GUUSTO',
      baseUrl,
      timeoutMs: 2_000,
      headers: () => ({}),
      readError: (_status, body) => ({ code: (body as { code?: string } | null)?.code }),
      retry: { attempts: 3, baseDelayMs: 100, maxDelayMs: 100 },
      clock,
      ...extra,
    });

  it('waits between retries on the clock it is given, not on real time', async () => {
    const { clock, slept } = steppedClock();
    const http = client(clock, { retry: { attempts: 3, baseDelayMs: 4_000, maxDelayMs: 8_000 } });
    script = [503, 503];
    hits = 0;
    const started = performance.now();
    const res = await http.request({ method: 'GET', path: '/orders/1', idempotent: true });
    expect(res.status).toBe(200);
    expect(hits).toBe(3);
    expect(slept).toHaveLength(2);
    expect(slept[0]).toBeLessThanOrEqual(4_000);
    expect(slept[1]).toBeLessThanOrEqual(8_000);
    // Backoffs of seconds, taken in far less: nothing slept on the wall clock.
    expect(performance.now() - started).toBeLessThan(2_000);
    await http.close();
  });

  it('stops retrying when the next try would start outside retryWithinMs, by the clock it is given', async () => {
    // Full jitter at its middle: every wait is 4 s.
    vi.spyOn(Math, 'random').mockReturnValue(0.5);
    try {
      const { clock, slept } = steppedClock();
      const http = client(clock, { retry: { attempts: 5, baseDelayMs: 8_000, maxDelayMs: 8_000 } });
      script = [503, 503, 503, 503, 503];
      hits = 0;
      // Tries at 0 s, 4 s and 8 s; a fourth at 12 s would be outside the provider's 10 s.
      await expect(http.request({ method: 'POST', path: '/orders', idempotent: true, retryWithinMs: 10_000 })).rejects.toMatchObject({ status: 503 });
      expect(hits).toBe(3);
      expect(slept).toEqual([4_000, 4_000]);
      script = [];
      await http.close();
    } finally {
      vi.restoreAllMocks();
    }
  });

  it('fails fast and unsent once its provider circuit opens, and tries again after the cooldown', async () => {
    const time = manualClock();
    const guards = new ProviderGuards({ limits: { ...LIMITS, failureThreshold: 3 }, now: time.now });
    const { clock } = steppedClock();
    const api = client(clock, { guards });
    // A second client of the same provider (as a token endpoint would be) shares the circuit.
    const other = client(clock, { guards });
    script = [503, 503, 503];
    hits = 0;
    await expect(api.request({ method: 'GET', path: '/balances', idempotent: true })).rejects.toMatchObject({ kind: 'unknown', status: 503 });
    expect(hits).toBe(3);
    expect(guards.health('GUUSTO').state).toBe('OPEN');

    const refused = await other.request({ method: 'POST', path: '/orders', idempotent: false }).catch((error: unknown) => error);
    expect(refused).toBeInstanceOf(ProviderCallError);
    expect(refused).toMatchObject({ kind: 'unavailable', status: undefined, retryAfterMs: 5_000 });
    expect((refused as Error).message).toMatch(/^GUUSTO is failing; calls are paused until \d{4}-\d\d-\d\dT/);
    expect(hits).toBe(3);

    time.advance(5_000);
    expect(guards.health('GUUSTO').state).toBe('HALF_OPEN');
    expect((await other.request({ method: 'GET', path: '/balances', idempotent: true })).status).toBe(200);
    expect(hits).toBe(4);
    expect(guards.health('GUUSTO')).toMatchObject({ state: 'CLOSED', failures: 0 });
    await Promise.all([api.close(), other.close()]);
  });

  it('keeps a retry refused by an open circuit as unknown when an earlier attempt may have been processed', async () => {
    const time = manualClock();
    const guards = new ProviderGuards({ limits: { ...LIMITS, failureThreshold: 1 }, now: time.now });
    const { clock } = steppedClock();
    const api = client(clock, { guards });
    script = [502];
    hits = 0;
    const error = await api.request({ method: 'POST', path: '/orders', idempotent: true }).catch((e: unknown) => e);
    expect(hits).toBe(1);
    expect(error).toMatchObject({ kind: 'unknown', afterAmbiguousAttempt: true });
    expect((error as Error).message).toMatch(/is failing; calls are paused until .*after an earlier attempt that may have been processed/);
    await api.close();
  });
});
