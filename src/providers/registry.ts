import type { Provider } from '../core/model.js';
import type { ProviderAdapter } from './adapter.js';
import { ProviderHttpClient, type CallObserver } from './http.js';

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

  /**
   * Gives every provider HTTP client the adapters hold (their API's, and any for credentials) to
   * `observer`, replacing the one before. Adapters build their clients privately, so they are found
   * by type, a few levels deep, and no adapter needs to know it is observed. Returns how many were found.
   */
  observeCalls(observer: CallObserver): number {
    let found = 0;
    for (const entry of this.entries.values()) {
      for (const client of httpClientsIn(entry.adapter)) {
        client.observer = observer;
        found += 1;
      }
    }
    return found;
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((p) => p.adapter.close()));
  }
}

/** Clients reachable through the own fields of `root`'s objects, not through arrays or collections (catalogs, caches). */
function httpClientsIn(root: object, depth = 4, seen = new Set<object>()): ProviderHttpClient[] {
  if (seen.has(root)) return [];
  seen.add(root);
  if (root instanceof ProviderHttpClient) return [root];
  if (depth === 0) return [];
  const found: ProviderHttpClient[] = [];
  for (const value of Object.values(root)) {
    if (value === null || typeof value !== 'object' || Array.isArray(value) || value instanceof Map || value instanceof Set || value instanceof Promise) continue;
    found.push(...httpClientsIn(value as object, depth - 1, seen));
  }
  return found;
}
