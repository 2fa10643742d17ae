import { Webhook, WebhookVerificationError } from 'standardwebhooks';
import type { ProviderWebhooks } from '../adapter.js';

/** Goody delivers webhooks through Svix; signatures older or newer than this are refused. */
export const SVIX_TOLERANCE_MS = 5 * 60_000;

export type SvixVerdict =
  | { ok: true; deliveryId: string; payload: unknown }
  | { ok: false; reason: 'missing headers' | 'bad signature' | 'stale timestamp' | 'not JSON'; malformed?: true };

/**
 * Verifies a Svix-signed delivery with `standardwebhooks`, the maintained implementation of the
 * scheme Svix signs with (https://docs.svix.com/receiving/verifying-payloads/how-manual): the
 * signed content is `{svix-id}.{svix-timestamp}.{raw body}`, HMAC-SHA256 keyed with the base64 part
 * of the `whsec_...` secret, sent as `v1,<base64>` (several during a key rotation). Svix names its
 * headers `svix-*` where the standard says `webhook-*`. Freshness is checked here first, against
 * `now`, to name it as the reason; the library checks it again against the system clock. The
 * delivery id is what to de-duplicate on: Svix delivers at least once.
 */
export function verifySvix(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, secret: string | Webhook, now: number = Date.now()): SvixVerdict {
  const id = single(headers['svix-id']);
  const timestamp = single(headers['svix-timestamp']);
  const signature = single(headers['svix-signature']);
  if (!id || !timestamp || !signature) return { ok: false, reason: 'missing headers' };
  if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp) * 1000) > SVIX_TOLERANCE_MS) return { ok: false, reason: 'stale timestamp' };
  const verifier = typeof secret === 'string' ? new Webhook(secret) : secret;
  try {
    const payload: unknown = verifier.verify(rawBody, { 'webhook-id': id, 'webhook-timestamp': timestamp, 'webhook-signature': signature });
    return { ok: true, deliveryId: id, payload };
  } catch (error) {
    if (error instanceof WebhookVerificationError) return { ok: false, reason: 'bad signature' };
    // Signed by Goody, but not JSON: refused as malformed, not as forged.
    if (error instanceof SyntaxError) return { ok: false, reason: 'not JSON', malformed: true };
    throw error;
  }
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
  const verifier = new Webhook(secret);
  return {
    verify(rawBody, headers, now) {
      const verdict = verifySvix(rawBody, headers, verifier, now);
      if (!verdict.ok) return verdict;
      const eventType = (verdict.payload as { event_type?: unknown } | null | undefined)?.event_type;
      return typeof eventType === 'string' ? { ok: true, deliveryId: verdict.deliveryId, eventType } : { ok: false, reason: 'not a Goody event', malformed: true };
    },
    references(eventType, payload) {
      if (!EVENTS.has(eventType)) return undefined;
      const data = (payload as { data?: { id?: unknown; order_batch_id?: unknown; gift_batch_id?: unknown } }).data ?? {};
      return [data.id, data.order_batch_id, data.gift_batch_id].filter((ref): ref is string => typeof ref === 'string');
    },
  };
}
