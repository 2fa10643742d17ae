import type { z } from 'zod';
import type { Provider } from '../core/model.js';
import { ProviderCallError } from './http.js';

/**
 * Checks a provider's answer against the shape we rely on. A success we cannot read is an unknown
 * outcome (for a create, the provider may well have taken it), never a silent default.
 */
export function parseResponse<T>(provider: Provider, name: string, schema: z.ZodType<T>, body: unknown, what: string): T {
  const result = schema.safeParse(body);
  if (!result.success) {
    const where = result.error.issues[0]?.path.join('.') || 'body';
    throw new ProviderCallError(provider, 'unknown', `${name}'s answer to ${what} did not have the expected shape (${where})`);
  }
  return result.data;
}

/** A raw body as JSON, or undefined when it is not JSON. */
export function parseJsonBody(raw: Buffer): unknown {
  try {
    return JSON.parse(raw.toString('utf8'));
  } catch {
    return undefined;
  }
}
