import { AndOpenAdapter } from './andopen/adapter.js';
import type { AndOpenConnection } from './andopen/config.js';
import { GiftronautAdapter } from './giftronaut/adapter.js';
import type { GiftronautConnection } from './giftronaut/config.js';
import { GoodyAdapter } from './goody/adapter.js';
import type { GoodyConnection } from './goody/config.js';
import { GuustoAdapter } from './guusto/adapter.js';
import type { GuustoConnection } from './guusto/config.js';
import type { Logger } from 'pino';
import type { Provider } from '../core/model.js';
import { ProviderGuards, type GuardOptions } from './guard.js';
import { CallObservers } from './http.js';
import { DEFAULT_TENANT, ProviderRegistry, type ProviderMode } from './registry.js';

/** How to reach each provider, real or sandbox. A provider without a connection is not served. */
export interface ProviderConnections {
  guusto?: GuustoConnection;
  giftronaut?: GiftronautConnection;
  goody?: GoodyConnection;
  andOpen?: AndOpenConnection;
}

/** Which tenant owns each provider account: `defaultTenant`, unless `accounts` names another. */
export interface AccountOwners {
  defaultTenant?: string;
  accounts?: Partial<Record<Provider, string>>;
}

/**
 * `log`: where adapters report what they left out of a provider's answer (the app's logger).
 * `guarding`: each provider's limits (concurrency, rate, circuit breaker) and the circuits' clock;
 * DEFAULT_PROVIDER_LIMITS where unset.
 */
export function buildRegistry(
  connections: ProviderConnections,
  mode: ProviderMode,
  timeoutMs: number,
  owners: AccountOwners = {},
  log?: Logger,
  guarding: GuardOptions = {},
): ProviderRegistry {
  // Every adapter's HTTP clients report to this one hub; `registry.observeCalls` decides where it goes.
  const calls = new CallObservers();
  // And go through one limiter and one circuit per provider, whichever client of the adapter calls.
  const guards = new ProviderGuards(guarding);
  const registry = new ProviderRegistry(calls, guards);
  const owner = (provider: Provider) => owners.accounts?.[provider] ?? owners.defaultTenant ?? DEFAULT_TENANT;
  if (connections.guusto) registry.register(new GuustoAdapter(connections.guusto, timeoutMs, calls, guards), mode, owner('GUUSTO'));
  if (connections.giftronaut) {
    registry.register(new GiftronautAdapter(connections.giftronaut, timeoutMs, log?.child({ provider: 'GIFTRONAUT' }), calls, guards), mode, owner('GIFTRONAUT'));
  }
  if (connections.goody) registry.register(new GoodyAdapter(connections.goody, timeoutMs, Date.now, calls, guards), mode, owner('GOODY'));
  if (connections.andOpen) registry.register(new AndOpenAdapter(connections.andOpen, timeoutMs, calls, guards), mode, owner('ANDOPEN'));
  return registry;
}
