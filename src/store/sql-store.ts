import { randomUUID } from 'node:crypto';
import { SpanKind, SpanStatusCode, trace, type SpanOptions } from '@opentelemetry/api';
import { type Kysely, type Selectable, sql, type Transaction } from 'kysely';
import type { GiftStatus, Provider, StatusSource } from '../core/model.js';
import type { HeldRequest, OrderRecord, RecipientRecord, StatusEventRecord, Submission } from '../core/records.js';
import type {
  InterruptedRecipient,
  LedgerTransaction,
  LimitRefusal,
  NewStatusEvent,
  OrderListQuery,
  OrderPatch,
  OrderStatusCount,
  PollBudget,
  RecipientPatch,
  ReserveResult,
  SpendingLimit,
  SpendingState,
  Store,
  SyncState,
  UnresolvedSend,
  WebhookNudge,
} from './store.js';
import type { LedgerTables } from './tables.js';

type OrderRow = Selectable<LedgerTables['orders']>;
type RecipientRow = Selectable<LedgerTables['recipients']>;
type EventRow = Selectable<LedgerTables['status_events']> & { tenant: string };
type Db = Kysely<LedgerTables> | Transaction<LedgerTables>;

const toOrder = (r: OrderRow): OrderRecord => ({
  id: r.id,
  tenant: r.tenant,
  provider: r.provider as Provider,
  origin: r.origin as OrderRecord['origin'],
  idempotencyKey: r.idempotency_key,
  requestHash: r.request_hash,
  submission: r.submission as Submission,
  providerRef: r.provider_ref,
  status: r.status as GiftStatus,
  providerStatus: r.provider_status,
  total: r.total_minor === null || r.currency === null ? null : { minor: r.total_minor, currency: r.currency },
  scheduledFor: r.scheduled_for,
  details: JSON.parse(r.details) as Record<string, unknown>,
  lastError: r.last_error ? (JSON.parse(r.last_error) as OrderRecord['lastError']) : null,
  createdAt: r.created_at,
  updatedAt: r.updated_at,
  checkedAt: r.checked_at,
  ...(r.held_request ? { heldRequest: JSON.parse(r.held_request) as HeldRequest } : {}),
});

const toRecipient = (r: RecipientRow): RecipientRecord => ({
  id: r.id,
  orderId: r.order_id,
  position: r.position,
  email: r.email,
  employeeNumber: r.employee_number,
  firstName: r.first_name,
  lastName: r.last_name,
  company: r.company,
  department: r.department,
  amount: r.amount_minor === null || r.currency === null ? null : { minor: r.amount_minor, currency: r.currency },
  status: r.status as GiftStatus,
  providerStatus: r.provider_status,
  providerRef: r.provider_ref,
  gift: r.gift ? (JSON.parse(r.gift) as RecipientRecord['gift']) : null,
  submission: r.submission as Submission | null,
});

const toEvent = (r: EventRow): StatusEventRecord => ({
  seq: r.seq,
  tenant: r.tenant,
  orderId: r.order_id,
  recipientId: r.recipient_id,
  from: r.from_status as GiftStatus | null,
  to: r.to_status as GiftStatus,
  providerStatus: r.provider_status,
  occurredAt: r.occurred_at,
  source: r.source as StatusSource,
  actor: r.actor,
  traceParent: r.trace_parent,
});

const orderRow = (order: OrderRecord, sendingBy: string | null): LedgerTables['orders'] => ({
  id: order.id,
  tenant: order.tenant,
  provider: order.provider,
  origin: order.origin,
  idempotency_key: order.idempotencyKey,
  request_hash: order.requestHash,
  submission: order.submission,
  provider_ref: order.providerRef,
  status: order.status,
  provider_status: order.providerStatus,
  total_minor: order.total?.minor ?? null,
  currency: order.total?.currency ?? null,
  scheduled_for: order.scheduledFor,
  details: JSON.stringify(order.details),
  last_error: order.lastError ? JSON.stringify(order.lastError) : null,
  created_at: order.createdAt,
  updated_at: order.updatedAt,
  checked_at: order.checkedAt ?? null,
  sending_by: order.submission === 'SENDING' ? sendingBy : null,
  poll_owner: null,
  spent_at: null,
  held_request: order.heldRequest ? JSON.stringify(order.heldRequest) : null,
});

const recipientRow = (r: RecipientRecord, sendingBy: string | null): LedgerTables['recipients'] => ({
  id: r.id,
  order_id: r.orderId,
  position: r.position,
  email: r.email,
  employee_number: r.employeeNumber,
  first_name: r.firstName,
  last_name: r.lastName,
  company: r.company,
  department: r.department,
  amount_minor: r.amount?.minor ?? null,
  currency: r.amount?.currency ?? null,
  status: r.status,
  provider_status: r.providerStatus,
  provider_ref: r.providerRef,
  gift: r.gift ? JSON.stringify(r.gift) : null,
  submission: r.submission,
  sending_by: r.submission === 'SENDING' ? sendingBy : null,
});

/** The statuses after which a provider no longer moves an order. */
const FINAL = ['DELIVERED', 'CANCELED', 'FAILED', 'EXPIRED'];

/** Keyset position in oldest-first order: after (createdAt, id). */
const after = (position: { createdAt: string; id: string } | undefined) =>
  position ? sql<boolean>`(created_at > ${position.createdAt} OR (created_at = ${position.createdAt} AND id > ${position.id}))` : sql<boolean>`1 = 1`;

const DAY_MS = 24 * 60 * 60 * 1_000;

const sumByCurrency = (amounts: readonly { minor: number; currency: string }[]): Map<string, number> => {
  const sums = new Map<string, number>();
  for (const a of amounts) sums.set(a.currency, (sums.get(a.currency) ?? 0) + a.minor);
  return sums;
};

/** What a send asks of each currency: its recipients' amounts (a recipient without one, priced by its product, asks nothing known). */
const askedByCurrency = (recipients: readonly RecipientRecord[]): Map<string, number> => sumByCurrency(recipients.flatMap((r) => (r.amount ? [r.amount] : [])));

/**
 * What a tenant's sends committed per currency over the rolling day and 30 days before `now`: the
 * amounts of their recipients, except what certainly was not spent (a create NOT_SENT, an order or
 * a gift FAILED or CANCELED). An UNCONFIRMED send counts until it is settled.
 */
async function spentSince(db: Db, tenant: string, currencies: readonly string[] | undefined, now: string): Promise<Map<string, { day: number; thirtyDays: number }>> {
  const daySince = new Date(Date.parse(now) - DAY_MS).toISOString();
  const monthSince = new Date(Date.parse(now) - 30 * DAY_MS).toISOString();
  const unspent = ['FAILED', 'CANCELED'];
  // Counted from when the order last began to spend: its creation, or a later retry of a send not sent.
  const since = sql<string>`coalesce(o.spent_at, o.created_at)`;
  let query = db
    .selectFrom('recipients as r')
    .innerJoin('orders as o', 'o.id', 'r.order_id')
    .select((eb) => [
      'r.currency',
      eb.fn.sum<number>(eb.case().when(since, '>', daySince).then(eb.ref('r.amount_minor')).else(0).end()).as('day'),
      eb.fn.sum<number>('r.amount_minor').as('thirtyDays'),
    ])
    .where('o.tenant', '=', tenant)
    .where('o.origin', '=', 'GIFTGRAPH')
    .where(since, '>', monthSince)
    .where('o.submission', '<>', 'NOT_SENT')
    .where('o.status', 'not in', unspent)
    .where('r.status', 'not in', unspent)
    .where((eb) => eb.or([eb('r.submission', 'is', null), eb('r.submission', '<>', 'NOT_SENT')]))
    .where('r.amount_minor', 'is not', null);
  if (currencies) query = query.where('r.currency', 'in', currencies);
  const rows = await query.groupBy('r.currency').execute();
  return new Map(rows.map((r) => [r.currency!, { day: Number(r.day ?? 0), thirtyDays: Number(r.thirtyDays ?? 0) }]));
}

async function limitsOf(db: Db, tenant: string, currencies: readonly string[]): Promise<SpendingLimit[]> {
  const rows = await db.selectFrom('spending_limits').selectAll().where('tenant', '=', tenant).where('currency', 'in', currencies).execute();
  return rows.map((r) => ({ tenant: r.tenant, currency: r.currency, perDayMinor: r.per_day_minor, per30DaysMinor: r.per_30_days_minor }));
}

/** The refusal these amounts would meet under the tenant's limits now; undefined when none applies. */
async function spendingRefusal(db: Db, tenant: string, asked: Map<string, number>, now: string): Promise<LimitRefusal | undefined> {
  if (asked.size === 0) return undefined;
  const limits = await limitsOf(db, tenant, [...asked.keys()]);
  if (limits.length === 0) return undefined;
  return refusal(limits, await spentSince(db, tenant, [...asked.keys()], now), asked);
}

/** The first limit these amounts would exceed, by currency then the day before the 30 days. */
function refusal(limits: readonly SpendingLimit[], spent: Map<string, { day: number; thirtyDays: number }>, asked: Map<string, number>): LimitRefusal | undefined {
  for (const limit of [...limits].sort((a, b) => a.currency.localeCompare(b.currency))) {
    const askedMinor = asked.get(limit.currency) ?? 0;
    const used = spent.get(limit.currency) ?? { day: 0, thirtyDays: 0 };
    if (limit.perDayMinor !== null && used.day + askedMinor > limit.perDayMinor) {
      return { currency: limit.currency, window: 'DAY', limitMinor: limit.perDayMinor, spentMinor: used.day, askedMinor };
    }
    if (limit.per30DaysMinor !== null && used.thirtyDays + askedMinor > limit.per30DaysMinor) {
      return { currency: limit.currency, window: 'THIRTY_DAYS', limitMinor: limit.per30DaysMinor, spentMinor: used.thirtyDays, askedMinor };
    }
  }
  return undefined;
}

const tracer = trace.getTracer('giftgraph');

/**
 * A write to the ledger as a span (`ledger <operation>`), active while it runs so the events it
 * appends carry its trace; it ends when the write has committed or failed.
 */
async function ledgerSpan<T>(engine: string, operation: string, run: () => Promise<T>): Promise<T> {
  const options: SpanOptions = { kind: SpanKind.INTERNAL, attributes: { 'db.system.name': engine } };
  return tracer.startActiveSpan(`ledger ${operation}`, options, async (span) => {
    try {
      if (span.isRecording()) span.setAttribute('giftgraph.ledger.operation', operation);
      return await run();
    } catch (error) {
      const code = (error as { code?: unknown }).code;
      span.setAttribute('error.type', typeof code === 'string' ? code : 'error');
      span.setStatus({ code: SpanStatusCode.ERROR });
      throw error;
    } finally {
      span.end();
    }
  });
}

/**
 * What differs between the engines, and only that: every query is written once, in Kysely, and
 * compiled for the engine's dialect.
 */
export interface EngineTraits {
  name: 'sqlite' | 'postgresql';
  /**
   * Holds `key` until the transaction ends, so every transaction taking the same key runs that part
   * one at a time (PostgreSQL's transaction advisory lock). SQLite's transactions run one at a time anyway.
   */
  serialize(trx: Transaction<LedgerTables>, key: string): Promise<void>;
  /** Tells every replica, at commit, that events were appended (PostgreSQL's NOTIFY); nothing where one process owns the ledger. */
  announce(trx: Transaction<LedgerTables>): Promise<void>;
  /** Whether a transaction's read of an order locks its row (`FOR UPDATE`): needed where transactions run side by side. */
  locksRows: boolean;
}

/** The key every check of a tenant's spending takes, so no two checks and reservations of one tenant interleave. */
const spendingKey = (tenant: string) => `giftgraph:spending:${tenant}`;

/** The key that orders every append to the event log (see appendEvents). */
const EVENT_LOG_KEY = 'giftgraph:status_events';

/**
 * The ledger on a SQL database, for either engine. Multi-row writes run in one transaction each;
 * what must hold across replicas (one send per key, one record per delivery, one poller per order)
 * is held by the database's constraints and locks, never by this process's memory.
 */
export class SqlStore implements Store {
  readonly replica = randomUUID();
  readonly engine: 'sqlite' | 'postgresql';
  private readonly appendListeners: (() => void)[] = [];

  constructor(
    protected readonly db: Kysely<LedgerTables>,
    protected readonly traits: EngineTraits,
  ) {
    this.engine = traits.name;
  }

  private write<T>(operation: string, run: () => Promise<T>): Promise<T> {
    return ledgerSpan(this.traits.name, operation, run);
  }

  async reserveOrder(order: OrderRecord, recipients: RecipientRecord[], events: readonly NewStatusEvent[] = []): Promise<ReserveResult> {
    let appended = false;
    const reserved = await this.write('reserveOrder', () =>
      this.db.transaction().execute(async (trx): Promise<ReserveResult> => {
        const asked = askedByCurrency(recipients);
        const limits = asked.size > 0 ? await limitsOf(trx, order.tenant, [...asked.keys()]) : [];
        if (limits.length > 0) {
          // The check and the reservation are one step: every reservation of this tenant's, on
          // every replica, waits here for the one before it to commit, and then counts it.
          await this.traits.serialize(trx, spendingKey(order.tenant));
          const existing = await trx.selectFrom('orders').selectAll().where('tenant', '=', order.tenant).where('idempotency_key', '=', order.idempotencyKey).executeTakeFirst();
          // A replay is answered as the first request was, whatever was spent since.
          if (existing) return { created: false, order: toOrder(existing) };
          const refused = refusal(limits, await spentSince(trx, order.tenant, [...asked.keys()], order.createdAt), asked);
          if (refused) return { created: false, refused };
        }
        // Two replicas reserving one key at once: the unique key lets one insert; the other waits for
        // its commit, inserts nothing, and reads the order the first one reserved.
        const inserted = await trx
          .insertInto('orders')
          .values(orderRow(order, this.replica))
          .onConflict((oc) => oc.columns(['tenant', 'idempotency_key']).doNothing())
          .returning('id')
          .executeTakeFirst();
        if (!inserted) {
          const existing = await trx
            .selectFrom('orders')
            .selectAll()
            .where('tenant', '=', order.tenant)
            .where('idempotency_key', '=', order.idempotencyKey)
            .executeTakeFirstOrThrow();
          return { created: false, order: toOrder(existing) };
        }
        await this.insertRecipients(trx, recipients);
        // A send held until its time is created now: its creation events commit with it.
        if (events.length > 0) appended = (await new SqlTransaction(trx, this.traits, this.replica).appendEvents(events)).length > 0;
        return { created: true, order };
      }),
    );
    // Listeners read the log: only after the commit are the events visible.
    if (appended) this.appended();
    return reserved;
  }

  async setSpendingLimit(limit: SpendingLimit, at: string, by: string): Promise<void> {
    await this.write('setSpendingLimit', async () => {
      if (limit.perDayMinor === null && limit.per30DaysMinor === null) {
        await this.db.deleteFrom('spending_limits').where('tenant', '=', limit.tenant).where('currency', '=', limit.currency).execute();
        return;
      }
      const values = { per_day_minor: limit.perDayMinor, per_30_days_minor: limit.per30DaysMinor, updated_at: at, updated_by: by };
      await this.db
        .insertInto('spending_limits')
        .values({ tenant: limit.tenant, currency: limit.currency, ...values })
        .onConflict((oc) => oc.columns(['tenant', 'currency']).doUpdateSet(values))
        .execute();
    });
  }

  async spending(tenant: string, now: string): Promise<SpendingState[]> {
    const limits = await this.db.selectFrom('spending_limits').selectAll().where('tenant', '=', tenant).execute();
    const spent = await spentSince(this.db, tenant, undefined, now);
    const currencies = [...new Set([...limits.map((l) => l.currency), ...spent.keys()])].sort();
    return currencies.map((currency) => {
      const limit = limits.find((l) => l.currency === currency);
      const used = spent.get(currency) ?? { day: 0, thirtyDays: 0 };
      return {
        currency,
        perDayMinor: limit?.per_day_minor ?? null,
        per30DaysMinor: limit?.per_30_days_minor ?? null,
        perDaySpentMinor: used.day,
        per30DaysSpentMinor: used.thirtyDays,
      };
    });
  }

  async checkSpending(tenant: string, asked: readonly { minor: number; currency: string }[], now: string): Promise<LimitRefusal | undefined> {
    return spendingRefusal(this.db, tenant, sumByCurrency(asked), now);
  }

  async findPlaced(provider: Provider, seen: readonly { ref: string; reference?: string | null }[]): Promise<{ placed: Set<string>; unresolved: UnresolvedSend[] }> {
    const pending = await this.db
      .selectFrom('orders')
      .select(['id', 'created_at', 'updated_at'])
      .where('provider', '=', provider)
      .where('origin', '=', 'GIFTGRAPH')
      .where('provider_ref', 'is', null)
      .where('submission', 'in', ['SENDING', 'UNCONFIRMED'])
      .execute();
    const emails = new Map<string, string[]>();
    if (pending.length > 0) {
      const rows = await this.db
        .selectFrom('recipients')
        .select(['order_id', sql<string | null>`lower(email)`.as('email')])
        .where(
          'order_id',
          'in',
          pending.map((p) => p.id),
        )
        .execute();
      for (const r of rows) if (r.email) emails.set(r.order_id, [...(emails.get(r.order_id) ?? []), r.email]);
    }
    const unresolved = pending.map((p) => ({ firstAttempt: p.created_at, lastAttempt: p.updated_at, emails: emails.get(p.id) ?? [] }));
    if (seen.length === 0) return { placed: new Set(), unresolved };
    const refs = seen.map((s) => s.ref);
    const references = seen.map((s) => s.reference).filter((r): r is string => Boolean(r));
    const rows = await this.db
      .selectFrom('orders')
      .select(['id', 'provider_ref'])
      .where('provider', '=', provider)
      .where('origin', '=', 'GIFTGRAPH')
      .where((eb) => (references.length ? eb.or([eb('provider_ref', 'in', refs), eb('id', 'in', references)]) : eb('provider_ref', 'in', refs)))
      .execute();
    const placedIds = new Set(rows.map((r) => r.id));
    const placedRefs = new Set(rows.map((r) => r.provider_ref));
    const placed = new Set(seen.filter((s) => placedRefs.has(s.ref) || (s.reference && placedIds.has(s.reference))).map((s) => s.ref));
    return { placed, unresolved };
  }

  async reassignAdopted(provider: Provider, tenant: string): Promise<number> {
    return this.write('reassignAdopted', async () => {
      const result = await this.db
        .updateTable('orders')
        .set({ tenant })
        .where('provider', '=', provider)
        .where('origin', '=', 'PROVIDER')
        .where('tenant', '<>', tenant)
        .executeTakeFirst();
      return Number(result.numUpdatedRows);
    });
  }

  async adoptOrders(provider: Provider, orders: readonly { order: OrderRecord; recipients: RecipientRecord[] }[], refs: readonly string[]): Promise<Map<string, OrderRecord>> {
    return this.write('adoptOrders', () =>
      this.db.transaction().execute(async (trx) => {
        // Never an order giftgraph sent, even one whose acceptance was recorded a moment ago; and the
        // owner follows configuration, so a changed owner takes over what was recorded before.
        const listed = orders.map((o) => o.order.providerRef!).filter(Boolean);
        // One read: which listed references are orders giftgraph sent, and which were recorded before.
        const seen = listed.length
          ? await trx.selectFrom('orders').select(['provider_ref', 'origin']).where('provider', '=', provider).where('provider_ref', 'in', listed).execute()
          : [];
        const sent = new Set(seen.filter((r) => r.origin === 'GIFTGRAPH').map((r) => r.provider_ref));
        const known = new Set(seen.filter((r) => r.origin === 'PROVIDER').map((r) => r.provider_ref));
        for (const { order, recipients } of orders) {
          if (sent.has(order.providerRef)) continue;
          // Two replicas adopting one order at once: the partial unique index lets one insert it.
          const written = await trx
            .insertInto('orders')
            .values({ ...orderRow(order, null), origin: 'PROVIDER' })
            .onConflict((oc) =>
              oc
                .columns(['provider', 'provider_ref'])
                // A literal, as the partial index's own condition: the engines match the two as written.
                .where(sql<boolean>`origin = 'PROVIDER'`)
                .doUpdateSet({ tenant: (eb) => eb.ref('excluded.tenant') })
                .where('orders.tenant', '<>', (eb) => eb.ref('excluded.tenant')),
            )
            .returning('id')
            .executeTakeFirst();
          if (written && !known.has(order.providerRef)) await this.insertRecipients(trx, recipients, { keepExisting: true });
        }
        if (refs.length === 0) return new Map<string, OrderRecord>();
        const rows = await trx.selectFrom('orders').selectAll().where('provider', '=', provider).where('origin', '=', 'PROVIDER').where('provider_ref', 'in', refs).execute();
        return new Map(rows.map((r) => [r.provider_ref!, toOrder(r)]));
      }),
    );
  }

  async addRecipients(recipients: readonly RecipientRecord[]): Promise<void> {
    if (recipients.length === 0) return;
    await this.write('addRecipients', () => this.db.transaction().execute((trx) => this.insertRecipients(trx, recipients, { keepExisting: true })));
  }

  private async insertRecipients(db: Db, recipients: readonly RecipientRecord[], { keepExisting = false } = {}): Promise<void> {
    if (recipients.length === 0) return;
    const insert = db.insertInto('recipients').values(recipients.map((r) => recipientRow(r, this.replica)));
    await (keepExisting ? insert.onConflict((oc) => oc.doNothing()) : insert).execute();
  }

  async getOrders(tenant: string, ids: readonly string[]): Promise<OrderRecord[]> {
    if (ids.length === 0) return [];
    const rows = await this.db.selectFrom('orders').selectAll().where('tenant', '=', tenant).where('id', 'in', ids).execute();
    return rows.map(toOrder);
  }

  async findOrderByKey(tenant: string, idempotencyKey: string): Promise<OrderRecord | undefined> {
    const row = await this.db.selectFrom('orders').selectAll().where('tenant', '=', tenant).where('idempotency_key', '=', idempotencyKey).executeTakeFirst();
    return row ? toOrder(row) : undefined;
  }

  async listOrders(q: OrderListQuery): Promise<OrderRecord[]> {
    let query = this.db.selectFrom('orders as o').selectAll('o').where('o.tenant', '=', q.tenant);
    if (q.after) {
      const { createdAt, id } = q.after;
      query = query.where((eb) => eb.or([eb('o.created_at', '<', createdAt), eb.and([eb('o.created_at', '=', createdAt), eb('o.id', '<', id)])]));
    }
    if (q.providers?.length) query = query.where('o.provider', 'in', q.providers);
    if (q.statuses?.length) query = query.where('o.status', 'in', q.statuses);
    if (q.createdAfter) query = query.where('o.created_at', '>', q.createdAfter);
    if (q.createdBefore) query = query.where('o.created_at', '<', q.createdBefore);
    if (q.recipientEmail) {
      const email = q.recipientEmail.toLowerCase();
      query = query.where((eb) => eb.exists(eb.selectFrom('recipients as r').select(sql`1`.as('one')).whereRef('r.order_id', '=', 'o.id').where(sql`lower(r.email)`, '=', email)));
    }
    const rows = await query.orderBy('o.created_at', 'desc').orderBy('o.id', 'desc').limit(q.limit).execute();
    return rows.map(toOrder);
  }

  async getRecipientsByEmail(tenant: string, emails: readonly string[]): Promise<(RecipientRecord & { provider: Provider })[]> {
    if (emails.length === 0) return [];
    const rows = await this.db
      .selectFrom('recipients as r')
      .innerJoin('orders as o', 'o.id', 'r.order_id')
      .selectAll('r')
      .select('o.provider as order_provider')
      .where('o.tenant', '=', tenant)
      .where(
        sql`lower(r.email)`,
        'in',
        emails.map((e) => e.toLowerCase()),
      )
      .orderBy('o.created_at', 'desc')
      .orderBy('o.id', 'desc')
      .orderBy('r.position')
      .execute();
    return rows.map((r) => ({ ...toRecipient(r), provider: r.order_provider as Provider }));
  }

  async getRecipients(orderIds: readonly string[]): Promise<RecipientRecord[]> {
    if (orderIds.length === 0) return [];
    const rows = await this.db.selectFrom('recipients').selectAll().where('order_id', 'in', orderIds).orderBy('order_id').orderBy('position').execute();
    return rows.map(toRecipient);
  }

  async getStatusEvents(orderIds: readonly string[]): Promise<StatusEventRecord[]> {
    if (orderIds.length === 0) return [];
    const rows = await this.db
      .selectFrom('status_events as e')
      .innerJoin('orders as o', 'o.id', 'e.order_id')
      .selectAll('e')
      .select('o.tenant')
      .where('e.order_id', 'in', orderIds)
      .orderBy('e.seq')
      .execute();
    return rows.map(toEvent);
  }

  async hasWebhookDelivery(provider: Provider, deliveryId: string): Promise<boolean> {
    const row = await this.db.selectFrom('webhook_receipts').select('provider').where('provider', '=', provider).where('delivery_id', '=', deliveryId).executeTakeFirst();
    return row !== undefined;
  }

  async recordWebhookDelivery(provider: Provider, deliveryId: string, receivedAt: string, orderIds: readonly string[] = [], traceParent: string | null = null): Promise<boolean> {
    return this.write('recordWebhookDelivery', () =>
      this.db.transaction().execute(async (trx) => {
        // The delivery's primary key makes its first record the only one, on whichever replica.
        const first = await trx
          .insertInto('webhook_receipts')
          .values({ provider, delivery_id: deliveryId, received_at: receivedAt })
          .onConflict((oc) => oc.doNothing())
          .returning('provider')
          .executeTakeFirst();
        if (!first) return false;
        if (orderIds.length > 0) {
          await trx
            .insertInto('webhook_nudges')
            .values([...new Set(orderIds)].map((orderId) => ({ order_id: orderId, received_at: receivedAt, trace_parent: traceParent })))
            .onConflict((oc) => oc.doNothing())
            .execute();
        }
        return true;
      }),
    );
  }

  async pendingNudges(limit: number): Promise<WebhookNudge[]> {
    const rows = await this.db
      .selectFrom('webhook_nudges as n')
      .innerJoin('orders as o', 'o.id', 'n.order_id')
      .select(['n.order_id as orderId', 'o.tenant', 'o.provider', 'n.received_at as receivedAt', 'n.trace_parent as traceParent'])
      .where('n.received_at', '=', (eb) =>
        eb
          .selectFrom('webhook_nudges as f')
          .select((f) => f.fn.min('f.received_at').as('first'))
          .whereRef('f.order_id', '=', 'n.order_id'),
      )
      .orderBy('n.received_at')
      .orderBy('n.order_id')
      .limit(limit)
      .execute();
    return rows as WebhookNudge[];
  }

  async clearNudges(orderId: string, receivedUpTo: string): Promise<void> {
    await this.db.deleteFrom('webhook_nudges').where('order_id', '=', orderId).where('received_at', '<=', receivedUpTo).execute();
  }

  async syncStates(): Promise<SyncState[]> {
    const rows = await this.db
      .selectFrom('provider_sync')
      .select(['provider', 'synced_at as syncedAt', 'failed_at as failedAt', 'last_error as lastError'])
      .orderBy('provider')
      .execute();
    return rows as SyncState[];
  }

  async recordSync(state: SyncState): Promise<void> {
    const values = { synced_at: state.syncedAt, failed_at: state.failedAt, last_error: state.lastError };
    await this.db
      .insertInto('provider_sync')
      .values({ provider: state.provider, ...values })
      .onConflict((oc) => oc.column('provider').doUpdateSet(values))
      .execute();
  }

  async markChecked(orderIds: readonly string[], at: string): Promise<void> {
    if (orderIds.length === 0) return;
    await this.db
      .updateTable('orders')
      .set({ checked_at: at })
      .where('id', 'in', orderIds)
      .where((eb) => eb.or([eb('checked_at', 'is', null), eb('checked_at', '<', at)]))
      .execute();
  }

  onAppend(listener: () => void): void {
    this.appendListeners.push(listener);
  }

  /** Tells the log's listeners that events may have been appended. */
  protected appended(): void {
    for (const listener of this.appendListeners) listener();
  }

  async transaction<T>(name: string, fn: (tx: LedgerTransaction) => Promise<T>): Promise<T> {
    let appended = false;
    const result = await this.write(name, () =>
      this.db.transaction().execute(async (trx) => {
        const tx = new SqlTransaction(trx, this.traits, this.replica);
        const value = await fn(tx);
        appended = tx.appended;
        return value;
      }),
    );
    // Listeners read the log: only after the commit are the events visible.
    if (appended) this.appended();
    return result;
  }

  async getEventsAfter(q: { afterSeq: number; tenant?: string; orderId?: string; limit: number }): Promise<StatusEventRecord[]> {
    let query = this.db.selectFrom('status_events as e').innerJoin('orders as o', 'o.id', 'e.order_id').selectAll('e').select('o.tenant').where('e.seq', '>', q.afterSeq);
    if (q.tenant !== undefined) query = query.where('o.tenant', '=', q.tenant);
    if (q.orderId !== undefined) query = query.where('e.order_id', '=', q.orderId);
    const rows = await query.orderBy('e.seq').limit(q.limit).execute();
    return rows.map(toEvent);
  }

  async lastEventSeq(): Promise<number> {
    const row = await this.db
      .selectFrom('status_events')
      .select((eb) => eb.fn.max('seq').as('last'))
      .executeTakeFirst();
    return Number(row?.last ?? 0);
  }

  async listOpenOrders(limit: number, position?: { createdAt: string; id: string }): Promise<OrderRecord[]> {
    const rows = await this.db
      .selectFrom('orders')
      .selectAll()
      .where('submission', '=', 'ACCEPTED')
      .where('status', 'not in', FINAL)
      .where(after(position))
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toOrder);
  }

  async listUnconfirmedOrders(providers: readonly Provider[], before: string, limit: number, position?: { createdAt: string; id: string }): Promise<OrderRecord[]> {
    if (providers.length === 0) return [];
    const rows = await this.db
      .selectFrom('orders')
      .selectAll()
      .where('submission', '=', 'UNCONFIRMED')
      .where('provider', 'in', providers)
      .where('created_at', '<', before)
      .where(after(position))
      .orderBy('created_at')
      .orderBy('id')
      .limit(limit)
      .execute();
    return rows.map(toOrder);
  }

  async findOrderByProviderRef(provider: Provider, ref: string): Promise<OrderRecord | undefined> {
    // Two indexed lookups: the order's own reference, else one of its recipients'. An order placed
    // through giftgraph wins over its twin recorded from a list while its create was in flight.
    const own = await this.db
      .selectFrom('orders')
      .selectAll()
      .where('provider', '=', provider)
      .where('provider_ref', '=', ref)
      .orderBy(sql`origin = 'GIFTGRAPH'`, 'desc')
      .limit(1)
      .executeTakeFirst();
    const row =
      own ??
      (await this.db
        .selectFrom('recipients as r')
        .innerJoin('orders as o', 'o.id', 'r.order_id')
        .selectAll('o')
        .where('r.provider_ref', '=', ref)
        .where('o.provider', '=', provider)
        .orderBy(sql`o.origin = 'GIFTGRAPH'`, 'desc')
        .limit(1)
        .executeTakeFirst());
    return row ? toOrder(row) : undefined;
  }

  async countOrdersByStatus(): Promise<OrderStatusCount[]> {
    const rows = await this.db
      .selectFrom('orders')
      .select((eb) => ['provider', 'status', eb.fn.countAll().as('orders'), eb.fn.min('created_at').as('oldestCreatedAt')])
      .groupBy(['provider', 'status'])
      .execute();
    return rows.map((r) => ({ provider: r.provider as Provider, status: r.status as GiftStatus, orders: Number(r.orders), oldestCreatedAt: r.oldestCreatedAt }));
  }

  async heartbeat(at: string): Promise<void> {
    await this.db
      .insertInto('replicas')
      .values({ id: this.replica, started_at: at, heartbeat_at: at })
      .onConflict((oc) => oc.column('id').doUpdateSet({ heartbeat_at: at }))
      .execute();
  }

  async leave(): Promise<void> {
    await this.write('leave', () =>
      this.db.transaction().execute(async (trx) => {
        await trx.updateTable('orders').set({ poll_owner: null }).where('poll_owner', '=', this.replica).execute();
        await trx.deleteFrom('poll_slots').where('replica', '=', this.replica).execute();
        await trx.deleteFrom('replicas').where('id', '=', this.replica).execute();
      }),
    );
  }

  async leasePolls(orderIds: readonly string[], staleBefore: string): Promise<string[]> {
    if (orderIds.length === 0) return [];
    // One statement: a row is taken by whichever replica's update reaches it first, and the other
    // then sees it taken (PostgreSQL re-checks the condition on a row it waited for).
    const alive = this.db.selectFrom('replicas').select('id').where('heartbeat_at', '>=', staleBefore);
    const rows = await this.db
      .updateTable('orders')
      .set({ poll_owner: this.replica })
      .where('id', 'in', orderIds)
      .where((eb) => eb.or([eb('poll_owner', 'is', null), eb('poll_owner', '=', this.replica), eb('poll_owner', 'not in', alive)]))
      .returning('id')
      .execute();
    return rows.map((r) => r.id);
  }

  async takePollSlot(provider: Provider, now: string, budget: PollBudget): Promise<string | null> {
    const secondAgo = new Date(Date.parse(now) - 1_000).toISOString();
    return this.db.transaction().execute(async (trx) => {
      await this.traits.serialize(trx, `giftgraph:poll:${provider}`);
      // What no longer counts: slots whose poll ended (or lapsed) more than a second ago.
      await trx.deleteFrom('poll_slots').where('provider', '=', provider).where('until', '<', secondAgo).where('started_at', '<', secondAgo).execute();
      const counts = await trx
        .selectFrom('poll_slots')
        .select((eb) => [
          eb.fn.sum<number>(eb.case().when('until', '>', now).then(1).else(0).end()).as('inFlight'),
          eb.fn.sum<number>(eb.case().when('started_at', '>', secondAgo).then(1).else(0).end()).as('started'),
        ])
        .where('provider', '=', provider)
        .executeTakeFirst();
      if (Number(counts?.inFlight ?? 0) >= budget.concurrency || Number(counts?.started ?? 0) >= budget.perSecond) return null;
      const id = randomUUID();
      const until = new Date(Date.parse(now) + budget.leaseMs).toISOString();
      await trx.insertInto('poll_slots').values({ id, provider, replica: this.replica, started_at: now, until }).execute();
      return id;
    });
  }

  async releasePollSlot(slot: string, at: string): Promise<void> {
    await this.db.updateTable('poll_slots').set({ until: at }).where('id', '=', slot).execute();
  }

  async ping(): Promise<boolean> {
    try {
      const row = await sql<{ one: number }>`SELECT 1 AS one`.execute(this.db);
      return Number(row.rows[0]?.one) === 1;
    } catch {
      return false;
    }
  }

  async close(): Promise<void> {
    await this.db.destroy();
  }
}

/** A transaction's reads and writes, run inside SqlStore.transaction. */
class SqlTransaction implements LedgerTransaction {
  /** Whether this transaction appended to the event log: listeners hear of it after the commit. */
  appended = false;

  constructor(
    private readonly trx: Transaction<LedgerTables>,
    private readonly traits: EngineTraits,
    private readonly replica: string,
  ) {}

  async order(orderId: string): Promise<OrderRecord | undefined> {
    // Where replicas run side by side, the row stays locked until this transaction ends: a
    // concurrent change of the same order waits for it and then sees what it wrote.
    const row = await this.trx
      .selectFrom('orders')
      .selectAll()
      .where('id', '=', orderId)
      .$if(this.traits.locksRows, (q) => q.forUpdate())
      .executeTakeFirst();
    return row ? toOrder(row) : undefined;
  }

  async recipients(orderId: string): Promise<RecipientRecord[]> {
    const rows = await this.trx.selectFrom('recipients').selectAll().where('order_id', '=', orderId).orderBy('position').execute();
    return rows.map(toRecipient);
  }

  async updateOrder(orderId: string, patch: OrderPatch, updatedAt: string): Promise<void> {
    const set: Partial<LedgerTables['orders']> = { updated_at: updatedAt };
    if (patch.submission !== undefined) {
      set.submission = patch.submission;
      // The replica making the create call: if it dies, the others know the call is no longer in flight.
      set.sending_by = patch.submission === 'SENDING' ? this.replica : null;
    }
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.providerStatus !== undefined) set.provider_status = patch.providerStatus;
    if (patch.providerRef !== undefined) set.provider_ref = patch.providerRef;
    if (patch.details !== undefined) set.details = JSON.stringify(patch.details);
    if (patch.total !== undefined) {
      set.total_minor = patch.total?.minor ?? null;
      set.currency = patch.total?.currency ?? null;
    }
    if (patch.lastError !== undefined) set.last_error = patch.lastError === null ? null : JSON.stringify(patch.lastError);
    if (patch.spentAt !== undefined) set.spent_at = patch.spentAt;
    await this.trx.updateTable('orders').set(set).where('id', '=', orderId).execute();
  }

  async updateRecipient(recipientId: string, patch: RecipientPatch): Promise<void> {
    const set: Partial<LedgerTables['recipients']> = {};
    if (patch.submission !== undefined) {
      set.submission = patch.submission;
      set.sending_by = patch.submission === 'SENDING' ? this.replica : null;
    }
    if (patch.status !== undefined) set.status = patch.status;
    if (patch.providerStatus !== undefined) set.provider_status = patch.providerStatus;
    if (patch.providerRef !== undefined) set.provider_ref = patch.providerRef;
    if (patch.gift !== undefined) set.gift = patch.gift === null ? null : JSON.stringify(patch.gift);
    if (patch.email !== undefined) set.email = patch.email;
    if (Object.keys(set).length > 0) await this.trx.updateTable('recipients').set(set).where('id', '=', recipientId).execute();
  }

  /**
   * Appends events in commit order. A sequence hands out numbers when rows are inserted, not when
   * they commit: were two transactions to take 7 and 8 and commit 8 first, a reader tailing the log
   * past 8 would never see 7. So every append first takes one lock that it holds until its
   * transaction commits: a transaction takes its numbers only after every earlier appender has
   * committed (or rolled back), and so no reader can see a position before a smaller one commits.
   * Appends of different orders wait for one another only from this point to their commit, which
   * the ingest core keeps short (appending is the last thing a change does): the lock lasts the
   * insert and the commit. The commit also tells every replica that the log grew (NOTIFY).
   */
  async appendEvents(events: readonly NewStatusEvent[]): Promise<StatusEventRecord[]> {
    if (events.length === 0) return [];
    // Queued now, delivered at commit: outside the lock, so the lock lasts one statement and the commit.
    await this.traits.announce(this.trx);
    await this.traits.serialize(this.trx, EVENT_LOG_KEY);
    const rows = await this.trx
      .insertInto('status_events')
      .values(
        events.map((e) => ({
          order_id: e.orderId,
          recipient_id: e.recipientId,
          from_status: e.from,
          to_status: e.to,
          provider_status: e.providerStatus,
          occurred_at: e.occurredAt,
          source: e.source,
          actor: e.actor ?? null,
          trace_parent: e.traceParent ?? null,
        })),
      )
      .returning('seq')
      .execute();
    this.appended = true;
    // A multi-row insert numbers its rows in the order given, and RETURNING answers in that order.
    const seqs = rows.map((r) => Number(r.seq)).sort((a, b) => a - b);
    return events.map((e, i) => ({ ...e, actor: e.actor ?? null, traceParent: e.traceParent ?? null, seq: seqs[i]! }));
  }

  async spendingRefusal(tenant: string, asked: readonly { minor: number; currency: string }[], now: string): Promise<LimitRefusal | undefined> {
    const sums = sumByCurrency(asked);
    if (sums.size === 0) return undefined;
    await this.traits.serialize(this.trx, spendingKey(tenant));
    return spendingRefusal(this.trx, tenant, sums, now);
  }

  async hasEvents(orderId: string): Promise<boolean> {
    const row = await this.trx.selectFrom('status_events').select('seq').where('order_id', '=', orderId).limit(1).executeTakeFirst();
    return row !== undefined;
  }

  async isReferenceHeld(provider: Provider, ref: string, exceptOrderId: string): Promise<boolean> {
    const order = await this.trx
      .selectFrom('orders')
      .select('id')
      .where('provider', '=', provider)
      .where('provider_ref', '=', ref)
      .where('id', '<>', exceptOrderId)
      .limit(1)
      .executeTakeFirst();
    if (order) return true;
    const gift = await this.trx
      .selectFrom('recipients as r')
      .innerJoin('orders as o', 'o.id', 'r.order_id')
      .select('r.id')
      .where('o.provider', '=', provider)
      .where('r.provider_ref', '=', ref)
      .limit(1)
      .executeTakeFirst();
    return gift !== undefined;
  }

  async interruptedSends(staleBefore: string): Promise<{ orders: OrderRecord[]; recipients: InterruptedRecipient[] }> {
    // A send is interrupted when its replica is gone: no heartbeat since `staleBefore`, or no row at all.
    const alive = this.trx.selectFrom('replicas').select('id').where('heartbeat_at', '>=', staleBefore);
    const orders = await this.trx
      .selectFrom('orders')
      .selectAll()
      .where('submission', '=', 'SENDING')
      .where((eb) => eb.or([eb('sending_by', 'is', null), eb('sending_by', 'not in', alive)]))
      // Replicas recovering at once each take different orders, and never one being changed now.
      .$if(this.traits.locksRows, (q) => q.forUpdate().skipLocked())
      .execute();
    const recipients = await this.trx
      .selectFrom('recipients as r')
      .innerJoin('orders as o', 'o.id', 'r.order_id')
      .select(['r.id', 'r.order_id as orderId', 'o.tenant', 'r.status'])
      .where('r.submission', '=', 'SENDING')
      .where((eb) => eb.or([eb('r.sending_by', 'is', null), eb('r.sending_by', 'not in', alive)]))
      .$if(this.traits.locksRows, (q) => q.forUpdate().skipLocked())
      .execute();
    return { orders: orders.map(toOrder), recipients: recipients.map((r) => ({ ...r, status: r.status as GiftStatus })) };
  }

  async claimHeldSends(dueBy: string, limit: number, providers: readonly Provider[]): Promise<OrderRecord[]> {
    if (providers.length === 0) return [];
    // One statement: a row is taken by whichever replica's update reaches it first. Where replicas
    // run side by side, the subselect locks the rows it picks and skips those another transaction
    // holds (a claim, or a cancel of the order), so claims at once take different orders.
    const due = this.trx
      .selectFrom('orders')
      .select('id')
      .where('submission', '=', 'HELD')
      .where('status', '=', 'SCHEDULED')
      .where('provider', 'in', providers)
      .where('scheduled_for', '<=', dueBy)
      .orderBy('scheduled_for')
      .orderBy('id')
      .limit(limit)
      .$if(this.traits.locksRows, (q) => q.forUpdate().skipLocked());
    const rows = await this.trx
      .updateTable('orders')
      // The replica making the create calls: if it dies, the others know they are no longer in flight.
      .set({ submission: 'SENDING', sending_by: this.replica })
      .where('id', 'in', due)
      .where('submission', '=', 'HELD')
      .where('status', '=', 'SCHEDULED')
      .returningAll()
      .execute();
    return rows.map(toOrder).sort((a, b) => (a.scheduledFor! < b.scheduledFor! ? -1 : a.scheduledFor! > b.scheduledFor! ? 1 : 0));
  }
}
