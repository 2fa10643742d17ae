import type { GiftStatus, Provider } from '../core/model.js';
import type { OrderRecord, RecipientRecord, StatusEventRecord } from '../core/records.js';

export interface OrderListQuery {
  tenant: string;
  limit: number;
  /** Keyset position: list what comes after this order in newest-first order. */
  after?: { createdAt: string; id: string };
  providers?: readonly Provider[];
  statuses?: readonly GiftStatus[];
  createdAfter?: string;
  createdBefore?: string;
  recipientEmail?: string;
}

/** A send to a provider whose reference we do not know yet. */
export interface UnresolvedSend {
  firstAttempt: string;
  lastAttempt: string;
  emails: string[];
}

/** One provider's orders in one status. */
export interface OrderStatusCount {
  provider: Provider;
  status: GiftStatus;
  orders: number;
  oldestCreatedAt: string;
}

/** A send refused because it would take its tenant over a spending limit: the limit, and what the window had committed already. */
export interface LimitRefusal {
  currency: string;
  window: 'DAY' | 'THIRTY_DAYS';
  limitMinor: number;
  spentMinor: number;
  /** What this send would add in that currency. */
  askedMinor: number;
}

export type ReserveResult =
  | { created: true; order: OrderRecord; refused?: undefined }
  | { created: false; order: OrderRecord; refused?: undefined }
  | { created: false; order?: undefined; refused: LimitRefusal };

/** What a change writes to an order: only the fields present; `lastError: null` clears it. */
export type OrderPatch = Partial<Pick<OrderRecord, 'submission' | 'status' | 'providerStatus' | 'providerRef' | 'details' | 'total' | 'lastError'>> & {
  /** The order's amounts count against its tenant's spending limits from this time on (a retry of a send not sent spends again). */
  spentAt?: string;
};

/** What a change writes to a recipient: only the fields present. */
export type RecipientPatch = Partial<Pick<RecipientRecord, 'submission' | 'status' | 'providerStatus' | 'providerRef' | 'gift' | 'email'>>;

/** An event to append to the log; the log gives it its position. */
export type NewStatusEvent = Omit<StatusEventRecord, 'seq'>;

/** A send interrupted mid-call: a recipient claimed for a create whose answer never came. */
export interface InterruptedRecipient {
  id: string;
  orderId: string;
  tenant: string;
  status: GiftStatus;
}

/**
 * What one ledger transaction may read and write. The ingest core (src/orders/ingest.ts) decides
 * every change; the store only persists it. Reads of an order inside a transaction see it as no
 * concurrent transaction can change it until this one ends.
 */
export interface LedgerTransaction {
  order(orderId: string): Promise<OrderRecord | undefined>;
  recipients(orderId: string): Promise<RecipientRecord[]>;
  updateOrder(orderId: string, patch: OrderPatch, updatedAt: string): Promise<void>;
  updateRecipient(recipientId: string, patch: RecipientPatch): Promise<void>;
  /** Whether the event log holds any event of this order. */
  hasEvents(orderId: string): Promise<boolean>;
  /**
   * The refusal sending these amounts again would meet under the tenant's spending limits, checked
   * as reserveOrder checks a new send: this transaction then holds the tenant's spending lock, so
   * what it writes counts before any other send of the tenant is checked.
   */
  spendingRefusal(tenant: string, asked: readonly { minor: number; currency: string }[], now: string): Promise<LimitRefusal | undefined>;
  /** Appends to the event log, in this order; returns them with their positions. */
  appendEvents(events: readonly NewStatusEvent[]): Promise<StatusEventRecord[]>;
  /** Whether a provider's reference already names another order of this provider, or a gift of one. */
  isReferenceHeld(provider: Provider, ref: string, exceptOrderId: string): Promise<boolean>;
  /**
   * Creates left in flight (orders SENDING, and recipients claimed for one) by replicas that are
   * gone: whose last heartbeat is older than `staleBefore`, or that left. Never a live replica's.
   */
  interruptedSends(staleBefore: string): Promise<{ orders: OrderRecord[]; recipients: InterruptedRecipient[] }>;
  /**
   * Claims held sends of these providers that are due (submission HELD, status SCHEDULED,
   * scheduled for `dueBy` or earlier), at most `limit`, earliest first, for this replica to send
   * now: moves each to SENDING in one statement, so a held send is claimed once whichever replicas
   * look at once, and never one another transaction holds (a cancel). Returns them as they now are.
   */
  claimHeldSends(dueBy: string, limit: number, providers: readonly Provider[]): Promise<OrderRecord[]>;
}

/** Orders and their recipients: what was sent, to whom, and where each stands. */
export interface OrderLedger {
  /**
   * Records the intent to send, before any provider is called: inserts the order and its
   * recipients, or returns the order already holding this tenant's idempotency key. Where the
   * tenant has spending limits in the recipients' currencies, checking them and reserving the
   * amounts is one atomic step: concurrent sends, on any replica, cannot overshoot a limit together;
   * a send that would is refused and nothing is written. `events`: appended in the same
   * transaction when the order is inserted (the creation of a send held until its time).
   */
  reserveOrder(order: OrderRecord, recipients: RecipientRecord[], events?: readonly NewStatusEvent[]): Promise<ReserveResult>;
  getOrders(tenant: string, ids: readonly string[]): Promise<OrderRecord[]>;
  /** The order holding this tenant's idempotency key, if any. */
  findOrderByKey(tenant: string, idempotencyKey: string): Promise<OrderRecord | undefined>;
  /** One tenant's orders, sent through giftgraph or recorded from a provider's list, newest first. */
  listOrders(query: OrderListQuery): Promise<OrderRecord[]>;
  /**
   * Which of a provider's orders were sent through giftgraph (by any tenant): by the provider's
   * reference, or by our order id where the provider echoes it back. `unresolved`: this provider's
   * sends whose reference we do not know yet (in flight, or their answer was lost), each with when
   * it was first and last attempted and its recipients' emails.
   */
  findPlaced(provider: Provider, seen: readonly { ref: string; reference?: string | null }[]): Promise<{ placed: Set<string>; unresolved: UnresolvedSend[] }>;
  /** The owner of a provider account changed: what was recorded from its list moves to the new one. Returns how many moved. */
  reassignAdopted(provider: Provider, tenant: string): Promise<number>;
  /**
   * Records orders placed at a provider (origin PROVIDER) the first time they are seen, with their
   * recipients, for the tenant that now owns the account; never one giftgraph sent. Returns the
   * recorded orders among `refs`, new or not, keyed by the provider's reference.
   */
  adoptOrders(provider: Provider, orders: readonly { order: OrderRecord; recipients: RecipientRecord[] }[], refs: readonly string[]): Promise<Map<string, OrderRecord>>;
  getRecipients(orderIds: readonly string[]): Promise<RecipientRecord[]>;
  /** Recipients of an order placed at a provider that its list did not show at first; positions already known are kept. */
  addRecipients(recipients: readonly RecipientRecord[]): Promise<void>;
  /** One tenant's recipients with any of these emails (case-insensitive), with their order's provider, newest order first. */
  getRecipientsByEmail(tenant: string, emails: readonly string[]): Promise<(RecipientRecord & { provider: Provider })[]>;
  /** Accepted orders not in a final status, oldest first, a page after a position: what the poller watches after a restart. */
  listOpenOrders(limit: number, after?: { createdAt: string; id: string }): Promise<OrderRecord[]>;
  /** Orders of these providers whose create outcome is unknown, reserved before `before`, oldest first, a page after a position. */
  listUnconfirmedOrders(providers: readonly Provider[], before: string, limit: number, after?: { createdAt: string; id: string }): Promise<OrderRecord[]>;
  /** The order a provider's webhook speaks of, by the provider's reference for the order or for one recipient. */
  findOrderByProviderRef(provider: Provider, ref: string): Promise<OrderRecord | undefined>;
  /** Records that these orders were just read from their provider, whether or not anything changed. */
  markChecked(orderIds: readonly string[], at: string): Promise<void>;
  /**
   * How many orders the ledger holds per provider and status, with the creation time of the oldest
   * of each: one grouped read, for metrics at scrape time (an UNCONFIRMED order left for hours needs a person).
   */
  countOrdersByStatus(): Promise<OrderStatusCount[]>;
}

/** The event log: every status change, in commit order. */
export interface EventLog {
  getStatusEvents(orderIds: readonly string[]): Promise<StatusEventRecord[]>;
  /** Events after a position in the log, oldest first: of one tenant (and order), or of all for the outbox tail. */
  getEventsAfter(query: { afterSeq: number; tenant?: string; orderId?: string; limit: number }): Promise<StatusEventRecord[]>;
  /** The newest position in the log (0 when empty). */
  lastEventSeq(): Promise<number>;
  /**
   * Called after every commit that appended events, on this replica or (PostgreSQL) on any other,
   * so they can be published; a call may come with nothing new (the log stays the truth).
   */
  onAppend(listener: () => void): void;
}

/** An order a verified webhook named, waiting to be read from its provider. */
export interface WebhookNudge {
  orderId: string;
  tenant: string;
  provider: Provider;
  receivedAt: string;
  /** The W3C traceparent of the delivery that named it (the first not read yet), where it was traced. */
  traceParent: string | null;
}

/** Webhook deliveries, recorded once, and the orders they name until each is read from its provider. */
export interface WebhookInbox {
  /** Whether this provider's delivery id was recorded. */
  hasWebhookDelivery(provider: Provider, deliveryId: string): Promise<boolean>;
  /**
   * Records a verified delivery and the orders it names, in one transaction; false when this
   * provider's delivery id was recorded before (a re-delivery), and then nothing is written.
   */
  recordWebhookDelivery(provider: Provider, deliveryId: string, receivedAt: string, orderIds?: readonly string[], traceParent?: string | null): Promise<boolean>;
  /** Orders named by webhooks and not read since, oldest nudge first. */
  pendingNudges(limit: number): Promise<WebhookNudge[]>;
  /** The order was read from its provider after these nudges: they are done. Nudges received later stay. */
  clearNudges(orderId: string, receivedUpTo: string): Promise<void>;
}

/** How far the background sync of each provider's own list of orders has come. */
export interface SyncState {
  provider: Provider;
  /** When the last sync that reached what the ledger already had finished. */
  syncedAt: string | null;
  /** When the last attempt failed, and why, in client-safe words; null after a success. */
  failedAt: string | null;
  lastError: string | null;
}

export interface SyncLog {
  syncStates(): Promise<SyncState[]>;
  recordSync(state: SyncState): Promise<void>;
}

/** A tenant's limits in one currency, in minor units; null: no limit over that window. */
export interface SpendingLimit {
  tenant: string;
  currency: string;
  perDayMinor: number | null;
  per30DaysMinor: number | null;
}

/** One currency of a tenant's spending: its limits, and what its sends committed over each rolling window. */
export interface SpendingState {
  currency: string;
  perDayMinor: number | null;
  per30DaysMinor: number | null;
  perDaySpentMinor: number;
  per30DaysSpentMinor: number;
}

/**
 * Spending limits and what counts against them: every send of the tenant in the window, by its
 * recipients' amounts, except what certainly was not spent (a create that was NOT_SENT, a gift or
 * order FAILED or CANCELED). An UNCONFIRMED send counts until it is settled.
 */
export interface SpendingLedger {
  /** Sets a tenant's limits in one currency; both null removes them. */
  setSpendingLimit(limit: SpendingLimit, at: string, by: string): Promise<void>;
  /** Each currency the tenant has a limit in or spent in over the last 30 days, at `now`. */
  spending(tenant: string, now: string): Promise<SpendingState[]>;
  /** The refusal a send of these amounts would meet now, without reserving anything (a preview). */
  checkSpending(tenant: string, asked: readonly { minor: number; currency: string }[], now: string): Promise<LimitRefusal | undefined>;
}

/** The replicas serving one ledger: each says it lives by a heartbeat, and says so no more when it stops. */
export interface ReplicaRegistry {
  /** This replica's id: it marks the creates it has in flight and the polls it owns. */
  readonly replica: string;
  heartbeat(at: string): Promise<void>;
  /** This replica stops: its poll leases and slots are released at once, for the others to take. */
  leave(): Promise<void>;
}

/** How many polls of one provider may run at once and start per second, across every replica. */
export interface PollBudget {
  concurrency: number;
  perSecond: number;
  /** A slot lapses this long after it was taken, if its replica died before giving it back. */
  leaseMs: number;
}

/** Who polls what: leases on orders, and each provider's poll budget, shared by every replica. */
export interface PollLeases {
  /**
   * Takes the polling of these orders for this replica, where no other live replica holds it;
   * returns the ids this replica now polls. A lease lapses when its replica leaves or has not
   * beaten since `staleBefore`, and another replica then takes it over.
   */
  leasePolls(orderIds: readonly string[], staleBefore: string): Promise<string[]>;
  /** A slot in the provider's shared poll budget, or null when its concurrency or rate is spent now. */
  takePollSlot(provider: Provider, now: string, budget: PollBudget): Promise<string | null>;
  /** The poll is over: its slot no longer counts against the provider's concurrency (it still counts against the rate). */
  releasePollSlot(slot: string, at: string): Promise<void>;
}

/**
 * The ledger of everything sent through giftgraph, by concern. Async so that a networked database
 * can take SQLite's place; every method that writes more than one row does it in one transaction.
 */
export interface Store extends OrderLedger, EventLog, WebhookInbox, SyncLog, ReplicaRegistry, PollLeases, SpendingLedger {
  /** `sqlite`: one process owns the ledger. `postgresql`: any number of replicas share it. */
  readonly engine: 'sqlite' | 'postgresql';
  /**
   * Runs `fn` in one transaction that commits when it resolves and rolls back when it throws; the
   * log's listeners hear of appended events after the commit. `fn` uses only `tx`, never the store.
   */
  transaction<T>(name: string, fn: (tx: LedgerTransaction) => Promise<T>): Promise<T>;
  /** Whether the ledger answers a query now. */
  ping(): Promise<boolean>;
  close(): Promise<void>;
}
