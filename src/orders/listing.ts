import { randomUUID } from 'node:crypto';
import type { GiftStatus, Provider } from '../core/model.js';
import type { ListedOrder, OrderSnapshot } from '../providers/adapter.js';
import { ProviderCallError } from '../providers/http.js';
import type { ProviderRegistry, RegisteredProvider } from '../providers/registry.js';
import { mergePage, type MergedPage, type MergePositions, type MergeSource } from '../pagination/merge.js';
import { isOffsetPosition, type OffsetPosition } from '../pagination/native.js';
import type { OrderRecord, RecipientRecord } from '../core/records.js';
import type { Store, UnresolvedSend } from '../store/store.js';
import type { OrdersService } from './service.js';

export interface OrderFilterValues {
  providers?: readonly Provider[];
  statuses?: readonly GiftStatus[];
  /** ISO-8601 instants, exclusive. */
  createdAfter?: string;
  createdBefore?: string;
  recipientEmail?: string;
}

/** The ledger's place in the merge: the (createdAt, id) of the last order taken. */
interface LedgerPosition {
  t: string;
  id: string;
}

const LEDGER = 'ledger';
/** How far a provider's clock may be off ours, when telling which orders a send in flight could be. */
const SKEW_MS = 10 * 60_000;

const isLedgerPosition = (v: unknown): v is LedgerPosition =>
  typeof v === 'object' && v !== null && typeof (v as LedgerPosition).t === 'string' && typeof (v as LedgerPosition).id === 'string';

/** A merged cursor's positions are well formed: each source's own shape, and only sources we know. */
export function isMergePositions(v: unknown): v is MergePositions {
  if (typeof v !== 'object' || v === null || Array.isArray(v)) return false;
  return Object.entries(v).every(([name, position]) =>
    name === LEDGER ? position === undefined || isLedgerPosition(position) : /^[A-Z]+$/.test(name) && isOffsetPosition(position),
  );
}

/**
 * A tenant's orders across every provider, newest first: a k-way merge of the ledger (every order
 * sent through giftgraph) with the own lists of providers that have one (Giftronaut, Goody), which
 * also hold orders placed in the provider's app. Those belong to the tenant owning that provider
 * account: they are recorded for it on first sight (so they have an id, a history and live status)
 * and no other tenant's list ever reads that provider's list.
 */
export class OrderListing {
  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRegistry,
    private readonly orders: OrdersService,
    private readonly clock: () => Date = () => new Date(),
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

  async page(tenant: string, filter: OrderFilterValues, from: MergePositions, want: number): Promise<MergedPage<OrderRecord>> {
    const wanted = (p: Provider) => !filter.providers?.length || filter.providers.includes(p);
    const sources: MergeSource<OrderRecord>[] = [this.ledgerSource(tenant, filter)];
    for (const registered of this.providers.all()) {
      if (registered.adapter.orderList && registered.accountTenant === tenant && wanted(registered.adapter.provider)) {
        sources.push(this.providerSource(registered, filter));
      }
    }
    const page = await mergePage(sources, from, want, (order) => [order.createdAt, order.id]);
    // Only a provider that failed makes a page partial; our own failure (the ledger's) fails it.
    const ours = page.failures.find((f) => !(f.error instanceof ProviderCallError));
    if (ours) throw ours.error;
    return page;
  }

  private ledgerSource(tenant: string, filter: OrderFilterValues): MergeSource<OrderRecord> {
    return {
      name: LEDGER,
      read: async (position, want) => {
        const after = position as LedgerPosition | undefined;
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
        const entries = rows.slice(0, want).map((item) => ({ item, after: { t: item.createdAt, id: item.id } as LedgerPosition }));
        return { entries, end: entries.at(-1)?.after ?? after, more: rows.length > want, frontier: rows.at(-1)?.createdAt };
      },
    };
  }

  /**
   * One native page of a provider's orders: those sent through giftgraph are skipped (the ledger
   * lists them, for their own tenant), the others recorded or refreshed, then filtered.
   */
  private providerSource({ adapter, accountTenant }: RegisteredProvider, filter: OrderFilterValues): MergeSource<OrderRecord> {
    const list = adapter.orderList!;
    return {
      name: adapter.provider,
      read: async (position, want) => {
        const read = await providerRead(adapter.provider, () => list.read(position as OffsetPosition | undefined, want));
        const listed = read.entries.map((e) => e.item);
        const { placed, unresolved } = await this.store.findPlaced(adapter.provider, listed.map((o) => ({ ref: o.providerRef, reference: o.reference })));
        const foreign = listed.filter((o) => !placed.has(o.providerRef));
        // Where the provider echoes our reference, an order without it is never one of our sends.
        const unsure = (o: ListedOrder) => !adapter.echoesReference && mayBeUnresolvedSend(o, unresolved);
        const recorded = await this.record(adapter.provider, accountTenant, foreign, unsure);
        const entries = read.entries.flatMap(({ item, after }) => {
          const order = recorded.get(item.providerRef);
          return order && order.tenant === accountTenant && matches(order, item, filter) ? [{ item: order, after }] : [];
        });
        const lastRead = read.entries.at(-1)?.item;
        const frontier = lastRead ? instant(lastRead.createdAt) : undefined;
        // Newest first: once past the filter's start, nothing further can match.
        const more = read.more && !(filter.createdAfter && frontier && frontier <= filter.createdAfter);
        return { entries, end: read.end, more, frontier };
      },
    };
  }

  /** Records orders seen for the first time, and what changed on those seen before: one path for every observation. */
  private async record(
    provider: Provider,
    tenant: string,
    listed: readonly ListedOrder[],
    unsure: (o: ListedOrder) => boolean,
  ): Promise<Map<string, OrderRecord>> {
    const now = this.clock().toISOString();
    const recorded = await this.store.adoptOrders(
      provider,
      listed.filter((o) => !unsure(o)).map((o) => adoption(provider, tenant, o, now)),
      listed.map((o) => o.providerRef),
    );
    for (const item of listed) {
      const order = recorded.get(item.providerRef);
      if (order && (order.status !== item.status || order.providerStatus !== item.providerStatus)) {
        recorded.set(item.providerRef, await this.orders.recordPolled(order, item));
      }
    }
    return recorded;
  }
}

function adoption(provider: Provider, tenant: string, listed: ListedOrder, now: string): { order: OrderRecord; recipients: RecipientRecord[] } {
  const id = randomUUID();
  const createdAt = instant(listed.createdAt) ?? now;
  return {
    order: {
      id,
      tenant,
      provider,
      origin: 'PROVIDER',
      // Unique per tenant like any key, and one no client can send: client keys have no spaces.
      idempotencyKey: `listed ${provider} ${listed.providerRef}`,
      requestHash: '',
      submission: 'ACCEPTED',
      providerRef: listed.providerRef,
      status: listed.status,
      providerStatus: listed.providerStatus,
      total: listed.total ?? null,
      scheduledFor: null,
      details: listed.details ?? {},
      lastError: null,
      createdAt,
      updatedAt: now,
    },
    recipients: (listed.recipients ?? []).map((r) => recipientSeen(id, r)),
  };
}

/** A recipient of an order placed at a provider, as the provider shows it. */
export function recipientSeen(orderId: string, r: NonNullable<OrderSnapshot['recipients']>[number]): RecipientRecord {
  return {
    id: randomUUID(),
    orderId,
    position: r.position,
    email: r.email ?? null,
    employeeNumber: null,
    firstName: r.firstName ?? null,
    lastName: r.lastName ?? null,
    company: null,
    department: null,
    amount: null,
    status: r.status,
    providerStatus: r.providerStatus,
    providerRef: r.providerRef ?? null,
    gift: r.gift ?? null,
    submission: null,
  };
}

/** The filter, applied to an order a provider listed: the ledger applies the same one in SQL. */
function matches(order: OrderRecord, listed: ListedOrder, filter: OrderFilterValues): boolean {
  if (filter.statuses?.length && !filter.statuses.includes(order.status)) return false;
  if (filter.createdAfter && !(order.createdAt > filter.createdAfter)) return false;
  if (filter.createdBefore && !(order.createdAt < filter.createdBefore)) return false;
  if (filter.recipientEmail) {
    const email = filter.recipientEmail.toLowerCase();
    if (!listed.recipients?.some((r) => r.email?.toLowerCase() === email)) return false;
  }
  return true;
}

/** A provider's timestamp in the ledger's form (ISO-8601 UTC with milliseconds), or undefined. */
function instant(value: string | null | undefined): string | undefined {
  return value && !Number.isNaN(Date.parse(value)) ? new Date(value).toISOString() : undefined;
}

const shifted = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

/**
 * Whether a listed order could be one of our sends whose answer we never recorded: it does not carry
 * our reference, it was created while that send was being attempted (give or take the clocks'
 * skew), and it goes to the same people where both sides say who. Such an order is not recorded as
 * placed elsewhere (its owner may be another tenant) until the send is resolved: listings leave it out.
 */
function mayBeUnresolvedSend(listed: ListedOrder, unresolved: readonly UnresolvedSend[]): boolean {
  if (listed.reference || unresolved.length === 0) return false;
  const created = instant(listed.createdAt);
  const emails = (listed.recipients ?? []).map((r) => r.email?.toLowerCase()).filter((e): e is string => Boolean(e));
  return unresolved.some(
    (send) =>
      (created === undefined || (created >= shifted(send.firstAttempt, -SKEW_MS) && created <= shifted(send.lastAttempt, SKEW_MS))) &&
      (emails.length === 0 || send.emails.length === 0 || emails.some((e) => send.emails.includes(e))),
  );
}

/**
 * A provider's list, read: whatever goes wrong in reading and mapping it (an answer we cannot map)
 * is that provider's failure, so the page goes on without it; only our own store fails the page.
 */
async function providerRead<T>(provider: Provider, read: () => Promise<T>): Promise<T> {
  try {
    return await read();
  } catch (error) {
    if (error instanceof ProviderCallError) throw error;
    throw Object.assign(new ProviderCallError(provider, 'unknown', `${provider}'s list of orders could not be read`), { cause: error });
  }
}
