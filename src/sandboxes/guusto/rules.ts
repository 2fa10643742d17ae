/**
 * Guusto's documented input rules for `POST /api/v1/orders`, as the sandbox enforces them.
 * Returns the first problem as Guusto would report it, or undefined when the order is valid.
 */
export const GUUSTO_CURRENCIES = ['CAD', 'USD'] as const;
export const GUUSTO_LANGUAGES = ['EN_CA', 'FR_CA', 'ES_MX'] as const;
export const MAX_ITEMS = 20;
/** `amount` is a `number` from 1 to 10000 (https://docs.guusto.com/version/openapi/order-gift). */
export const MIN_AMOUNT = 1;
export const MAX_AMOUNT = 10_000;

/** An amount in cents; undefined when it has a fraction of a cent [assume: Guusto counts to the cent]. */
export function centsOf(amount: number): number | undefined {
  const cents = Math.round(amount * 100);
  return Math.abs(amount * 100 - cents) < 1e-6 ? cents : undefined;
}

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

export interface GuustoOrderBody {
  orderItems: {
    message: string;
    amount: number;
    recipient: { firstName?: string; lastName?: string; email?: string; employeeNumber?: string };
  }[];
  currency: (typeof GUUSTO_CURRENCIES)[number];
  language?: (typeof GUUSTO_LANGUAGES)[number];
}

export function validateOrderBody(body: unknown): { code: string; message: string } | undefined {
  const invalid = (message: string) => ({ code: 'invalid_field', message });
  if (typeof body !== 'object' || body === null) return { code: 'invalid_format', message: 'body must be a JSON object' };
  const b = body as Record<string, unknown>;
  if (!GUUSTO_CURRENCIES.includes(b.currency as never)) return invalid('currency must be one of CAD, USD');
  if (b.language !== undefined && b.language !== null && !GUUSTO_LANGUAGES.includes(b.language as never)) {
    return invalid('language must be one of EN_CA, FR_CA, ES_MX');
  }
  if (!Array.isArray(b.orderItems) || b.orderItems.length < 1 || b.orderItems.length > MAX_ITEMS) {
    return invalid(`orderItems must hold 1 to ${MAX_ITEMS} items`);
  }
  for (const [i, raw] of b.orderItems.entries()) {
    const item = (raw ?? {}) as Record<string, unknown>;
    if (typeof item.message !== 'string' || item.message.trim() === '') return invalid(`orderItems[${i}].message is required`);
    if (typeof item.amount !== 'number' || !Number.isFinite(item.amount) || item.amount < MIN_AMOUNT || item.amount > MAX_AMOUNT) {
      return invalid(`orderItems[${i}].amount must be a number from ${MIN_AMOUNT} to ${MAX_AMOUNT}`);
    }
    if (centsOf(item.amount) === undefined) return invalid(`orderItems[${i}].amount has a fraction of a cent`);
    const r = (item.recipient ?? null) as Record<string, unknown> | null;
    if (!r || typeof r !== 'object') return invalid(`orderItems[${i}].recipient is required`);
    const email = typeof r.email === 'string' && r.email !== '' ? r.email : undefined;
    const employee = typeof r.employeeNumber === 'string' && r.employeeNumber !== '' ? r.employeeNumber : undefined;
    if (!email && !employee) return invalid(`orderItems[${i}].recipient needs an email or an employeeNumber`);
    if (email && !EMAIL.test(email)) return { code: 'invalid_format', message: `orderItems[${i}].recipient.email is not a valid email` };
  }
  return undefined;
}
