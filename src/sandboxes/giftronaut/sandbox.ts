import { createHash, createHmac, randomBytes, randomUUID } from 'node:crypto';
import { currencyExponent } from '../../core/money.js';
import { fromZonedLocal } from '../../core/zoned-time.js';
import { systemClock, type SandboxClock } from '../kit/clock.js';
import { SandboxHttpServer, type SandboxReply, type SandboxRequest } from '../kit/server.js';
import { SnapshotFile } from '../kit/snapshot.js';
import { WebhookSender, type WebhookTarget } from '../kit/webhooks.js';
import { BRANDED_CARDS, CHOICE_CARDS, USD_PER_UNIT, orderableProduct, type SandboxProduct } from './catalog.js';

/** The scopes Giftronaut documents, all granted to the sandbox's client unless `allowedScopes` says otherwise. */
export const GIFTRONAUT_SANDBOX_SCOPES = ['orders.read', 'orders.write', 'orders.cancel', 'catalog.read'];

export interface GiftronautSandboxOptions {
  clientId: string;
  clientSecret: string;
  /** Scopes this client may be granted. */
  allowedScopes?: string[];
  clock?: SandboxClock;
  /** Time each lifecycle step takes: PENDING → IN_PROGRESS → COMPLETE. */
  stepMs?: number;
  /** Token lifetime; 24 h in Giftronaut's sandbox [doc]. */
  tokenTtlSeconds?: number;
  /** Requests per rolling minute per client; 60 in Giftronaut's sandbox [doc]. */
  rateLimitPerMinute?: number;
  /** Starting available balance in USD. */
  balanceUsd?: number;
  webhookUrl?: WebhookTarget;
  webhookSecret?: string;
  stateFile?: string;
  /**
   * Raw entries added to the end of each catalog answer, for clients that must cope with what a
   * real catalog may hold (an entry without a currency, one without an id). Those naming an id and
   * a currency can be ordered.
   */
  extraCatalog?: { branded?: unknown[]; choice?: unknown[] };
}

/** What a create request carried as its idempotency key, in the body and in the header. */
export interface ReceivedCreate {
  bodyKey: string | undefined;
  headerKey: string | undefined;
}

type CardType = 'BRANDED_CARD' | 'CHOICE_CARD';

interface StoredRecipient {
  email: string;
  firstName?: string;
  lastName?: string;
  company?: string;
  department?: string;
  amount: number;
  rewardToken: string;
}

interface StoredOrder {
  orderId: string;
  cardType: CardType;
  productId: string;
  productName: string;
  currency: string;
  sendTiming: { type: 'IMMEDIATE' | 'SCHEDULED'; scheduledAt?: string; timezone?: string };
  emailSetting: { senderName: string; subject: string; message?: string; templateId?: string };
  refundOption: boolean;
  recipients: StoredRecipient[];
  createdAt: number;
  /** When processing starts: creation, or the scheduled instant. */
  startsAt: number;
  canceledAt: number | null;
  usdCents: number;
  idempotencyKey: string;
  bodyHash: string;
  /** The last status a webhook announced, so each change is announced once. */
  announced: string;
}

interface State {
  orders: StoredOrder[];
  balanceUsdCents: number;
  nextOrderNumber: number;
}

const BOUNCE_DOMAIN = '@bounce.invalid';
const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
const LOCAL_DATETIME = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(:\d{2})?$/;
const LINK_DAYS = { standard: 180, refund: 30 };
const DAY = 86_400_000;
/** "Deduplication window: 24 hours"; a header key of up to 128 characters [doc: api.giftronaut.com/docs/guides/idempotency]. */
const IDEMPOTENCY_WINDOW_MS = DAY;
const MAX_HEADER_KEY = 128;
/** The body field takes at most 64 characters [doc: POST /orders/branded-cards, idempotencyKey]. */
const MAX_BODY_KEY = 64;
const MAX_RECORDED_CREATES = 1_000;

const fail = (status: number, error: string, message: string): SandboxReply => ({ status, body: { error, message } });

/**
 * A stateful stand-in for Giftronaut's API, built from its documentation: OAuth client credentials
 * with scopes, branded- and choice-card orders with their business rules and idempotency, scheduled
 * sends, cancel, resend, catalog, balance, a rate limit and signed webhooks.
 */
export class GiftronautSandbox {
  readonly http = new SandboxHttpServer((_status, code, message) => ({ error: code.toUpperCase(), message }));
  readonly webhooks: WebhookSender;
  private readonly clock: SandboxClock;
  private readonly stepMs: number;
  private readonly snapshot: SnapshotFile<State>;
  private readonly state: State;
  private readonly tokens = new Map<string, { scopes: Set<string>; expiresAt: number }>();
  private readonly recentCalls: number[] = [];
  /** The idempotency keys of the latest create requests, in the order received. */
  readonly creates: ReceivedCreate[] = [];
  private readonly stopTicking: () => void;

  constructor(private readonly options: GiftronautSandboxOptions) {
    this.clock = options.clock ?? systemClock;
    this.stepMs = options.stepMs ?? 4_000;
    this.snapshot = new SnapshotFile<State>(options.stateFile);
    this.state = this.snapshot.load() ?? { orders: [], balanceUsdCents: Math.round((options.balanceUsd ?? 50_000) * 100), nextOrderNumber: 1 };
    this.webhooks = new WebhookSender(options.webhookUrl);
    this.stopTicking = this.clock.onTick(() => this.announceChanges());

    const api = '/api/v1';
    this.http
      .route('POST', '/oauth2/token', (req) => this.issueToken(req))
      .route('GET', `${api}/orders`, (req) => this.guard(req, 'orders.read', () => this.listOrders(req)))
      .route('POST', `${api}/orders/branded-cards`, (req) => this.guard(req, 'orders.write', () => this.createOrder(req, 'BRANDED_CARD')))
      .route('POST', `${api}/orders/choice-cards`, (req) => this.guard(req, 'orders.write', () => this.createOrder(req, 'CHOICE_CARD')))
      .route('GET', `${api}/orders/:orderId`, (req) => this.guard(req, 'orders.read', () => this.getOrder(req)))
      .route('DELETE', `${api}/orders/:orderId/cancel`, (req) => this.guard(req, 'orders.cancel', () => this.cancelOrder(req)))
      .route('POST', `${api}/orders/:orderId/resend`, (req) => this.guard(req, 'orders.write', () => this.resend(req)))
      .route('GET', `${api}/balance`, (req) => this.guard(req, 'orders.read', () => this.balance()))
      .route('GET', `${api}/catalog/branded-cards`, (req) => this.guard(req, 'catalog.read', () => ({ status: 200, body: { data: this.catalog('BRANDED_CARD') } })))
      .route('GET', `${api}/catalog/choice-cards`, (req) => this.guard(req, 'catalog.read', () => ({ status: 200, body: { data: this.catalog('CHOICE_CARD') } })));
  }

  listen(port = 0, host?: string): Promise<string> {
    return this.http.listen(port, host);
  }

  async close(): Promise<void> {
    this.stopTicking();
    await this.webhooks.close();
    await this.http.close();
  }

  /**
   * Registers the webhook endpoint as Giftronaut does: POSTs `{"challengeToken": ...}` and counts the
   * endpoint active when it answers 200 with the same token [doc: api.giftronaut.com/docs/guides/
   * webhooks, "Challenge verification"]. Signed like every delivery, where a secret is set.
   */
  async registerWebhookEndpoint(): Promise<boolean> {
    const target = this.options.webhookUrl;
    const url = typeof target === 'function' ? target() : target;
    if (!url) return false;
    const challengeToken = randomBytes(16).toString('hex');
    const body = JSON.stringify({ challengeToken });
    const headers: Record<string, string> = { 'content-type': 'application/json' };
    if (this.options.webhookSecret) headers['x-giftronaut-signature'] = `sha256=${createHmac('sha256', this.options.webhookSecret).update(body).digest('hex')}`;
    try {
      const res = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(5_000) });
      const answer = (await res.json().catch(() => undefined)) as { challengeToken?: unknown } | undefined;
      return res.status === 200 && answer?.challengeToken === challengeToken;
    } catch {
      return false;
    }
  }

  /** How many orders the sandbox holds: what was really "sent". */
  get orderCount(): number {
    return this.state.orders.length;
  }

  /** Sends the webhooks for lifecycle steps the clock has passed. Runs on every tick and request. */
  announceChanges(): void {
    let changed = false;
    for (const order of this.state.orders) {
      const status = this.status(order);
      if (status === order.announced) continue;
      order.announced = status;
      changed = true;
      if (status !== 'COMPLETE') continue;
      const sent = order.recipients.filter((r) => !r.email.endsWith(BOUNCE_DOMAIN)).length;
      this.emit(sent === order.recipients.length ? 'order.delivery_complete' : 'order.delivery_partial', {
        orderId: order.orderId,
        orderType: 'ONE_TIME',
        cardType: order.cardType,
        recipientCount: order.recipients.length,
        sentCount: sent,
      });
    }
    if (changed) this.snapshot.save(this.state);
  }

  private issueToken(req: SandboxRequest): SandboxReply {
    const form = new URLSearchParams(req.raw.toString('utf8'));
    if (form.get('grant_type') !== 'client_credentials') return fail(400, 'unsupported_grant_type', 'grant_type must be client_credentials');
    if (form.get('client_id') !== this.options.clientId || form.get('client_secret') !== this.options.clientSecret) {
      return fail(401, 'invalid_client', 'unknown client or wrong secret');
    }
    const allowed = new Set(this.options.allowedScopes ?? GIFTRONAUT_SANDBOX_SCOPES);
    const asked = (form.get('scope') ?? [...allowed].join(' ')).split(' ').filter(Boolean);
    const refused = asked.filter((s) => !allowed.has(s));
    if (refused.length > 0) return fail(400, 'invalid_scope', `scope not allowed for this client: ${refused.join(' ')}`);
    const ttl = this.options.tokenTtlSeconds ?? 86_400;
    const token = randomBytes(24).toString('base64url');
    this.tokens.set(token, { scopes: new Set(asked), expiresAt: this.clock.now() + ttl * 1000 });
    return { status: 200, body: { access_token: token, token_type: 'Bearer', expires_in: ttl, scope: asked.join(' ') } };
  }

  /** Authentication, scope and rate limit, in that order, for every API call. */
  private guard(req: SandboxRequest, scope: string, next: () => SandboxReply): SandboxReply {
    this.announceChanges();
    const bearer = /^Bearer (\S+)$/.exec(req.headers.authorization ?? '')?.[1];
    const grant = bearer ? this.tokens.get(bearer) : undefined;
    if (!grant || grant.expiresAt <= this.clock.now()) return fail(401, 'UNAUTHORIZED', 'missing, unknown or expired access token');
    if (!grant.scopes.has(scope)) return fail(403, 'INSUFFICIENT_SCOPE', `this operation needs the ${scope} scope`);
    const limit = this.options.rateLimitPerMinute ?? 60;
    const now = this.clock.now();
    while (this.recentCalls.length > 0 && this.recentCalls[0]! <= now - 60_000) this.recentCalls.shift();
    if (this.recentCalls.length >= limit) {
      const retryAfter = Math.max(1, Math.ceil((this.recentCalls[0]! + 60_000 - now) / 1000));
      return { ...fail(429, 'RATE_LIMITED', `more than ${limit} requests per minute`), headers: { 'retry-after': String(retryAfter) } };
    }
    this.recentCalls.push(now);
    const reply = next();
    const requestId = req.headers['x-request-id'];
    return typeof requestId === 'string' ? { ...reply, headers: { ...reply.headers, 'x-request-id': requestId } } : reply;
  }

  private createOrder(req: SandboxRequest, cardType: CardType): SandboxReply {
    const body = (req.body ?? {}) as Record<string, any>;
    // The reference takes the key in the body, the idempotency guide as a header: either is accepted.
    const header = req.headers['x-idempotency-key'];
    const headerKey = typeof header === 'string' ? header : undefined;
    const bodyKey = typeof body.idempotencyKey === 'string' ? body.idempotencyKey : undefined;
    this.creates.push({ bodyKey, headerKey });
    if (this.creates.length > MAX_RECORDED_CREATES) this.creates.shift();
    if (bodyKey !== undefined && bodyKey.length > MAX_BODY_KEY) return fail(400, 'VALIDATION_ERROR', `idempotencyKey must be at most ${MAX_BODY_KEY} characters`);
    if (headerKey !== undefined && headerKey.length > MAX_HEADER_KEY) return fail(400, 'VALIDATION_ERROR', `X-Idempotency-Key must be at most ${MAX_HEADER_KEY} characters`);
    if (bodyKey !== undefined && headerKey !== undefined && bodyKey !== headerKey) {
      return fail(400, 'VALIDATION_ERROR', 'idempotencyKey and X-Idempotency-Key must be the same when both are given');
    }
    const key = bodyKey ?? headerKey;
    if (!key) return fail(400, 'VALIDATION_ERROR', 'idempotencyKey is required');
    const { idempotencyKey: _key, ...rest } = body;
    const bodyHash = createHash('sha256')
      .update(`${cardType}:${JSON.stringify(rest)}`)
      .digest('hex');
    // A key is remembered for the deduplication window only: after it, the same key places a new order.
    const since = this.clock.now() - IDEMPOTENCY_WINDOW_MS;
    const existing = this.state.orders.findLast((o) => o.idempotencyKey === key && o.createdAt > since);
    if (existing) {
      return existing.bodyHash === bodyHash
        ? { status: 200, body: this.view(existing) }
        : fail(409, 'DUPLICATE_IDEMPOTENCY_KEY', 'this idempotencyKey was used with a different request');
    }

    const product = this.products(cardType).find((p) => p.productId === String(body.productId));
    if (!product) return fail(404, 'PRODUCT_NOT_FOUND', `no ${cardType === 'BRANDED_CARD' ? 'branded' : 'choice'} card with productId ${String(body.productId)}`);

    const timing = body.sendTiming as StoredOrder['sendTiming'] | undefined;
    let startsAt = this.clock.now();
    if (!timing || (timing.type !== 'IMMEDIATE' && timing.type !== 'SCHEDULED')) return fail(400, 'VALIDATION_ERROR', 'sendTiming.type must be IMMEDIATE or SCHEDULED');
    if (timing.type === 'IMMEDIATE' && (timing.scheduledAt !== undefined || timing.timezone !== undefined)) {
      return fail(400, 'VALIDATION_ERROR', 'IMMEDIATE sends take neither scheduledAt nor timezone');
    }
    if (timing.type === 'SCHEDULED') {
      if (!timing.scheduledAt || !timing.timezone) return fail(400, 'VALIDATION_ERROR', 'SCHEDULED sends need both scheduledAt and timezone');
      const at = LOCAL_DATETIME.test(timing.scheduledAt) ? safeZoned(timing.scheduledAt, timing.timezone) : undefined;
      if (!at) return fail(400, 'VALIDATION_ERROR', 'scheduledAt must be a local ISO-8601 date-time and timezone an IANA zone');
      if (at.getTime() <= this.clock.now()) return fail(400, 'VALIDATION_ERROR', 'scheduledAt must be in the future');
      startsAt = at.getTime();
    }

    const email = body.emailSetting as StoredOrder['emailSetting'] | undefined;
    if (!email?.senderName || !email.subject) return fail(400, 'VALIDATION_ERROR', 'emailSetting.senderName and emailSetting.subject are required');
    const recipients = body.recipients as StoredRecipient[] | undefined;
    if (!Array.isArray(recipients) || recipients.length === 0) return fail(400, 'VALIDATION_ERROR', 'recipients must hold at least one recipient');
    const scale = 10 ** currencyExponent(product.currency);
    let totalMinor = 0;
    for (const [i, r] of recipients.entries()) {
      if (typeof r?.email !== 'string' || !EMAIL.test(r.email)) return fail(400, 'VALIDATION_ERROR', `recipients[${i}].email is not a valid email`);
      if (typeof r.amount !== 'number' || !(r.amount > 0)) return fail(400, 'INVALID_AMOUNT', `recipients[${i}].amount must be positive`);
      const minor = Math.round(r.amount * scale);
      if (Math.abs(minor - r.amount * scale) > 1e-6) return fail(400, 'INVALID_AMOUNT', `recipients[${i}].amount has more decimals than ${product.currency} allows`);
      const refused = denominationError(product, minor, scale);
      if (refused) return fail(400, 'INVALID_AMOUNT', `recipients[${i}].amount ${refused}`);
      totalMinor += minor;
    }
    const usdCents = Math.round((totalMinor / scale) * (USD_PER_UNIT[product.currency] ?? 1) * 100);
    if (usdCents > this.state.balanceUsdCents) return fail(400, 'INSUFFICIENT_BALANCE', 'the available balance does not cover this order');

    this.state.balanceUsdCents -= usdCents;
    const order: StoredOrder = {
      orderId: `OT${String(this.state.nextOrderNumber++).padStart(10, '0')}`,
      cardType,
      productId: product.productId,
      productName: product.name,
      currency: product.currency,
      sendTiming: timing,
      emailSetting: email,
      refundOption: body.refundOption === true,
      recipients: recipients.map((r) => ({
        email: r.email,
        firstName: r.firstName,
        lastName: r.lastName,
        company: r.company,
        department: r.department,
        amount: r.amount,
        rewardToken: randomBytes(12).toString('base64url'),
      })),
      createdAt: this.clock.now(),
      startsAt,
      canceledAt: null,
      usdCents,
      idempotencyKey: key,
      bodyHash,
      announced: 'PENDING',
    };
    this.state.orders.push(order);
    this.snapshot.save(this.state);
    this.emit('order.created', { orderId: order.orderId, orderType: 'ONE_TIME', cardType, recipientCount: order.recipients.length });
    return { status: 201, body: this.view(order) };
  }

  private getOrder(req: SandboxRequest): SandboxReply {
    const order = this.find(req.params.orderId!);
    return order ? { status: 200, body: this.view(order) } : fail(404, 'ORDER_NOT_FOUND', 'no such order');
  }

  private listOrders(req: SandboxRequest): SandboxReply {
    const page = Number(req.query.get('page') ?? 1);
    const pageSize = Number(req.query.get('pageSize') ?? 20);
    if (!Number.isInteger(page) || page < 1) return fail(400, 'VALIDATION_ERROR', 'page must be at least 1');
    if (!Number.isInteger(pageSize) || pageSize < 1 || pageSize > 100) return fail(400, 'VALIDATION_ERROR', 'pageSize must be from 1 to 100');
    const q = req.query;
    const day = (iso: number) => new Date(iso).toISOString().slice(0, 10);
    const matching = this.state.orders
      .filter((o) => !q.get('status') || this.status(o) === q.get('status'))
      .filter((o) => !q.get('cardType') || o.cardType === q.get('cardType'))
      .filter((_o) => !q.get('orderType') || q.get('orderType') === 'ONE_TIME')
      .filter((o) => !q.get('startDate') || day(o.createdAt) >= q.get('startDate')!)
      .filter((o) => !q.get('endDate') || day(o.createdAt) <= q.get('endDate')!)
      .filter((o) => !q.get('searchKeyword') || o.productName.toLowerCase().includes(q.get('searchKeyword')!.toLowerCase()))
      .sort((a, b) => b.createdAt - a.createdAt || b.orderId.localeCompare(a.orderId));
    const data = matching.slice((page - 1) * pageSize, page * pageSize).map((o) => this.view(o));
    return { status: 200, body: { data, page, pageSize, totalCount: matching.length } };
  }

  private cancelOrder(req: SandboxRequest): SandboxReply {
    const order = this.find(req.params.orderId!);
    if (!order) return fail(404, 'ORDER_NOT_FOUND', 'no such order');
    // Only a scheduled order more than an hour before its send time can be canceled [doc: 409
    // ORDER_NOT_CANCELABLE]; one already canceled is no longer such an order, so a repeated cancel is refused.
    const scheduled = order.sendTiming.type === 'SCHEDULED';
    if (!scheduled || this.status(order) !== 'PENDING' || order.startsAt - this.clock.now() < 3_600_000) {
      return fail(409, 'ORDER_NOT_CANCELABLE', 'only scheduled orders can be canceled, at least 1 hour before their send time');
    }
    order.canceledAt = this.clock.now();
    this.state.balanceUsdCents += order.usdCents;
    this.snapshot.save(this.state);
    return { status: 200, body: this.view(order) };
  }

  private resend(req: SandboxRequest): SandboxReply {
    const order = this.find(req.params.orderId!);
    if (!order) return fail(404, 'ORDER_NOT_FOUND', 'no such order');
    const asked = ((req.body as { recipients?: unknown } | null)?.recipients ?? []) as { email?: unknown; updatedEmail?: unknown }[];
    if (!Array.isArray(asked) || asked.length === 0) return fail(400, 'VALIDATION_ERROR', 'recipients must hold at least one recipient');
    for (const [i, r] of asked.entries()) {
      const target = order.recipients.find((x) => typeof r.email === 'string' && x.email.toLowerCase() === r.email.toLowerCase());
      if (!target) return fail(400, 'RECIPIENT_NOT_FOUND', `recipients[${i}].email is not a recipient of this order`);
      if (r.updatedEmail !== undefined && (typeof r.updatedEmail !== 'string' || !EMAIL.test(r.updatedEmail))) {
        return fail(400, 'VALIDATION_ERROR', `recipients[${i}].updatedEmail is not a valid email`);
      }
    }
    // The reference sets no condition on the order's state [doc: POST /orders/{orderId}/resend]. A
    // canceled order has nothing to send: none of its recipients is requeued.
    if (this.status(order) === 'CANCELED') return { status: 200, body: { orderId: order.orderId, requeued: 0 } };
    for (const r of asked) {
      const target = order.recipients.find((x) => x.email.toLowerCase() === (r.email as string).toLowerCase())!;
      if (typeof r.updatedEmail === 'string') target.email = r.updatedEmail;
    }
    this.snapshot.save(this.state);
    return { status: 200, body: { orderId: order.orderId, requeued: asked.length } };
  }

  private balance(): SandboxReply {
    const pending = this.state.orders.filter((o) => this.status(o) === 'PENDING' && o.sendTiming.type === 'SCHEDULED').reduce((s, o) => s + o.usdCents, 0);
    return {
      status: 200,
      body: { data: { availableBalance: { amount: this.state.balanceUsdCents / 100, currency: 'USD' }, pendingBalance: { amount: pending / 100, currency: 'USD' } } },
    };
  }

  /** A catalog answer: the sandbox's products, then any extra raw entries it was given. */
  private catalog(cardType: CardType): unknown[] {
    const extra = cardType === 'BRANDED_CARD' ? this.options.extraCatalog?.branded : this.options.extraCatalog?.choice;
    return [...(cardType === 'BRANDED_CARD' ? BRANDED_CARDS : CHOICE_CARDS), ...(extra ?? [])];
  }

  private products(cardType: CardType): SandboxProduct[] {
    return this.catalog(cardType).flatMap((entry) => orderableProduct(entry) ?? []);
  }

  private find(orderId: string): StoredOrder | undefined {
    return this.state.orders.find((o) => o.orderId === orderId);
  }

  private status(order: StoredOrder): 'PENDING' | 'IN_PROGRESS' | 'COMPLETE' | 'CANCELED' {
    if (order.canceledAt !== null) return 'CANCELED';
    const elapsed = this.clock.now() - order.startsAt;
    if (elapsed < this.stepMs) return 'PENDING';
    if (elapsed < 2 * this.stepMs) return 'IN_PROGRESS';
    return 'COMPLETE';
  }

  private view(order: StoredOrder) {
    const status = this.status(order);
    const completedAt = order.startsAt + 2 * this.stepMs;
    const linkDays = order.refundOption ? LINK_DAYS.refund : LINK_DAYS.standard;
    return {
      orderId: order.orderId,
      orderType: 'ONE_TIME',
      cardType: order.cardType,
      status,
      productId: order.productId,
      productName: order.productName,
      currency: order.currency,
      sendTiming: order.sendTiming,
      refundOption: order.refundOption,
      createdAt: new Date(order.createdAt).toISOString(),
      // Nothing documents the order recipients are listed in: this sandbox lists them by email, not as sent.
      recipients: [...order.recipients]
        .sort((a, b) => a.email.toLowerCase().localeCompare(b.email.toLowerCase()))
        .map((r) => {
          const bounced = r.email.endsWith(BOUNCE_DOMAIN);
          const done = status === 'COMPLETE';
          return {
            email: r.email,
            firstName: r.firstName ?? null,
            lastName: r.lastName ?? null,
            company: r.company ?? null,
            department: r.department ?? null,
            amount: r.amount,
            status: done ? (bounced ? 'FAILED' : 'SENT') : status === 'CANCELED' ? 'CANCELED' : 'PENDING',
            // rewardLink is null until the order is COMPLETE [doc].
            rewardLink: done && !bounced ? `https://sandbox.giftronaut.invalid/r/${r.rewardToken}` : null,
            expiresAt: done && !bounced ? new Date(completedAt + linkDays * DAY).toISOString() : null,
          };
        }),
    };
  }

  private emit(eventType: string, data: Record<string, unknown>): void {
    if (!this.options.webhookSecret) return;
    const body = JSON.stringify({ eventId: randomUUID(), eventType, createdAt: new Date(this.clock.now()).toISOString(), data });
    const signature = createHmac('sha256', this.options.webhookSecret).update(body).digest('hex');
    this.webhooks.send({ body, headers: { 'x-giftronaut-signature': `sha256=${signature}` } });
  }
}

/** Why an amount (minor units) is not one the product sells: a price point, or within its range. */
function denominationError(product: SandboxProduct, minor: number, scale: number): string | undefined {
  const points = product.pricePoints;
  const hasRange = product.minAmount !== undefined || product.maxAmount !== undefined;
  const atPoint = points?.some((p) => Math.round(p * scale) === minor) ?? false;
  const inRange =
    hasRange &&
    (product.minAmount === undefined || minor >= Math.round(product.minAmount * scale)) &&
    (product.maxAmount === undefined || minor <= Math.round(product.maxAmount * scale));
  if (atPoint || inRange || (!points && !hasRange)) return undefined;
  return points && !hasRange
    ? `must be one of ${points.join(', ')} ${product.currency}`
    : `must be from ${product.minAmount ?? 0} to ${product.maxAmount ?? 'any amount'} ${product.currency}${points ? ` or one of ${points.join(', ')}` : ''}`;
}

function safeZoned(local: string, zone: string): Date | undefined {
  try {
    return fromZonedLocal(local, zone);
  } catch {
    return undefined;
  }
}
