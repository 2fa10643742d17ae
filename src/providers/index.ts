import { AndOpenAdapter } from './andopen/adapter.js';
import type { AndOpenConnection } from './andopen/config.js';
import { GiftronautAdapter } from './giftronaut/adapter.js';
import type { GiftronautConnection } from './giftronaut/config.js';
import { GoodyAdapter } from './goody/adapter.js';
import type { GoodyConnection } from './goody/config.js';
import { GuustoAdapter } from './guusto/adapter.js';
import type { GuustoConnection } from './guusto/config.js';
import { ProviderRegistry, type ProviderMode } from './registry.js';

/** How to reach each provider, real or sandbox. A provider without a connection is not served. */
export interface ProviderConnections {
  guusto?: GuustoConnection;
  giftronaut?: GiftronautConnection;
  goody?: GoodyConnection;
  andOpen?: AndOpenConnection;
}

export function buildRegistry(connections: ProviderConnections, mode: ProviderMode, timeoutMs: number): ProviderRegistry {
  const registry = new ProviderRegistry();
  if (connections.guusto) registry.register(new GuustoAdapter(connections.guusto, timeoutMs), mode);
  if (connections.giftronaut) registry.register(new GiftronautAdapter(connections.giftronaut, timeoutMs), mode);
  if (connections.goody) registry.register(new GoodyAdapter(connections.goody, timeoutMs), mode);
  if (connections.andOpen) registry.register(new AndOpenAdapter(connections.andOpen, timeoutMs), mode);
  return registry;
}
