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

export type ReserveResult = { created: true; order: OrderRecord } | { created: false; order: OrderRecord };

/** What a change writes to an order: only the fields present; `lastError: null` clears it. */
export type OrderPatch = Partial<Pick<OrderRecord, 'submission' | 'status' | 'providerStatus' | 'providerRef' | 'details' | 'total' | 'lastError'>>;

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
  /** Appends to the event log, in this order; returns them with their positions. */
  appendEvents(events: readonly NewStatusEvent[]): Promise<StatusEventRecord[]>;
  /** Whether a provider's reference already names another order of this provider, or a gift of one. */
  isReferenceHeld(provider: Provider, ref: string, exceptOrderId: string): Promise<boolean>;
  /** Orders whose create was in flight (SENDING), and recipients claimed for one, when this process started. */
  interruptedSends(): Promise<{ orders: OrderRecord[]; recipients: InterruptedRecipient[] }>;
}

/** Orders and their recipients: what was sent, to whom, and where each stands. */
export interface OrderLedger {
  /**
   * Records the intent to send, before any provider is called: inserts the order and its
   * recipients, or returns the order already holding this tenant's idempotency key.
   */
  reserveOrder(order: OrderRecord, recipients: RecipientRecord[]): Promise<ReserveResult>;
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
  /** Called after every commit that appended events, so they can be published. */
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

/**
 * The ledger of everything sent through giftgraph, by concern. Async so that a networked database
 * can take SQLite's place; every method that writes more than one row does it in one transaction.
 */
export interface Store extends OrderLedger, EventLog, WebhookInbox, SyncLog {
  /**
   * Runs `fn` in one transaction that commits when it resolves and rolls back when it throws; the
   * log's listeners hear of appended events after the commit. `fn` uses only `tx`, never the store.
   */
  transaction<T>(name: string, fn: (tx: LedgerTransaction) => Promise<T>): Promise<T>;
  ping(): boolean;
  close(): void;
}
