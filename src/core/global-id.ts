import { PROVIDERS, type Provider } from './model.js';

/**
 * Global, opaque ids: `base64url("<Type>:<PROVIDER>:<local id>")`. The provider travels inside
 * the id, so `order(id)` and `_entities` know where an order lives without a lookup.
 * Opaque means clients must not parse them; the format may change behind a new prefix.
 */
export type IdType = 'Order' | 'Recipient' | 'Certificate' | 'CatalogItem';

/** Longer than any id this server issues; anything longer is refused unread. */
export const MAX_ID_LENGTH = 512;

export interface DecodedId {
  type: IdType;
  provider: Provider;
  local: string;
}

export function encodeId(type: IdType, provider: Provider, local: string): string {
  return Buffer.from(`${type}:${provider}:${local}`, 'utf8').toString('base64url');
}

/** Decodes an id of the expected type, or returns undefined for anything malformed or of another type. */
export function decodeId(id: string, expected: IdType): DecodedId | undefined {
  if (id.length === 0 || id.length > MAX_ID_LENGTH || !/^[A-Za-z0-9_-]+$/.test(id)) return undefined;
  const text = Buffer.from(id, 'base64url').toString('utf8');
  const first = text.indexOf(':');
  const second = text.indexOf(':', first + 1);
  if (first < 0 || second < 0) return undefined;
  const type = text.slice(0, first);
  const provider = text.slice(first + 1, second) as Provider;
  const local = text.slice(second + 1);
  if (type !== expected || !PROVIDERS.includes(provider) || local.length === 0) return undefined;
  return { type, provider, local };
}
