import DataLoader from 'dataloader';
import type { Logger } from 'pino';
import { normalizeEmail } from '../core/email.js';
import type { Money } from '../core/money.js';
import type { Provider } from '../core/model.js';
import type { CatalogService } from '../orders/catalog.js';
import type { OrderListing } from '../orders/listing.js';
import type { OrdersService } from '../orders/service.js';
import type { SendPreviewer } from '../orders/preview.js';
import type { SpendingService } from '../orders/spending.js';
import type { CursorCodec, TenantCursors } from '../pagination/cursor.js';
import type { ProviderRegistry } from '../providers/registry.js';
import { requireScope, type AuthContext, type Scope, type Viewer } from './access.js';
import type { OrderRecord, RecipientRecord, StatusEventRecord } from '../core/records.js';

/** Live status: the event log's end, and one tenant's events after a position, then live. */
export interface LiveStatus {
  lastSeq(): Promise<number>;
  /** `cursorOf` names a position to the subscriber, as in the error of one that fell behind. */
  events(query: { tenant: string; afterSeq: number; orderId?: string; cursorOf: (seq: number) => string }): AsyncIterable<StatusEventRecord>;
}

export interface Services {
  orders: OrdersService;
  listing: OrderListing;
  /** Catalogs and balances, asked of the providers. */
  catalog: CatalogService;
  /** Spending limits, and what was committed against them. */
  spending: SpendingService;
  /** What a send would do, found without sending. */
  previews: SendPreviewer;
  cursors: CursorCodec;
  providers: ProviderRegistry;
  live: LiveStatus;
  log: Logger;
}

export interface GraphQLContext extends AuthContext {
  services: Services;
  /** Per-request batching and caching, bound to the viewer's tenant; null without a viewer. */
  loaders: Loaders | null;
  /** Cursors bound to the viewer's tenant; null without a viewer. */
  cursors: TenantCursors | null;
  /**
   * Drops what the loaders hold: a subscription keeps one context for all its events, and each
   * event must be answered with the ledger as it is then.
   */
  freshLoaders(): void;
}

export type Loaders = ReturnType<typeof createLoaders>;

const groupBy = <T>(rows: readonly T[], key: (row: T) => string, ids: readonly string[]): T[][] => {
  const groups = new Map<string, T[]>(ids.map((id) => [id, []]));
  for (const row of rows) groups.get(key(row))?.push(row);
  return ids.map((id) => groups.get(id)!);
};

/**
 * One store query per kind of data per request tick, however many orders a query touches, and one
 * provider call per provider for its balance, however many times a query asks. Nothing is cached
 * beyond the request.
 */
export function createLoaders(orders: OrdersService, catalog: CatalogService, tenant: string) {
  return {
    // A provider's failure is the service's typed error, given to each load of that provider.
    balances: new DataLoader<Provider, Money[] | null>(async (keys) => Promise.all(keys.map((p) => catalog.balances(p).catch((error: Error) => error)))),
    // The ledger as polling and webhooks keep it: one query per batch, and no provider call, however
    // many orders a query (or a gateway's entity batch) touches. `order(id)` reads through itself.
    order: new DataLoader<string, OrderRecord | undefined>((ids) => orders.load(tenant, ids, { refresh: false })),
    recipients: new DataLoader<string, RecipientRecord[]>(async (ids) => groupBy(await orders.recipients(ids), (r) => r.orderId, ids)),
    /** Keyed by normalized email (core/email.ts): a Person's key. */
    giftsReceived: new DataLoader<string, (RecipientRecord & { provider: Provider })[]>(async (emails) =>
      groupBy(await orders.recipientsByEmail(tenant, emails), (r) => normalizeEmail(r.email!), emails),
    ),
    events: new DataLoader<string, StatusEventRecord[]>(async (ids) => groupBy(await orders.statusEvents(ids), (e) => e.orderId, ids)),
  };
}

export function createContext(services: Services, auth: AuthContext): GraphQLContext {
  const tenant = auth.viewer?.tenant;
  let loaders: Loaders | undefined;
  let cursors: TenantCursors | undefined;
  // Made on first use: a live subscription holds its context for hours and most never need them.
  return {
    ...auth,
    services,
    get loaders() {
      return tenant ? (loaders ??= createLoaders(services.orders, services.catalog, tenant)) : null;
    },
    get cursors() {
      return tenant ? (cursors ??= services.cursors.forTenant(tenant)) : null;
    },
    freshLoaders() {
      loaders = undefined;
    },
  };
}

/** The viewer (holding `scope`), its tenant's loaders and its cursors. */
export function authorize(context: GraphQLContext, scope: Scope): { viewer: Viewer; loaders: Loaders; cursors: TenantCursors } {
  const viewer = requireScope(context, scope);
  return { viewer, loaders: context.loaders!, cursors: context.cursors! };
}
