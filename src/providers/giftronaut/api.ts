import { z } from 'zod';
import { ProviderHttpClient } from '../http.js';
import { parseResponse } from '../parse.js';
import type { GiftronautConnection } from './config.js';
import { GiftronautTokens } from './oauth.js';

const recipient = z.object({
  email: z.string(),
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

const brandedCard = z.object({
  productId: z.union([z.string(), z.number()]),
  name: z.string(),
  currency: z.string(),
  pricePoints: z.array(z.number()),
});
const choiceCard = z.object({
  productId: z.union([z.string(), z.number()]),
  name: z.string(),
  currency: z.string(),
  minAmount: z.number(),
  maxAmount: z.number(),
});
export type GiftronautBrandedCard = z.infer<typeof brandedCard>;
export type GiftronautChoiceCard = z.infer<typeof choiceCard>;

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

const CREATE_PATHS: Record<CardType, string> = { BRANDED_CARD: '/orders/branded-cards', CHOICE_CARD: '/orders/choice-cards' };

/** Typed calls to Giftronaut's REST API (`/api/v1`), each response checked against its expected shape. */
export class GiftronautApi {
  readonly http: ProviderHttpClient;
  readonly tokens: GiftronautTokens;

  constructor(connection: GiftronautConnection, timeoutMs: number) {
    this.tokens = new GiftronautTokens(connection, timeoutMs);
    this.http = new ProviderHttpClient({
      provider: 'GIFTRONAUT',
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
   * create whose answer was lost is sent again safely.
   */
  async createOrder(cardType: CardType, body: GiftronautCreateBody): Promise<GiftronautOrder> {
    const res = await this.http.request({ method: 'POST', path: CREATE_PATHS[cardType], body, idempotent: true });
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

  async brandedCards(): Promise<GiftronautBrandedCard[]> {
    const res = await this.http.request({ method: 'GET', path: '/catalog/branded-cards', idempotent: true });
    return parseResponse('GIFTRONAUT', 'Giftronaut', z.object({ data: z.array(brandedCard) }), res.body, 'GET /catalog/branded-cards').data;
  }

  async choiceCards(): Promise<GiftronautChoiceCard[]> {
    const res = await this.http.request({ method: 'GET', path: '/catalog/choice-cards', idempotent: true });
    return parseResponse('GIFTRONAUT', 'Giftronaut', z.object({ data: z.array(choiceCard) }), res.body, 'GET /catalog/choice-cards').data;
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
