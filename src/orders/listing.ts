import type { GiftStatus, Provider } from '../core/model.js';
import type { OrderRecord } from '../core/records.js';
import type { MergedPage, MergePositions } from '../pagination/merge.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Store } from '../store/store.js';

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

const isLedgerPosition = (v: unknown): v is LedgerPosition =>
  typeof v === 'object' && v !== null && typeof (v as LedgerPosition).t === 'string' && typeof (v as LedgerPosition).id === 'string';

/**
 * A cursor's positions are well formed. Cursors signed before listings were served from the ledger
 * alone also hold providers' own list positions: those are accepted and ignored, since the ledger
 * now holds every order those lists showed.
 */
export function isMergePositions(v: unknown): v is MergePositions {
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

  /** One page after a position: one keyset query, one row more than asked to tell whether another page follows. */
  async page(tenant: string, filter: OrderFilterValues, from: MergePositions, want: number): Promise<MergedPage<OrderRecord>> {
    const after = isLedgerPosition(from[LEDGER]) ? (from[LEDGER] as LedgerPosition) : undefined;
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
    const edges = rows.slice(0, want).map((node) => ({ node, positions: { [LEDGER]: { t: node.createdAt, id: node.id } } }));
    return { edges, end: edges.at(-1)?.positions ?? from, hasNextPage: rows.length > want, failures: [] };
  }
}
