import type { InputErrors } from '../../core/errors.js';
import { decodeId } from '../../core/global-id.js';
import { formatAmount, minorFromDecimal, type Money } from '../../core/money.js';
import { GiftgraphError } from '../../core/errors.js';
import { isRepeatedLocalTime, toZonedLocal } from '../../core/zoned-time.js';
import { isFinalStatus } from '../../core/model.js';
import type { OrderRecord, RecipientRecord } from '../../store/records.js';
import type { CatalogEntry, CreateOutcome, ListedOrder, OrderSnapshot, ProviderAdapter, ProviderWebhooks, SendRequest, ValidationInput } from '../adapter.js';
import { numberedList } from '../../pagination/native.js';
import { Cached } from '../cached.js';
import { ProviderCallError } from '../http.js';
import { GiftronautApi, type CardType, type GiftronautBrandedCard, type GiftronautChoiceCard, type GiftronautCreateBody } from './api.js';
import type { GiftronautConnection } from './config.js';
import { orderSnapshot } from './map.js';
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

interface Catalog {
  branded: Map<string, GiftronautBrandedCard>;
  choice: Map<string, GiftronautChoiceCard>;
}

export class GiftronautAdapter implements ProviderAdapter {
  readonly provider = 'GIFTRONAUT' as const;
  readonly capabilities = {
    canCancel: true,
    canResend: true,
    canListOrders: true,
    canSchedule: true,
    hasWebhooks: true,
    deduplicatesCreates: true,
  };
  readonly api: GiftronautApi;
  readonly webhooks: ProviderWebhooks | undefined;
  /** Both catalogs, branded and choice cards, read together. */
  private readonly catalogs = new Cached<Catalog>(async () => {
    const [branded, choice] = await Promise.all([this.api.brandedCards(), this.api.choiceCards()]);
    return { branded: new Map(branded.map((c) => [String(c.productId), c])), choice: new Map(choice.map((c) => [String(c.productId), c])) };
  });

  /** Every order of the account, newest first, also those placed in Giftronaut's dashboard. */
  readonly orderList = numberedList<ListedOrder>(async (page, pageSize) => {
    const listed = await this.api.listOrders(page, pageSize);
    return {
      // The list wrapper is assumed, `totalCount` included; paging does not depend on it.
      total: listed.totalCount,
      items: listed.data.map((o) => ({ ...orderSnapshot(o), createdAt: o.createdAt ?? null, total: orderTotal(o.recipients ?? [], o.currency) })),
    };
  }, MAX_PAGE_SIZE, (o) => o.providerRef);

  constructor(connection: GiftronautConnection, timeoutMs: number) {
    this.api = new GiftronautApi(connection, timeoutMs);
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
    if (product.cardType === 'BRANDED_CARD') {
      const card = catalog.branded.get(product.id);
      if (!card) return errors.add(field, "is not in Giftronaut's branded-card catalog");
      for (const r of input.recipients) {
        if (!r.amount) continue;
        const amountField = `input.recipients[${r.position}].amount`;
        if (r.amount.currency !== card.currency) errors.add(`${amountField}.currency`, `${card.name} is sold in ${card.currency}`);
        else if (!card.pricePoints.some((p) => minorFromDecimal(p, card.currency) === r.amount!.minor)) {
          const points = card.pricePoints.map((p) => formatAmount({ minor: minorFromDecimal(p, card.currency), currency: card.currency }));
          errors.add(`${amountField}.amount`, `${card.name} comes in ${points.join(', ')} ${card.currency}`);
        }
      }
    } else {
      const card = catalog.choice.get(product.id);
      if (!card) return errors.add(field, "is not in Giftronaut's choice-card catalog");
      const min = minorFromDecimal(card.minAmount, card.currency);
      const max = minorFromDecimal(card.maxAmount, card.currency);
      for (const r of input.recipients) {
        if (!r.amount) continue;
        const amountField = `input.recipients[${r.position}].amount`;
        if (r.amount.currency !== card.currency) errors.add(`${amountField}.currency`, `${card.name} is loaded in ${card.currency}`);
        else if (r.amount.minor < min || r.amount.minor > max) {
          const range = `${formatAmount({ minor: min, currency: card.currency })} to ${formatAmount({ minor: max, currency: card.currency })}`;
          errors.add(`${amountField}.amount`, `${card.name} takes ${range} ${card.currency}`);
        }
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
      return { kind: 'accepted', snapshot: orderSnapshot(await this.api.createOrder(product.cardType, body)) };
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

  isSettled(order: OrderRecord): boolean {
    // After COMPLETE (links issued) Giftronaut reports nothing more; a canceled order is final.
    return order.submission !== 'ACCEPTED' || order.providerStatus.toUpperCase() === 'COMPLETE' || isFinalStatus(order.status);
  }

  async refresh(order: OrderRecord): Promise<OrderSnapshot> {
    return orderSnapshot(await this.api.getOrder(order.providerRef!));
  }

  /**
   * Open orders read from the newest page of orders in one request. The list's shape is assumed: an
   * item is taken only where it lists every recipient, and, once COMPLETE, each one's link or
   * failure; anything less is read with `GET /orders/{id}`.
   */
  async refreshMany(orders: readonly { order: OrderRecord; recipients: readonly RecipientRecord[] }[]): Promise<Map<string, OrderSnapshot>> {
    const wanted = new Map(orders.filter((o) => o.order.providerRef).map((o) => [o.order.providerRef!, o]));
    const listed = await this.api.listOrders(1, MAX_PAGE_SIZE);
    const found = new Map<string, OrderSnapshot>();
    for (const o of listed.data) {
      const mine = wanted.get(o.orderId);
      const listedRecipients = o.recipients ?? [];
      if (!mine || listedRecipients.length !== mine.recipients.length) continue;
      const complete = o.status.toUpperCase() === 'COMPLETE';
      if (complete && !listedRecipients.every((r) => r.rewardLink || /^(FAILED|CANCELED)$/i.test(r.status ?? ''))) continue;
      found.set(mine.order.id, orderSnapshot(o));
    }
    return found;
  }

  orderCapabilities(order: OrderRecord, _recipients: unknown, now: Date): { canCancel: boolean; canResend: boolean } {
    const scheduledFor = order.scheduledFor ? Date.parse(order.scheduledFor) : undefined;
    return {
      canCancel: order.status === 'SCHEDULED' && scheduledFor !== undefined && scheduledFor - now.getTime() >= CANCEL_WINDOW_MS,
      // Giftronaut resends completed orders, also to a bounced recipient at a corrected address.
      canResend: order.providerStatus === 'COMPLETE',
    };
  }

  async cancel(order: OrderRecord): Promise<OrderSnapshot> {
    try {
      const canceled = await this.api.cancelOrder(order.providerRef!);
      return orderSnapshot(canceled ?? (await this.api.getOrder(order.providerRef!)));
    } catch (error) {
      if (error instanceof ProviderCallError && error.providerCode === 'ORDER_NOT_CANCELABLE') {
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

  async resend(order: OrderRecord, recipients: { email: string; updatedEmail: string | null }[]): Promise<{ requeued: number }> {
    const requeued = await this.api.resend(
      order.providerRef!,
      recipients.map((r) => ({ email: r.email, ...(r.updatedEmail ? { updatedEmail: r.updatedEmail } : {}) })),
    );
    return { requeued };
  }

  async catalog(): Promise<CatalogEntry[]> {
    const { branded, choice } = await this.catalogs.get();
    const money = (value: number, currency: string): Money => ({ minor: minorFromDecimal(value, currency), currency });
    return [
      ...[...branded.values()].map((c) => ({
        localId: `${CARD_PREFIX.BRANDED_CARD}:${c.productId}`,
        kind: 'BRANDED_CARD' as const,
        name: c.name,
        currency: c.currency,
        prices: c.pricePoints.map((p) => money(p, c.currency)),
        minAmount: null,
        maxAmount: null,
      })),
      ...[...choice.values()].map((c) => ({
        localId: `${CARD_PREFIX.CHOICE_CARD}:${c.productId}`,
        kind: 'CHOICE_CARD' as const,
        name: c.name,
        currency: c.currency,
        prices: [],
        minAmount: money(c.minAmount, c.currency),
        maxAmount: money(c.maxAmount, c.currency),
      })),
    ];
  }

  async balances(): Promise<Money[]> {
    const { availableBalance } = await this.api.balance();
    return [{ minor: minorFromDecimal(availableBalance.amount, availableBalance.currency), currency: availableBalance.currency }];
  }

  close(): Promise<void> {
    return this.api.close();
  }
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
  if (!decoded || decoded.provider !== 'GIFTRONAUT') return undefined;
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
