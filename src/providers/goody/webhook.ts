import { createHmac, timingSafeEqual } from 'node:crypto';
import type { ProviderWebhooks } from '../adapter.js';
import { parseJsonBody } from '../parse.js';

/** Goody delivers webhooks through Svix; signatures older or newer than this are refused. */
export const SVIX_TOLERANCE_MS = 5 * 60_000;

export type SvixVerdict = { ok: true; deliveryId: string } | { ok: false; reason: 'missing headers' | 'bad signature' | 'stale timestamp' | 'bad secret' };

/**
 * Verifies a Svix-signed delivery: the signed content is `{svix-id}.{svix-timestamp}.{raw body}`,
 * HMAC-SHA256 keyed with the base64 part of the `whsec_...` secret, sent base64-encoded as
 * `v1,<sig>` (several may be space-separated, during a key rotation). Compared in constant time.
 * The returned delivery id is what to de-duplicate on: Svix delivers at least once.
 */
export function verifySvix(
  rawBody: Buffer,
  headers: Record<string, string | string[] | undefined>,
  secret: string,
  now: number = Date.now(),
): SvixVerdict {
  const id = single(headers['svix-id']);
  const timestamp = single(headers['svix-timestamp']);
  const signatures = single(headers['svix-signature']);
  if (!id || !timestamp || !signatures) return { ok: false, reason: 'missing headers' };
  if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp) * 1000) > SVIX_TOLERANCE_MS) return { ok: false, reason: 'stale timestamp' };
  const key = svixKey(secret);
  if (!key) return { ok: false, reason: 'bad secret' };
  const expected = createHmac('sha256', key).update(`${id}.${timestamp}.`).update(rawBody).digest();
  for (const candidate of signatures.split(' ')) {
    const [version, value] = candidate.split(',', 2);
    if (version !== 'v1' || !value) continue;
    const given = Buffer.from(value, 'base64');
    if (given.length === expected.length && timingSafeEqual(given, expected)) return { ok: true, deliveryId: id };
  }
  return { ok: false, reason: 'bad signature' };
}

function svixKey(secret: string): Buffer | undefined {
  if (!secret.startsWith('whsec_')) return undefined;
  const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
  return key.length > 0 ? key : undefined;
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

/**
 * Goody's webhook events [doc]. Order events carry the order (a recipient's gift), batch events the
 * batch. The list names batch events `order_batch.*` (https://developer.ongoody.com/automation-api/webhooks);
 * the published example names one `gift_batch.completed`, its orders carrying `gift_batch_id`
 * (https://developer.ongoody.com/webhooks/events/order_batch.completed): both are read.
 */
const EVENTS = new Set([
  'order_batch.created',
  'order_batch.completed',
  'gift_batch.created',
  'gift_batch.completed',
  'order.created',
  'order.gift_opened',
  'order.gift_accepted',
  'order.thank_you_note_added',
  'order.shipped',
  'order.delivered',
  'order.canceled',
  'order.refunded',
]);

export function goodyWebhooks(secret: string): ProviderWebhooks {
  return {
    verify(rawBody, headers, now) {
      const verdict = verifySvix(rawBody, headers, secret, now);
      if (!verdict.ok) return verdict;
      const eventType = (parseJsonBody(rawBody) as { event_type?: unknown } | undefined)?.event_type;
      return typeof eventType === 'string' ? { ok: true, deliveryId: verdict.deliveryId, eventType } : { ok: false, reason: 'not a Goody event' };
    },
    references(eventType, payload) {
      if (!EVENTS.has(eventType)) return undefined;
      const data = (payload as { data?: { id?: unknown; order_batch_id?: unknown; gift_batch_id?: unknown } }).data ?? {};
      return [data.id, data.order_batch_id, data.gift_batch_id].filter((ref): ref is string => typeof ref === 'string');
    },
  };
}
