import DataLoader from 'dataloader';
import type { Logger } from 'pino';
import type { Money } from '../core/money.js';
import type { Provider } from '../core/model.js';
import type { OrdersService } from '../orders/service.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { requireScope, type AuthContext, type Scope, type Viewer } from '../server/auth.js';
import type { OrderRecord, RecipientRecord, StatusEventRecord } from '../store/records.js';

/** Live status: the event log's end, and one tenant's events after a position, then live. */
export interface LiveStatus {
  lastSeq(): Promise<number>;
  events(query: { tenant: string; afterSeq: number; orderId?: string }): AsyncIterable<StatusEventRecord>;
}

export interface Services {
  orders: OrdersService;
  providers: ProviderRegistry;
  live: LiveStatus;
  log: Logger;
}

export interface GraphQLContext extends AuthContext {
  services: Services;
  /** Per-request batching and caching, bound to the viewer's tenant; null without a viewer. */
  loaders: Loaders | null;
}

export type Loaders = ReturnType<typeof createLoaders>;

const groupBy = <T>(rows: readonly T[], key: (row: T) => string, ids: readonly string[]): T[][] => {
  const groups = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const row of rows) groups.get(key(row))?.push(row);
  return ids.map((id) => groups.get(id)!);
};

/**
 * One store query per kind of data per request tick, however many orders a query touches, and one
 * provider call per provider for its balance, however many times a query asks.
 */
export function createLoaders(orders: OrdersService, providers: ProviderRegistry, tenant: string) {
  return {
    balances: new DataLoader<Provider, Money[] | null>(async (keys) =>
      Promise.all(keys.map((p) => (providers.get(p)?.adapter.balances?.() ?? Promise.resolve(null)).catch((error: Error) => error))),
    ),
    order: new DataLoader<string, OrderRecord | undefined>((ids) => orders.load(tenant, ids)),
    recipients: new DataLoader<string, RecipientRecord[]>(async (ids) => groupBy(await orders.recipients(ids), (r) => r.orderId, ids)),
    events: new DataLoader<string, StatusEventRecord[]>(async (ids) => groupBy(await orders.statusEvents(ids), (e) => e.orderId, ids)),
  };
}

export function createContext(services: Services, auth: AuthContext): GraphQLContext {
  return { ...auth, services, loaders: auth.viewer ? createLoaders(services.orders, services.providers, auth.viewer.tenant) : null };
}

/** The viewer (holding `scope`) and its tenant's loaders. */
export function authorize(context: GraphQLContext, scope: Scope): { viewer: Viewer; loaders: Loaders } {
  const viewer = requireScope(context, scope);
  return { viewer, loaders: context.loaders! };
}
