import type { Logger } from 'pino';
import type { Provider } from '../core/model.js';
import type { OrderRecord } from '../core/records.js';
import type { ListedOrder } from '../providers/adapter.js';
import type { OffsetPosition } from '../pagination/native.js';
import type { ProviderRegistry, RegisteredProvider } from '../providers/registry.js';
import type { Store, UnresolvedSend } from '../store/store.js';
import { instant, type Ingest } from './ingest.js';

/** Orders asked of a provider's list per request: its largest page. */
const PAGE = 100;
/** A first sync (an empty ledger, or a new account) reads at most this many pages back. */
const MAX_PAGES = 50;
/** How far a provider's clock may be off ours, when telling which orders a send in flight could be. */
const SKEW_MS = 10 * 60_000;

/** What one sync of one provider's list did. */
export interface SyncRun {
  provider: Provider;
  /** Orders the list showed that the ledger did not hold yet (placed in the provider's app), now recorded. */
  recorded: OrderRecord[];
  pages: number;
}

/**
 * Keeps the ledger abreast of each listing provider's own list of orders (Giftronaut, Goody), so
 * that `orders` is served from the ledger alone: it reads the list newest first, page by page,
 * until a page holds nothing new, and records each order placed in the provider's app for the
 * tenant owning that account. Orders giftgraph sent are skipped (the ledger has them, for their
 * own tenant). The poller runs it on its schedule, so its calls share the provider's limits.
 */
export class ListingSync {
  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRegistry,
    private readonly ingest: Ingest,
    private readonly log: Logger,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /** The providers whose lists are synced. */
  listing(): Provider[] {
    return this.providers
      .all()
      .filter((p) => p.adapter.orderList)
      .map((p) => p.adapter.provider);
  }

  /**
   * One sync of one provider's list; records how it went (`providers` shows how fresh each is).
   * Throws when the list cannot be read: what was recorded before the failure stays.
   */
  async run(provider: Provider): Promise<SyncRun> {
    const registered = this.providers.get(provider);
    if (!registered?.adapter.orderList) return { provider, recorded: [], pages: 0 };
    const started = this.clock().toISOString();
    try {
      const run = await this.read(registered);
      await this.store.recordSync({ provider, syncedAt: started, failedAt: null, lastError: null });
      if (run.recorded.length > 0) this.log.info({ provider, orders: run.recorded.length }, 'recorded orders placed in the provider app');
      return run;
    } catch (error) {
      const previous = (await this.store.syncStates()).find((s) => s.provider === provider);
      const message = error instanceof Error ? error.message : 'the list could not be read';
      await this.store.recordSync({ provider, syncedAt: previous?.syncedAt ?? null, failedAt: started, lastError: message });
      throw error;
    }
  }

  private async read({ adapter, accountTenant }: RegisteredProvider): Promise<SyncRun> {
    const list = adapter.orderList!;
    const recorded: OrderRecord[] = [];
    let position: OffsetPosition | undefined;
    let pages = 0;
    while (pages < MAX_PAGES) {
      const read = await list.read(position, PAGE);
      pages += 1;
      const listed = read.entries.map((e) => e.item);
      const { placed, unresolved } = await this.store.findPlaced(
        adapter.provider,
        listed.map((o) => ({ ref: o.providerRef, reference: o.reference })),
      );
      const foreign = listed.filter((o) => !placed.has(o.providerRef));
      // Where the provider echoes our reference, an order without it is never one of our sends.
      const unsure = (o: ListedOrder) => !adapter.echoesReference && mayBeUnresolvedSend(o, unresolved);
      const { adopted } = await this.ingest.recordListed(adapter.provider, accountTenant, foreign, unsure);
      recorded.push(...adopted);
      // Newest first: a page that held nothing new means everything older was seen before, unless
      // an order on it is still held back as possibly one of our own sends.
      const fresh = adopted.length > 0 || foreign.some(unsure);
      if (!read.more || !fresh) break;
      position = read.end;
    }
    return { provider: adapter.provider, recorded, pages };
  }
}

const shifted = (iso: string, ms: number) => new Date(Date.parse(iso) + ms).toISOString();

/**
 * Whether a listed order could be one of our sends whose answer we never recorded: it does not carry
 * our reference, it was created while that send was being attempted (give or take the clocks'
 * skew), and it goes to the same people where both sides say who. Such an order is not recorded as
 * placed elsewhere (its owner may be another tenant) until the send is resolved.
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
