import type { InputErrors } from '../../core/errors.js';
import { decodeId } from '../../core/global-id.js';
import { formatAmount, minorFromDecimal, type Money } from '../../core/money.js';
import { GiftgraphError } from '../../core/errors.js';
import { isRepeatedLocalTime, toZonedLocal } from '../../core/zoned-time.js';
import { isFinalStatus } from '../../core/model.js';
import type { CatalogEntry, CreateOutcome, ListedOrder, OrderSnapshot, ProviderAdapter, SendRequest, ValidationInput, ProviderOrder, ProviderRecipient } from '../adapter.js';
import { numberedList } from '../../pagination/native.js';
import { Cached } from '../cached.js';
import type { ProviderGuards } from '../guard.js';
import { ProviderCallError, type CallObservers } from '../http.js';
import { GiftronautApi, IDEMPOTENCY_WINDOW_MS, type CardType, type GiftronautCatalogRead, type GiftronautCreateBody, type GiftronautProduct } from './api.js';
import type { GiftronautConnection } from './config.js';
import { orderSnapshot, type KnownOrder } from './map.js';
import { giftronautWebhooks } from './webhook.js';

export interface GiftronautOptions {
  cardType?: CardType | null;
  /** A CatalogItem id as `catalog(provider: GIFTRONAUT)` returns it. */
  productId?: string | null;
  subject?: string | null;
  templateId?: string | null;
  refundOption?: boolean | null;
}

/** Our catalog ids carry the card type: `branded:<productId>` or `choice:<productId>`. */
const CARD_PREFIX: Record<CardType, string> = { BRANDED_CARD: 'branded', CHOICE_CARD: 'choice' };
/** `GET /orders` pages hold at most 100 orders [doc]. */
const MAX_PAGE_SIZE = 100;
/** Giftronaut cancels scheduled orders only, and only this long before their send time [doc]. */
const CANCEL_WINDOW_MS = 60 * 60_000;
/** Orders whose resend corrections are kept for the next read; the oldest go first. */
const MAX_CORRECTED_ORDERS = 1_000;

interface Catalog {
  branded: Map<string, GiftronautProduct>;
  choice: Map<string, GiftronautProduct>;
}

/** Where the adapter reports catalog entries it left out. */
export interface GiftronautLog {
  warn(details: Record<string, unknown>, message: string): void;
}

export class GiftronautAdapter implements ProviderAdapter {
  readonly provider = 'GIFTRONAUT' as const;
  readonly capabilities = {
    canCancel: true,
    canResend: true,
    canListOrders: true,
    schedulesNatively: true,
    hasWebhooks: true,
    deduplicatesCreates: true,
  };
  readonly createKeyLifetimeMs = IDEMPOTENCY_WINDOW_MS;
  readonly api: GiftronautApi;
  readonly webhooks: ReturnType<typeof giftronautWebhooks> | undefined;
  /** Both catalogs, branded and choice cards, read together. */
  private readonly catalogs = new Cached<Catalog>(async () => {
    const [branded, choice] = await Promise.all([this.api.brandedCards(), this.api.choiceCards()]);
    return { branded: this.products(branded, 'BRANDED_CARD'), choice: this.products(choice, 'CHOICE_CARD') };
  });
  private readonly log: GiftronautLog;
  /** Addresses corrected by a resend, per Giftronaut order: old (lower case) to new, until the ledger has the new one. */
  private readonly corrected = new Map<string, Map<string, string>>();

  /** Every order of the account, newest first, also those placed in Giftronaut's dashboard. */
  readonly orderList = numberedList<ListedOrder>(
    async (page, pageSize) => {
      const listed = await this.api.listOrders(page, pageSize);
      return {
        // The list wrapper is assumed, `totalCount` included; paging does not depend on it.
        total: listed.totalCount,
        items: listed.data.map((o) => ({ ...orderSnapshot(o), createdAt: o.createdAt ?? null, total: orderTotal(o.recipients ?? [], o.currency) })),
      };
    },
    MAX_PAGE_SIZE,
    (o) => o.providerRef,
  );

  /** `observers`: where the API and token clients report their calls (the registry's hub); `guards`: the registry's limiters and circuits, for both. */
  constructor(connection: GiftronautConnection, timeoutMs: number, log?: GiftronautLog, observers?: CallObservers, guards?: ProviderGuards) {
    // The app passes its own logger; an adapter built alone (a script, a test) reports nothing.
    this.log = log ?? { warn: () => undefined };
    this.api = new GiftronautApi(connection, timeoutMs, observers, guards);
    this.webhooks = connection.webhookSecret ? giftronautWebhooks(connection.webhookSecret) : undefined;
  }

  validate(input: ValidationInput, errors: InputErrors): void {
    const options = (input.options ?? {}) as GiftronautOptions;
    const product = parseProduct(options);
    if (!options.productId) errors.add('input.giftronaut.productId', 'Giftronaut needs a productId from catalog(provider: GIFTRONAUT)');
    else if (!product) errors.add('input.giftronaut.productId', 'is not a Giftronaut catalog item id');
    else if (options.cardType && options.cardType !== product.cardType) {
      errors.add('input.giftronaut.cardType', `does not match the product, which is a ${product.cardType}`);
    }
    if (!input.senderName) errors.add('input.senderName', 'Giftronaut shows a sender name in every gift email');
    if (options.subject !== undefined && options.subject !== null && options.subject.trim() === '') errors.add('input.giftronaut.subject', 'cannot be empty');
    if (input.sendAt && !input.timezone) errors.add('input.timezone', 'Giftronaut schedules a send in a time zone: give one, e.g. America/New_York');
    if (input.sendAt && input.timezone && isAmbiguousLocalTime(new Date(input.sendAt), input.timezone)) {
      errors.add(
        'input.sendAt',
        `falls in the hour that repeats when clocks go back in ${input.timezone}; Giftronaut schedules by local time and cannot tell the two apart: choose another time`,
      );
    }
    const currencies = new Set<string>();
    for (const r of input.recipients) {
      const field = `input.recipients[${r.position}]`;
      if (!r.email) errors.add(`${field}.email`, 'Giftronaut sends every gift by email');
      if (!r.amount) errors.add(`${field}.amount`, "Giftronaut needs an amount: set input.amount or this recipient's amount");
      else currencies.add(r.amount.currency);
    }
    if (currencies.size > 1) errors.add('input.recipients', "Giftronaut sends one product, in the product's currency");
  }

  async validateRemote(input: ValidationInput, errors: InputErrors): Promise<void> {
    const product = parseProduct((input.options ?? {}) as GiftronautOptions);
    if (!product) return;
    let catalog: Catalog;
    try {
      catalog = await this.catalogs.get();
    } catch {
      // Giftronaut checks price points itself, but it cannot check a currency: the order carries
      // none, so an amount in the wrong currency would be read in the product's. Fail closed.
      if (!this.catalogs.last) {
        throw new GiftgraphError(
          'PROVIDER_UNAVAILABLE',
          "Giftronaut's catalog cannot be read now, and an amount's currency must be checked against the product's before anything is sent. Nothing was sent; retry shortly.",
          { provider: 'GIFTRONAUT', retryable: true },
        );
      }
      catalog = this.catalogs.last;
    }
    const field = 'input.giftronaut.productId';
    const card = (product.cardType === 'BRANDED_CARD' ? catalog.branded : catalog.choice).get(product.id);
    if (!card) return errors.add(field, `is not in Giftronaut's ${product.cardType === 'BRANDED_CARD' ? 'branded' : 'choice'}-card catalog`);
    // Giftronaut reads every amount in the product's own currency [doc: recipients[].amount], and an
    // order carries no currency it could check: where the catalog does not say the product's, only
    // we could notice a wrong one, and we cannot. Nothing is sent.
    if (!card.currency) {
      return errors.add(
        field,
        `Giftronaut's catalog does not say which currency ${card.name} (product ${card.productId}) is sold in, and Giftronaut reads every amount in the product's own currency; it cannot be sent until the catalog says. Choose another product.`,
      );
    }
    for (const r of input.recipients) {
      if (!r.amount) continue;
      const amountField = `input.recipients[${r.position}].amount`;
      if (r.amount.currency !== card.currency) errors.add(`${amountField}.currency`, `${card.name} is sold in ${card.currency}`);
      else {
        const problem = denominationProblem(card, card.currency, r.amount.minor);
        if (problem) errors.add(`${amountField}.amount`, problem);
      }
    }
  }

  async create(request: SendRequest): Promise<CreateOutcome> {
    const options = request.options as GiftronautOptions;
    const product = parseProduct(options)!;
    const body: GiftronautCreateBody = {
      // Giftronaut's key is per credential while ours is per tenant: our order id is unique and
      // stable across every retry of this order, so it is what Giftronaut deduplicates on.
      idempotencyKey: request.reference,
      productId: product.id,
      sendTiming: request.sendAt
        ? { type: 'SCHEDULED', scheduledAt: toZonedLocal(new Date(request.sendAt), request.timezone!), timezone: request.timezone! }
        : { type: 'IMMEDIATE' },
      emailSetting: {
        senderName: request.senderName!,
        subject: options.subject?.trim() || `A gift from ${request.senderName}`,
        ...(request.message ? { message: request.message } : {}),
        ...(options.templateId ? { templateId: options.templateId } : {}),
      },
      recipients: request.recipients.map((r) => ({
        email: r.email!,
        // Exact: minor units over a power of ten print as the shortest decimal ("50", "50.5", "1000").
        amount: Number(formatAmount(r.amount!)),
        ...(r.firstName ? { firstName: r.firstName } : {}),
        ...(r.lastName ? { lastName: r.lastName } : {}),
        ...(r.company ? { company: r.company } : {}),
        ...(r.department ? { department: r.department } : {}),
      })),
      refundOption: options.refundOption ?? false,
    };
    try {
      const known: KnownOrder = { scheduled: Boolean(request.sendAt), recipients: request.recipients };
      return { kind: 'accepted', snapshot: orderSnapshot(await this.api.createOrder(product.cardType, body, request.repeatableForMs), known) };
    } catch (error) {
      if (!(error instanceof ProviderCallError)) throw error;
      // A 409 on our key proves an order exists under it, whatever else the answer says; and a refusal
      // after an earlier attempt that may have been processed says nothing of that attempt.
      if (error.kind === 'unknown' || error.providerCode === 'DUPLICATE_IDEMPOTENCY_KEY' || error.afterAmbiguousAttempt) {
        return { kind: 'unknown', error };
      }
      return { kind: 'not_sent', error };
    }
  }

  isSettled(order: ProviderOrder): boolean {
    // After COMPLETE (links issued) Giftronaut reports nothing more; a canceled order is final.
    return order.submission !== 'ACCEPTED' || order.providerStatus.toUpperCase() === 'COMPLETE' || isFinalStatus(order.status);
  }

  async refresh(order: ProviderOrder, recipients: readonly ProviderRecipient[]): Promise<OrderSnapshot> {
    return orderSnapshot(await this.api.getOrder(order.providerRef!), this.known(order, recipients));
  }

  /**
   * Open orders read from the newest page of orders in one request. The list's shape is assumed: an
   * item is taken only where it lists every recipient, and, once COMPLETE, each one's link or
   * failure; anything less is read with `GET /orders/{id}`.
   */
  async refreshMany(orders: readonly { order: ProviderOrder; recipients: readonly ProviderRecipient[] }[]): Promise<Map<string, OrderSnapshot>> {
    const wanted = new Map(orders.filter((o) => o.order.providerRef).map((o) => [o.order.providerRef!, o]));
    const listed = await this.api.listOrders(1, MAX_PAGE_SIZE);
    const found = new Map<string, OrderSnapshot>();
    for (const o of listed.data) {
      const mine = wanted.get(o.orderId);
      const listedRecipients = o.recipients ?? [];
      if (!mine || listedRecipients.length !== mine.recipients.length) continue;
      const complete = o.status.toUpperCase() === 'COMPLETE';
      if (complete && !listedRecipients.every((r) => r.rewardLink || /^(FAILED|CANCELED)$/i.test(r.status ?? ''))) continue;
      found.set(mine.order.id, orderSnapshot(o, this.known(mine.order, mine.recipients)));
    }
    return found;
  }

  orderCapabilities(order: ProviderOrder, _recipients: unknown, now: Date): { canCancel: boolean; canResend: boolean } {
    const scheduledFor = order.scheduledFor ? Date.parse(order.scheduledFor) : undefined;
    return {
      canCancel: order.status === 'SCHEDULED' && scheduledFor !== undefined && scheduledFor - now.getTime() >= CANCEL_WINDOW_MS,
      // The reference puts no condition on a resend [doc: POST /orders/{orderId}/resend]: a corrected
      // address may be given before a scheduled send as after a bounce. Giftronaut judges the rest.
      canResend: order.status !== 'CANCELED',
    };
  }

  async cancel(order: ProviderOrder, recipients: readonly ProviderRecipient[]): Promise<OrderSnapshot> {
    const ours = this.known(order, recipients);
    try {
      const canceled = await this.api.cancelOrder(order.providerRef!);
      return orderSnapshot(canceled ?? (await this.api.getOrder(order.providerRef!)), ours);
    } catch (error) {
      if (error instanceof ProviderCallError && error.providerCode === 'ORDER_NOT_CANCELABLE') {
        // An order already canceled is not cancelable either [doc: 409 ORDER_NOT_CANCELABLE]: a cancel
        // repeated because its first answer was lost must still report the cancel that happened.
        // A failed read-back is its own error: whether the order is canceled is then not known.
        const now = await this.api.getOrder(order.providerRef!);
        if (/^CANCEL+ED$/i.test(now.status)) return orderSnapshot(now, ours);
        throw new ProviderCallError(
          'GIFTRONAUT',
          'rejected',
          'Giftronaut cancels only scheduled orders, and only until 1 hour before their send time',
          error.status,
          error.providerCode,
        );
      }
      throw error;
    }
  }

  async resend(order: ProviderOrder, recipients: { email: string; updatedEmail: string | null }[]): Promise<{ requeued: number }> {
    const requeued = await this.api.resend(
      order.providerRef!,
      recipients.map((r) => ({ email: r.email, ...(r.updatedEmail ? { updatedEmail: r.updatedEmail } : {}) })),
    );
    // Giftronaut now lists these recipients under their new address: the next read matches them by it.
    const changes = recipients.filter((r) => r.updatedEmail);
    if (changes.length > 0) {
      const known = this.corrected.get(order.providerRef!) ?? new Map<string, string>();
      for (const r of changes) known.set(r.email.toLowerCase(), r.updatedEmail!);
      this.corrected.delete(order.providerRef!);
      this.corrected.set(order.providerRef!, known);
      if (this.corrected.size > MAX_CORRECTED_ORDERS) this.corrected.delete(this.corrected.keys().next().value!);
    }
    return { requeued };
  }

  async catalog(): Promise<CatalogEntry[]> {
    const { branded, choice } = await this.catalogs.get();
    const entry =
      (kind: CardType) =>
      (c: GiftronautProduct): CatalogEntry => {
        const money = (value: number | null): Money | null => (value !== null && c.currency ? { minor: minorFromDecimal(value, c.currency), currency: c.currency } : null);
        return {
          localId: `${CARD_PREFIX[kind]}:${c.productId}`,
          kind,
          name: c.name,
          currency: c.currency,
          prices: (c.pricePoints ?? []).map((p) => money(p)).filter((m): m is Money => m !== null),
          minAmount: money(c.minAmount),
          maxAmount: money(c.maxAmount),
        };
      };
    return [...[...branded.values()].map(entry('BRANDED_CARD')), ...[...choice.values()].map(entry('CHOICE_CARD'))];
  }

  async balances(): Promise<Money[]> {
    const { availableBalance } = await this.api.balance();
    return [{ minor: minorFromDecimal(availableBalance.amount, availableBalance.currency), currency: availableBalance.currency }];
  }

  close(): Promise<void> {
    return this.api.close();
  }

  /** What we sent of an order, for reading Giftronaut's answers about it: addresses as last corrected. */
  private known(order: ProviderOrder, recipients: readonly ProviderRecipient[]): KnownOrder {
    const corrected = order.providerRef ? this.corrected.get(order.providerRef) : undefined;
    return {
      scheduled: order.scheduledFor !== null && Date.parse(order.scheduledFor) > Date.now(),
      recipients: recipients.map((r) => ({ position: r.position, email: (r.email && corrected?.get(r.email.toLowerCase())) ?? r.email })),
    };
  }

  /** One catalog by product id; entries that could not be read are logged (where, and what was missing) and left out. */
  private products(read: GiftronautCatalogRead, kind: CardType): Map<string, GiftronautProduct> {
    if (read.skipped.length > 0) {
      this.log.warn({ cardType: kind, skipped: read.skipped }, "entries of Giftronaut's catalog left out: they cannot be read");
    }
    return new Map(read.products.map((p) => [p.productId, p]));
  }
}

/**
 * Why an amount (in the product's currency, minor units) is not one the product is listed with, or
 * undefined when it is, or when the catalog lists no denominations we could read: then Giftronaut is
 * the judge, and says so with its own error.
 */
function denominationProblem(card: GiftronautProduct, currency: string, minor: number): string | undefined {
  const money = (value: number) => formatAmount({ minor: minorFromDecimal(value, currency), currency });
  const points = card.pricePoints?.map((p) => minorFromDecimal(p, currency));
  const min = card.minAmount === null ? undefined : minorFromDecimal(card.minAmount, currency);
  const max = card.maxAmount === null ? undefined : minorFromDecimal(card.maxAmount, currency);
  const hasRange = min !== undefined || max !== undefined;
  if (!points && !hasRange) return undefined;
  const atPoint = points?.includes(minor) ?? false;
  const inRange = hasRange && (min === undefined || minor >= min) && (max === undefined || minor <= max);
  if (atPoint || inRange) return undefined;
  const offers: string[] = [];
  if (card.pricePoints) offers.push(`comes in ${card.pricePoints.map(money).join(', ')} ${currency}`);
  if (hasRange) {
    const range =
      min !== undefined && max !== undefined
        ? `${money(card.minAmount!)} to ${money(card.maxAmount!)}`
        : min !== undefined
          ? `at least ${money(card.minAmount!)}`
          : `at most ${money(card.maxAmount!)}`;
    offers.push(`takes ${range} ${currency}`);
  }
  return `${card.name} ${offers.join(', or ')}`;
}

function isAmbiguousLocalTime(instant: Date, zone: string): boolean {
  try {
    return isRepeatedLocalTime(instant, zone);
  } catch {
    return false; // An unknown zone is reported by the shared checks.
  }
}

function parseProduct(options: GiftronautOptions): { cardType: CardType; id: string } | undefined {
  if (!options.productId) return undefined;
  const decoded = decodeId(options.productId, 'CatalogItem');
  if (decoded?.provider !== 'GIFTRONAUT') return undefined;
  const colon = decoded.local.indexOf(':');
  if (colon <= 0) return undefined;
  const [prefix, id] = [decoded.local.slice(0, colon), decoded.local.slice(colon + 1)];
  const cardType = (Object.keys(CARD_PREFIX) as CardType[]).find((t) => CARD_PREFIX[t] === prefix);
  return cardType && id ? { cardType, id } : undefined;
}

function orderTotal(recipients: { amount?: number | null }[], currency: string | null | undefined): Money | null {
  if (!currency || recipients.some((r) => r.amount === null || r.amount === undefined)) return null;
  return { minor: recipients.reduce((sum, r) => sum + minorFromDecimal(r.amount!, currency), 0), currency };
}
