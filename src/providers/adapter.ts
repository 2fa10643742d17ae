import type { InputErrors } from '../core/errors.js';
import type { Money } from '../core/money.js';
import type { CatalogKind, GiftStatus, Provider } from '../core/model.js';
import type { GiftRecord, OrderRecord, RecipientRecord, Submission } from '../core/records.js';
import type { NativeList, OffsetPosition, PagedList } from '../pagination/native.js';
import type { ProviderCallError } from './http.js';

/**
 * What an adapter is told of one of our orders: our reference, the provider's handle and what the
 * ledger last knew of it; never whose order it is (its tenant) or how it was asked for.
 */
export type ProviderOrder = Pick<OrderRecord, 'id' | 'origin' | 'providerRef' | 'status' | 'providerStatus' | 'submission' | 'scheduledFor' | 'details' | 'createdAt'>;

/** What an adapter is told of one recipient of our order. */
export type ProviderRecipient = Pick<
  RecipientRecord,
  'id' | 'position' | 'email' | 'employeeNumber' | 'firstName' | 'lastName' | 'amount' | 'status' | 'providerStatus' | 'providerRef' | 'gift' | 'submission'
>;

/** What a provider can do, so clients and the service can tell before trying. */
export interface ProviderCapabilities {
  canCancel: boolean;
  canResend: boolean;
  canListOrders: boolean;
  /**
   * The provider itself sends at a later time (sendAt, timezone). Elsewhere giftgraph holds a send
   * with a send time and sends it then (src/orders/held.ts): every provider takes sendAt.
   */
  schedulesNatively: boolean;
  hasWebhooks: boolean;
  /** The provider deduplicates creates, so a create whose outcome is unknown may be sent again safely. */
  deduplicatesCreates: boolean;
}

/** A validated, provider-neutral request to send gifts. */
export interface SendRequest {
  /** Our order id: passed to providers as their customer reference where they take one. */
  reference: string;
  idempotencyKey: string;
  recipients: SendRecipient[];
  message: string | null;
  senderName: string | null;
  sendAt: string | null;
  timezone: string | null;
  /** This provider's own option block from the input, already validated by its adapter. */
  options: Record<string, unknown>;
  /**
   * How much longer this create may be attempted again, by anyone: the time left in the provider's
   * memory of its key, less a margin. Absent where that memory has no known end.
   */
  repeatableForMs?: number;
}

export interface SendRecipient {
  position: number;
  email: string | null;
  employeeNumber: string | null;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  department: string | null;
  amount: Money | null;
}

/** A provider's view of an order at one moment, mapped to the unified model. */
export interface OrderSnapshot {
  providerRef: string;
  status: GiftStatus;
  providerStatus: string;
  details?: Record<string, unknown>;
  /** What the order costs, where the provider prices it only once it exists (Goody). */
  total?: Money | null;
  /** Per recipient, by position in the order; absent when the provider reports only the order. */
  recipients?: {
    position: number;
    status: GiftStatus;
    providerStatus: string;
    providerRef?: string | null;
    /** The address the provider now sends to, where it can change (a resend to a corrected email). */
    email?: string | null;
    /** Who it is, where the provider says: an order placed elsewhere is known only from its list. */
    firstName?: string | null;
    lastName?: string | null;
    gift?: GiftRecord | null;
    /** This recipient's own create outcome, from an adapter that sends one request per recipient. */
    submission?: Submission;
    /** Why this recipient's own create failed (submission NOT_SENT or UNCONFIRMED), for the client's problems. */
    failure?: ProviderCallError;
  }[];
}

export type CreateOutcome =
  | { kind: 'accepted'; snapshot: OrderSnapshot }
  /** The provider certainly did not take the order. */
  | { kind: 'not_sent'; error: ProviderCallError }
  /** The provider may have taken the order; it must not be sent again blindly. */
  | { kind: 'unknown'; error: ProviderCallError };

export interface ListedOrder extends OrderSnapshot {
  createdAt: string | null;
  /** Our order id, where the provider echoes the reference we sent (Goody `customer_reference_id`). */
  reference?: string | null;
}

export type WebhookVerdict =
  | { ok: true; deliveryId: string; eventType: string }
  /** `malformed`: the signature is good but the body is not an event we can read (400, not 401). */
  | { ok: false; reason: string; malformed?: true };

/** What a webhook receiver answers: to an event, or to a provider's request that is not one (a registration challenge). */
export interface WebhookReply {
  status: number;
  body: Record<string, unknown>;
}

/** How a provider's webhooks are checked and read. Present only where a signing secret is configured. */
export interface ProviderWebhooks {
  /** The answer to an endpoint registration challenge, checked before `verify`; undefined for anything else. */
  challenge?(rawBody: Buffer, headers: Record<string, string | string[] | undefined>): WebhookReply | undefined;
  /** Checks the signature (and freshness) of a delivery over its raw body. */
  verify(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, now: number): WebhookVerdict;
  /**
   * The provider references (of an order, or of one recipient's gift) an event speaks of; [] for a
   * known event about no order (a balance alert); undefined for an event type we do not know.
   */
  references(eventType: string, payload: unknown): string[] | undefined;
}

export interface CatalogEntry {
  localId: string;
  kind: CatalogKind;
  name: string;
  currency: string | null;
  prices: Money[];
  minAmount: Money | null;
  maxAmount: Money | null;
}

/** The input as the service hands it to an adapter for the provider's own rules. */
export interface ValidationInput {
  recipients: SendRecipient[];
  message: string | null;
  senderName: string | null;
  sendAt: string | null;
  timezone: string | null;
  options: Record<string, unknown> | null;
}

/**
 * The one contract every provider meets. Adapters speak the provider's REST API over HTTP and map
 * to the unified model; they hold no business rules beyond the provider's own.
 */
export interface ProviderAdapter {
  readonly provider: Provider;
  readonly capabilities: ProviderCapabilities;
  /**
   * The provider takes one recipient per request and does not deduplicate (&Open): each recipient's
   * create has its own outcome, and a same-key retry sends only to recipients certainly not sent.
   */
  readonly sendsPerRecipient?: boolean;
  /**
   * How long the provider remembers an idempotency key, where its deduplication is known to end
   * (Giftronaut: 24 hours). A create is repeated only well inside it: after that, an order whose
   * outcome is unknown stays UNCONFIRMED, as with a provider that does not deduplicate.
   */
  readonly createKeyLifetimeMs?: number;
  /** The most recipients one order may have, where the provider documents it (Guusto: 20); giftgraph's own cap otherwise. */
  readonly maxRecipients?: number;
  readonly webhooks?: ProviderWebhooks;
  /** The provider's own input rules, checked before anything is written or sent. No I/O. */
  validate(input: ValidationInput, errors: InputErrors): void;
  /**
   * Rules that need the provider's data (a product's price points, from its catalog), checked
   * before anything is written. Skips what it cannot check: the provider stays the final judge.
   */
  validateRemote?(input: ValidationInput, errors: InputErrors): Promise<void>;
  create(request: SendRequest): Promise<CreateOutcome>;
  /** True when the provider will never report anything new about this order, so nobody needs to ask again. */
  isSettled(order: ProviderOrder): boolean;
  /** The order as the provider sees it now. */
  refresh(order: ProviderOrder, recipients: readonly ProviderRecipient[]): Promise<OrderSnapshot>;
  /**
   * An order whose create outcome is unknown, looked up by our reference where the provider can
   * (Goody's `customer_reference_id`): its snapshot when the provider has it, undefined when it was
   * not found, which proves nothing (it may be further back in the list).
   */
  lookUp?(order: ProviderOrder, recipients: readonly ProviderRecipient[]): Promise<OrderSnapshot | undefined>;
  /**
   * Many orders read at once, where one request to the provider's list shows them with their
   * recipients: snapshots of those it found, by our order id. The rest are refreshed one by one.
   */
  refreshMany?(orders: readonly { order: ProviderOrder; recipients: readonly ProviderRecipient[] }[]): Promise<Map<string, OrderSnapshot>>;
  /** What this order allows now, where it is narrower than the provider's capabilities. */
  orderCapabilities?(order: ProviderOrder, recipients: readonly ProviderRecipient[], now: Date): { canCancel: boolean; canResend: boolean };
  /** Every order we send carries our reference, and the provider's list shows it (Goody `customer_reference_id`). */
  readonly echoesReference?: boolean;
  /** The provider's own list of orders, newest first, including ones placed outside giftgraph; where `canListOrders`. */
  readonly orderList?: NativeList<ListedOrder, OffsetPosition>;
  cancel?(order: ProviderOrder, recipients: readonly ProviderRecipient[]): Promise<OrderSnapshot>;
  resend?(order: ProviderOrder, recipients: { email: string; updatedEmail: string | null }[]): Promise<{ requeued: number }>;
  /** The whole catalog, kept for a while (input checks read it). */
  catalog(): Promise<CatalogEntry[]>;
  /** The catalog page by page as the provider pages it, where it does: `catalog` connections read it live. */
  readonly catalogPages?: PagedList<CatalogEntry>;
  /** Funds available to send with, per currency, where the provider reports them. */
  balances?(): Promise<Money[]>;
  /** Releases pooled connections. */
  close(): Promise<void>;
}
