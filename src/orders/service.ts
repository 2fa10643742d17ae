import { randomUUID } from 'node:crypto';
import type { Logger } from 'pino';
import { GiftgraphError, notFound } from '../core/errors.js';
import { isFinalStatus, type Provider } from '../core/model.js';
import { problemsOf, type Problem } from '../core/problems.js';
import type { OrderSnapshot, ProviderAdapter } from '../providers/adapter.js';
import { ProviderCallError } from '../providers/http.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { OrderRecord, RecipientRecord, StatusEventRecord } from '../core/records.js';
import type { Store } from '../store/store.js';
import { type ClientCapabilities, clientCapabilities, heldByGiftgraph, heldRequestOf, heldSend, sendRecipient } from './held.js';
import { heldCreationEvents, type Ingest } from './ingest.js';
import { settleUnconfirmed, type SettleResult } from './settle.js';
import { spendingLimitExceeded } from './spending.js';
import { checkResend, prepareSend, type PreparedSend, type SendGiftsCommand, type SettleCommand } from './validate.js';

/**
 * What a mutation did to an order that got as far as its provider: the order as it left it, and
 * what the client must act on. A request refused before (bad input, an unknown order, one its
 * provider cannot change now) throws its GiftgraphError instead: nothing was recorded or sent.
 */
export interface Outcome {
  order: OrderRecord;
  /** Empty when the request did all it asked. */
  problems: Problem[];
}

export interface SendResult extends Outcome {
  /** False when the idempotency key returned an order sent before. */
  created: boolean;
}

/**
 * The provider-neutral rules for sending and reading orders. Every provider call goes through an
 * adapter; every state change goes through the store, so the ledger never loses an accepted order.
 */
export class OrdersService {
  /** Refreshes in flight, by order id: concurrent reads of one order share one provider call. */
  private readonly refreshing = new Map<string, Promise<OrderRecord>>();

  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRegistry,
    private readonly ingest: Ingest,
    private readonly log: Logger,
    private readonly clock: () => Date = () => new Date(),
    /** An order that can still change is read from its provider when last read longer ago than this; else served from the ledger. */
    private readonly freshnessMs = DEFAULT_FRESHNESS_MS,
  ) {}

  async send(tenant: string, cmd: SendGiftsCommand): Promise<SendResult> {
    const adapter = this.providers.get(cmd.provider)?.adapter;
    const prior = await this.store.findOrderByKey(tenant, cmd.idempotencyKey);
    const prepared = await prepareSend(cmd, adapter, this.clock(), { replay: prior !== undefined });
    // A send time its provider cannot schedule: recorded SCHEDULED, nothing sent, sent by the scheduler then.
    const held = adapter !== undefined && heldByGiftgraph(adapter, prepared.sendAt);
    const now = this.clock().toISOString();
    const orderId = randomUUID();
    const order: OrderRecord = {
      id: orderId,
      tenant,
      provider: prepared.provider,
      origin: 'GIFTGRAPH',
      idempotencyKey: prepared.idempotencyKey,
      requestHash: prepared.hash,
      submission: held ? 'HELD' : 'SENDING',
      providerRef: null,
      // Until the provider answers we do not know whether it took the order.
      status: held ? 'SCHEDULED' : 'UNCONFIRMED',
      providerStatus: '',
      total: orderTotal(prepared),
      scheduledFor: prepared.sendAt,
      // The provider's options (Guusto language, ...) are shown on its order type.
      details: { ...prepared.options },
      lastError: null,
      createdAt: now,
      updatedAt: now,
      ...(held ? { heldRequest: heldRequestOf(prepared) } : {}),
    };
    const recipients: RecipientRecord[] = prepared.recipients.map((r) => ({
      id: randomUUID(),
      orderId,
      ...sendRecipient(r),
      status: held ? 'SCHEDULED' : 'UNCONFIRMED',
      providerStatus: '',
      providerRef: null,
      gift: null,
      // A held send's recipients follow their order until the scheduler claims them with it.
      submission: adapter?.sendsPerRecipient && !held ? 'SENDING' : null,
    }));

    const reserved = await this.store.reserveOrder(order, recipients, held ? heldCreationEvents(order, recipients) : []);
    if (reserved.created) return { ...(held ? { order: reserved.order, problems: [] } : await this.submit(reserved.order, prepared)), created: true };
    // Over a spending limit: nothing was recorded, and no provider is called.
    if (reserved.refused) throw spendingLimitExceeded(reserved.refused);

    const existing = reserved.order;
    if (existing.requestHash !== prepared.hash) {
      throw new GiftgraphError('IDEMPOTENCY_CONFLICT', 'input.idempotencyKey: this key was already used for a different request', {
        field: 'input.idempotencyKey',
        retryable: false,
      });
    }
    if (existing.submission === 'NOT_SENT') {
      // The provider certainly never took it, so sending it now is the first real send.
      let claimed: boolean;
      try {
        claimed = await this.ingest.moveSubmission(existing.id, 'NOT_SENT', { submission: 'SENDING', status: 'UNCONFIRMED', providerStatus: '' }, { spending: true });
      } catch (error) {
        // Over a spending limit now: the order stays as it was (FAILED), and says why it was not sent again.
        if (error instanceof GiftgraphError && error.code === 'SPENDING_LIMIT_EXCEEDED') return { order: existing, created: false, problems: problemsOf(error)! };
        throw error;
      }
      if (claimed) return { ...(await this.submit({ ...existing, submission: 'SENDING' }, prepared)), created: true };
    }
    if (existing.submission === 'ACCEPTED' && adapter?.sendsPerRecipient) {
      return { ...(await this.sendMissing(existing, prepared)), created: false };
    }
    if (existing.submission === 'UNCONFIRMED' && adapter && repeatableForMs(adapter, existing, this.clock()) > 0) {
      // The provider deduplicates on our order id: sending again returns the original if it exists.
      const claimed = await this.ingest.moveSubmission(existing.id, 'UNCONFIRMED', { submission: 'SENDING' });
      if (claimed) return { ...(await this.submit({ ...existing, submission: 'SENDING' }, prepared, { mayExist: true })), created: false };
    }
    const current = (await this.store.getOrders(tenant, [existing.id]))[0]!;
    if (current.submission === 'SENDING') {
      const problem: Problem = {
        code: 'IDEMPOTENCY_CONFLICT',
        field: 'input.idempotencyKey',
        message: 'a request with this key is still being sent; retry shortly',
        retryable: true,
      };
      return { order: current, created: false, problems: [problem] };
    }
    // A replay answers as the first answer did: an outcome still unknown is still unknown. A send
    // held until its time (or canceled while held) is returned as it stands: only the scheduler
    // sends it, at its time, never a retry.
    const problems: Problem[] = current.submission === 'UNCONFIRMED' ? [unconfirmedReplay(current, adapter, this.clock())] : [];
    return { order: current, created: false, problems };
  }

  /**
   * Claims the held sends that are due, at most `limit`, for this replica to send now (see
   * Ingest.claimHeldSends): each is then SENDING and UNCONFIRMED, as a send just reserved is.
   */
  claimDueHeldSends(limit: number): Promise<OrderRecord[]> {
    const configured = this.providers.all().map(({ adapter }) => adapter.provider);
    return this.ingest.claimHeldSends(configured, limit, (provider) => this.providers.get(provider)?.adapter.sendsPerRecipient === true);
  }

  /**
   * Sends a held send this replica claimed, through the path every send takes (submit): the same
   * outcomes, the same UNCONFIRMED rules, the same per-recipient handling. A failure before any
   * outcome is recorded leaves it UNCONFIRMED: it may have reached the provider.
   */
  async sendHeld(order: OrderRecord): Promise<Outcome> {
    try {
      return await this.submit(order, heldSend(order, await this.store.getRecipients([order.id])));
    } catch (error) {
      await this.ingest
        .moveSubmission(order.id, 'SENDING', { submission: 'UNCONFIRMED', lastError: { code: 'PROVIDER_UNAVAILABLE', message: 'the scheduled send failed in an unexpected way' } })
        .catch(() => undefined);
      throw error;
    }
  }

  /**
   * Sends a reserved order and records the outcome. `mayExist`: an earlier attempt may have been
   * taken, so a refusal now proves nothing about it and the order stays UNCONFIRMED.
   */
  private async submit(order: OrderRecord, prepared: PreparedSend, { mayExist = false } = {}): Promise<Outcome> {
    const { adapter } = this.providers.get(order.provider)!;
    const now = this.clock();
    const repeatable = repeatableForMs(adapter, order, now);
    const retryBefore = Number.isFinite(repeatable) ? new Date(now.getTime() + repeatable).toISOString() : undefined;
    const until = retryBefore ? ` before ${retryBefore}` : '';
    let outcome;
    try {
      outcome = await adapter.create({ ...prepared, reference: order.id, ...(Number.isFinite(repeatable) ? { repeatableForMs: repeatable } : {}) });
    } catch (error) {
      // An adapter that fails in an unexpected way may have sent the request: never assume it did not.
      this.log.error({ err: error, orderId: order.id, provider: order.provider }, 'create failed unexpectedly; order left UNCONFIRMED');
      outcome = { kind: 'unknown' as const, error: undefined };
    }

    let problems: Problem[] = [];
    if (outcome.kind === 'accepted') {
      const unrecorded = await this.recordAcceptance(order, outcome.snapshot);
      // Sent one request per recipient, some may have failed while the others were taken.
      problems = unrecorded ? [unrecorded] : recipientProblems(order.provider, outcome.snapshot, now);
    } else if (outcome.kind === 'not_sent' && mayExist) {
      const error = outcome.error;
      await this.ingest.moveSubmission(order.id, 'SENDING', {
        submission: 'UNCONFIRMED',
        lastError: { code: providerErrorCode(error), providerCode: error.providerCode, message: error.message },
      });
      problems = [
        {
          code: 'OUTCOME_UNKNOWN',
          message:
            `${order.provider} did not take this retry (${error.message}). An earlier attempt may have been taken, so the order stays UNCONFIRMED; ` +
            `retry with the same idempotency key${until}: it will not be sent twice.`,
          provider: order.provider,
          ...(error.providerCode !== undefined ? { providerCode: error.providerCode } : {}),
          retryable: true,
          ...(retryBefore ? { retryBefore } : {}),
        },
      ];
    } else if (outcome.kind === 'not_sent') {
      const error = outcome.error;
      const recorded = await this.ingest.moveSubmission(order.id, 'SENDING', {
        submission: 'NOT_SENT',
        status: 'FAILED',
        providerStatus: error.providerCode ?? (error.kind === 'rejected' ? 'REJECTED' : 'UNAVAILABLE'),
        lastError: { code: providerErrorCode(error), providerCode: error.providerCode, message: error.message },
      });
      problems = problemsOf(notSentError(error, now))!;
      if (!recorded) {
        // Meanwhile recorded UNCONFIRMED (this replica was taken for gone): it stays so, never sent again by itself.
        this.log.warn({ orderId: order.id, provider: order.provider }, 'a send the provider refused was meanwhile recorded UNCONFIRMED; it stays UNCONFIRMED');
        const current = (await this.store.getOrders(order.tenant, [order.id]))[0]!;
        return { order: current, problems: current.submission === 'UNCONFIRMED' ? [unconfirmedReplay(current, adapter, now)] : problems };
      }
    } else {
      await this.ingest.moveSubmission(order.id, 'SENDING', {
        submission: 'UNCONFIRMED',
        lastError: {
          code: 'PROVIDER_UNAVAILABLE',
          message: outcome.error?.message ?? 'the provider call failed after the request may have been sent',
        },
      });
      this.log.warn({ orderId: order.id, provider: order.provider }, 'create outcome unknown; order recorded UNCONFIRMED');
      const deduplicates = repeatable > 0;
      problems = [
        {
          code: 'OUTCOME_UNKNOWN',
          message:
            `${order.provider} did not confirm the order (${outcome.error?.message ?? 'unexpected failure'}), so it may have been sent. ` +
            (deduplicates
              ? `It is recorded as UNCONFIRMED; retry with the same idempotency key${until}: ${order.provider} deduplicates it, so it will not be sent twice.`
              : 'It is recorded as UNCONFIRMED and will not be sent again: check it with the provider before sending anything new.'),
          provider: order.provider,
          retryable: deduplicates,
          ...(deduplicates && retryBefore ? { retryBefore } : {}),
        },
      ];
    }
    return { order: (await this.store.getOrders(order.tenant, [order.id]))[0]!, problems };
  }

  /**
   * A retry of an order sent one request per recipient: sends to the recipients whose create
   * certainly failed, and to no one else: not to those sent, nor to those whose outcome is unknown.
   */
  private async sendMissing(order: OrderRecord, prepared: PreparedSend): Promise<Outcome> {
    let claimed: Set<string>;
    try {
      claimed = new Set(await this.ingest.claimUnsentRecipients(order.id));
    } catch (error) {
      // Over a spending limit now: the order is answered as it stands, with why nothing was sent again.
      if (error instanceof GiftgraphError && error.code === 'SPENDING_LIMIT_EXCEEDED') return { order, problems: problemsOf(error)! };
      throw error;
    }
    let problems: Problem[] = [];
    if (claimed.size > 0) {
      const { adapter } = this.providers.get(order.provider)!;
      const recipients = await this.store.getRecipients([order.id]);
      const positions = new Set(recipients.filter((r) => claimed.has(r.id)).map((r) => r.position));
      let snapshot: OrderSnapshot;
      try {
        const outcome = await adapter.create({ ...prepared, reference: order.id, recipients: prepared.recipients.filter((r) => positions.has(r.position)) });
        snapshot =
          outcome.kind === 'accepted' ? outcome.snapshot : perRecipientFailure(order, [...positions], outcome.kind === 'not_sent' ? 'NOT_SENT' : 'UNCONFIRMED', outcome.error);
      } catch (error) {
        this.log.error({ err: error, orderId: order.id }, 'retry of unsent recipients failed unexpectedly; they are UNCONFIRMED');
        snapshot = perRecipientFailure(order, [...positions], 'UNCONFIRMED', undefined);
      }
      await this.ingest.recordSnapshot(order, snapshot, 'MUTATION', { reopens: true, known: recipients });
      problems = recipientProblems(order.provider, snapshot, this.clock());
    }
    return { order: (await this.store.getOrders(order.tenant, [order.id]))[0]!, problems };
  }

  /**
   * The provider took the order: the ledger must say so. If it cannot (disk full, store closing),
   * the provider's reference goes to the log for reconciliation, the order stays UNCONFIRMED
   * rather than "still being sent", and the problem returned tells the client not to send it again.
   */
  private async recordAcceptance(order: OrderRecord, snapshot: OrderSnapshot): Promise<Problem | undefined> {
    try {
      await this.ingest.recordSnapshot(order, snapshot, 'MUTATION', { accept: true });
      return undefined;
    } catch (error) {
      this.log.error(
        { err: error, orderId: order.id, provider: order.provider, providerRef: snapshot.providerRef },
        'the provider accepted an order the ledger could not record; reconcile it by providerRef',
      );
      await this.ingest
        .moveSubmission(order.id, 'SENDING', {
          submission: 'UNCONFIRMED',
          lastError: { code: 'PROVIDER_UNAVAILABLE', message: `accepted by the provider as ${snapshot.providerRef}, but not recorded` },
        })
        .catch(() => undefined);
      // The ledger shows the order UNCONFIRMED: for the client, its outcome is as unknown as a lost answer's.
      return {
        code: 'OUTCOME_UNKNOWN',
        message: `${order.provider} accepted the order as ${snapshot.providerRef}, but giftgraph could not record it. Do not send it again.`,
        provider: order.provider,
        retryable: false,
      };
    }
  }

  /**
   * Orders by id for one tenant, in the order asked (undefined where unknown or another tenant's).
   * With `refresh`, an order its provider may still move along, and that was last read from the
   * provider longer ago than the freshness window, is read from it first (concurrent reads of one
   * order share that call); a provider that fails leaves the ledger's last known state in place.
   */
  async load(tenant: string, ids: readonly string[], { refresh }: { refresh: boolean }): Promise<(OrderRecord | undefined)[]> {
    const found = await this.store.getOrders(tenant, ids);
    const now = this.clock().getTime();
    const stale = (o: OrderRecord) => !o.checkedAt || now - Date.parse(o.checkedAt) >= this.freshnessMs;
    const current = refresh ? await Promise.all(found.map((o) => (this.isLive(o) && stale(o) ? this.refreshShared(o) : o))) : found;
    const byId = new Map(current.map((o) => [o.id, o]));
    return ids.map((id) => byId.get(id));
  }

  /** Orders as the ledger holds them, without asking any provider: for event deliveries. */
  peek(tenant: string, ids: readonly string[]): Promise<OrderRecord[]> {
    return this.store.getOrders(tenant, ids);
  }

  /** The gifts one tenant sent to these people, by email. */
  recipientsByEmail(tenant: string, emails: readonly string[]): Promise<(RecipientRecord & { provider: Provider })[]> {
    return this.store.getRecipientsByEmail(tenant, emails);
  }

  recipients(orderIds: readonly string[]): Promise<RecipientRecord[]> {
    return this.store.getRecipients(orderIds);
  }

  statusEvents(orderIds: readonly string[]): Promise<StatusEventRecord[]> {
    return this.store.getStatusEvents(orderIds);
  }

  async cancel(tenant: string, orderId: string): Promise<Outcome> {
    let order = await this.mustFind(tenant, orderId);
    const wasHeld = order.submission === 'HELD';
    if (wasHeld) {
      // Held by giftgraph, nothing sent: canceled here, whatever its provider can cancel. A cancel
      // repeated finds it canceled already. One the scheduler claimed first is being sent (or was):
      // from then on it is canceled at its provider, where the provider can.
      if (order.status === 'CANCELED' || (await this.ingest.cancelHeld(order.id))) return { order: await this.mustFind(tenant, orderId), problems: [] };
      order = await this.mustFind(tenant, orderId);
    }
    const adapter = this.providers.get(order.provider)?.adapter;
    if (!adapter?.cancel || !adapter.capabilities.canCancel) {
      throw unsupported(order.provider, wasHeld ? 'cancel orders, and this one was sent at its time before it could be canceled' : 'cancel orders');
    }
    if (order.submission !== 'ACCEPTED') throw notAccepted(order, 'id');
    const recipients = await this.store.getRecipients([order.id]);
    let problems: Problem[] = [];
    try {
      await this.ingest.recordSnapshot(order, await adapter.cancel(order, recipients), 'MUTATION', { known: recipients });
    } catch (error) {
      // A cancel that failed part of the way may have canceled some gifts: record what is true now.
      await this.refresh(order, 'POLL').catch(() => undefined);
      if (!(error instanceof ProviderCallError)) throw error;
      problems = [providerCallProblem(error, this.clock())];
    }
    return { order: (await this.store.getOrders(tenant, [order.id]))[0]!, problems };
  }

  /**
   * Looks an UNCONFIRMED order up at its provider by our reference, where the provider can: found,
   * it is accepted as the provider has it, and tracked from then on. Not found proves nothing, so it
   * stays UNCONFIRMED. True when it was settled.
   */
  async settleByLookUp(order: OrderRecord): Promise<boolean> {
    const adapter = this.providers.get(order.provider)?.adapter;
    if (!adapter?.lookUp || order.submission !== 'UNCONFIRMED') return false;
    const recipients = await this.store.getRecipients([order.id]);
    const snapshot = await adapter.lookUp(order, recipients);
    if (!snapshot) return false;
    await this.ingest.recordSnapshot(order, snapshot, 'POLL', { accept: true, known: recipients });
    this.log.info(
      { orderId: order.id, provider: order.provider, providerRef: snapshot.providerRef },
      'UNCONFIRMED order found at its provider by our reference: settled as accepted',
    );
    return true;
  }

  /** Records what an operator found at the provider about an UNCONFIRMED order (see settle.ts). */
  settle(tenant: string, orderId: string, cmd: SettleCommand, actor: string): Promise<SettleResult> {
    return settleUnconfirmed({ store: this.store, ingest: this.ingest, providers: this.providers, log: this.log, now: this.clock() }, tenant, orderId, cmd, actor);
  }

  async resend(tenant: string, orderId: string, recipients: { email: string; updatedEmail: string | null }[]): Promise<Outcome & { requeued: number }> {
    const order = await this.mustFind(tenant, orderId);
    const adapter = this.providers.get(order.provider)?.adapter;
    if (!adapter?.resend || !adapter.capabilities.canResend) throw unsupported(order.provider, 'resend gifts');
    const known = await this.store.getRecipients([order.id]);
    const asked = checkResend(recipients, known);
    if (order.submission !== 'ACCEPTED') throw notAccepted(order, 'input.orderId');
    let requeued: number;
    try {
      ({ requeued } = await adapter.resend(order, asked));
    } catch (error) {
      if (!(error instanceof ProviderCallError)) throw error;
      return { order, requeued: 0, problems: [providerCallProblem(error, this.clock())] };
    }
    // Read the order back, so a corrected address (and a bounced gift now sent) is what the ledger shows.
    try {
      const snapshot = await adapter.refresh(order, known);
      await this.ingest.recordSnapshot(order, snapshot, 'MUTATION', { reopens: true, known });
    } catch (error) {
      this.log.warn({ err: error, orderId: order.id }, 'could not read the order back after a resend');
    }
    return { order: (await this.store.getOrders(tenant, [order.id]))[0]!, requeued, problems: [] };
  }

  /** What this order allows now: the provider's capabilities, narrowed by the order's state. */
  capabilities(order: OrderRecord, recipients: readonly RecipientRecord[]): (ClientCapabilities & { canCancel: boolean; canResend: boolean }) | undefined {
    const adapter = this.providers.get(order.provider)?.adapter;
    if (!adapter) return undefined;
    // Held by giftgraph until its time: it can be canceled here, and nothing else, until it is sent.
    if (order.submission === 'HELD') return { ...clientCapabilities(adapter), deduplicatesCreates: false, canCancel: order.status === 'SCHEDULED', canResend: false };
    const accepted = order.submission === 'ACCEPTED';
    const now = adapter.orderCapabilities?.(order, recipients, this.clock()) ?? {
      canCancel: !isFinalStatus(order.status),
      canResend: order.status !== 'CANCELED',
    };
    return {
      ...clientCapabilities(adapter),
      deduplicatesCreates: repeatableForMs(adapter, order, this.clock()) > 0,
      canCancel: adapter.capabilities.canCancel && accepted && now.canCancel,
      canResend: adapter.capabilities.canResend && accepted && now.canResend,
    };
  }

  private async mustFind(tenant: string, orderId: string): Promise<OrderRecord> {
    const order = (await this.store.getOrders(tenant, [orderId]))[0];
    if (!order) throw notFound('Order');
    return order;
  }

  /** One refresh of an order at a time: a read that finds one in flight waits for it instead of asking again. */
  private refreshShared(order: OrderRecord): Promise<OrderRecord> {
    let pending = this.refreshing.get(order.id);
    if (!pending) {
      pending = this.refresh(order, 'POLL')
        .catch((error: unknown) => {
          this.log.warn({ err: error, orderId: order.id, provider: order.provider }, 'refresh failed; serving the last known state');
          return order;
        })
        .finally(() => this.refreshing.delete(order.id));
      this.refreshing.set(order.id, pending);
    }
    return pending;
  }

  /**
   * Asks the provider for the order now and records what changed, as seen by a poll or prompted by a
   * webhook. Throws when the provider cannot answer; returns the order as the ledger then holds it.
   */
  async refresh(order: OrderRecord, source: 'POLL' | 'WEBHOOK'): Promise<OrderRecord> {
    const adapter = this.providers.get(order.provider)!.adapter;
    const recipients = await this.store.getRecipients([order.id]);
    return this.recordRead(order, await adapter.refresh(order, recipients), source, recipients);
  }

  /** Records a provider's snapshot of an order read in a batch (from its list), as a poll; returns the order as now recorded. */
  recordPolled(order: OrderRecord, snapshot: OrderSnapshot): Promise<OrderRecord> {
    return this.recordRead(order, snapshot, 'POLL');
  }

  /** Records what a read of the order from its provider found, and when it was read (its freshness); returns the order as now recorded. */
  private async recordRead(order: OrderRecord, snapshot: OrderSnapshot, source: 'POLL' | 'WEBHOOK', known?: readonly RecipientRecord[]): Promise<OrderRecord> {
    const events = await this.ingest.recordSnapshot(order, snapshot, source, { known });
    await this.store.markChecked([order.id], this.clock().toISOString());
    if (events.length === 0) return order;
    return (await this.store.getOrders(order.tenant, [order.id]))[0] ?? order;
  }

  /** Whether the provider may still report something about this order. */
  isLive(order: OrderRecord): boolean {
    const adapter = this.providers.get(order.provider)?.adapter;
    return Boolean(adapter) && !isFinalStatus(order.status) && !adapter!.isSettled(order);
  }
}

/**
 * A create is repeated only within three quarters of the provider's memory of its key, counted from
 * when the order was reserved (before its first attempt); the rest covers clock skew between us and
 * the provider and a request that waited in a queue.
 */
const KEY_MEMORY_USED = 0.75;

/** How long a read of an order from its provider serves later reads, by default. */
export const DEFAULT_FRESHNESS_MS = 2_000;

/**
 * How much longer the provider will still recognise this order's key, less that margin: Infinity
 * where its deduplication has no known end, 0 where it does not deduplicate or has forgotten.
 */
function repeatableForMs(adapter: ProviderAdapter, order: OrderRecord, now: Date): number {
  if (!adapter.capabilities.deduplicatesCreates) return 0;
  if (adapter.createKeyLifetimeMs === undefined) return Number.POSITIVE_INFINITY;
  return Math.max(0, Date.parse(order.createdAt) + adapter.createKeyLifetimeMs * KEY_MEMORY_USED - now.getTime());
}

/** The observation for recipients whose retried create failed as a whole: not sent, or not known. */
function perRecipientFailure(order: OrderRecord, positions: number[], submission: 'NOT_SENT' | 'UNCONFIRMED', error: ProviderCallError | undefined): OrderSnapshot {
  const status = submission === 'NOT_SENT' ? 'FAILED' : 'UNCONFIRMED';
  const providerStatus = error?.providerCode ?? (submission === 'NOT_SENT' ? 'NOT_SENT' : '');
  const failure = error ?? new ProviderCallError(order.provider, 'unknown', 'the request failed in an unexpected way after it may have been sent');
  return {
    providerRef: order.providerRef ?? '',
    status: order.status,
    providerStatus: order.providerStatus,
    recipients: positions.map((position) => ({ position, status, providerStatus, submission, failure })),
  };
}

/**
 * The recipients of a send made one request per recipient whose own request failed, each as a
 * problem naming the recipient (or the field of it the provider named). A same-key retry sends to
 * those certainly not sent, and to no one else.
 */
function recipientProblems(provider: Provider, snapshot: OrderSnapshot, now: Date): Problem[] {
  return (snapshot.recipients ?? []).flatMap(({ position, failure: error }): Problem[] => {
    if (!error) return [];
    const recipient = `input.recipients[${position}]`;
    const common = { provider, ...(error.providerCode !== undefined ? { providerCode: error.providerCode } : {}) };
    if (error.kind === 'unknown') {
      const message = `${provider} did not confirm the gift to ${recipient} (${error.message}), so it may have been sent. It is UNCONFIRMED and is not sent again: check it with the provider.`;
      return [{ ...common, code: 'OUTCOME_UNKNOWN', field: recipient, message, retryable: false }];
    }
    if (error.kind === 'unavailable') {
      const message = `${provider} is unavailable for the gift to ${recipient}: ${error.message}. It was not sent; retry with the same idempotency key: it sends to this recipient alone.`;
      return [{ ...common, code: 'PROVIDER_UNAVAILABLE', field: recipient, message, retryable: true, ...retryAfter(error, now) }];
    }
    // Fields the provider named (this recipient's, or an option's) are named as our own validation names them.
    const located = error.problems.filter((p) => p.param?.startsWith('input.'));
    const refused = { ...common, code: 'PROVIDER_REJECTED' as const, retryable: false };
    if (located.length > 0) return located.map((p) => ({ ...refused, field: p.param!, message: `${provider} refused the gift to ${recipient}: ${p.message}` }));
    return [
      {
        ...refused,
        field: recipient,
        message: `${provider} refused the gift to ${recipient}: ${error.message}. Fix the cause, then retry with the same idempotency key: it sends to this recipient alone.`,
      },
    ];
  });
}

function orderTotal(prepared: PreparedSend): OrderRecord['total'] {
  const amounts = prepared.recipients.map((r) => r.amount);
  if (amounts.length === 0 || amounts.some((a) => !a)) return null;
  const currency = amounts[0]!.currency;
  if (amounts.some((a) => a!.currency !== currency)) return null;
  return { minor: amounts.reduce((sum, a) => sum + a!.minor, 0), currency };
}

const providerErrorCode = (error: ProviderCallError) => (error.kind === 'rejected' ? 'PROVIDER_REJECTED' : 'PROVIDER_UNAVAILABLE');

const retryAfter = (error: ProviderCallError, now: Date) => (error.retryAfterMs !== undefined ? { retryAfter: new Date(now.getTime() + error.retryAfterMs).toISOString() } : {});

/** A create the provider certainly did not take (the order is FAILED), with every problem it placed in our input. */
function notSentError(error: ProviderCallError, now: Date): GiftgraphError {
  const rejected = error.kind === 'rejected';
  const hint = rejected ? 'Nothing was sent. Fix the cause, then retry with the same idempotency key.' : 'Nothing was sent; it is safe to retry with the same idempotency key.';
  // Problems the adapter could place in our input are named like our own validation's.
  const problems = error.problems.filter((p) => p.param?.startsWith('input.')).map((p) => ({ field: p.param!, message: p.message }));
  const graphqlError = new GiftgraphError(providerErrorCode(error), `${error.provider} ${rejected ? 'refused the order' : 'is unavailable'}: ${error.message}. ${hint}`, {
    provider: error.provider,
    providerCode: error.providerCode,
    retryable: !rejected,
    ...retryAfter(error, now),
    ...(problems[0] ? { field: problems[0].field } : {}),
  });
  if (problems.length > 0) (graphqlError.extensions as Record<string, unknown>).problems = problems;
  return graphqlError;
}

/**
 * A cancel's or resend's provider call that failed. Only a call the provider certainly did not
 * process is safe to repeat: a lost answer to a resend may have emailed the recipients already,
 * so its outcome is unknown.
 */
function providerCallProblem(error: ProviderCallError, now: Date): Problem {
  return {
    code: error.kind === 'rejected' ? 'PROVIDER_REJECTED' : error.kind === 'unknown' ? 'OUTCOME_UNKNOWN' : 'PROVIDER_UNAVAILABLE',
    message: `${error.provider}: ${error.message}`,
    provider: error.provider,
    ...(error.providerCode !== undefined ? { providerCode: error.providerCode } : {}),
    retryable: error.kind === 'unavailable',
    ...retryAfter(error, now),
  };
}

/**
 * The answer to a same-key replay of an order whose outcome is still unknown and that was not sent
 * again: only another request sending it right now (within the provider's memory of the key) keeps
 * a later replay worth trying.
 */
function unconfirmedReplay(order: OrderRecord, adapter: ProviderAdapter | undefined, now: Date): Problem {
  const repeatable = adapter ? repeatableForMs(adapter, order, now) : 0;
  const common = { code: 'OUTCOME_UNKNOWN' as const, provider: order.provider };
  if (repeatable > 0) {
    return {
      ...common,
      message: `${order.provider} has not confirmed this order yet; retry with the same idempotency key: it will not be sent twice.`,
      retryable: true,
      ...(Number.isFinite(repeatable) ? { retryBefore: new Date(now.getTime() + repeatable).toISOString() } : {}),
    };
  }
  return {
    ...common,
    message: `${order.provider} never confirmed this order, so it may have been sent. It is UNCONFIRMED and will not be sent again: check it with the provider before sending anything new.`,
    retryable: false,
  };
}

const notAccepted = (order: OrderRecord, field: string) =>
  new GiftgraphError('BAD_USER_INPUT', `${field}: this order is ${order.status}: ${order.provider} has not confirmed it, so it cannot be changed through giftgraph`, {
    field,
    provider: order.provider,
    retryable: false,
  });

const unsupported = (provider: Provider, what: string) => new GiftgraphError('UNSUPPORTED_BY_PROVIDER', `${provider} does not let us ${what}`, { provider, retryable: false });
