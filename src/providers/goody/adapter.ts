import { GiftgraphError, type InputErrors } from '../../core/errors.js';
import { decodeId } from '../../core/global-id.js';
import { formatAmount, type Money } from '../../core/money.js';
import { isFinalStatus } from '../../core/model.js';
import type {
  CatalogEntry,
  CreateOutcome,
  ListedOrder,
  OrderSnapshot,
  ProviderAdapter,
  ProviderWebhooks,
  SendRequest,
  ValidationInput,
  ProviderOrder,
  ProviderRecipient,
} from '../adapter.js';
import { drain, isOffsetPosition, mapList, numberedList } from '../../pagination/native.js';
import { Cached } from '../cached.js';
import type { ProviderGuards } from '../guard.js';
import { ProviderCallError, type CallObservers } from '../http.js';
import { GoodyApi, MAX_PER_PAGE, type GoodyBatch, type GoodyBatchBody, type GoodyOrder, type GoodyProduct } from './api.js';
import type { GoodyConnection } from './config.js';
import { batchSnapshot, CANCELABLE, type BatchRecipient, type BatchSnapshotOptions } from './map.js';
import { goodyWebhooks } from './webhook.js';

export type GoodySendMethod = 'EMAIL_AND_LINK' | 'LINK_MULTIPLE_CUSTOM_LIST' | 'DIRECT_SEND';

export interface GoodyOptions {
  /** A CatalogItem id as `catalog(provider: GOODY)` returns it. */
  productId?: string | null;
  quantity?: number | null;
  sendMethod?: GoodySendMethod | null;
  cardId?: string | null;
  expiresAt?: Date | string | null;
}

const SEND_METHODS: Record<GoodySendMethod, GoodyBatchBody['send_method']> = {
  EMAIL_AND_LINK: 'email_and_link',
  LINK_MULTIPLE_CUSTOM_LIST: 'link_multiple_custom_list',
  DIRECT_SEND: 'direct_send',
};
/** How far back to look for a batch Goody says already exists: it was created moments ago. */
const DUPLICATE_SEARCH_PAGES = 5;
/**
 * Goody publishes no maximum: `cart.items[].quantity` is only an integer (the order batch schema,
 * https://developer.ongoody.com/api-reference/order-batches/create-an-order-batch) [assume: giftgraph
 * caps it at 10 per recipient, so a slip cannot multiply a batch's cost; Goody stays the final judge].
 */
const MAX_QUANTITY = 10;
/** Gifts with nothing left to cancel: canceled, or reported failed (as Goody reports a cancel). */
const ENDED = new Set(['canceled', 'failed']);
/** How long this process remembers a cancel it asked for; by then the ledger records it. */
const CANCEL_MEMORY_MS = 7 * 24 * 3_600_000;

export class GoodyAdapter implements ProviderAdapter {
  readonly provider = 'GOODY' as const;
  readonly capabilities = {
    canCancel: true,
    canResend: false,
    canListOrders: true,
    schedulesNatively: true,
    hasWebhooks: true,
    deduplicatesCreates: true,
  };
  readonly api: GoodyApi;
  readonly webhooks: ProviderWebhooks | undefined;
  /** Each batch we send carries our order id as `customer_reference_id`. */
  readonly echoesReference = true;
  /** Every batch of the account, newest first, also those sent from Goody's own app; each with its preview of orders. */
  readonly orderList = numberedList<ListedOrder>(
    async (page, perPage) => {
      const listed = await this.api.listBatches(page, perPage);
      return {
        total: listed.list_meta.total_count,
        items: listed.data.map((b): ListedOrder => {
          // The preview's orders, each a recipient with who it is, so a batch sent elsewhere has them too.
          const preview = b.orders_preview ?? [];
          const snapshot = batchSnapshot(b, preview, this.now(), [], { addUnmatched: true, canceled: this.canceledBy() });
          // The preview holds at most 10 orders: a larger batch's total and recipients are not all in it.
          const whole = (b.orders_count ?? preview.length) <= preview.length;
          return {
            ...snapshot,
            total: whole ? snapshot.total : null,
            createdAt: b.created_at ?? null,
            reference: b.customer_reference_id ?? null,
          };
        }),
      };
    },
    MAX_PER_PAGE,
    (b) => b.providerRef,
  );
  /** Products page by page (page/per_page with `list_meta`). */
  private readonly productList = numberedList<GoodyProduct>(
    async (page, perPage) => {
      const listed = await this.api.products(page, perPage);
      return { items: listed.data, total: listed.list_meta.total_count };
    },
    MAX_PER_PAGE,
    (p) => p.id,
    { newestFirst: false },
  );
  readonly catalogPages = { list: mapList(this.productList, productEntry), isPosition: isOffsetPosition };
  /**
   * Goody orders this process asked Goody to cancel, by id, with when. Goody reports a canceled
   * order as `failed`, and its webhook for the cancel may be read before the cancel's own answer is
   * recorded: noted before each call, so no read in between takes the cancel for a failure.
   */
  private readonly cancelRequests = new Map<string, number>();
  /** Every product, for input checks. */
  private readonly products = new Cached<Map<string, GoodyProduct>>(async () => new Map((await drain(this.productList, MAX_PER_PAGE)).map((p) => [p.id, p])));

  /** `observers`: where the API client reports its calls (the registry's hub); `guards`: the registry's limiters and circuits. */
  constructor(
    connection: GoodyConnection,
    timeoutMs: number,
    private readonly now: () => number = Date.now,
    observers?: CallObservers,
    guards?: ProviderGuards,
  ) {
    this.api = new GoodyApi(connection, timeoutMs, observers, guards);
    this.webhooks = connection.webhookSecret ? goodyWebhooks(connection.webhookSecret) : undefined;
  }

  validate(input: ValidationInput, errors: InputErrors): void {
    const options = (input.options ?? {}) as GoodyOptions;
    if (!options.productId) errors.add('input.goody.productId', 'Goody needs a productId from catalog(provider: GOODY)');
    else if (!productOf(options)) errors.add('input.goody.productId', 'is not a Goody catalog item id');
    const quantity = options.quantity ?? 1;
    if (!Number.isInteger(quantity) || quantity < 1 || quantity > MAX_QUANTITY) errors.add('input.goody.quantity', `must be from 1 to ${MAX_QUANTITY}`);
    const method = options.sendMethod ?? 'EMAIL_AND_LINK';
    if (method === 'DIRECT_SEND') {
      errors.add('input.goody.sendMethod', 'DIRECT_SEND ships to a mailing address, which giftgraph does not take: use EMAIL_AND_LINK or LINK_MULTIPLE_CUSTOM_LIST');
    }
    if (!input.senderName) errors.add('input.senderName', 'Goody shows who the gift is from');
    if (input.message && !options.cardId) errors.add('input.goody.cardId', 'Goody shows a message only on a greeting card: give a cardId');
    const expiresAt = options.expiresAt ? new Date(options.expiresAt) : undefined;
    if (expiresAt && expiresAt.getTime() <= Math.max(Date.now(), input.sendAt ? Date.parse(input.sendAt) : 0)) {
      errors.add('input.goody.expiresAt', 'must be after the gift is sent');
    }
    const amounts = new Set<string>();
    for (const r of input.recipients) {
      const field = `input.recipients[${r.position}]`;
      if (!r.firstName) errors.add(`${field}.firstName`, 'Goody needs a first name for every recipient');
      if (method === 'EMAIL_AND_LINK' && !r.email) errors.add(`${field}.email`, 'Goody emails the gift with EMAIL_AND_LINK; give an email or use LINK_MULTIPLE_CUSTOM_LIST');
      if (r.amount) {
        if (r.amount.currency !== 'USD') errors.add(`${field}.amount.currency`, 'Goody prices in USD');
        amounts.add(`${r.amount.minor}`);
      }
    }
    if (amounts.size > 1) errors.add('input.recipients', 'Goody sends one cart to every recipient of a batch: give them all the same amount');
  }

  async validateRemote(input: ValidationInput, errors: InputErrors): Promise<void> {
    const options = (input.options ?? {}) as GoodyOptions;
    const id = productOf(options);
    if (!id) return;
    let products: Map<string, GoodyProduct>;
    try {
      products = await this.products.get();
    } catch {
      // Without the catalog an amount cannot be known to be a product's variable price, and Goody
      // might charge the product's own price instead: fail closed when an amount was asked for.
      if (!this.products.last && input.recipients.some((r) => r.amount)) {
        throw new GiftgraphError('PROVIDER_UNAVAILABLE', "Goody's catalog cannot be read now, so an amount cannot be checked. Nothing was sent; retry shortly.", {
          provider: 'GOODY',
          retryable: true,
        });
      }
      if (!this.products.last) return; // No amount to check: Goody checks the product itself.
      products = this.products.last;
    }
    const product = products.get(id);
    if (!product) return errors.add('input.goody.productId', "is not in Goody's catalog");
    for (const r of input.recipients) {
      const field = `input.recipients[${r.position}].amount`;
      if (product.price_is_variable) {
        const min = product.variable_price_min ?? 1;
        const max = product.variable_price_max ?? Number.MAX_SAFE_INTEGER;
        if (!r.amount) errors.add(field, `${product.name} has no fixed price: give an amount`);
        else if (r.amount.minor < min || r.amount.minor > max) {
          errors.add(`${field}.amount`, `${product.name} takes ${usd(min)} to ${usd(max)} USD`);
        }
      } else if (r.amount && r.amount.minor !== product.price) {
        errors.add(`${field}.amount`, `${product.name} costs ${usd(product.price ?? 0)} USD; leave the amount out`);
      }
    }
  }

  async create(request: SendRequest): Promise<CreateOutcome> {
    const options = request.options as GoodyOptions;
    const amount = request.recipients[0]?.amount;
    const body: GoodyBatchBody = {
      from_name: request.senderName!,
      send_method: SEND_METHODS[options.sendMethod ?? 'EMAIL_AND_LINK'],
      recipients: request.recipients.map((r) => ({
        first_name: r.firstName!,
        ...(r.lastName ? { last_name: r.lastName } : {}),
        ...(r.email ? { email: r.email } : {}),
      })),
      // An amount is a variable price only for a product that has one; for any other it was checked
      // to equal the product's price, and Goody must not be sent it.
      cart: {
        items: [
          {
            product_id: productOf(options)!,
            quantity: options.quantity ?? 1,
            ...(amount && this.products.last?.get(productOf(options)!)?.price_is_variable ? { variable_price: amount.minor } : {}),
          },
        ],
      },
      ...(request.message ? { message: request.message } : {}),
      ...(options.cardId ? { card_id: options.cardId } : {}),
      ...(request.sendAt ? { scheduled_send_on: request.sendAt } : {}),
      ...(options.expiresAt ? { expires_at: new Date(options.expiresAt).toISOString() } : {}),
      // Our order id, unique and the same on every retry: Goody refuses a second batch with it.
      customer_reference_id: request.reference,
    };
    let created: GoodyBatch;
    try {
      created = await this.api.createBatch(body);
    } catch (error) {
      if (!(error instanceof ProviderCallError)) throw error;
      if (error.kind === 'unavailable') return { kind: 'not_sent', error };
      // Goody checks a batch before it checks for a repeated reference, and its words for a repeat
      // are not published: after an unknown outcome, or whatever the refusal, a batch with our
      // reference may exist (from an earlier attempt, or a same-key retry of an UNCONFIRMED order). Look.
      const original = await this.findBatch(request.reference).catch(() => undefined);
      if (original) return { kind: 'accepted', snapshot: await this.snapshotOrBare(original, request.recipients) };
      const mayExist = error.kind === 'unknown' || error.afterAmbiguousAttempt || isDuplicateReference(error);
      return mayExist ? { kind: 'unknown', error } : { kind: 'not_sent', error };
    }
    // Goody took the batch: from here on nothing may turn it into "not sent".
    return { kind: 'accepted', snapshot: await this.snapshotOrBare(created, request.recipients) };
  }

  isSettled(order: ProviderOrder): boolean {
    return order.submission !== 'ACCEPTED' || isFinalStatus(order.status);
  }

  /** Our order id is the batch's `customer_reference_id` [doc], so an UNCONFIRMED batch can be found by it. */
  async lookUp(order: ProviderOrder, recipients: readonly ProviderRecipient[]): Promise<OrderSnapshot | undefined> {
    const batch = await this.findBatch(order.id);
    return batch ? this.snapshotOrBare(batch, recipients) : undefined;
  }

  async refresh(order: ProviderOrder, recipients: readonly ProviderRecipient[]): Promise<OrderSnapshot> {
    return this.snapshot(await this.api.getBatch(order.providerRef!), recipients, {
      addUnmatched: order.origin === 'PROVIDER',
      canceled: this.canceledBy(order),
    });
  }

  /**
   * The newest page of batches, each with its preview of orders: a batch whose orders all fit in the
   * preview (10 or fewer) is read from it; a larger one is read on its own.
   */
  async refreshMany(orders: readonly { order: ProviderOrder; recipients: readonly ProviderRecipient[] }[]): Promise<Map<string, OrderSnapshot>> {
    const wanted = new Map(orders.filter((o) => o.order.providerRef).map((o) => [o.order.providerRef!, o]));
    const listed = await this.api.listBatches(1, MAX_PER_PAGE);
    const found = new Map<string, OrderSnapshot>();
    for (const batch of listed.data) {
      const mine = wanted.get(batch.id);
      const preview = batch.orders_preview ?? [];
      if (!mine || (batch.orders_count ?? preview.length) > preview.length) continue;
      const orders = batch.send_status === 'complete' ? preview : undefined;
      found.set(
        mine.order.id,
        batchSnapshot(batch, orders, this.now(), mine.recipients, { addUnmatched: mine.order.origin === 'PROVIDER', canceled: this.canceledBy(mine.order) }),
      );
    }
    return found;
  }

  orderCapabilities(_order: ProviderOrder, recipients: readonly ProviderRecipient[]): { canCancel: boolean; canResend: boolean } {
    const live = recipients.filter((r) => !ENDED.has(r.providerStatus));
    return { canCancel: live.length > 0 && live.every((r) => CANCELABLE.has(r.providerStatus)), canResend: false };
  }

  /**
   * Cancels every gift of the batch, or none: Goody cancels a gift only while it is created,
   * notified or opened, so once one was accepted the batch is refused whole, saying how many were.
   */
  async cancel(order: ProviderOrder, recipients: readonly ProviderRecipient[]): Promise<OrderSnapshot> {
    const batch = await this.api.getBatch(order.providerRef!);
    const orders = await this.allOrders(batch);
    if (orders.length === 0) {
      throw new ProviderCallError('GOODY', 'rejected', 'Goody creates the gifts of this batch at its send time; there is nothing to cancel yet', 409, 'not_cancelable');
    }
    // A canceled gift is reported as failed [doc]: neither is left to cancel.
    const live = orders.filter((o) => !ENDED.has(o.status));
    const late = live.filter((o) => !CANCELABLE.has(o.status));
    if (late.length > 0) {
      throw new ProviderCallError(
        'GOODY',
        'rejected',
        `${late.length} of ${orders.length} gifts were already accepted or fulfilled; Goody cancels a gift only while it is created, notified or opened`,
        409,
        'not_cancelable',
      );
    }
    // Gifts are canceled one by one; one that fails (accepted meanwhile, or Goody unreachable) does
    // not undo the others, so the answer says how many were canceled, and the ledger is read back.
    const failures: string[] = [];
    for (const o of live) {
      this.noteCancel(o.id);
      try {
        await this.api.cancelOrder(o.id);
      } catch (error) {
        // Certainly not canceled (refused, or never reached): a later `failed` would be a real failure.
        if (error instanceof ProviderCallError && error.kind !== 'unknown' && !error.afterAmbiguousAttempt) this.cancelRequests.delete(o.id);
        failures.push(error instanceof Error ? error.message : String(error));
      }
    }
    if (failures.length > 0) {
      throw new ProviderCallError(
        'GOODY',
        'rejected',
        `${live.length - failures.length} of ${live.length} gifts were canceled; the others were not (${failures[0]})`,
        409,
        'partially_canceled',
      );
    }
    return this.refresh(order, recipients);
  }

  async catalog(): Promise<CatalogEntry[]> {
    return [...(await this.products.get()).values()].map(productEntry);
  }

  close(): Promise<void> {
    return this.api.close();
  }

  /** A batch just created: with its orders if they can be read now, else bare, for the next refresh to fill. */
  private async snapshotOrBare(batch: GoodyBatch, recipients: readonly BatchRecipient[]): Promise<OrderSnapshot> {
    try {
      return await this.snapshot(batch, recipients);
    } catch {
      return batchSnapshot(batch, undefined, this.now());
    }
  }

  private async snapshot(batch: GoodyBatch, recipients: readonly BatchRecipient[], options?: BatchSnapshotOptions): Promise<OrderSnapshot> {
    return batchSnapshot(batch, batch.send_status === 'complete' ? await this.allOrders(batch) : undefined, this.now(), recipients, options);
  }

  /** Every order of a batch: the preview holds at most 10, so larger batches are paged. */
  private async allOrders(batch: GoodyBatch): Promise<GoodyOrder[]> {
    const preview = batch.orders_preview ?? [];
    const count = batch.orders_count ?? preview.length;
    if (preview.length >= count) return preview;
    const orders: GoodyOrder[] = [];
    for (let page = 1; orders.length < count; page++) {
      const next = await this.api.batchOrders(batch.id, page, MAX_PER_PAGE);
      orders.push(...next.data);
      if (next.data.length === 0 || page * MAX_PER_PAGE >= next.list_meta.total_count) break;
    }
    return orders;
  }

  private noteCancel(id: string): void {
    const now = this.now();
    for (const [known, at] of this.cancelRequests) if (now - at > CANCEL_MEMORY_MS) this.cancelRequests.delete(known);
    this.cancelRequests.set(id, now);
  }

  /** The Goody orders giftgraph asked to cancel: those this process asked for, and those the order's record keeps. */
  private canceledBy(order?: ProviderOrder): Set<string> {
    const kept = order?.details.canceledOrderIds;
    return new Set([...this.cancelRequests.keys(), ...(Array.isArray(kept) ? kept.filter((id): id is string => typeof id === 'string') : [])]);
  }

  private async findBatch(reference: string): Promise<GoodyBatch | undefined> {
    for (let page = 1; page <= DUPLICATE_SEARCH_PAGES; page++) {
      const listed = await this.api.listBatches(page, MAX_PER_PAGE);
      const found = listed.data.find((b) => b.customer_reference_id === reference);
      if (found) return this.api.getBatch(found.id);
      if (page * MAX_PER_PAGE >= listed.list_meta.total_count) return undefined;
    }
    return undefined;
  }
}

function productOf(options: GoodyOptions): string | undefined {
  if (!options.productId) return undefined;
  const decoded = decodeId(options.productId, 'CatalogItem');
  if (decoded?.provider !== 'GOODY' || !decoded.local.startsWith('product:')) return undefined;
  return decoded.local.slice('product:'.length) || undefined;
}

/** Goody's words for a repeated customer_reference_id are not published [assume: they name it and say it is taken]; a hint only. */
const isDuplicateReference = (error: ProviderCallError): boolean => /customer.?reference/i.test(error.message) && /taken|exists|duplicate|already/i.test(error.message);

const usd = (minor: number): string => formatAmount({ minor, currency: 'USD' });

const usdMoney = (minor: number): Money => ({ minor, currency: 'USD' });

function productEntry(p: GoodyProduct): CatalogEntry {
  return {
    localId: `product:${p.id}`,
    kind: 'PRODUCT',
    name: p.brand?.name ? `${p.brand.name}: ${p.name}` : p.name,
    currency: 'USD',
    prices: p.price_is_variable || typeof p.price !== 'number' ? [] : [usdMoney(p.price)],
    minAmount: p.price_is_variable && p.variable_price_min ? usdMoney(p.variable_price_min) : null,
    maxAmount: p.price_is_variable && p.variable_price_max ? usdMoney(p.variable_price_max) : null,
  };
}
