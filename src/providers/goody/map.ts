import type { GiftStatus } from '../../core/model.js';
import type { Money } from '../../core/money.js';
import type { OrderSnapshot } from '../adapter.js';
import type { GoodyBatch, GoodyOrder } from './api.js';

/**
 * Goody's order statuses [doc] in the unified lifecycle. A created order already has its gift link
 * (SENT); accepting the gift and what Goody does to fulfil it (pending_payment, paid, ordered) are
 * REDEEMED until it ships. A canceled order reports `failed`: the cancel endpoint answers with it
 * (https://developer.ongoody.com/api-reference/orders/cancel-an-order) and so does the
 * `order.canceled` event (https://developer.ongoody.com/webhooks/events/order.canceled). So `failed`
 * is FAILED, except on an order giftgraph asked Goody to cancel (see `goodyOrderStatus`).
 */
const ORDER_STATUS: Record<string, GiftStatus> = {
  created: 'SENT',
  notified: 'SENT',
  opened: 'OPENED',
  accepted: 'REDEEMED',
  pending_payment: 'REDEEMED',
  paid: 'REDEEMED',
  ordered: 'REDEEMED',
  shipped: 'SHIPPED',
  delivered: 'DELIVERED',
  failed: 'FAILED',
  canceled: 'CANCELED',
};

/** Goody cancels a gift only while it is created, notified or opened [doc]. */
export const CANCELABLE = new Set(['created', 'notified', 'opened']);

/**
 * An order's status; `cancelRequested` when giftgraph asked Goody to cancel it, so its `failed` is
 * that cancel. Goody's word on any other order is kept: a failure we did not ask for is FAILED.
 */
export function goodyOrderStatus(status: string, cancelRequested = false): GiftStatus {
  const value = status.toLowerCase();
  return value === 'failed' && cancelRequested ? 'CANCELED' : (ORDER_STATUS[value] ?? 'UNKNOWN');
}

/** A batch's own status before its orders exist; once they do, the recipients' statuses speak. */
function batchStatus(batch: GoodyBatch, now: number): GiftStatus {
  switch (batch.send_status.toLowerCase()) {
    case 'pending':
      return batch.scheduled_send_on && Date.parse(batch.scheduled_send_on) > now ? 'SCHEDULED' : 'PROCESSING';
    case 'complete':
      return 'SENT';
    case 'failed':
      return 'FAILED';
    case 'canceled':
      return 'CANCELED';
    default:
      return 'UNKNOWN';
  }
}

/** Who we sent to, as far as Goody can tell recipients apart. */
export interface BatchRecipient {
  position: number;
  email: string | null;
  firstName: string | null;
  lastName: string | null;
}

/**
 * Which of our recipients each Goody order is for: by email, else by name, else (for the same name
 * twice) in the order Goody lists them. A gift link is never given to a recipient it does not match.
 */
export function matchOrders(orders: readonly GoodyOrder[], recipients: readonly BatchRecipient[]): Map<GoodyOrder, number> {
  const free = new Set(recipients.map((r) => r.position));
  const matches = new Map<GoodyOrder, number>();
  const same = (a: string | null | undefined, b: string | null | undefined) => (a ?? '').trim().toLowerCase() === (b ?? '').trim().toLowerCase();
  const rules: ((o: GoodyOrder, r: BatchRecipient) => boolean)[] = [
    (o, r) => Boolean(o.recipient_email && r.email) && same(o.recipient_email, r.email),
    (o, r) => !r.email && Boolean(r.firstName) && same(o.recipient_first_name, r.firstName) && same(o.recipient_last_name, r.lastName),
  ];
  for (const rule of rules) {
    for (const order of orders) {
      if (matches.has(order)) continue;
      const recipient = recipients.find((r) => free.has(r.position) && rule(order, r));
      if (recipient) {
        matches.set(order, recipient.position);
        free.delete(recipient.position);
      }
    }
  }
  return matches;
}

export interface BatchSnapshotOptions {
  /** Orders no recipient matches are new recipients (a batch sent from Goody's app). */
  addUnmatched?: boolean;
  /** Ids of the Goody orders giftgraph asked Goody to cancel. */
  canceled?: ReadonlySet<string>;
}

/**
 * A batch with its orders, one per recipient, each order matched to the recipient it is for. With
 * `addUnmatched` (a batch sent from Goody's app, known to us first from a preview of 10), orders no
 * recipient matches are new recipients, after the known ones, with who they are. The orders of the
 * batch giftgraph asked to cancel are kept in its details (`canceledOrderIds`), so whoever reads the
 * batch later, in this process or another, knows their `failed` is that cancel.
 */
export function batchSnapshot(
  batch: GoodyBatch,
  orders: readonly GoodyOrder[] | undefined,
  now: number,
  recipients: readonly BatchRecipient[] = [],
  { addUnmatched = false, canceled = new Set() }: BatchSnapshotOptions = {},
): OrderSnapshot & { total: Money | null } {
  const matched = orders ? matchOrders(orders, recipients) : new Map<GoodyOrder, number>();
  const people = new Map<GoodyOrder, { email: string | null; firstName: string | null; lastName: string | null }>();
  if (addUnmatched && orders) {
    let next = Math.max(-1, ...recipients.map((r) => r.position)) + 1;
    for (const o of orders) {
      if (matched.has(o)) continue;
      matched.set(o, next++);
      people.set(o, { email: o.recipient_email ?? null, firstName: o.recipient_first_name ?? null, lastName: o.recipient_last_name ?? null });
    }
  }
  const canceledHere = (orders ?? []).filter((o) => canceled.has(o.id)).map((o) => o.id);
  return {
    providerRef: batch.id,
    status: batchStatus(batch, now),
    providerStatus: batch.send_status,
    details: {
      goodyBatchId: batch.id,
      sendStatus: batch.send_status,
      sendMethod: batch.send_method ?? null,
      ordersCount: batch.orders_count ?? null,
      expiresAt: batch.expires_at ?? null,
      ...(canceledHere.length > 0 ? { canceledOrderIds: canceledHere } : {}),
    },
    total:
      orders && orders.length > 0 && orders.every((o) => typeof o.amounts?.amount_total === 'number')
        ? { minor: orders.reduce((sum, o) => sum + o.amounts!.amount_total!, 0), currency: 'USD' }
        : null,
    recipients: orders?.flatMap((o) => {
      const position = matched.get(o);
      if (position === undefined) return [];
      return [
        {
          position,
          ...people.get(o),
          status: goodyOrderStatus(o.status, canceled.has(o.id)),
          providerStatus: o.status,
          providerRef: o.id,
          gift: o.individual_gift_link ? { kind: 'link' as const, url: o.individual_gift_link, expiresAt: batch.expires_at ?? null } : null,
        },
      ];
    }),
  };
}
