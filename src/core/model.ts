/** The provider-neutral vocabulary shared by the schema, the service, the adapters and the store. */

export const PROVIDERS = ['GUUSTO', 'GIFTRONAUT', 'GOODY', 'ANDOPEN'] as const;
export type Provider = (typeof PROVIDERS)[number];

export const GIFT_STATUSES = [
  'SCHEDULED',
  'PENDING',
  'PROCESSING',
  'SENT',
  'OPENED',
  'REDEEMED',
  'SHIPPED',
  'DELIVERED',
  'CANCELED',
  'FAILED',
  'EXPIRED',
  'UNCONFIRMED',
  'UNKNOWN',
] as const;
export type GiftStatus = (typeof GIFT_STATUSES)[number];

/** Statuses after which nothing more happens to a gift, so nobody needs to ask the provider again. */
const FINAL: ReadonlySet<GiftStatus> = new Set(['DELIVERED', 'CANCELED', 'FAILED', 'EXPIRED']);

export const isFinalStatus = (status: GiftStatus): boolean => FINAL.has(status);

/**
 * How far along the lifecycle a status is. A status change is applied only when it moves
 * forward (or sideways into a final state), so a late or duplicate observation never moves
 * an order backwards. UNCONFIRMED and UNKNOWN rank lowest: any real observation replaces them.
 */
const RANK: Record<GiftStatus, number> = {
  UNKNOWN: 0,
  UNCONFIRMED: 0,
  SCHEDULED: 1,
  PENDING: 2,
  PROCESSING: 3,
  SENT: 4,
  OPENED: 5,
  REDEEMED: 6,
  SHIPPED: 7,
  DELIVERED: 8,
  CANCELED: 9,
  FAILED: 9,
  EXPIRED: 9,
};

export function isForwardMove(from: GiftStatus, to: GiftStatus): boolean {
  if (from === to) return false;
  if (isFinalStatus(from)) return false;
  if (to === 'UNKNOWN') return from === 'UNKNOWN' || from === 'UNCONFIRMED';
  return RANK[to] >= RANK[from];
}

/**
 * The status of an order summarizes its recipients': the least advanced live recipient sets
 * the pace, and only when every recipient is final does the order take a final status.
 */
export function summarizeStatus(recipientStatuses: readonly GiftStatus[], fallback: GiftStatus): GiftStatus {
  if (recipientStatuses.length === 0) return fallback;
  const live = recipientStatuses.filter((s) => !isFinalStatus(s));
  const pool = live.length > 0 ? live : recipientStatuses;
  return pool.reduce((least, s) => (RANK[s] < RANK[least] ? s : least));
}

export type CatalogKind = 'OPEN_AMOUNT' | 'BRANDED_CARD' | 'CHOICE_CARD' | 'PRODUCT' | 'CAMPAIGN';

/** Where a status change came from; OPERATOR: a person settled an UNCONFIRMED outcome. */
export type StatusSource = 'WEBHOOK' | 'POLL' | 'MUTATION' | 'OPERATOR';
