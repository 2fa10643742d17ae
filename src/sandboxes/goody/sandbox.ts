import { createHmac, randomBytes, randomUUID } from 'node:crypto';
import { systemClock, type SandboxClock } from '../kit/clock.js';
import { SandboxHttpServer, type SandboxReply, type SandboxRequest } from '../kit/server.js';
import { SnapshotFile } from '../kit/snapshot.js';
import { WebhookSender, type WebhookTarget } from '../kit/webhooks.js';
import { CARDS, PRODUCTS, type SandboxProduct } from './catalog.js';

export interface GoodySandboxOptions {
  apiKey: string;
  clock?: SandboxClock;
  /** Time each step of a gift's life takes, and a large batch's background processing. */
  stepMs?: number;
  webhookUrl?: WebhookTarget;
  /** `whsec_<base64>`, as Svix issues it. */
  webhookSecret?: string;
  /**
   * How batch events are named. Goody's list of events says `order_batch.created` and
   * `order_batch.completed` (https://developer.ongoody.com/automation-api/webhooks, the default);
   * its example payload says `gift_batch.completed`, with `gifts_count`, `gifts_preview` and
   * `gift_batch_id` (https://developer.ongoody.com/webhooks/events/order_batch.completed).
   */
  batchEvents?: 'order_batch' | 'gift_batch';
  stateFile?: string;
}

/** Batches larger than this are processed in the background [doc]. */
const SYNC_LIMIT = 10;
const PREVIEW = 10;
const SEND_METHODS = ['email_and_link', 'link_multiple_custom_list', 'direct_send'];
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

interface StoredOrder {
  id: string;
  recipient: { first_name: string; last_name?: string; email?: string };
  linkToken: string;
  createdAt: number;
  canceledAt: number | null;
  /** When Goody gave up on the gift (a real failure, not a cancel); absent in older state files. */
  failedAt?: number | null;
  /** The last step a webhook announced. */
  announced: string;
}

interface StoredBatch {
  id: string;
  from_name: string;
  send_method: string;
  recipients: StoredOrder['recipient'][];
  cart: { items: { product_id: string; quantity: number; variable_price?: number }[] };
  message: string | null;
  card_id: string | null;
  scheduled_send_on: string | null;
  expires_at: string | null;
  customer_reference_id: string | null;
  createdAt: number;
  /** When the orders exist: at once for small immediate batches, later for large or scheduled ones. */
  processAt: number;
  orders: StoredOrder[];
  announcedComplete: boolean;
}

interface State {
  batches: StoredBatch[];
}

const fail = (status: number, error: string): SandboxReply => ({ status, body: { error } });

/**
 * A stateful stand-in for Goody's Automation API (`/v1`), built from its documentation: order
 * batches processed at once or in the background, one order per recipient with its gift link and
 * lifecycle, cancel while early, products and cards, pagination, and Svix-signed webhooks.
 */
export class GoodySandbox {
  readonly http = new SandboxHttpServer((_status, _code, message) => ({ error: message }));
  readonly webhooks: WebhookSender;
  private readonly clock: SandboxClock;
  private readonly stepMs: number;
  private readonly snapshot: SnapshotFile<State>;
  private readonly state: State;
  private readonly stopTicking: () => void;

  constructor(private readonly options: GoodySandboxOptions) {
    this.clock = options.clock ?? systemClock;
    this.stepMs = options.stepMs ?? 4_000;
    this.snapshot = new SnapshotFile<State>(options.stateFile);
    this.state = this.snapshot.load() ?? { batches: [] };
    this.webhooks = new WebhookSender(options.webhookUrl);
    this.stopTicking = this.clock.onTick(() => this.advance());

    const v1 = '/v1';
    this.http
      .route('GET', `${v1}/me`, (req) => this.guard(req, () => ({ status: 200, body: { email: 'sandbox@giftgraph.invalid' } })))
      .route('POST', `${v1}/order_batches`, (req) => this.guard(req, () => this.createBatch(req)))
      .route('GET', `${v1}/order_batches`, (req) => this.guard(req, () => this.paged(req, this.newestFirst(), (b) => this.batchView(b))))
      .route('GET', `${v1}/order_batches/:id`, (req) => this.guard(req, () => this.withBatch(req, (b) => ({ status: 200, body: this.batchView(b) }))))
      .route('GET', `${v1}/order_batches/:id/orders`, (req) => this.guard(req, () => this.withBatch(req, (b) => this.paged(req, b.orders, (o) => this.orderView(b, o)))))
      .route('GET', `${v1}/order_batches/:id/recipients`, (req) => this.guard(req, () => this.withBatch(req, (b) => this.paged(req, b.recipients, (r) => r))))
      .route('GET', `${v1}/orders`, (req) => this.guard(req, () => this.listOrders(req)))
      .route('GET', `${v1}/orders/:id`, (req) => this.guard(req, () => this.withOrder(req, (b, o) => ({ status: 200, body: this.orderView(b, o) }))))
      .route('POST', `${v1}/orders/:id/cancel`, (req) => this.guard(req, () => this.withOrder(req, (b, o) => this.cancel(b, o))))
      .route('GET', `${v1}/products`, (req) => this.guard(req, () => this.paged(req, PRODUCTS, productView)))
      .route('GET', `${v1}/products/:id`, (req) =>
        this.guard(req, () => {
          const product = PRODUCTS.find((p) => p.id === req.params.id);
          return product ? { status: 200, body: productView(product) } : fail(404, 'Product not found');
        }),
      )
      .route('GET', `${v1}/cards`, (req) => this.guard(req, () => this.paged(req, CARDS, (c) => c)));
  }

  listen(port = 0, host?: string): Promise<string> {
    return this.http.listen(port, host);
  }

  async close(): Promise<void> {
    this.stopTicking();
    await this.webhooks.close();
    await this.http.close();
  }

  /** How many batches (our orders) the sandbox holds: what was really "sent". */
  get orderCount(): number {
    return this.state.batches.length;
  }

  /** Creates the orders of batches whose time came, and sends the webhooks for steps the clock passed. */
  advance(): void {
    let changed = false;
    for (const batch of this.state.batches) {
      if (batch.orders.length === 0 && this.clock.now() >= batch.processAt) {
        this.createOrders(batch);
        changed = true;
      }
      if (batch.orders.length > 0 && !batch.announcedComplete) {
        batch.announcedComplete = true;
        changed = true;
        this.emitBatch('completed', batch);
      }
      for (const order of batch.orders) {
        const step = this.orderStep(batch, order);
        if (step === order.announced) continue;
        order.announced = step;
        changed = true;
        const event = ORDER_EVENTS[step];
        if (event) this.emit(event, this.orderView(batch, order));
      }
    }
    if (changed) this.snapshot.save(this.state);
  }

  /**
   * Makes a gift fail, as Goody may when it cannot fulfil one: reads then report `failed`, and no
   * event says so (Goody lists none for a failure). For tests; false for an unknown or ended gift.
   */
  failOrder(id: string): boolean {
    for (const batch of this.state.batches) {
      const order = batch.orders.find((o) => o.id === id);
      if (!order || order.canceledAt !== null || order.failedAt) continue;
      order.failedAt = this.clock.now();
      this.advance();
      this.snapshot.save(this.state);
      return true;
    }
    return false;
  }

  private guard(req: SandboxRequest, next: () => SandboxReply): SandboxReply {
    if (req.headers.authorization !== `Bearer ${this.options.apiKey}`) return fail(401, 'Unauthorized');
    this.advance();
    return next();
  }

  private createBatch(req: SandboxRequest): SandboxReply {
    const b = (req.body ?? {}) as Record<string, any>;
    if (typeof b.from_name !== 'string' || b.from_name.trim() === '') return fail(400, 'from_name is required');
    if (!SEND_METHODS.includes(b.send_method)) return fail(400, `send_method must be one of ${SEND_METHODS.join(', ')}`);
    if (!Array.isArray(b.recipients) || b.recipients.length === 0) return fail(400, 'recipients must include at least one recipient');
    for (const [i, r] of (b.recipients as Record<string, unknown>[]).entries()) {
      if (typeof r?.first_name !== 'string' || r.first_name.trim() === '') return fail(400, `recipients[${i}].first_name is required`);
      if (b.send_method === 'email_and_link' && (typeof r.email !== 'string' || !EMAIL.test(r.email))) {
        return fail(400, `recipients[${i}].email is required when Goody sends the gift email`);
      }
      if (b.send_method === 'direct_send' && !r.mailing_address) return fail(400, `recipients[${i}].mailing_address is required for direct_send`);
    }
    const items = b.cart?.items;
    if (!Array.isArray(items) || items.length === 0) return fail(400, 'cart.items must include at least one item');
    for (const [i, item] of (items as Record<string, any>[]).entries()) {
      const product = PRODUCTS.find((p) => p.id === item?.product_id);
      if (!product) return fail(400, `cart.items[${i}].product_id is not a product`);
      // An integer, with no published maximum (the order batch schema): none is enforced here.
      if (!Number.isInteger(item.quantity) || item.quantity < 1) return fail(400, `cart.items[${i}].quantity must be a positive integer`);
      if (product.price_is_variable) {
        const price = item.variable_price;
        if (!Number.isInteger(price) || price < product.variable_price_min! || price > product.variable_price_max!) {
          return fail(400, `cart.items[${i}].variable_price must be from ${product.variable_price_min} to ${product.variable_price_max} cents`);
        }
      } else if (item.variable_price !== undefined) {
        return fail(400, `cart.items[${i}].variable_price is only for products with a variable price`);
      }
    }
    if (b.message && !b.card_id) return fail(400, 'card_id is required with a message');
    if (b.card_id && !CARDS.some((c) => c.id === b.card_id)) return fail(400, 'card_id is not a card');
    let scheduledAt: number | null = null;
    if (b.scheduled_send_on !== undefined && b.scheduled_send_on !== null) {
      scheduledAt = Date.parse(b.scheduled_send_on);
      if (Number.isNaN(scheduledAt) || scheduledAt <= this.clock.now()) return fail(400, 'scheduled_send_on must be a date-time in the future');
    }
    if (b.customer_reference_id && this.state.batches.some((x) => x.customer_reference_id === b.customer_reference_id)) {
      return fail(400, 'Customer reference has already been taken');
    }

    const now = this.clock.now();
    const large = b.recipients.length > SYNC_LIMIT;
    const batch: StoredBatch = {
      id: randomUUID(),
      from_name: b.from_name,
      send_method: b.send_method,
      recipients: (b.recipients as StoredOrder['recipient'][]).map((r) => ({ first_name: r.first_name, last_name: r.last_name, email: r.email })),
      cart: { items },
      message: b.message ?? null,
      card_id: b.card_id ?? null,
      scheduled_send_on: scheduledAt === null ? null : new Date(scheduledAt).toISOString(),
      expires_at: typeof b.expires_at === 'string' ? b.expires_at : null,
      customer_reference_id: b.customer_reference_id ?? null,
      createdAt: now,
      processAt: (scheduledAt ?? now) + (large ? this.stepMs : 0),
      orders: [],
      announcedComplete: false,
    };
    this.state.batches.push(batch);
    this.emitBatch('created', batch);
    this.advance();
    this.snapshot.save(this.state);
    return { status: 201, body: this.batchView(batch) };
  }

  private createOrders(batch: StoredBatch): void {
    batch.orders = batch.recipients.map((recipient) => ({
      id: randomUUID(),
      recipient,
      linkToken: randomBytes(9).toString('base64url'),
      createdAt: batch.processAt,
      canceledAt: null,
      failedAt: null,
      announced: '',
    }));
  }

  /**
   * Cancels a gift while it is created, notified or opened [doc]. The answer, and every read after,
   * say `failed`, as Goody's do (https://developer.ongoody.com/api-reference/orders/cancel-an-order);
   * canceling it again answers the same.
   */
  private cancel(batch: StoredBatch, order: StoredOrder): SandboxReply {
    if (order.canceledAt !== null) return { status: 200, body: this.orderView(batch, order) };
    const status = this.orderStatus(batch, order);
    if (!['created', 'notified', 'opened'].includes(status)) return fail(400, `Order cannot be canceled once ${status}`);
    order.canceledAt = this.clock.now();
    this.advance();
    this.snapshot.save(this.state);
    return { status: 200, body: this.orderView(batch, order) };
  }

  private listOrders(req: SandboxRequest): SandboxReply {
    const after = req.query.get('created_at[after]');
    const before = req.query.get('created_at[before]');
    const orders = this.newestFirst()
      .flatMap((b) => b.orders.map((o) => [b, o] as const))
      .filter(([, o]) => !after || o.createdAt > Date.parse(after))
      .filter(([, o]) => !before || o.createdAt < Date.parse(before));
    return this.paged(req, orders, ([b, o]) => this.orderView(b, o));
  }

  private paged<T>(req: SandboxRequest, items: readonly T[], view: (item: T) => unknown): SandboxReply {
    const page = Number(req.query.get('page') ?? 1);
    const perPage = Number(req.query.get('per_page') ?? 20);
    if (!Number.isInteger(page) || page < 1) return fail(400, 'page must be a positive integer');
    if (!Number.isInteger(perPage) || perPage < 1 || perPage > 100) return fail(400, 'per_page must be from 1 to 100');
    const data = items.slice((page - 1) * perPage, page * perPage).map(view);
    return { status: 200, body: { data, list_meta: { total_count: items.length } } };
  }

  private withBatch(req: SandboxRequest, next: (batch: StoredBatch) => SandboxReply): SandboxReply {
    const batch = this.state.batches.find((b) => b.id === req.params.id);
    return batch ? next(batch) : fail(404, 'Order batch not found');
  }

  private withOrder(req: SandboxRequest, next: (batch: StoredBatch, order: StoredOrder) => SandboxReply): SandboxReply {
    for (const batch of this.state.batches) {
      const order = batch.orders.find((o) => o.id === req.params.id);
      if (order) return next(batch, order);
    }
    return fail(404, 'Order not found');
  }

  private newestFirst(): StoredBatch[] {
    return [...this.state.batches].sort((a, b) => b.createdAt - a.createdAt);
  }

  private product(batch: StoredBatch): SandboxProduct {
    return PRODUCTS.find((p) => p.id === batch.cart.items[0]!.product_id)!;
  }

  /** A gift's status as Goody reports it: a canceled gift reports `failed` [doc]. */
  private orderStatus(batch: StoredBatch, order: StoredOrder): string {
    const step = this.orderStep(batch, order);
    return step === 'canceled' ? 'failed' : step;
  }

  /** A gift's life on the clock: notified (when Goody emails it), opened, accepted, then shipped and delivered; or canceled, or failed. */
  private orderStep(batch: StoredBatch, order: StoredOrder): string {
    if (order.canceledAt !== null) return 'canceled';
    if (order.failedAt) return 'failed';
    const steps = Math.floor((this.clock.now() - order.createdAt) / Math.max(this.stepMs, 1));
    const path = [
      'created',
      ...(batch.send_method === 'email_and_link' ? ['notified'] : []),
      'opened',
      'accepted',
      ...(this.product(batch).physical ? ['shipped'] : []),
      'delivered',
    ];
    return this.stepMs === 0 ? path.at(-1)! : path[Math.min(steps, path.length - 1)]!;
  }

  private batchView(batch: StoredBatch) {
    const orders = batch.orders;
    return {
      id: batch.id,
      send_status: orders.length === 0 ? 'pending' : 'complete',
      send_method: batch.send_method,
      from_name: batch.from_name,
      message: batch.message,
      card_id: batch.card_id,
      cart: batch.cart,
      scheduled_send_on: batch.scheduled_send_on,
      expires_at: batch.expires_at,
      customer_reference_id: batch.customer_reference_id,
      orders_count: orders.length,
      orders_preview: orders.slice(0, PREVIEW).map((o) => this.orderView(batch, o)),
      created_at: new Date(batch.createdAt).toISOString(),
    };
  }

  private orderView(batch: StoredBatch, order: StoredOrder) {
    const item = batch.cart.items[0]!;
    const product = this.product(batch);
    const unit = product.price_is_variable ? item.variable_price! : product.price!;
    const amountProduct = unit * item.quantity;
    return {
      id: order.id,
      order_batch_id: batch.id,
      status: this.orderStatus(batch, order),
      individual_gift_link: `https://sandbox.ongoody.invalid/gift/${order.linkToken}`,
      recipient_first_name: order.recipient.first_name,
      recipient_last_name: order.recipient.last_name ?? null,
      recipient_email: order.recipient.email ?? null,
      amounts: {
        amount_product: amountProduct,
        amount_shipping: 0,
        amount_processing_fee: 0,
        amount_pre_tax_total: amountProduct,
        amount_tax: 0,
        amount_total: amountProduct,
      },
      created_at: new Date(order.createdAt).toISOString(),
    };
  }

  /** A batch event, in the form the sandbox is set to send. */
  private emitBatch(what: 'created' | 'completed', batch: StoredBatch): void {
    if (this.options.batchEvents !== 'gift_batch') {
      this.emit(`order_batch.${what}`, this.batchView(batch));
      return;
    }
    const { orders_count, orders_preview, ...rest } = this.batchView(batch);
    const gifts = orders_preview.map(({ order_batch_id, ...order }) => ({ ...order, gift_batch_id: order_batch_id }));
    this.emit(`gift_batch.${what}`, { ...rest, gifts_count: orders_count, gifts_preview: gifts });
  }

  /** Svix-signed delivery: `{svix-id}.{svix-timestamp}.{body}` under the base64 key of the whsec_ secret. */
  private emit(eventType: string, data: unknown): void {
    const secret = this.options.webhookSecret;
    if (!secret) return;
    const id = `msg_${randomBytes(12).toString('hex')}`;
    const body = JSON.stringify({ event_type: eventType, id, data });
    // Svix stamps deliveries with real time: receivers compare it to their own clock.
    const timestamp = String(Math.floor(Date.now() / 1000));
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const signature = createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64');
    this.webhooks.send({ body, headers: { 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': `v1,${signature}` } });
  }
}

/** The event for each step [doc]; Goody lists none for a failure. */
const ORDER_EVENTS: Record<string, string> = {
  created: 'order.created',
  opened: 'order.gift_opened',
  accepted: 'order.gift_accepted',
  shipped: 'order.shipped',
  delivered: 'order.delivered',
  canceled: 'order.canceled',
};

const productView = ({ physical: _physical, ...product }: SandboxProduct) => product;
