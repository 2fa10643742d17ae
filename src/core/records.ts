import type { GiftStatus, Provider, StatusSource } from './model.js';

/**
 * Where the create call of an order stands. This is the ledger's memory of what was sent:
 * - SENDING: recorded before the provider is called; found at start-up it means we crashed mid-call.
 * - ACCEPTED: the provider took it.
 * - NOT_SENT: the provider certainly did not take it (rejected, rate limited, unreachable); a retry may send it.
 * - UNCONFIRMED: the provider may or may not have taken it; it is never sent again automatically.
 * - HELD: recorded and nothing sent: giftgraph sends it at `scheduledFor` (a provider that cannot
 *   schedule), unless it is canceled first (status CANCELED), and then never.
 */
export type Submission = 'SENDING' | 'ACCEPTED' | 'NOT_SENT' | 'UNCONFIRMED' | 'HELD';

/**
 * What a send held by giftgraph needs at its time that the ledger keeps nowhere else: its recipients
 * are in their table, its time is the order's `scheduledFor` and its provider's options its `details`
 * (kept here too, as the provider's answers may add to `details`).
 */
export interface HeldRequest {
  message: string | null;
  senderName: string | null;
  timezone: string | null;
  options: Record<string, unknown>;
}

export interface MoneyRecord {
  minor: number;
  currency: string;
}

/** What a recipient was given, as the provider reported it. */
export type GiftRecord =
  | {
      kind: 'certificate';
      id: string;
      amount: MoneyRecord;
      shortToken?: string | null;
      longToken?: string | null;
      redemptionUrl?: string | null;
      message?: string | null;
      senderName?: string | null;
    }
  | { kind: 'link'; url: string; expiresAt?: string | null };

/** GIFTGRAPH: sent through giftgraph. PROVIDER: placed in the provider's own app, seen in its list of orders. */
export type OrderOrigin = 'GIFTGRAPH' | 'PROVIDER';

export interface OrderRecord {
  id: string;
  tenant: string;
  provider: Provider;
  origin: OrderOrigin;
  idempotencyKey: string;
  requestHash: string;
  submission: Submission;
  /** The provider's handle for the order (Guusto requestId, Giftronaut orderId, ...). */
  providerRef: string | null;
  status: GiftStatus;
  providerStatus: string;
  total: MoneyRecord | null;
  scheduledFor: string | null;
  /** Provider-specific fields shown on the provider's order type (Guusto orderStep, orderId, ...). */
  details: Record<string, unknown>;
  /** Why the last create attempt failed, in client-safe words. */
  lastError: { code: string; providerCode?: string; message: string } | null;
  createdAt: string;
  updatedAt: string;
  /** When it was last read from its provider (refreshed or polled), as the ledger holds it; null when never. */
  checkedAt?: string | null;
  /** The request of a send giftgraph holds until `scheduledFor` (submission HELD); absent otherwise. */
  heldRequest?: HeldRequest | null;
}

export interface RecipientRecord {
  id: string;
  orderId: string;
  position: number;
  email: string | null;
  employeeNumber: string | null;
  firstName: string | null;
  lastName: string | null;
  company: string | null;
  department: string | null;
  amount: MoneyRecord | null;
  status: GiftStatus;
  providerStatus: string;
  providerRef: string | null;
  gift: GiftRecord | null;
  /** This recipient's own create outcome, where the provider takes one recipient per request; else null. */
  submission: Submission | null;
}

export interface StatusEventRecord {
  /** Position in the event log: strictly increasing, the order of commits. */
  seq: number;
  tenant: string;
  orderId: string;
  recipientId: string | null;
  /** Null for the creation: the first outcome of a send giftgraph made, out of its reservation. */
  from: GiftStatus | null;
  to: GiftStatus;
  providerStatus: string;
  occurredAt: string;
  source: StatusSource;
  /** Who recorded it, for an OPERATOR change (the token's subject); null otherwise. */
  actor?: string | null;
  /** The W3C traceparent of the change that appended it, where it was traced; null otherwise. */
  traceParent?: string | null;
}

/** What a person found at the provider, for an outcome giftgraph could not know. */
export type SettlementOutcome = 'SENT' | 'NOT_SENT';

/**
 * The settlement of UNCONFIRMED outcomes: of the whole order (`order`), or of recipients one by
 * one where the provider takes one recipient per request (`recipients`). SENT carries the
 * provider's reference, from which the order is tracked as any other.
 */
export interface Settlement {
  orderId: string;
  actor: string;
  at: string;
  order?: { outcome: SettlementOutcome; providerRef: string | null };
  recipients?: { recipientId: string; outcome: SettlementOutcome; providerRef: string | null }[];
}

/** One look at an order's state, from a webhook, a poll or a mutation's own response. */
export interface Observation {
  orderId: string;
  source: StatusSource;
  occurredAt: string;
  status: GiftStatus;
  providerStatus: string;
  providerRef?: string;
  details?: Record<string, unknown>;
  total?: MoneyRecord | null;
  recipients?: RecipientObservation[];
  /**
   * Read right after a resend, or after a retry sent to refused recipients: a FAILED gift the provider
   * now reports sent leaves FAILED, and the order's summary may leave a final status.
   */
  reopens?: boolean;
}

export interface RecipientObservation {
  recipientId: string;
  status: GiftStatus;
  providerStatus: string;
  providerRef?: string | null;
  email?: string | null;
  gift?: GiftRecord | null;
  submission?: Submission;
}
