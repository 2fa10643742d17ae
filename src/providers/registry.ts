import type { Provider } from '../core/model.js';
import type { ProviderAdapter } from './adapter.js';
import { ProviderGuards, type CircuitHealth } from './guard.js';
import { CallObservers, type CallObserver } from './http.js';

/** The tenant of work no tenant placed, unless configured otherwise (GIFTGRAPH_DEFAULT_TENANT). */
export const DEFAULT_TENANT = 'default';

export type ProviderMode = 'SANDBOX' | 'LIVE';

export interface RegisteredProvider {
  adapter: ProviderAdapter;
  mode: ProviderMode;
  /** The tenant that owns this provider account: orders placed in the provider's own app are its, and no one else's. */
  accountTenant: string;
}

/** The providers this process can reach, each with its adapter. Adding a provider adds one entry. */
export class ProviderRegistry {
  private readonly entries = new Map<Provider, RegisteredProvider>();

  /**
   * `calls`: the hub every HTTP client of these adapters reports to (buildRegistry hands the same
   * one to each adapter it builds); a registry of adapters built without it has no calls to observe.
   * `guards`: the limiters and circuits those clients go through, handed out the same way; adapters
   * built without them are not limited, and their circuits read as closed.
   */
  constructor(
    private readonly calls = new CallObservers(),
    private readonly guards = new ProviderGuards(),
  ) {}

  register(adapter: ProviderAdapter, mode: ProviderMode, accountTenant = DEFAULT_TENANT): this {
    this.entries.set(adapter.provider, { adapter, mode, accountTenant });
    return this;
  }

  get(provider: Provider): RegisteredProvider | undefined {
    return this.entries.get(provider);
  }

  all(): RegisteredProvider[] {
    return [...this.entries.values()];
  }

  /** The provider's circuit breaker as it stands: closed, open until `retryAt`, or half open (the next call tests it). */
  health(provider: Provider): CircuitHealth {
    return this.guards.health(provider);
  }

  /** Every provider call of the adapters built with this registry's hub goes to `observer`, replacing the one before. */
  observeCalls(observer: CallObserver): void {
    this.calls.observe(observer);
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((p) => p.adapter.close()));
  }
}
