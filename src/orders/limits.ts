import { MAX_EMAIL_LENGTH } from '../core/email.js';
import { MAX_ID_LENGTH } from '../core/global-id.js';
import { MAX_CURSOR_LENGTH } from '../pagination/cursor.js';

const DAY_MS = 24 * 3_600_000;

/**
 * Every size a client chooses, in one place. Lengths count characters (Unicode code points). A
 * provider's own documented limit, where stricter, is declared by its adapter (Guusto: 20
 * recipients per order) and wins.
 */
export const LIMITS = {
  /** 1..64 printable ASCII: Giftronaut's documented key length, so a key always fits a provider's. */
  idempotencyKey: 64,
  /** RFC 5321: the longest address a mail path can carry. */
  email: MAX_EMAIL_LENGTH,
  /** firstName, lastName, senderName, company, department. */
  name: 255,
  employeeNumber: 64,
  message: 1_000,
  /** Giftronaut's `subject`: an email subject line. */
  subject: 255,
  /** An IANA zone name; the longest is about 30. */
  timezone: 64,
  /** Global ids, and ids in provider options: productId, campaignId, templateId, cardId. */
  id: MAX_ID_LENGTH,
  /** `after` of every connection. */
  cursor: MAX_CURSOR_LENGTH,
  /** Recipients of one order where the provider documents no maximum. */
  recipients: 100,
  /** Recipients of one resendGift call. */
  resendRecipients: 100,
  /** How far ahead sendAt may be where the provider documents no horizon. */
  sendAheadMs: 365 * DAY_MS,
} as const;

export const SEND_AHEAD_DAYS = LIMITS.sendAheadMs / DAY_MS;
