import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ProviderWebhooks } from '../adapter.js';

export const ANDOPEN_TOLERANCE_MS = 5 * 60_000;

export type AndOpenVerdict =
  | { ok: true; eventId: string; eventType: string }
  | { ok: false; reason: 'missing headers' | 'bad signature' | 'stale timestamp' };

/**
 * Verifies an &Open webhook [doc, 2026-05]: `AndOpen-Webhook-Signature` is the hex HMAC-SHA256 of
 * `"{timestamp}.{raw body}"`, `AndOpen-Webhook-Dispatch-Timestamp` is Unix seconds and must be
 * within five minutes. Compared in constant time. De-duplicate on the returned event id.
 */
export function verifyAndOpenWebhook(
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
  secret: string,
  now: number = Date.now(),
): AndOpenVerdict {
  const signature = single(headers['andopen-webhook-signature']);
  const timestamp = single(headers['andopen-webhook-dispatch-timestamp']);
  const eventId = single(headers['andopen-webhook-event-id']);
  const eventType = single(headers['andopen-webhook-event-type']);
  if (!signature || !timestamp || !eventId || !eventType) return { ok: false, reason: 'missing headers' };
  if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp) * 1000) > ANDOPEN_TOLERANCE_MS) return { ok: false, reason: 'stale timestamp' };
  if (!/^[0-9a-f]{64}$/i.test(signature)) return { ok: false, reason: 'bad signature' };
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
  const given = Buffer.from(signature, 'hex');
  return timingSafeEqual(given, expected) ? { ok: true, eventId, eventType } : { ok: false, reason: 'bad signature' };
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/** &Open's event names are not published [assume: gift_request.<state>]; each carries the gift request. */
export function andOpenWebhooks(secret: string): ProviderWebhooks {
  return {
    verify(rawBody, headers, now) {
      const verdict = verifyAndOpenWebhook(rawBody, headers, secret, now);
      return verdict.ok ? { ok: true, deliveryId: verdict.eventId, eventType: verdict.eventType } : verdict;
    },
    references(eventType, payload) {
      if (!/^gift_request\.[a-z_]+$/.test(eventType)) return undefined;
      const id = (payload as { data?: { id?: unknown } }).data?.id;
      return typeof id === 'string' ? [id] : [];
    },
  };
}
