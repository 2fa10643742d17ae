import type { GiftStatus } from '../../core/model.js';
import type { OrderSnapshot } from '../adapter.js';
import type { GiftronautOrder } from './api.js';

/**
 * Giftronaut's order statuses [doc: api.giftronaut.com/docs/reference/orders, `PENDING | IN_PROGRESS
 * | COMPLETE | CANCELED`] in the unified lifecycle. COMPLETE means every recipient's reward link was
 * issued and emailed: SENT. Giftronaut reports nothing after that (no opens or redemptions).
 * SCHEDULED is not among the documented values; an order that says it is taken at its word.
 */
const ORDER_STATUS: Record<string, GiftStatus> = {
  SCHEDULED: 'SCHEDULED',
  PENDING: 'PENDING',
  IN_PROGRESS: 'PROCESSING',
  COMPLETE: 'SENT',
  CANCELED: 'CANCELED',
  CANCELLED: 'CANCELED',
};

/** Per-recipient values are not documented [assume]: the sandbox reports PENDING, SENT, FAILED, CANCELED. */
const RECIPIENT_STATUS: Record<string, GiftStatus> = {
  SENT: 'SENT',
  FAILED: 'FAILED',
  CANCELED: 'CANCELED',
};

/** What we know of an order we sent ourselves, beyond what Giftronaut's answer echoes. */
export interface KnownOrder {
  /** We asked for a later send, and its time is still ahead. */
  scheduled?: boolean;
  /** Our recipients: each listed recipient is matched to one of them. */
  recipients?: readonly KnownRecipient[];
}

export interface KnownRecipient {
  position: number;
  email: string | null;
}

/**
 * The order's own status decides; a PENDING order is SCHEDULED when it is waiting for a send time:
 * its echoed `sendTiming` says so where the answer has one, else our own request does (the answer
 * need not echo `sendTiming`), and only while that send time is ahead.
 */
export function giftronautStatus(order: Pick<GiftronautOrder, 'status' | 'sendTiming'>, known: KnownOrder = {}): GiftStatus {
  const status = ORDER_STATUS[order.status.toUpperCase()] ?? 'UNKNOWN';
  const echoed = order.sendTiming?.type?.toUpperCase();
  const scheduled = echoed ? echoed === 'SCHEDULED' : known.scheduled === true;
  return status === 'PENDING' && scheduled ? 'SCHEDULED' : status;
}

/**
 * Which of our positions each listed recipient is. Nothing documents the order Giftronaut lists
 * recipients in, but each carries the email it was sent to [doc: recipients[].email], so email
 * decides; a recipient listed without one (a reward-link order) keeps its place in the list. One
 * whose email is none of ours (corrected in Giftronaut's dashboard) is matched only when it is the
 * one recipient left of a list as long as ours; otherwise it is left out rather than guessed.
 * Without our recipients (an order placed in Giftronaut's dashboard), the list's order is all there is.
 */
export function matchRecipients(listed: readonly { email?: string | null }[], ours?: readonly KnownRecipient[]): (number | undefined)[] {
  if (!ours) return listed.map((_, i) => i);
  const result: (number | undefined)[] = listed.map(() => undefined);
  const known = new Set(ours.map((r) => r.position));
  const free = new Set(known);
  const byEmail = new Map<string, number[]>();
  for (const r of [...ours].sort((a, b) => a.position - b.position)) {
    if (!r.email) continue;
    const key = r.email.toLowerCase();
    byEmail.set(key, [...(byEmail.get(key) ?? []), r.position]);
  }
  const take = (i: number, position: number) => {
    result[i] = position;
    free.delete(position);
  };
  listed.forEach((r, i) => {
    const position = r.email ? byEmail.get(r.email.toLowerCase())?.shift() : undefined;
    if (position !== undefined) take(i, position);
  });
  listed.forEach((r, i) => {
    if (result[i] !== undefined) return;
    if (!known.has(i))
      take(i, i); // a recipient we have not seen yet (an order placed elsewhere)
    else if (!r.email && free.has(i)) take(i, i);
  });
  // One address corrected in Giftronaut's dashboard: only where Giftronaut lists exactly whom we sent.
  const left = result.flatMap((position, i) => (position === undefined ? [i] : []));
  if (listed.length === ours.length && left.length === 1 && free.size === 1) take(left[0]!, [...free][0]!);
  return result;
}

export function orderSnapshot(order: GiftronautOrder, known: KnownOrder = {}): OrderSnapshot {
  const status = giftronautStatus(order, known);
  const listed = order.recipients ?? undefined;
  const positions = listed ? matchRecipients(listed, known.recipients) : [];
  return {
    providerRef: order.orderId,
    status,
    providerStatus: order.status,
    details: {
      giftronautOrderId: order.orderId,
      orderType: order.orderType ?? null,
      cardType: order.cardType ?? null,
      productName: order.productName ?? null,
      timezone: order.sendTiming?.timezone ?? null,
    },
    recipients: listed?.flatMap((r, i) => {
      const position = positions[i];
      if (position === undefined) return [];
      // A recipient's own value counts where it says more than the order's: a link sent, a bounce.
      const own = r.status ? RECIPIENT_STATUS[r.status.toUpperCase()] : undefined;
      const recipientStatus = r.rewardLink ? 'SENT' : own === 'FAILED' || own === 'CANCELED' ? own : status;
      return [
        {
          position,
          status: recipientStatus,
          providerStatus: r.status ?? order.status,
          email: r.email,
          gift: r.rewardLink ? { kind: 'link' as const, url: r.rewardLink, expiresAt: r.expiresAt ?? null } : null,
        },
      ];
    }),
  };
}
