import { minorFromDecimal, type Money } from '../../core/money.js';
import type { GiftStatus } from '../../core/model.js';
import type { GiftRecord } from '../../core/records.js';
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

/** Who we sent a gift to, as far as a certificate can be told apart. */
export interface CertificateRecipient {
  position: number;
  email: string | null;
  employeeNumber: string | null;
  amount: Money | null;
}

/**
 * A request as Guusto reports it; with its certificates, each matched to the recipient it is for.
 * Guusto reports no status per certificate: every recipient shares the request's status, and one
 * no certificate matches gets none rather than someone else's.
 */
export function requestSnapshot(request: GuustoOrderRequest, certificates?: readonly GuustoCertificate[], recipients: readonly CertificateRecipient[] = []): OrderSnapshot {
  const status = guustoStatus(request.requestStatus);
  const matched = certificates ? matchCertificates(certificates, recipients) : undefined;
  const unmatched = certificates && matched ? certificates.length - matched.size : 0;
  return {
    providerRef: request.requestId,
    status,
    providerStatus: request.requestStatus,
    details: {
      requestId: request.requestId,
      orderStep: request.orderStep ?? null,
      guustoOrderId: request.orderId === null || request.orderId === undefined ? null : String(request.orderId),
      ...(unmatched > 0 ? { unmatchedCertificates: unmatched } : {}),
    },
    recipients: matched
      ? recipients.map((r) => {
          const certificate = matched.get(r.position);
          return {
            position: r.position,
            status,
            providerStatus: request.requestStatus,
            providerRef: certificate ? String(certificate.id) : null,
            gift: certificate ? certificateGift(certificate) : null,
          };
        })
      : undefined,
  };
}

/**
 * Which certificate is whose, by recipient position. What `recipientUser` holds is not published:
 * the one example shows a number, a user id we cannot relate to a recipient [doc: the "Find Order"
 * example, https://docs.guusto.com/version/pages/scenario/send-gift-flow]. Where it names the
 * recipient (an object with `email` or `employeeNumber`, or an email string) [assume], that decides,
 * with the email first as Guusto identifies a recipient by email first [doc]. Only a certificate that
 * names nobody falls back to its place in the list [assume: certificates are listed in the order of
 * orderItems], and only onto a recipient sent that very amount. That catches a list out of order
 * where amounts differ; where they are equal, the documented form leaves nothing else to go by, so
 * the order of the list is trusted.
 */
export function matchCertificates(certificates: readonly GuustoCertificate[], recipients: readonly CertificateRecipient[]): Map<number, GuustoCertificate> {
  const free = new Map(recipients.map((r) => [r.position, r]));
  const matches = new Map<number, GuustoCertificate>();
  const take = (c: GuustoCertificate, r: CertificateRecipient | undefined): void => {
    if (!r) return;
    matches.set(r.position, c);
    free.delete(r.position);
  };
  const named = certificates.map((c) => ({ c, ...recipientOf(c) }));
  for (const { c, email } of named) {
    if (email)
      take(
        c,
        [...free.values()].find((r) => r.email !== null && same(r.email, email)),
      );
  }
  // An employee number identifies a recipient only when no email does (email wins when both are given [doc]).
  for (const { c, email, employeeNumber } of named) {
    if (!email && employeeNumber)
      take(
        c,
        [...free.values()].find((r) => !r.email && r.employeeNumber !== null && same(r.employeeNumber, employeeNumber)),
      );
  }
  named.forEach(({ c, email, employeeNumber }, index) => {
    if (email || employeeNumber) return;
    const r = free.get(index);
    if (r && (!r.amount || (r.amount.currency === c.currency && r.amount.minor === minorFromDecimal(c.amount, c.currency)))) take(c, r);
  });
  return matches;
}

/** Who a certificate's `recipientUser` names, where it names anyone. */
function recipientOf(c: GuustoCertificate): { email: string | null; employeeNumber: string | null } {
  const user = c.recipientUser;
  if (typeof user === 'string') return { email: user.includes('@') ? user : null, employeeNumber: null };
  if (user && typeof user === 'object') {
    return { email: user.email?.trim() || null, employeeNumber: user.employeeNumber?.trim() || null };
  }
  return { email: null, employeeNumber: null };
}

const same = (a: string, b: string): boolean => a.trim().toLowerCase() === b.trim().toLowerCase();

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
