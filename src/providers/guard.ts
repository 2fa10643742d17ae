import PQueue from 'p-queue';
import type { Provider } from '../core/model.js';

/**
 * How much one provider is asked at once, and when to stop asking it. One set per provider, shared
 * by every HTTP client of its adapter (the API's and, for Giftronaut, the token endpoint's), so the
 * mutations, the poller, the list sync and webhooks together stay within it.
 */
export interface ProviderLimits {
  /** Requests in flight at once. */
  concurrency: number;
  /** Requests started in any one second. `Infinity` for no rate limit. */
  perSecond: number;
  /**
   * How long a request may wait for its turn before it fails unsent (`unavailable`); the client's
   * request timeout unless given.
   */
  maxWaitMs?: number;
  /** Consecutive calls that say the provider is down (no answer, a timeout, a 5xx, a 429) that open the circuit. */
  failureThreshold: number;
  /** How long the circuit stays open the first time; each failed probe doubles it, up to `maxCooldownMs`. */
  cooldownMs: number;
  maxCooldownMs: number;
  /** Up to this fraction of a cooldown is added at random, so replicas do not probe in step. */
  jitter: number;
}

/**
 * Eight requests in flight and twenty a second: above what one giftgraph process needs in normal
 * use (the poller alone keeps to 4 and 10), and below the published limits of the providers that
 * publish one. Five outage failures in a row open the circuit for 5 s, then 10 s, 20 s, ... 2 min.
 */
export const DEFAULT_PROVIDER_LIMITS: Readonly<ProviderLimits> = {
  concurrency: 8,
  perSecond: 20,
  failureThreshold: 5,
  cooldownMs: 5_000,
  maxCooldownMs: 120_000,
  jitter: 0.2,
};

export type CircuitState = 'CLOSED' | 'OPEN' | 'HALF_OPEN';

/** A provider's circuit as it stands. */
export interface CircuitHealth {
  /**
   * CLOSED: calls go through. OPEN: calls fail at once, unsent, until `retryAt`. HALF_OPEN: the
   * cooldown is over, and the next call (one only) is let through to test the provider.
   */
  state: CircuitState;
  /** Calls in a row that said the provider is down; any answer sets it back to 0. */
  failures: number;
  /** When the circuit last opened (ms since the epoch, by the guard's clock); null while closed. */
  openedAt: number | null;
  /** When calls are let through again, a probe first; null while closed. */
  retryAt: number | null;
}

/** Why a call was never sent: its provider's circuit is open, or it waited too long for its turn. */
export class GuardRefusal extends Error {
  constructor(
    readonly provider: Provider,
    readonly reason: 'circuit-open' | 'queue-timeout',
    message: string,
    readonly retryAfterMs?: number,
  ) {
    super(message);
    this.name = 'GuardRefusal';
  }
}

/** A call let through, and the circuit's generation it was let through in: outcomes of older calls are not counted. */
export interface Admission {
  readonly generation: number;
  readonly probe: boolean;
}

export interface BreakerSettings {
  failureThreshold: number;
  cooldownMs: number;
  maxCooldownMs: number;
  jitter: number;
  /** The breaker's clock, in ms: `Date.now` unless a test moves its own. */
  now?: () => number;
  /** 0 ≤ x < 1, for the jitter. */
  random?: () => number;
}

/**
 * A circuit breaker for one provider. Closed, it counts outage failures in a row; at the threshold
 * it opens, and every call fails at once until the cooldown is over. Then one call is let through:
 * if the provider answers it, the circuit closes; if not, it opens again for twice as long.
 * A refusal (4xx) is an answer: the provider is up, so it counts as a success here.
 */
export class CircuitBreaker {
  private state: 'CLOSED' | 'OPEN' | 'HALF_OPEN' = 'CLOSED';
  private failures = 0;
  private openedAt: number | null = null;
  private retryAt: number | null = null;
  private nextCooldownMs: number;
  /** Moves on each opening and each probe, so a call sent before either cannot decide the circuit. */
  private generation = 0;
  private readonly now: () => number;
  private readonly random: () => number;

  constructor(
    readonly provider: Provider,
    private readonly settings: BreakerSettings,
  ) {
    this.now = settings.now ?? Date.now;
    this.random = settings.random ?? Math.random;
    this.nextCooldownMs = settings.cooldownMs;
  }

  /** Throws a refusal while calls are paused; lets everything else through, unchanged. */
  check(): void {
    if (this.state === 'CLOSED') return;
    const now = this.now();
    if (this.state === 'OPEN' && now >= this.retryAt!) return;
    throw this.refusal(now);
  }

  /** Lets one call through, or throws a refusal. The outcome of the call goes to `succeeded` or `failed`. */
  admit(): Admission {
    if (this.state === 'CLOSED') return { generation: this.generation, probe: false };
    const now = this.now();
    if (this.state === 'OPEN' && now >= this.retryAt!) {
      this.state = 'HALF_OPEN';
      this.generation += 1;
      return { generation: this.generation, probe: true };
    }
    throw this.refusal(now);
  }

  /** The provider answered (a success or a refusal). */
  succeeded(admission: Admission): void {
    if (admission.generation !== this.generation) return;
    this.state = 'CLOSED';
    this.failures = 0;
    this.openedAt = null;
    this.retryAt = null;
    this.nextCooldownMs = this.settings.cooldownMs;
  }

  /** The call said the provider is down. */
  failed(admission: Admission): void {
    if (admission.generation !== this.generation) return;
    this.failures += 1;
    if (this.state === 'HALF_OPEN' || this.failures >= this.settings.failureThreshold) this.open();
  }

  health(): CircuitHealth {
    // Once the cooldown is over the next call is the probe: that is half open already.
    const state = this.state === 'OPEN' && this.now() >= this.retryAt! ? 'HALF_OPEN' : this.state;
    return { state, failures: this.failures, openedAt: this.openedAt, retryAt: this.retryAt };
  }

  private open(): void {
    const now = this.now();
    const cooldown = this.nextCooldownMs;
    this.state = 'OPEN';
    this.openedAt = now;
    this.retryAt = now + Math.round(cooldown * (1 + this.settings.jitter * this.random()));
    this.nextCooldownMs = Math.min(this.settings.maxCooldownMs, cooldown * 2);
    this.generation += 1;
  }

  private refusal(now: number): GuardRefusal {
    if (this.state === 'HALF_OPEN') {
      // One probe is out; its answer decides. Ask again about when a first cooldown would end.
      return new GuardRefusal(this.provider, 'circuit-open', `${this.provider} is failing; calls are paused until a trial call gets an answer`, this.settings.cooldownMs);
    }
    const at = this.retryAt!;
    return new GuardRefusal(this.provider, 'circuit-open', `${this.provider} is failing; calls are paused until ${new Date(at).toISOString()}`, Math.max(0, at - now));
  }
}

export interface SendGuard {
  /** How long the call may wait for its turn, unless the limits say otherwise: the request timeout. */
  maxWaitMs: number;
  /** Whether a failure of `send` says the provider is down (as opposed to an answer, such as a 4xx). */
  isOutage: (error: unknown) => boolean;
}

/**
 * One provider's limiter and circuit: a call waits for a free slot within the concurrency cap and
 * the rate, is refused unsent if it waited longer than its bound, and passes the circuit when its
 * slot comes (so calls queued before the circuit opened fail too). Each attempt of a request is
 * one call here; a retry waits for a slot again.
 */
export class ProviderGuard {
  readonly breaker: CircuitBreaker;
  private readonly queue: PQueue;

  constructor(
    readonly provider: Provider,
    private readonly limits: ProviderLimits,
    clock: { now?: () => number; random?: () => number } = {},
  ) {
    this.breaker = new CircuitBreaker(provider, { ...limits, ...clock });
    this.queue = new PQueue({
      concurrency: limits.concurrency,
      ...(Number.isFinite(limits.perSecond) ? { intervalCap: limits.perSecond, interval: 1_000 } : {}),
    });
  }

  /** Calls waiting for a slot. */
  get waiting(): number {
    return this.queue.size;
  }

  /** Calls in flight. */
  get running(): number {
    return this.queue.pending;
  }

  async run<T>(send: () => Promise<T>, { maxWaitMs, isOutage }: SendGuard): Promise<T> {
    // An open circuit refuses at once rather than after a wait in the queue.
    this.breaker.check();
    const wait = this.limits.maxWaitMs ?? maxWaitMs;
    const expiry = new AbortController();
    let timer: ReturnType<typeof setTimeout> | undefined;
    const expired = new Promise<never>((_, reject) => {
      timer = setTimeout(() => {
        const refusal = new GuardRefusal(this.provider, 'queue-timeout', `${this.provider} is busy: the request waited ${wait} ms for its turn and was not sent`);
        // Aborted before its turn, the call is dropped from the queue unrun and takes no slot of the rate.
        expiry.abort(refusal);
        reject(refusal);
      }, wait);
    });
    const call = this.queue.add(
      async () => {
        // Its turn came: from here it is sent, however long that takes (the request's own timeout bounds it).
        clearTimeout(timer);
        const admission = this.breaker.admit();
        try {
          const result = await send();
          this.breaker.succeeded(admission);
          return result;
        } catch (error) {
          if (isOutage(error)) this.breaker.failed(admission);
          else this.breaker.succeeded(admission);
          throw error;
        }
      },
      // No per-task timeout is set, so none resolves empty: throwOnTimeout only types the result.
      { signal: expiry.signal, throwOnTimeout: true },
    );
    try {
      return await Promise.race([call, expired]);
    } finally {
      clearTimeout(timer);
    }
  }
}

export interface GuardOptions {
  /** Limits for every provider; each unset one is DEFAULT_PROVIDER_LIMITS'. */
  limits?: Partial<ProviderLimits>;
  /** A provider's own limits, over `limits`. */
  perProvider?: Partial<Record<Provider, Partial<ProviderLimits>>>;
  /** The circuits' clock, in ms since the epoch; `Date.now` unless given. */
  now?: () => number;
  /** For the cooldowns' jitter; `Math.random` unless given. */
  random?: () => number;
}

/**
 * A registry's limiters and circuits, one per provider: buildRegistry makes it and hands it to
 * every adapter, which hands it to each HTTP client it builds, so all of a provider's clients share
 * its guard.
 */
export class ProviderGuards {
  private readonly guards = new Map<Provider, ProviderGuard>();

  constructor(private readonly options: GuardOptions = {}) {}

  /** The provider's guard, made on first use. */
  for(provider: Provider): ProviderGuard {
    let guard = this.guards.get(provider);
    if (!guard) {
      const limits = { ...DEFAULT_PROVIDER_LIMITS, ...definedOnly(this.options.limits), ...definedOnly(this.options.perProvider?.[provider]) };
      guard = new ProviderGuard(provider, limits, { now: this.options.now, random: this.options.random });
      this.guards.set(provider, guard);
    }
    return guard;
  }

  /** The provider's circuit; a provider never called is closed. */
  health(provider: Provider): CircuitHealth {
    return this.for(provider).breaker.health();
  }
}

/** Leaves out keys set to undefined, so they do not hide a default. */
function definedOnly<T extends object>(values: T | undefined): Partial<T> {
  return Object.fromEntries(Object.entries(values ?? {}).filter(([, v]) => v !== undefined)) as Partial<T>;
}
