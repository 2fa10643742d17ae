import type { GiftStatus, Provider } from '../core/model.js';
import type { OrderRecord } from '../core/records.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Store, SyncState } from '../store/store.js';

export interface OrderFilterValues {
  providers?: readonly Provider[];
  statuses?: readonly GiftStatus[];
  /** ISO-8601 instants, exclusive. */
  createdAfter?: string;
  createdBefore?: string;
  recipientEmail?: string;
}

/** The ledger's place in the list: the (createdAt, id) of the last order taken. */
interface LedgerPosition {
  t: string;
  id: string;
}

const LEDGER = 'ledger';

/** Where a page of `orders` ends, as its cursors carry it. */
export type OrderPosition = { [LEDGER]?: LedgerPosition } & Record<string, unknown>;

export interface OrderPage {
  edges: { node: OrderRecord; position: OrderPosition }[];
  hasNextPage: boolean;
}

const isLedgerPosition = (v: unknown): v is LedgerPosition =>
  typeof v === 'object' && v !== null && typeof (v as LedgerPosition).t === 'string' && typeof (v as LedgerPosition).id === 'string';

/**
 * A cursor's positions are well formed. Cursors signed before listings were served from the ledger
 * alone also hold providers' own list positions: those are accepted and ignored, since the ledger
 * now holds every order those lists showed.
 */
export function isOrderPosition(v: unknown): v is OrderPosition {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.entries(v).every(([name, position]) => (name === LEDGER ? position === undefined || isLedgerPosition(position) : /^[A-Z]+$/.test(name)));
}

/**
 * A tenant's orders across every provider, newest first, from the ledger alone: the orders sent
 * through giftgraph, and those placed in a provider's own app, which the background sync
 * (sync.ts) records for the tenant owning that provider account. No provider is asked on the
 * request path, so a provider that is down leaves every page whole.
 */
export class OrderListing {
  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRegistry,
  ) {}

  /** Orders recorded from a provider's list belong to whoever owns that account now. */
  async claimForOwners(): Promise<{ provider: Provider; tenant: string; moved: number }[]> {
    const moves = [];
    for (const { adapter, accountTenant } of this.providers.all()) {
      if (!adapter.orderList) continue;
      const moved = await this.store.reassignAdopted(adapter.provider, accountTenant);
      if (moved > 0) moves.push({ provider: adapter.provider, tenant: accountTenant, moved });
    }
    return moves;
  }

  /** How far the background sync of a provider's own list has come; undefined before its first attempt. */
  async syncState(provider: Provider): Promise<SyncState | undefined> {
    return (await this.store.syncStates()).find((s) => s.provider === provider);
  }

  /** One page after a position: one keyset query, one row more than asked to tell whether another page follows. */
  async page(tenant: string, filter: OrderFilterValues, from: OrderPosition, want: number): Promise<OrderPage> {
    const after = from[LEDGER];
    const rows = await this.store.listOrders({
      tenant,
      limit: want + 1,
      after: after && { createdAt: after.t, id: after.id },
      providers: filter.providers,
      statuses: filter.statuses,
      createdAfter: filter.createdAfter,
      createdBefore: filter.createdBefore,
      recipientEmail: filter.recipientEmail,
    });
    const edges = rows.slice(0, want).map((node) => ({ node, position: { [LEDGER]: { t: node.createdAt, id: node.id } } }));
    return { edges, hasNextPage: rows.length > want };
  }
}
