import { z } from 'zod';
import type { ProviderGuards } from '../guard.js';
import { ProviderHttpClient, type CallObservers } from '../http.js';
import { parseResponse } from '../parse.js';
import type { GuustoConnection } from './config.js';

/** `POST /orders` and `GET /orders/status/{requestId}` answer in this shape. */
const orderRequest = z.object({
  requestId: z.string().min(1),
  requestStatus: z.string(),
  orderStep: z.string().nullish(),
  orderId: z.union([z.number(), z.string()]).nullish(),
  customerRequestId: z.string().nullish(),
});
export type GuustoOrderRequest = z.infer<typeof orderRequest>;

const certificate = z.object({
  id: z.union([z.number(), z.string()]),
  currency: z.string(),
  senderName: z.string().nullish(),
  // Documented only by an example number (a user id); read as the recipient where it names one.
  recipientUser: z
    .union([z.number(), z.string(), z.looseObject({ id: z.union([z.number(), z.string()]).nullish(), email: z.string().nullish(), employeeNumber: z.string().nullish() })])
    .nullish(),
  amount: z.number(),
  message: z.string().nullish(),
  longToken: z.string().nullish(),
  shortToken: z.string().nullish(),
});
export type GuustoCertificate = z.infer<typeof certificate>;

/** `GET /orders/{requestId}` ("Find Order"): one page of the order's certificates. */
const foundOrder = z.object({
  page: z.number().int(),
  size: z.number().int(),
  totalElements: z.number().int().min(0),
  totalPages: z.number().int().min(0),
  id: z.union([z.number(), z.string()]).nullish(),
  requestId: z.string(),
  state: z.string().nullish(),
  status: z.string().nullish(),
  certificates: z.array(certificate).default([]),
});
export type GuustoFoundOrder = z.infer<typeof foundOrder>;

export interface GuustoOrderItem {
  message: string;
  amount: number;
  recipient: { firstName?: string; lastName?: string; email?: string; employeeNumber?: string };
}

export interface GuustoCreateBody {
  orderItems: GuustoOrderItem[];
  currency: 'CAD' | 'USD';
  language?: 'EN_CA' | 'FR_CA' | 'ES_MX';
}

/** Typed calls to Guusto's REST API (`/api/v1`), each response checked against its documented shape. */
export class GuustoApi {
  readonly http: ProviderHttpClient;

  constructor(connection: GuustoConnection, timeoutMs: number, observers?: CallObservers, guards?: ProviderGuards) {
    this.http = new ProviderHttpClient({
      provider: 'GUUSTO',
      observers,
      guards,
      baseUrl: `${connection.baseUrl.replace(/\/$/, '')}/api/v1`,
      timeoutMs,
      headers: () => ({ authorization: `Bearer ${connection.token}`, 'x-workspace-id': connection.workspaceId }),
      // Guusto's error body is not published; its codes (invalid_field, insufficient_balance, ...) are [community].
      readError: (_status, body) => {
        const b = (body ?? {}) as { code?: unknown; message?: unknown; error?: unknown };
        return {
          code: typeof b.code === 'string' ? b.code : typeof b.error === 'string' ? b.error : undefined,
          message: typeof b.message === 'string' ? b.message : undefined,
        };
      },
    });
  }

  /** Not idempotent: Guusto only echoes X-Customer-Request-Id, it does not deduplicate on it. */
  async placeOrder(body: GuustoCreateBody, customerRequestId: string): Promise<GuustoOrderRequest> {
    const res = await this.http.request({
      method: 'POST',
      path: '/orders',
      body,
      headers: { 'x-customer-request-id': customerRequestId },
      idempotent: false,
    });
    return parseResponse('GUUSTO', 'Guusto', orderRequest, res.body, 'POST /orders');
  }

  async orderStatus(requestId: string): Promise<GuustoOrderRequest> {
    const res = await this.http.request({ method: 'GET', path: `/orders/status/${encodeURIComponent(requestId)}`, idempotent: true });
    return parseResponse('GUUSTO', 'Guusto', orderRequest, res.body, 'GET /orders/status');
  }

  async findOrder(requestId: string, page: number, size: number): Promise<GuustoFoundOrder> {
    const res = await this.http.request({ method: 'GET', path: `/orders/${encodeURIComponent(requestId)}`, query: { page, size }, idempotent: true });
    return parseResponse('GUUSTO', 'Guusto', foundOrder, res.body, 'GET /orders/{requestId}');
  }

  async workspaceBalance(currency: string): Promise<number> {
    const res = await this.http.request({ method: 'GET', path: `/balances/workspaces/currencies/${encodeURIComponent(currency)}`, idempotent: true });
    return parseResponse('GUUSTO', 'Guusto', z.object({ balance: z.number() }), res.body, 'GET /balances/workspaces').balance;
  }
}
