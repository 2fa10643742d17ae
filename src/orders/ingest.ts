import { randomUUID } from 'node:crypto';
import { isSpanContextValid, trace } from '@opentelemetry/api';
import { summarizeStatus, type GiftStatus, type Provider } from '../core/model.js';
import type { Observation, OrderRecord, RecipientRecord, Settlement, SettlementOutcome, StatusEventRecord, Submission } from '../core/records.js';
import { formatTraceParent } from '../core/trace-parent.js';
import type { ListedOrder, OrderSnapshot } from '../providers/adapter.js';
import type { LedgerTransaction, NewStatusEvent, Store } from '../store/store.js';
import { isEmptyPlan, planObservation } from './plan.js';
import { spendingLimitExceeded } from './spending.js';

export type SettleOutcome = 'settled' | 'not_unconfirmed' | 'reference_taken';

/** A create's outcome as the ledger records it, with what changes with it. */
export interface SubmissionMove {
  submission: Submission;
  status?: GiftStatus;
  providerStatus?: string;
  lastError?: OrderRecord['lastError'];
}

/** Throws SPENDING_LIMIT_EXCEEDED when sending to these recipients would take the tenant over a limit; the transaction then holds the tenant's spending lock. */
async function withinSpendingLimits(tx: LedgerTransaction, tenant: string, recipients: readonly RecipientRecord[], now: string): Promise<void> {
  const refused = await tx.spendingRefusal(
    tenant,
    recipients.flatMap((r) => (r.amount ? [r.amount] : [])),
    now,
  );
  if (refused) throw spendingLimitExceeded(refused);
}

/**
 * The one place that turns what giftgraph learns (a create's answer, a webhook, a poll, a listed
 * order, an operator's settlement) into ledger changes and status events. Every decision is made
 * here, inside one store transaction per observation; the store only persists it. The service,
 * the listing sync, the poller and the webhook inbox all come through here.
 */
export class Ingest {
  constructor(
    private readonly store: Store,
    private readonly clock: () => Date = () => new Date(),
  ) {}

  /**
   * Applies an observation and appends its events, atomically; returns the events appended. With
   * `accept`, the same transaction marks a SENDING (or UNCONFIRMED) order ACCEPTED, so the
   * provider's reference and the acceptance are never recorded apart.
   */
  observe(obs: Observation, { accept = false }: { accept?: boolean } = {}): Promise<StatusEventRecord[]> {
    return this.store.transaction('ingest', async (tx) => {
      // The events keep the ledger write's span (active inside the transaction) as their cause.
      const traceParent = activeTraceParent();
      let order = await tx.order(obs.orderId);
      if (!order) return [];
      const creating = accept && (await isCreation(tx, order));
      // The provider's answer proves it took the order, also when a restart meanwhile marked it UNCONFIRMED.
      if (accept && (order.submission === 'SENDING' || order.submission === 'UNCONFIRMED')) {
        await tx.updateOrder(order.id, { submission: 'ACCEPTED', lastError: null }, obs.occurredAt);
        order = { ...order, submission: 'ACCEPTED', lastError: null };
      }
      const plan = planObservation(order, await tx.recipients(order.id), obs);
      if (isEmptyPlan(plan)) return [];
      await tx.updateOrder(order.id, plan.order, obs.occurredAt);
      for (const { id, patch } of plan.recipients) await tx.updateRecipient(id, patch);
      const tenant = order.tenant;
      return tx.appendEvents(
        plan.events.map((e) => ({
          tenant,
          orderId: obs.orderId,
          ...e,
          from: creating && e.from === 'UNCONFIRMED' ? null : e.from,
          occurredAt: obs.occurredAt,
          source: obs.source,
          actor: null,
          traceParent,
        })),
      );
    });
  }

  /**
   * Records a provider's snapshot of an order. An order placed at a provider was first known from a
   * list that may not have shown all its recipients: those the provider now shows are added first.
   */
  async recordSnapshot(
    order: OrderRecord,
    snapshot: OrderSnapshot,
    source: Observation['source'],
    { accept = false, reopens = false, known }: { accept?: boolean; reopens?: boolean; known?: readonly RecipientRecord[] } = {},
  ): Promise<StatusEventRecord[]> {
    let recipients = known ?? (await this.store.getRecipients([order.id]));
    const positions = new Set(recipients.map((r) => r.position));
    const unseen = order.origin === 'PROVIDER' ? (snapshot.recipients ?? []).filter((r) => !positions.has(r.position)) : [];
    if (unseen.length > 0) {
      await this.store.addRecipients(unseen.map((r) => recipientSeen(order.id, r)));
      recipients = await this.store.getRecipients([order.id]);
    }
    const observation = toObservation(order, recipients, snapshot, source, this.clock());
    return this.observe(reopens ? { ...observation, reopens } : observation, { accept });
  }

  /**
   * Moves an order's create call along (SENDING → ACCEPTED/NOT_SENT/UNCONFIRMED, or NOT_SENT →
   * SENDING for a retry) when it is still where `expected` says; false when it is not (another
   * request moved it first). Recipients tracked one by one move with the order's whole-order outcome.
   * With `spending`, the move is a new attempt to send, checked and reserved against the tenant's
   * spending limits in the same step (what it gave back when it was not sent, it takes again): over
   * a limit, it throws SPENDING_LIMIT_EXCEEDED and nothing moves.
   */
  moveSubmission(orderId: string, expected: Submission, move: SubmissionMove, { spending = false }: { spending?: boolean } = {}): Promise<boolean> {
    return this.store.transaction('updateSubmission', async (tx) => {
      const order = await tx.order(orderId);
      if (!order || order.submission !== expected) return false;
      const spendsFrom = spending ? this.clock().toISOString() : undefined;
      if (spendsFrom) await withinSpendingLimits(tx, order.tenant, await tx.recipients(orderId), spendsFrom);
      const creating = expected === 'SENDING' && (await isCreation(tx, order));
      const now = this.clock().toISOString();
      const status = move.status ?? order.status;
      const moved = status !== order.status;
      await tx.updateOrder(
        orderId,
        {
          submission: move.submission,
          status,
          lastError: move.lastError ?? null,
          ...(move.providerStatus !== undefined ? { providerStatus: move.providerStatus } : {}),
          // A new attempt spends again, from now.
          ...(spendsFrom ? { spentAt: spendsFrom } : {}),
        },
        now,
      );
      const events: NewStatusEvent[] = [];
      const event = (recipientId: string | null, from: GiftStatus) =>
        mutationEvent(order.tenant, orderId, recipientId, creating && from === 'UNCONFIRMED' ? null : from, status, now, move.providerStatus);
      if (moved) events.push(event(null, order.status));
      for (const r of await tx.recipients(orderId)) {
        // Each recipient that changes with its order gets its own event, as any other change would.
        if (moved && r.status !== status) events.push(event(r.id, r.status));
        await tx.updateRecipient(r.id, {
          ...(r.submission !== null ? { submission: move.submission } : {}),
          ...(moved ? { status, ...(move.providerStatus !== undefined ? { providerStatus: move.providerStatus } : {}) } : {}),
        });
      }
      await tx.appendEvents(events);
      return true;
    });
  }

  /**
   * Orders (and recipients) left SENDING by a replica that is gone (stopped, or silent since
   * `staleBefore`) become UNCONFIRMED: we cannot know whether the provider took them, so they are
   * never sent again by themselves. A live replica's sends are never touched. Returns how many were marked.
   */
  recoverInterruptedSends(staleBefore: string): Promise<number> {
    return this.store.transaction('recoverInterruptedSends', async (tx) => {
      const now = this.clock().toISOString();
      const { orders, recipients } = await tx.interruptedSends(staleBefore);
      const events: NewStatusEvent[] = [];
      for (const r of recipients) {
        await tx.updateRecipient(r.id, { submission: 'UNCONFIRMED', status: 'UNCONFIRMED', providerStatus: '' });
        if (r.status !== 'UNCONFIRMED') events.push(mutationEvent(r.tenant, r.orderId, r.id, r.status, 'UNCONFIRMED', now));
      }
      // Orders are reserved as UNCONFIRMED, so only the submission needs to say we stopped waiting.
      for (const o of orders) await tx.updateOrder(o.id, { submission: 'UNCONFIRMED' }, now);
      await tx.appendEvents(events);
      return orders.length + recipients.length;
    });
  }

  /**
   * Claims recipients whose create certainly failed for a new attempt (NOT_SENT → SENDING), in one
   * transaction, so two concurrent retries never both send to the same recipient. Returns the ids claimed.
   */
  claimUnsentRecipients(orderId: string): Promise<string[]> {
    return this.store.transaction('claimUnsentRecipients', async (tx) => {
      const order = await tx.order(orderId);
      if (!order) return [];
      const now = this.clock().toISOString();
      const unsent = (await tx.recipients(orderId)).filter((r) => r.submission === 'NOT_SENT');
      // Sending to them again spends again: within the tenant's limits, as a new send.
      await withinSpendingLimits(tx, order.tenant, unsent, now);
      for (const r of unsent) await tx.updateRecipient(r.id, { submission: 'SENDING', status: 'UNCONFIRMED', providerStatus: '' });
      await tx.appendEvents(unsent.filter((r) => r.status !== 'UNCONFIRMED').map((r) => mutationEvent(order.tenant, orderId, r.id, r.status, 'UNCONFIRMED', now)));
      return unsent.map((r) => r.id);
    });
  }

  /**
   * Claims the held sends that are due (of these providers) for this replica to send now, in one
   * transaction: each moves from HELD to SENDING, its status from SCHEDULED to UNCONFIRMED (we
   * do not know what the provider does with it until it answers), and its recipients with it, each
   * change an event. Where the provider takes one recipient per request, each recipient is claimed
   * too, as a send's are when it is reserved. A send is claimed once, whichever replicas look at once.
   */
  claimHeldSends(providers: readonly Provider[], limit: number, sendsPerRecipient: (provider: Provider) => boolean): Promise<OrderRecord[]> {
    if (providers.length === 0) return Promise.resolve([]);
    return this.store.transaction('claimHeldSends', async (tx) => {
      const now = this.clock().toISOString();
      const claimed = await tx.claimHeldSends(now, limit, providers);
      const events: NewStatusEvent[] = [];
      for (const order of claimed) {
        await tx.updateOrder(order.id, { status: 'UNCONFIRMED', providerStatus: '' }, now);
        if (order.status !== 'UNCONFIRMED') events.push(mutationEvent(order.tenant, order.id, null, order.status, 'UNCONFIRMED', now));
        const perRecipient = sendsPerRecipient(order.provider);
        for (const r of await tx.recipients(order.id)) {
          await tx.updateRecipient(r.id, { status: 'UNCONFIRMED', providerStatus: '', ...(perRecipient ? { submission: 'SENDING' as const } : {}) });
          if (r.status !== 'UNCONFIRMED') events.push(mutationEvent(order.tenant, order.id, r.id, r.status, 'UNCONFIRMED', now));
        }
      }
      await tx.appendEvents(events);
      return claimed.map((o) => ({ ...o, status: 'UNCONFIRMED' as const, providerStatus: '', updatedAt: now }));
    });
  }

  /**
   * Cancels a held send before its time, in one transaction: CANCELED, with its recipients, and never
   * sent. False when it is not held and SCHEDULED now (the scheduler claimed it first, or it was
   * canceled already): a claim and a cancel of one order never both win.
   */
  cancelHeld(orderId: string): Promise<boolean> {
    return this.store.transaction('cancelHeld', async (tx) => {
      const order = await tx.order(orderId);
      if (order?.submission !== 'HELD' || order.status !== 'SCHEDULED') return false;
      const now = this.clock().toISOString();
      await tx.updateOrder(orderId, { status: 'CANCELED', providerStatus: '' }, now);
      const events = [mutationEvent(order.tenant, orderId, null, order.status, 'CANCELED', now)];
      for (const r of await tx.recipients(orderId)) {
        await tx.updateRecipient(r.id, { status: 'CANCELED', providerStatus: '' });
        if (r.status !== 'CANCELED') events.push(mutationEvent(order.tenant, orderId, r.id, r.status, 'CANCELED', now));
      }
      await tx.appendEvents(events);
      return true;
    });
  }

  /**
   * Records, in one transaction, what a person found at the provider about UNCONFIRMED outcomes, with
   * OPERATOR events that name them. Changes nothing when any of it is not UNCONFIRMED now, or when a
   * provider reference given is already another order's or gift's.
   */
  settle(s: Settlement): Promise<SettleOutcome> {
    return this.store.transaction('settle', (tx) => applySettlement(tx, s));
  }

  /**
   * Orders a provider listed that giftgraph did not send: recorded (origin PROVIDER) for the tenant
   * owning the account the first time they are seen, and what changed on those seen before applied
   * as a poll. `unsure`: an order that may be one of our own sends whose answer was lost is not
   * recorded yet. Returns the recorded orders as they now stand, by the provider's reference, and
   * those this call recorded for the first time.
   */
  async recordListed(
    provider: Provider,
    tenant: string,
    listed: readonly ListedOrder[],
    unsure: (o: ListedOrder) => boolean,
  ): Promise<{ recorded: Map<string, OrderRecord>; adopted: OrderRecord[] }> {
    const now = this.clock().toISOString();
    const adoptions = listed.filter((o) => !unsure(o)).map((o) => adoption(provider, tenant, o, now));
    const recorded = await this.store.adoptOrders(
      provider,
      adoptions,
      listed.map((o) => o.providerRef),
    );
    // An order recorded under the id made for it here was first seen now; one seen before keeps its own.
    const made = new Set(adoptions.map((a) => a.order.id));
    const adopted = [...recorded.values()].filter((o) => made.has(o.id));
    for (const item of listed) {
      const order = recorded.get(item.providerRef);
      if (order && (order.status !== item.status || order.providerStatus !== item.providerStatus)) {
        const events = await this.recordSnapshot(order, item, 'POLL');
        if (events.length > 0) recorded.set(item.providerRef, (await this.store.getOrders(order.tenant, [order.id]))[0] ?? order);
      }
    }
    return { recorded, adopted };
  }
}

/**
 * The creation of a send held until its time (reserved SCHEDULED, nothing sent): one event from no
 * status for the order and for each recipient, appended with the reservation itself.
 */
export function heldCreationEvents(order: OrderRecord, recipients: readonly RecipientRecord[]): NewStatusEvent[] {
  return [null, ...recipients.map((r) => r.id)].map((recipientId) => mutationEvent(order.tenant, order.id, recipientId, null, order.status, order.createdAt));
}

/**
 * Whether the change now recorded is the order's creation: the first outcome of a send giftgraph
 * made, out of the UNCONFIRMED it was reserved in, before any event. Its events leave that
 * reservation from null: no client ever saw the order's outcome as unknown.
 */
async function isCreation(tx: LedgerTransaction, order: OrderRecord): Promise<boolean> {
  return order.origin === 'GIFTGRAPH' && order.status === 'UNCONFIRMED' && !(await tx.hasEvents(order.id));
}

/** The active span as a W3C traceparent: what a status event keeps of the change that appended it. */
function activeTraceParent(): string | null {
  const span = trace.getActiveSpan()?.spanContext();
  return span && isSpanContextValid(span) ? formatTraceParent(span) : null;
}

/** An event a mutation appends, inside its transaction (whose span it keeps as its cause). */
const mutationEvent = (tenant: string, orderId: string, recipientId: string | null, from: GiftStatus | null, to: GiftStatus, at: string, providerStatus = ''): NewStatusEvent => ({
  tenant,
  orderId,
  recipientId,
  from,
  to,
  providerStatus,
  occurredAt: at,
  source: 'MUTATION',
  actor: null,
  traceParent: activeTraceParent(),
});

async function applySettlement(tx: LedgerTransaction, s: Settlement): Promise<SettleOutcome> {
  const order = await tx.order(s.orderId);
  if (!order) return 'not_unconfirmed';
  // A provider's reference names one order or gift: one the ledger holds already is someone else's.
  const refs = s.order ? [s.order.providerRef] : (s.recipients ?? []).map((r) => r.providerRef);
  for (const ref of refs) if (ref !== null && (await tx.isReferenceHeld(order.provider, ref, order.id))) return 'reference_taken';
  const recipients = await tx.recipients(s.orderId);
  // Only what is UNCONFIRMED now is settled, all of it or nothing.
  const targets: { recipient: RecipientRecord; outcome: SettlementOutcome; providerRef: string | null }[] = [];
  if (s.order) {
    if (order.submission !== 'UNCONFIRMED') return 'not_unconfirmed';
    for (const recipient of recipients) targets.push({ recipient, outcome: s.order.outcome, providerRef: null });
  } else {
    for (const t of s.recipients ?? []) {
      const recipient = recipients.find((r) => r.id === t.recipientId);
      if (recipient?.submission !== 'UNCONFIRMED') return 'not_unconfirmed';
      targets.push({ recipient, outcome: t.outcome, providerRef: t.providerRef });
    }
  }
  const statusOf = (outcome: SettlementOutcome): GiftStatus => (outcome === 'SENT' ? 'PENDING' : 'FAILED');
  const providerStatusOf = (outcome: SettlementOutcome) => (outcome === 'SENT' ? '' : 'NOT_SENT');
  const operatorEvent = (recipientId: string | null, from: GiftStatus, to: GiftStatus, providerStatus: string): NewStatusEvent => ({
    tenant: order.tenant,
    orderId: s.orderId,
    recipientId,
    from,
    to,
    providerStatus,
    occurredAt: s.at,
    source: 'OPERATOR',
    actor: s.actor,
    traceParent: activeTraceParent(),
  });
  const events: NewStatusEvent[] = [];
  const after = new Map(recipients.map((r) => [r.id, r]));
  for (const t of targets) {
    const r = t.recipient;
    const to = statusOf(t.outcome);
    const submission: Submission | null = r.submission === null ? null : t.outcome === 'SENT' ? 'ACCEPTED' : 'NOT_SENT';
    await tx.updateRecipient(r.id, {
      status: to,
      providerStatus: providerStatusOf(t.outcome),
      ...(t.providerRef !== null ? { providerRef: t.providerRef } : {}),
      ...(submission !== null ? { submission } : {}),
    });
    if (r.status !== to) events.push(operatorEvent(r.id, r.status, to, providerStatusOf(t.outcome)));
    after.set(r.id, { ...r, status: to, submission });
  }

  // The order: settled whole, or summarizing recipients settled one by one.
  const rows = [...after.values()];
  let submission = order.submission;
  let status: GiftStatus;
  if (s.order) {
    submission = s.order.outcome === 'SENT' ? 'ACCEPTED' : 'NOT_SENT';
    status = statusOf(s.order.outcome);
  } else {
    if (rows.some((r) => r.submission === 'ACCEPTED')) submission = 'ACCEPTED';
    else if (rows.every((r) => r.submission === 'NOT_SENT')) submission = 'NOT_SENT';
    status = summarizeStatus(
      rows.map((r) => r.status),
      order.status,
    );
  }
  const providerRef = s.order?.outcome === 'SENT' ? s.order.providerRef : null;
  await tx.updateOrder(
    s.orderId,
    {
      submission,
      status,
      lastError: null,
      ...(providerRef !== null ? { providerRef } : {}),
      ...(submission === 'NOT_SENT' ? { providerStatus: 'NOT_SENT' } : {}),
    },
    s.at,
  );
  // The order's own event comes after its recipients', as they caused it.
  if (order.status !== status) events.push(operatorEvent(null, order.status, status, s.order ? providerStatusOf(s.order.outcome) : ''));
  await tx.appendEvents(events);
  return 'settled';
}

/** A provider's snapshot as an observation of our order; recipients without their own status share the order's. */
export function toObservation(order: OrderRecord, recipients: readonly RecipientRecord[], snapshot: OrderSnapshot, source: Observation['source'], at: Date): Observation {
  const byPosition = new Map(snapshot.recipients?.map((r) => [r.position, r]));
  // A snapshot that lists recipients speaks only for those it lists; one that lists none speaks for all.
  const covered = recipients.filter((r) => !snapshot.recipients || byPosition.has(r.position));
  const seenRecipients = covered.map((r) => {
    const seen = byPosition.get(r.position);
    return {
      recipientId: r.id,
      status: seen?.status ?? snapshot.status,
      providerStatus: seen?.providerStatus ?? snapshot.providerStatus,
      providerRef: seen?.providerRef ?? null,
      email: seen?.email ?? null,
      gift: seen?.gift ?? null,
      submission: seen?.submission,
    };
  });
  return {
    orderId: order.id,
    source,
    occurredAt: at.toISOString(),
    // An order's status summarizes its recipients' where the provider reports them one by one.
    status: snapshot.recipients
      ? summarizeStatus(
          recipients.map((r) => byPosition.get(r.position)?.status ?? r.status),
          snapshot.status,
        )
      : snapshot.status,
    providerStatus: snapshot.providerStatus,
    providerRef: snapshot.providerRef,
    details: snapshot.details,
    total: snapshot.total,
    recipients: seenRecipients,
  };
}

function adoption(provider: Provider, tenant: string, listed: ListedOrder, now: string): { order: OrderRecord; recipients: RecipientRecord[] } {
  const id = randomUUID();
  const createdAt = instant(listed.createdAt) ?? now;
  return {
    order: {
      id,
      tenant,
      provider,
      origin: 'PROVIDER',
      // Unique per tenant like any key, and one no client can send: client keys have no spaces.
      idempotencyKey: `listed ${provider} ${listed.providerRef}`,
      requestHash: '',
      submission: 'ACCEPTED',
      providerRef: listed.providerRef,
      status: listed.status,
      providerStatus: listed.providerStatus,
      total: listed.total ?? null,
      scheduledFor: null,
      details: listed.details ?? {},
      lastError: null,
      createdAt,
      updatedAt: now,
    },
    recipients: (listed.recipients ?? []).map((r) => recipientSeen(id, r)),
  };
}

/** A recipient of an order placed at a provider, as the provider shows it. */
function recipientSeen(orderId: string, r: NonNullable<OrderSnapshot['recipients']>[number]): RecipientRecord {
  return {
    id: randomUUID(),
    orderId,
    position: r.position,
    email: r.email ?? null,
    employeeNumber: null,
    firstName: r.firstName ?? null,
    lastName: r.lastName ?? null,
    company: null,
    department: null,
    amount: null,
    status: r.status,
    providerStatus: r.providerStatus,
    providerRef: r.providerRef ?? null,
    gift: r.gift ?? null,
    submission: null,
  };
}

/** A provider's timestamp in the ledger's form (ISO-8601 UTC with milliseconds), or undefined. */
export function instant(value: string | null | undefined): string | undefined {
  return value && !Number.isNaN(Date.parse(value)) ? new Date(value).toISOString() : undefined;
}
