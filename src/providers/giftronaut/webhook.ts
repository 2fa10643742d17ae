import { createHmac, timingSafeEqual } from 'node:crypto';
import { z } from 'zod';

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
