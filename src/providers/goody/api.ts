import { z } from 'zod';
import type { ProviderGuards } from '../guard.js';
import { ProviderHttpClient, type CallObservers } from '../http.js';
import { parseResponse } from '../parse.js';
import type { GoodyConnection } from './config.js';

const cents = z.number().int();

export const goodyOrder = z.object({
  id: z.string().min(1),
  status: z.string(),
  individual_gift_link: z.string().nullish(),
  recipient_first_name: z.string().nullish(),
  recipient_last_name: z.string().nullish(),
  recipient_email: z.string().nullish(),
  amounts: z
    .object({
      amount_product: cents.nullish(),
      amount_shipping: cents.nullish(),
      amount_processing_fee: cents.nullish(),
      amount_pre_tax_total: cents.nullish(),
      amount_tax: cents.nullish(),
      amount_total: cents.nullish(),
    })
    .nullish(),
  created_at: z.string().nullish(),
  order_batch_id: z.string().nullish(),
});
export type GoodyOrder = z.infer<typeof goodyOrder>;

export const goodyBatch = z.object({
  id: z.string().min(1),
  send_status: z.string(),
  send_method: z.string().nullish(),
  from_name: z.string().nullish(),
  orders_count: z.number().int().min(0).nullish(),
  orders_preview: z.array(goodyOrder).nullish(),
  scheduled_send_on: z.string().nullish(),
  expires_at: z.string().nullish(),
  customer_reference_id: z.string().nullish(),
  created_at: z.string().nullish(),
});
export type GoodyBatch = z.infer<typeof goodyBatch>;

const page = <T extends z.ZodType>(item: T) => z.object({ data: z.array(item), list_meta: z.object({ total_count: z.number().int().min(0) }) });

const product = z.object({
  id: z.string(),
  name: z.string(),
  brand: z.object({ name: z.string() }).nullish(),
  price: cents.nullish(),
  price_is_variable: z.boolean().nullish(),
  variable_price_min: cents.nullish(),
  variable_price_max: cents.nullish(),
});
export type GoodyProduct = z.infer<typeof product>;

export interface GoodyBatchBody {
  from_name: string;
  send_method: 'email_and_link' | 'link_multiple_custom_list' | 'direct_send';
  recipients: { first_name: string; last_name?: string; email?: string }[];
  cart: { items: { product_id: string; quantity: number; variable_price?: number }[] };
  message?: string;
  card_id?: string;
  scheduled_send_on?: string;
  expires_at?: string;
  customer_reference_id: string;
}

/** Goody's list endpoints take at most this many per page [doc]. */
export const MAX_PER_PAGE = 100;

/** Typed calls to Goody's Automation API (`/v1`), each response checked against its documented shape. */
export class GoodyApi {
  readonly http: ProviderHttpClient;

  constructor(connection: GoodyConnection, timeoutMs: number, observers?: CallObservers, guards?: ProviderGuards) {
    this.http = new ProviderHttpClient({
      provider: 'GOODY',
      observers,
      guards,
      baseUrl: `${connection.baseUrl.replace(/\/$/, '')}/v1`,
      timeoutMs,
      headers: () => ({ authorization: `Bearer ${connection.apiKey}` }),
      // Goody's errors are `{"error": "<message>"}` [doc]; they carry no code.
      readError: (_status, body) => {
        const error = (body as { error?: unknown } | null)?.error;
        return { message: typeof error === 'string' ? error : undefined };
      },
    });
  }

  /**
   * Retried freely: a repeat with the same customer_reference_id is refused as a duplicate, and the
   * adapter then finds the original batch, so a batch is never created twice.
   */
  async createBatch(body: GoodyBatchBody): Promise<GoodyBatch> {
    const res = await this.http.request({ method: 'POST', path: '/order_batches', body, idempotent: true });
    return parseResponse('GOODY', 'Goody', goodyBatch, res.body, 'POST /order_batches');
  }

  async getBatch(id: string): Promise<GoodyBatch> {
    const res = await this.http.request({ method: 'GET', path: `/order_batches/${encodeURIComponent(id)}`, idempotent: true });
    return parseResponse('GOODY', 'Goody', goodyBatch, res.body, 'GET /order_batches/{id}');
  }

  async listBatches(pageNumber: number, perPage: number) {
    const res = await this.http.request({ method: 'GET', path: '/order_batches', query: { page: pageNumber, per_page: perPage }, idempotent: true });
    return parseResponse('GOODY', 'Goody', page(goodyBatch), res.body, 'GET /order_batches');
  }

  async batchOrders(id: string, pageNumber: number, perPage: number) {
    const res = await this.http.request({
      method: 'GET',
      path: `/order_batches/${encodeURIComponent(id)}/orders`,
      query: { page: pageNumber, per_page: perPage },
      idempotent: true,
    });
    return parseResponse('GOODY', 'Goody', page(goodyOrder), res.body, 'GET /order_batches/{id}/orders');
  }

  /** Canceling a canceled order answers like the first time, so a lost answer may be asked again. */
  async cancelOrder(id: string): Promise<GoodyOrder> {
    const res = await this.http.request({ method: 'POST', path: `/orders/${encodeURIComponent(id)}/cancel`, idempotent: true });
    return parseResponse('GOODY', 'Goody', goodyOrder, res.body, 'POST /orders/{id}/cancel');
  }

  async products(pageNumber: number, perPage: number) {
    const res = await this.http.request({ method: 'GET', path: '/products', query: { page: pageNumber, per_page: perPage }, idempotent: true });
    return parseResponse('GOODY', 'Goody', page(product), res.body, 'GET /products');
  }

  close(): Promise<void> {
    return this.http.close();
  }
}
