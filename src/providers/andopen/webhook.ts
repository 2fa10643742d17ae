import { createHash, createHmac, timingSafeEqual } from 'node:crypto';
import type { ProviderWebhooks } from '../adapter.js';
import { parseJsonBody } from '../parse.js';

export const ANDOPEN_TOLERANCE_MS = 5 * 60_000;

export type AndOpenVerdict = { ok: true; deliveryId: string; eventType: string } | { ok: false; reason: 'missing headers' | 'bad signature' | 'stale timestamp' };

/**
 * Verifies an &Open webhook in any API version. Both versions' pages document the same signature:
 * `AndOpen-Webhook-Signature` is the hex HMAC-SHA256 of `"{timestamp}.{raw body}"`, and
 * `AndOpen-Webhook-Dispatch-Timestamp` is Unix seconds, checked against a five-minute window
 * (developers.andopen.co/docs/webhooks for 2025-10, /docs/2026-05/webhooks). Only those two headers
 * are required: 2025-10 sends no event id or type header.
 *
 * The delivery id for de-duplication is the `AndOpen-Webhook-Event-Id` header where sent (2026-05),
 * else a hash of the raw body. Not of the signature or timestamp: the dispatch timestamp is "set
 * fresh on each delivery attempt", so a retry is signed anew, while its body, which carries the
 * event id in 2025-10, is the same. Two bodies alike byte for byte say the same thing, so keeping one
 * loses nothing.
 */
export function verifyAndOpenWebhook(rawBody: Buffer, headers: Record<string, string | string[] | undefined>, secret: string, now: number = Date.now()): AndOpenVerdict {
  const signature = single(headers['andopen-webhook-signature']);
  const timestamp = single(headers['andopen-webhook-dispatch-timestamp']);
  if (!signature || !timestamp) return { ok: false, reason: 'missing headers' };
  if (!/^\d+$/.test(timestamp) || Math.abs(now - Number(timestamp) * 1000) > ANDOPEN_TOLERANCE_MS) return { ok: false, reason: 'stale timestamp' };
  if (!/^[0-9a-f]{64}$/i.test(signature)) return { ok: false, reason: 'bad signature' };
  const expected = createHmac('sha256', secret).update(`${timestamp}.`).update(rawBody).digest();
  if (!timingSafeEqual(Buffer.from(signature, 'hex'), expected)) return { ok: false, reason: 'bad signature' };
  const eventId = single(headers['andopen-webhook-event-id']);
  const deliveryId = eventId ? `event:${eventId}` : `body:${createHash('sha256').update(rawBody).digest('hex')}`;
  return { ok: true, deliveryId, eventType: single(headers['andopen-webhook-event-type']) || eventTypeIn(parseJsonBody(rawBody)) };
}

const single = (value: string | string[] | undefined): string | undefined => (Array.isArray(value) ? value[0] : value);

type Json = Record<string, unknown>;
const object = (value: unknown): Json | undefined => (value && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined);
const text = (value: unknown): string | undefined => (typeof value === 'string' && value ? value : undefined);

/**
 * The event type a body names, for a version that sends no type header. Where the JSON:API body keeps
 * it is not published: read the usual places, else the resource type (`gift_requests`), else ''.
 */
function eventTypeIn(payload: unknown): string {
  const body = object(payload);
  const data = object(body?.data);
  const meta = object(body?.meta);
  return text(meta?.event_type) ?? text(body?.event_type) ?? text(object(data?.attributes)?.event_type) ?? text(data?.type) ?? text(body?.type) ?? '';
}

/** At most this many references are looked up per delivery. */
const MAX_REFERENCES = 20;

/**
 * The gift request ids a body may name, in whichever shape it comes: the flat resource of 2026-05
 * (`{id, status, ...}`: "the same shape the API returns for that resource"), a JSON:API document
 * (`data.id`, its relationships, `included`), or an envelope with the resource under `data`. Every
 * candidate is only looked up in the ledger, so one that names no gift request of ours does nothing.
 */
export function giftRequestIdsIn(payload: unknown): string[] {
  const ids = new Set<string>();
  const add = (value: unknown) => {
    const id = text(value);
    if (id && id.length <= 200) ids.add(id);
  };
  const resource = (value: unknown) => {
    const r = object(value);
    if (!r) return;
    add(r.id);
    add(r.gift_request_id);
    add(object(r.attributes)?.gift_request_id);
    for (const rel of Object.values(object(r.relationships) ?? {})) {
      const linkage = object(rel)?.data;
      for (const l of Array.isArray(linkage) ? linkage : [linkage]) add(object(l)?.id);
    }
  };
  const body = object(payload);
  resource(body);
  const data = body?.data;
  for (const d of Array.isArray(data) ? data : [data]) resource(d);
  if (Array.isArray(body?.included)) for (const i of body.included) resource(i);
  return [...ids].slice(0, MAX_REFERENCES);
}

/**
 * &Open's event type names are not published [assume: gift_request.<state>], so none is required: a
 * delivery whose body names a gift request refreshes that gift request whatever its event is called,
 * and the refresh reads the state from &Open rather than from the event. Only a body that names
 * nothing, under a type we do not know, is left alone.
 */
export function andOpenWebhooks(secret: string): ProviderWebhooks {
  return {
    verify(rawBody, headers, now) {
      return verifyAndOpenWebhook(rawBody, headers, secret, now);
    },
    references(eventType, payload) {
      const ids = giftRequestIdsIn(payload);
      if (ids.length > 0) return ids;
      return /^gift_requests?(\.|$)/.test(eventType) ? [] : undefined;
    },
  };
}
