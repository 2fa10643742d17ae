import type { Provider } from '../core/model.js';
import type { ProviderAdapter } from './adapter.js';

export type ProviderMode = 'SANDBOX' | 'LIVE';

export interface RegisteredProvider {
  adapter: ProviderAdapter;
  mode: ProviderMode;
}

/** The providers this process can reach, each with its adapter. Adding a provider adds one entry. */
export class ProviderRegistry {
  private readonly entries = new Map<Provider, RegisteredProvider>();

  register(adapter: ProviderAdapter, mode: ProviderMode): this {
    this.entries.set(adapter.provider, { adapter, mode });
    return this;
  }

  get(provider: Provider): RegisteredProvider | undefined {
    return this.entries.get(provider);
  }

  all(): RegisteredProvider[] {
    return [...this.entries.values()];
  }

  async close(): Promise<void> {
    await Promise.all(this.all().map((p) => p.adapter.close()));
  }
}
