import { z } from 'zod';
import { isKnownCurrency } from '../../core/money.js';
import type { ProviderGuards } from '../guard.js';
import { ProviderCallError, ProviderHttpClient, type CallObservers } from '../http.js';
import { parseResponse } from '../parse.js';
import type { GiftronautConnection } from './config.js';
import { GiftronautTokens } from './oauth.js';

const recipient = z.object({
  // Null on reward-link orders [doc: api.giftronaut.com/docs/reference/orders].
  email: z.string().nullish(),
  firstName: z.string().nullish(),
  lastName: z.string().nullish(),
  company: z.string().nullish(),
  department: z.string().nullish(),
  amount: z.number().nullish(),
  // Not in the seed's field table [assume]: a per-recipient status, and the link's expiry.
  status: z.string().nullish(),
  rewardLink: z.string().nullish(),
  expiresAt: z.string().nullish(),
});

export const giftronautOrder = z.object({
  orderId: z.string().min(1),
  status: z.string(),
  orderType: z.string().nullish(),
  cardType: z.string().nullish(),
  productId: z.union([z.string(), z.number()]).nullish(),
  productName: z.string().nullish(),
  currency: z.string().nullish(),
  sendTiming: z.object({ type: z.string(), scheduledAt: z.string().nullish(), timezone: z.string().nullish() }).nullish(),
  refundOption: z.boolean().nullish(),
  recipients: z.array(recipient).nullish(),
  createdAt: z.string().nullish(),
});
export type GiftronautOrder = z.infer<typeof giftronautOrder>;

const orderList = z.object({
  data: z.array(giftronautOrder),
  page: z.number().int().optional(),
  pageSize: z.number().int().optional(),
  totalCount: z.number().int().min(0).optional(),
});
export type GiftronautOrderPage = z.infer<typeof orderList>;

/**
 * One catalog product, read as far as it can be. The catalog's shape is not published: the sending
 * guide says a branded card has "fixed denomination or denomination range, depending on the brand"
 * [doc: api.giftronaut.com/docs/guides/sending-rewards] and the glossary that the catalog lists
 * "denomination ranges" [doc: api.giftronaut.com/docs/guides/glossary]. So `pricePoints` and
 * `minAmount`/`maxAmount` are both read, either may be absent, and fields we do not know are ignored.
 */
export interface GiftronautProduct {
  productId: string;
  name: string;
  /** ISO 4217 code; null where the catalog does not say it in a form we can read. */
  currency: string | null;
  /** Fixed denominations, in the product's currency; null where none are listed in a form we can read. */
  pricePoints: number[] | null;
  /** A denomination range, in the product's currency; either end may be unknown. */
  minAmount: number | null;
  maxAmount: number | null;
}

/** A catalog as read: the products we could read, and why each other entry was left out. */
export interface GiftronautCatalogRead {
  products: GiftronautProduct[];
  /** Entries left out: where they were in the list, and what was missing (never their content). */
  skipped: { index: number; reason: string }[];
}

const DECIMAL = /^\d{1,15}(\.\d+)?$/;

/** A positive amount given as a JSON number or a decimal string; undefined otherwise. */
function amountOf(value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) && value > 0 ? value : undefined;
  if (typeof value === 'string' && DECIMAL.test(value.trim())) {
    const n = Number(value.trim());
    return n > 0 ? n : undefined;
  }
  return undefined;
}

const text = (value: unknown): string | undefined => (typeof value === 'string' && value.trim() !== '' ? value.trim() : undefined);

/**
 * Reads one catalog entry. Only an entry without a productId is left out: it cannot be ordered. A
 * currency or denominations we cannot read are kept as unknown, so the adapter decides what they mean.
 */
export function readProduct(entry: unknown): GiftronautProduct | { reason: string } {
  if (!entry || typeof entry !== 'object' || Array.isArray(entry)) return { reason: 'not an object' };
  const e = entry as Record<string, unknown>;
  const productId = typeof e.productId === 'number' && Number.isFinite(e.productId) ? String(e.productId) : text(e.productId);
  if (!productId) return { reason: 'no productId' };
  // `currencyCode` is the name Giftronaut's request example uses [doc: api.giftronaut.com/docs/guides/making-requests].
  const code = (text(e.currency) ?? text(e.currencyCode))?.toUpperCase();
  const points = Array.isArray(e.pricePoints) ? e.pricePoints.map(amountOf) : undefined;
  const [min, max] = [amountOf(e.minAmount), amountOf(e.maxAmount)];
  // A range upside down says nothing we can use: Giftronaut judges the amount instead.
  const range = min !== undefined && max !== undefined && min > max ? { min: undefined, max: undefined } : { min, max };
  return {
    productId,
    name: text(e.name) ?? text(e.productName) ?? `Giftronaut product ${productId}`,
    currency: code && /^[A-Z]{3}$/.test(code) && isKnownCurrency(code) ? code : null,
    pricePoints: points && points.length > 0 && points.every((p) => p !== undefined) ? (points as number[]) : null,
    minAmount: range.min ?? null,
    maxAmount: range.max ?? null,
  };
}

/** A catalog answer: `{data: [...]}` as assumed, or a bare list. Anything else is unreadable as a whole. */
function readCatalog(body: unknown, what: string): GiftronautCatalogRead {
  const list = Array.isArray(body) ? body : (body as { data?: unknown } | null)?.data;
  if (!Array.isArray(list)) throw new ProviderCallError('GIFTRONAUT', 'unknown', `Giftronaut's answer to ${what} did not have the expected shape (data)`);
  const read: GiftronautCatalogRead = { products: [], skipped: [] };
  list.forEach((entry, index) => {
    const product = readProduct(entry);
    if ('reason' in product) read.skipped.push({ index, ...product });
    else read.products.push(product);
  });
  return read;
}

const amount = z.object({ amount: z.number(), currency: z.string() });
const balance = z.object({ data: z.object({ availableBalance: amount, pendingBalance: amount.nullish() }) });

export type CardType = 'BRANDED_CARD' | 'CHOICE_CARD';

export interface GiftronautCreateBody {
  idempotencyKey: string;
  productId: string;
  sendTiming: { type: 'IMMEDIATE' } | { type: 'SCHEDULED'; scheduledAt: string; timezone: string };
  emailSetting: { senderName: string; subject: string; message?: string; templateId?: string };
  recipients: { email: string; amount: number; firstName?: string; lastName?: string; company?: string; department?: string }[];
  refundOption: boolean;
}

export interface OrderListFilter {
  status?: string;
  orderType?: string;
  cardType?: CardType;
  startDate?: string;
  endDate?: string;
}

/** Giftronaut remembers an idempotency key this long [doc: api.giftronaut.com/docs/guides/idempotency, "Deduplication window: 24 hours"]. */
export const IDEMPOTENCY_WINDOW_MS = 24 * 60 * 60_000;

const CREATE_PATHS: Record<CardType, string> = { BRANDED_CARD: '/orders/branded-cards', CHOICE_CARD: '/orders/choice-cards' };

/** Typed calls to Giftronaut's REST API (`/api/v1`), each response checked against its expected shape. */
export class GiftronautApi {
  readonly http: ProviderHttpClient;
  readonly tokens: GiftronautTokens;

  constructor(connection: GiftronautConnection, timeoutMs: number, observers?: CallObservers, guards?: ProviderGuards) {
    // The token endpoint shares the API's limiter and circuit: both are Giftronaut.
    this.tokens = new GiftronautTokens(connection, timeoutMs, Date.now, observers, guards);
    this.http = new ProviderHttpClient({
      provider: 'GIFTRONAUT',
      observers,
      guards,
      baseUrl: `${connection.baseUrl.replace(/\/$/, '')}/api/v1`,
      timeoutMs,
      headers: () => this.tokens.authorization(),
      onUnauthorized: (rejected) => this.tokens.onUnauthorized(rejected),
      readError: (_status, body) => {
        const b = (body ?? {}) as { error?: unknown; message?: unknown };
        return { code: typeof b.error === 'string' ? b.error : undefined, message: typeof b.message === 'string' ? b.message : undefined };
      },
    });
  }

  /**
   * Idempotent: Giftronaut answers a repeated idempotencyKey with the original order (200), so a
   * create whose answer was lost is sent again safely, inside the deduplication window. The seed
   * reference takes the key in the body (max 64 characters); the idempotency guide sends it as an
   * `X-Idempotency-Key` header [doc: api.giftronaut.com/docs/guides/idempotency]. Both carry the same
   * value, so whichever one Giftronaut reads, it deduplicates on our key. Retried only within
   * `retryWithinMs`, while Giftronaut surely remembers the key.
   */
  async createOrder(cardType: CardType, body: GiftronautCreateBody, retryWithinMs?: number): Promise<GiftronautOrder> {
    const res = await this.http.request({
      method: 'POST',
      path: CREATE_PATHS[cardType],
      body,
      headers: { 'x-idempotency-key': body.idempotencyKey },
      idempotent: true,
      retryWithinMs,
    });
    return parseResponse('GIFTRONAUT', 'Giftronaut', giftronautOrder, unwrap(res.body), `POST ${CREATE_PATHS[cardType]}`);
  }

  async getOrder(orderId: string): Promise<GiftronautOrder> {
    const res = await this.http.request({ method: 'GET', path: `/orders/${encodeURIComponent(orderId)}`, idempotent: true });
    return parseResponse('GIFTRONAUT', 'Giftronaut', giftronautOrder, unwrap(res.body), 'GET /orders/{orderId}');
  }

  async listOrders(page: number, pageSize: number, filter: OrderListFilter = {}): Promise<GiftronautOrderPage> {
    const res = await this.http.request({ method: 'GET', path: '/orders', query: { page, pageSize, ...filter }, idempotent: true });
    return parseResponse('GIFTRONAUT', 'Giftronaut', orderList, res.body, 'GET /orders');
  }

  /** Canceling twice leaves the order canceled once, so a lost answer may be asked again. */
  async cancelOrder(orderId: string): Promise<GiftronautOrder | undefined> {
    const res = await this.http.request({ method: 'DELETE', path: `/orders/${encodeURIComponent(orderId)}/cancel`, idempotent: true });
    const order = giftronautOrder.safeParse(unwrap(res.body));
    return order.success ? order.data : undefined;
  }

  /** Not idempotent: each call emails the recipients again. */
  async resend(orderId: string, recipients: { email: string; updatedEmail?: string }[]): Promise<number> {
    const res = await this.http.request({ method: 'POST', path: `/orders/${encodeURIComponent(orderId)}/resend`, body: { recipients }, idempotent: false });
    return parseResponse('GIFTRONAUT', 'Giftronaut', z.object({ orderId: z.string(), requeued: z.number().int() }), res.body, 'POST /orders/{orderId}/resend').requeued;
  }

  async brandedCards(): Promise<GiftronautCatalogRead> {
    const res = await this.http.request({ method: 'GET', path: '/catalog/branded-cards', idempotent: true });
    return readCatalog(res.body, 'GET /catalog/branded-cards');
  }

  async choiceCards(): Promise<GiftronautCatalogRead> {
    const res = await this.http.request({ method: 'GET', path: '/catalog/choice-cards', idempotent: true });
    return readCatalog(res.body, 'GET /catalog/choice-cards');
  }

  async balance(): Promise<z.infer<typeof balance>['data']> {
    const res = await this.http.request({ method: 'GET', path: '/balance', idempotent: true });
    return parseResponse('GIFTRONAUT', 'Giftronaut', balance, res.body, 'GET /balance').data;
  }

  async close(): Promise<void> {
    await Promise.all([this.http.close(), this.tokens.close()]);
  }
}

/** Single resources may come bare or wrapped in `{data: ...}` (the list and balance are wrapped). */
function unwrap(body: unknown): unknown {
  const data = (body as { data?: unknown } | null)?.data;
  return data && typeof data === 'object' && !Array.isArray(data) ? data : body;
}
