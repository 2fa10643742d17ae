import type { GiftStatus, Provider } from '../core/model.js';
import type { Observation, OrderRecord, RecipientRecord, Settlement, StatusEventRecord, Submission } from '../core/records.js';

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

export type SettleOutcome = 'settled' | 'not_unconfirmed' | 'reference_taken';

export type ReserveResult = { created: true; order: OrderRecord } | { created: false; order: OrderRecord };

/**
 * The ledger of everything sent through giftgraph. Async so that a networked database can take
 * SQLite's place; every method that writes more than one row does it in one transaction.
 */
export interface Store {
  /**
   * Records the intent to send, before any provider is called: inserts the order and its
   * recipients, or returns the order already holding this tenant's idempotency key.
   */
  reserveOrder(order: OrderRecord, recipients: RecipientRecord[]): Promise<ReserveResult>;
  /** Moves an order's create call along (SENDING → ACCEPTED/NOT_SENT/UNCONFIRMED, or NOT_SENT → SENDING for a retry). */
  updateSubmission(
    orderId: string,
    expected: Submission,
    patch: { submission: Submission; status?: GiftStatus; providerStatus?: string; lastError?: OrderRecord['lastError'] },
  ): Promise<boolean>;
  /**
   * Applies a status observation and appends its events to the event log, atomically; returns the
   * events appended. With `accept`, the same transaction marks a SENDING order ACCEPTED, so the
   * provider's reference and the acceptance are never recorded apart.
   */
  ingest(observation: Observation, options?: { accept?: boolean }): Promise<StatusEventRecord[]>;
  getOrders(tenant: string, ids: readonly string[]): Promise<OrderRecord[]>;
  /** The order holding this tenant's idempotency key, if any. */
  findOrderByKey(tenant: string, idempotencyKey: string): Promise<OrderRecord | undefined>;
  /** Orders sent through giftgraph, newest first (orders placed at a provider are listed from the provider). */
  listOrders(query: OrderListQuery): Promise<OrderRecord[]>;
  /**
   * Which of a provider's orders were sent through giftgraph (by any tenant): by the provider's
   * reference, or by our order id where the provider echoes it back. `unresolved`: this provider's
   * sends whose reference we do not know yet (in flight, or their answer was lost), each with when
   * it was first and last attempted and its recipients' emails.
   */
  findPlaced(
    provider: Provider,
    seen: readonly { ref: string; reference?: string | null }[],
  ): Promise<{ placed: Set<string>; unresolved: UnresolvedSend[] }>;
  /** The owner of a provider account changed: what was recorded from its list moves to the new one. Returns how many moved. */
  reassignAdopted(provider: Provider, tenant: string): Promise<number>;
  /**
   * Records orders placed at a provider (origin PROVIDER) the first time they are seen, with their
   * recipients, for the tenant that now owns the account; never one giftgraph sent. Returns the
   * recorded orders among `refs`, new or not, keyed by the provider's reference.
   */
  adoptOrders(
    provider: Provider,
    orders: readonly { order: OrderRecord; recipients: RecipientRecord[] }[],
    refs: readonly string[],
  ): Promise<Map<string, OrderRecord>>;
  getRecipients(orderIds: readonly string[]): Promise<RecipientRecord[]>;
  /** Recipients of an order placed at a provider that its list did not show at first; positions already known are kept. */
  addRecipients(recipients: readonly RecipientRecord[]): Promise<void>;
  /** One tenant's recipients with any of these emails (case-insensitive), with their order's provider, newest order first. */
  getRecipientsByEmail(tenant: string, emails: readonly string[]): Promise<(RecipientRecord & { provider: Provider })[]>;
  getStatusEvents(orderIds: readonly string[]): Promise<StatusEventRecord[]>;
  /** Events after a position in the log, oldest first: of one tenant (and order), or of all for the outbox tail. */
  getEventsAfter(query: { afterSeq: number; tenant?: string; orderId?: string; limit: number }): Promise<StatusEventRecord[]>;
  /** The newest position in the log (0 when empty). */
  lastEventSeq(): Promise<number>;
  /** Called after every commit that appended events, so they can be published. */
  onAppend(listener: () => void): void;
  /** Accepted orders not in a final status, oldest first, a page after a position: what the poller watches after a restart. */
  listOpenOrders(limit: number, after?: { createdAt: string; id: string }): Promise<OrderRecord[]>;
  /** Orders of these providers whose create outcome is unknown, reserved before `before`, oldest first, a page after a position. */
  listUnconfirmedOrders(providers: readonly Provider[], before: string, limit: number, after?: { createdAt: string; id: string }): Promise<OrderRecord[]>;
  /** The order a provider's webhook speaks of, by the provider's reference for the order or for one recipient. */
  findOrderByProviderRef(provider: Provider, ref: string): Promise<OrderRecord | undefined>;
  /** Whether this provider's delivery id was recorded: its change is in the ledger already. */
  hasWebhookDelivery(provider: Provider, deliveryId: string): Promise<boolean>;
  /** Records a webhook delivery; false when this provider's delivery id was recorded before (a re-delivery). */
  recordWebhookDelivery(provider: Provider, deliveryId: string, receivedAt: string): Promise<boolean>;
  /**
   * Orders (and recipients) left SENDING by a previous process stay UNCONFIRMED for good: we cannot
   * know whether the provider took them.
   */
  recoverInterruptedSends(now: string): Promise<number>;
  /**
   * Records, in one transaction, what a person found at the provider about UNCONFIRMED outcomes, with
   * OPERATOR events that name them. Changes nothing when any of it is not UNCONFIRMED now, or when a
   * provider reference given is already another order's or gift's.
   */
  settle(settlement: Settlement): Promise<SettleOutcome>;
  /** Claims an order's certainly-unsent recipients for a new attempt, atomically; returns their ids. */
  claimUnsentRecipients(orderId: string, now: string): Promise<string[]>;
  /**
   * How many orders the ledger holds per provider and status, with the creation time of the oldest
   * of each: one grouped read, for metrics at scrape time (an UNCONFIRMED order left for hours needs a person).
   */
  countOrdersByStatus(): Promise<OrderStatusCount[]>;
  ping(): boolean;
  close(): void;
}
