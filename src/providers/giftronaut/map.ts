import type { GiftStatus } from '../../core/model.js';
import type { OrderSnapshot } from '../adapter.js';
import type { GiftronautOrder } from './api.js';

/**
 * Giftronaut's order statuses [doc] in the unified lifecycle. A PENDING order whose sendTiming is
 * SCHEDULED is waiting for its time: SCHEDULED. COMPLETE means every recipient's reward link was
 * issued and emailed: SENT. Giftronaut reports nothing after that (no opens or redemptions).
 */
const ORDER_STATUS: Record<string, GiftStatus> = {
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

export function giftronautStatus(order: Pick<GiftronautOrder, 'status' | 'sendTiming'>): GiftStatus {
  const status = ORDER_STATUS[order.status.toUpperCase()] ?? 'UNKNOWN';
  return status === 'PENDING' && order.sendTiming?.type === 'SCHEDULED' ? 'SCHEDULED' : status;
}

export function orderSnapshot(order: GiftronautOrder): OrderSnapshot {
  const status = giftronautStatus(order);
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
    // Recipients are listed in the order they were sent [assume], so position matches ours.
    recipients: order.recipients?.map((r, position) => {
      // A recipient's own value counts where it says more than the order's: a link sent, a bounce.
      const own = r.status ? RECIPIENT_STATUS[r.status.toUpperCase()] : undefined;
      const recipientStatus = r.rewardLink ? 'SENT' : own === 'FAILED' || own === 'CANCELED' ? own : status;
      return {
        position,
        status: recipientStatus,
        providerStatus: r.status ?? order.status,
        email: r.email,
        gift: r.rewardLink ? { kind: 'link' as const, url: r.rewardLink, expiresAt: r.expiresAt ?? null } : null,
      };
    }),
  };
}
