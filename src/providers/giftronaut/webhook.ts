import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';
import type { ProviderWebhooks, WebhookReply } from '../adapter.js';
import { parseJsonBody } from '../parse.js';

/** The envelope of every Giftronaut webhook. */
export const giftronautEvent = z.object({
  eventId: z.string().min(1),
  eventType: z.string().min(1),
  createdAt: z.string(),
  data: z.record(z.string(), z.unknown()),
});
export type GiftronautEvent = z.infer<typeof giftronautEvent>;

/**
 * Checks `X-Giftronaut-Signature: sha256=<hex>`, the HMAC-SHA256 of the raw body with the signing
 * secret, in constant time. Giftronaut signs no timestamp, so replays are stopped by de-duplicating
 * on `eventId`, not here.
 */
export function verifyGiftronautSignature(rawBody: Buffer, header: string | undefined, secret: string): boolean {
  if (!header) return false;
  const match = /^sha256=([0-9a-f]{64})$/i.exec(header.trim());
  if (!match) return false;
  const expected = createHmac('sha256', secret).update(rawBody).digest();
  const given = Buffer.from(match[1]!, 'hex');
  return given.length === expected.length && timingSafeEqual(given, expected);
}

const ORDER_EVENTS = new Set(['order.created', 'order.delivery_complete', 'order.delivery_partial', 'order.canceled', 'order.failed']);

const CHALLENGE_TOKEN = /^[A-Za-z0-9._~+/=-]{1,512}$/;

/**
 * When an endpoint is registered, Giftronaut POSTs `{"challengeToken": "..."}` and activates the
 * endpoint once it is answered 200 with `{"challengeToken": <the same>}` [doc:
 * api.giftronaut.com/docs/guides/webhooks, "Challenge verification"]. The example carries no
 * signature, so none is required; echoing the token changes nothing here. One that is signed must
 * be signed right.
 */
export function answerGiftronautChallenge(rawBody: Buffer, header: string | undefined, secret: string): WebhookReply | undefined {
  const body = parseJsonBody(rawBody);
  if (!body || typeof body !== 'object' || Array.isArray(body)) return undefined;
  const { challengeToken, ...rest } = body as Record<string, unknown>;
  if (typeof challengeToken !== 'string' || 'eventId' in rest || 'eventType' in rest) return undefined;
  if (!CHALLENGE_TOKEN.test(challengeToken)) return undefined;
  if (header !== undefined && !verifyGiftronautSignature(rawBody, header, secret)) return undefined;
  return { status: 200, body: { challengeToken } };
}

/** Giftronaut webhooks [doc]: the envelope's eventId is the delivery id; order events carry data.orderId. */
export function giftronautWebhooks(secret: string): Required<Pick<ProviderWebhooks, 'challenge'>> & ProviderWebhooks {
  return {
    challenge(rawBody, headers) {
      const header = headers['x-giftronaut-signature'];
      return answerGiftronautChallenge(rawBody, Array.isArray(header) ? header[0] : header, secret);
    },
    verify(rawBody, headers) {
      const header = headers['x-giftronaut-signature'];
      if (!verifyGiftronautSignature(rawBody, Array.isArray(header) ? header[0] : header, secret)) return { ok: false, reason: 'bad signature' };
      const event = giftronautEvent.safeParse(parseJsonBody(rawBody));
      return event.success ? { ok: true, deliveryId: event.data.eventId, eventType: event.data.eventType } : { ok: false, reason: 'not a Giftronaut event', malformed: true };
    },
    references(eventType, payload) {
      if (eventType.startsWith('balance.')) return [];
      if (!ORDER_EVENTS.has(eventType)) return undefined;
      const orderId = (payload as { data?: { orderId?: unknown } }).data?.orderId;
      return typeof orderId === 'string' ? [orderId] : [];
    },
  };
}
