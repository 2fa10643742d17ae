import { minorFromDecimal } from '../../core/money.js';
import type { GiftStatus } from '../../core/model.js';
import type { GiftRecord } from '../../store/records.js';
import type { OrderSnapshot } from '../adapter.js';
import type { GuustoCertificate, GuustoOrderRequest } from './api.js';

/**
 * Guusto's `requestStatus` values [community] in the unified lifecycle. Their meanings are not
 * published [assume]: COMPLETED means the certificates were issued (the gift reached the recipient,
 * SENT), and COMPLETED and FAILED are final. Anything else is UNKNOWN with the value kept.
 */
const REQUEST_STATUS: Record<string, GiftStatus> = {
  ACCEPTED: 'PENDING',
  WAITING_PROCESSING: 'PENDING',
  PROCESSING_IN_PROGRESS: 'PROCESSING',
  COMPLETED: 'SENT',
  FAILED: 'FAILED',
};

export const guustoStatus = (requestStatus: string): GiftStatus => REQUEST_STATUS[requestStatus.toUpperCase()] ?? 'UNKNOWN';

export function requestSnapshot(request: GuustoOrderRequest, certificates?: readonly GuustoCertificate[]): OrderSnapshot {
  const status = guustoStatus(request.requestStatus);
  return {
    providerRef: request.requestId,
    status,
    providerStatus: request.requestStatus,
    details: {
      requestId: request.requestId,
      orderStep: request.orderStep ?? null,
      guustoOrderId: request.orderId === null || request.orderId === undefined ? null : String(request.orderId),
    },
    // Guusto reports no status per certificate: every recipient shares the request's status.
    // Certificates are matched to recipients by position [assume: listed in the order of orderItems].
    recipients: certificates?.map((c, position) => ({
      position,
      status,
      providerStatus: request.requestStatus,
      providerRef: String(c.id),
      gift: certificateGift(c),
    })),
  };
}

export function certificateGift(c: GuustoCertificate): GiftRecord {
  // longToken is documented as a token; it is reported to be a signed redemption URL on some accounts [community].
  const isUrl = typeof c.longToken === 'string' && /^https?:\/\//.test(c.longToken);
  return {
    kind: 'certificate',
    id: String(c.id),
    amount: { minor: minorFromDecimal(c.amount, c.currency), currency: c.currency },
    shortToken: c.shortToken ?? null,
    longToken: isUrl ? null : (c.longToken ?? null),
    redemptionUrl: isUrl ? c.longToken! : null,
    message: c.message ?? null,
    senderName: c.senderName ?? null,
  };
}
