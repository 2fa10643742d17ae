import fs from 'node:fs';
import path from 'node:path';
import { isSpanContextValid, SpanKind, SpanStatusCode, trace, type Span, type SpanOptions } from '@opentelemetry/api';
import Database from 'better-sqlite3';
import { summarizeStatus, type GiftStatus, type Provider, type StatusSource } from '../core/model.js';
import { formatTraceParent } from '../core/trace-parent.js';
import { planObservation, isEmptyPlan } from '../orders/plan.js';
import { MIGRATIONS } from './migrations.js';
import type { Observation, OrderRecord, RecipientRecord, Settlement, SettlementOutcome, StatusEventRecord, Submission } from '../core/records.js';
import type { OrderListQuery, OrderStatusCount, ReserveResult, SettleOutcome, Store, UnresolvedSend } from './store.js';

interface OrderRow {
  id: string;
  tenant: string;
  provider: string;
  origin: string;
  idempotency_key: string;
  request_hash: string;
  submission: string;
  provider_ref: string | null;
  status: string;
  provider_status: string;
  total_minor: number | null;
  currency: string | null;
  scheduled_for: string | null;
  details: string;
  last_error: string | null;
  created_at: string;
  updated_at: string;
}

interface RecipientRow {
  id: string;
  order_id: string;
  position: number;
  email: string | null;
  employee_number: string | null;
  first_name: string | null;
  last_name: string | null;
  company: string | null;
  department: string | null;
  amount_minor: number | null;
  currency: string | null;
  status: string;
  provider_status: string;
  provider_ref: string | null;
  gift: string | null;
  submission: string | null;
}

interface EventRow {
  seq: number;
  tenant: string;
  order_id: string;
  recipient_id: string | null;
  from_status: string;
  to_status: string;
  provider_status: string;
  occurred_at: string;
  source: string;
  actor: string | null;
  trace_parent: string | null;
}

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
});

const orderParams = (order: OrderRecord) => ({
  ...order,
  totalMinor: order.total?.minor ?? null,
  currency: order.total?.currency ?? null,
  details: JSON.stringify(order.details),
  lastError: order.lastError ? JSON.stringify(order.lastError) : null,
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
  from: r.from_status as GiftStatus,
  to: r.to_status as GiftStatus,
  providerStatus: r.provider_status,
  occurredAt: r.occurred_at,
  source: r.source as StatusSource,
  actor: r.actor,
  traceParent: r.trace_parent,
});

const placeholders = (n: number): string => Array.from({ length: n }, () => '?').join(',');

const tracer = trace.getTracer('giftgraph');
const LEDGER_SPAN: SpanOptions = { kind: SpanKind.INTERNAL, attributes: { 'db.system.name': 'sqlite' } };

/** The active span as a W3C traceparent: what a status event keeps of the change that appended it. */
function activeTraceParent(): string | null {
  const span = trace.getActiveSpan()?.spanContext();
  return span && isSpanContextValid(span) ? formatTraceParent(span) : null;
}

/**
 * One ledger transaction as a span (`ledger ingest`), active while it runs so the events it appends
 * carry its trace. The transactions are synchronous: the span is exactly the transaction.
 */
function ledgerWrite<T>(operation: string, run: (span: Span) => T): T {
  return tracer.startActiveSpan(`ledger ${operation}`, LEDGER_SPAN, (span) => {
    try {
      if (span.isRecording()) span.setAttribute('giftgraph.ledger.operation', operation);
      return run(span);
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

/** The default store: one SQLite file, WAL with synchronous=FULL so a committed ledger row survives a power cut. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  /** Prepared statements by SQL text: preparing is a large share of a small query's cost. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly appendListeners: (() => void)[] = [];
  private pendingNotify = false;

  private constructor(db: Database.Database) {
    this.db = db;
  }

  private sql(text: string): Database.Statement {
    let statement = this.statements.get(text);
    if (!statement) {
      // IN lists of every length and filter combinations make distinct texts; keep the cache bounded.
      if (this.statements.size >= 512) this.statements.clear();
      statement = this.db.prepare(text);
      this.statements.set(text, statement);
    }
    return statement;
  }

  static open(file: string): SqliteStore {
    if (file !== ':memory:') fs.mkdirSync(path.dirname(file), { recursive: true });
    const db = new Database(file);
    // One process owns a ledger: a second one could take over orders the first is still sending.
    // The exclusive lock is taken by the migration's write below and held until close.
    db.pragma('locking_mode = EXCLUSIVE');
    db.pragma('busy_timeout = 2000');
    const store = new SqliteStore(db);
    try {
      db.pragma('journal_mode = WAL');
      db.pragma('synchronous = FULL');
      db.pragma('foreign_keys = ON');
      store.migrate();
    } catch (error) {
      db.close();
      if ((error as { code?: string }).code === 'SQLITE_BUSY') {
        throw new Error(`The ledger ${file} is in use by another giftgraph process; one process serves one ledger.`);
      }
      throw error;
    }
    return store;
  }

  private migrate(): void {
    this.db.exec('BEGIN IMMEDIATE; CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL); COMMIT');
    const applied = new Set(this.db.prepare('SELECT version FROM schema_migrations').pluck().all() as number[]);
    for (const m of MIGRATIONS) {
      if (applied.has(m.version)) continue;
      this.db.transaction(() => {
        this.db.exec(m.sql);
        this.db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      })();
    }
  }

  schemaVersion(): number {
    return (this.db.prepare('SELECT MAX(version) FROM schema_migrations').pluck().get() as number | null) ?? 0;
  }

  async reserveOrder(order: OrderRecord, recipients: RecipientRecord[]): Promise<ReserveResult> {
    return ledgerWrite('reserveOrder', () => this.reserve(order, recipients));
  }

  private reserve(order: OrderRecord, recipients: RecipientRecord[]): ReserveResult {
    return this.db.transaction((): ReserveResult => {
      const existing = this
        .sql('SELECT * FROM orders WHERE tenant = ? AND idempotency_key = ?')
        .get(order.tenant, order.idempotencyKey) as OrderRow | undefined;
      if (existing) return { created: false, order: toOrder(existing) };
      this
        .sql(
          `INSERT INTO orders (id, tenant, provider, origin, idempotency_key, request_hash, submission, provider_ref, status, provider_status,
             total_minor, currency, scheduled_for, details, last_error, created_at, updated_at)
           VALUES (@id, @tenant, @provider, @origin, @idempotencyKey, @requestHash, @submission, @providerRef, @status, @providerStatus,
             @totalMinor, @currency, @scheduledFor, @details, @lastError, @createdAt, @updatedAt)`,
        )
        .run(orderParams(order));
      this.insertRecipients(recipients);
      return { created: true, order };
    }).immediate();
  }

  async findPlaced(
    provider: Provider,
    seen: readonly { ref: string; reference?: string | null }[],
  ): Promise<{ placed: Set<string>; unresolved: UnresolvedSend[] }> {
    const pending = this.sql(
      `SELECT o.created_at, o.updated_at, group_concat(lower(r.email), ' ') AS emails FROM orders o LEFT JOIN recipients r ON r.order_id = o.id
       WHERE o.provider = ? AND o.origin = 'GIFTGRAPH' AND o.provider_ref IS NULL AND o.submission IN ('SENDING','UNCONFIRMED')
       GROUP BY o.id`,
    ).all(provider) as { created_at: string; updated_at: string; emails: string | null }[];
    const unresolved = pending.map((p) => ({ firstAttempt: p.created_at, lastAttempt: p.updated_at, emails: p.emails ? p.emails.split(' ') : [] }));
    if (seen.length === 0) return { placed: new Set(), unresolved };
    const refs = seen.map((s) => s.ref);
    const references = seen.map((s) => s.reference).filter((r): r is string => Boolean(r));
    const rows = this.sql(
      `SELECT id, provider_ref FROM orders WHERE provider = ? AND origin = 'GIFTGRAPH'
         AND (provider_ref IN (${placeholders(refs.length)})${references.length ? ` OR id IN (${placeholders(references.length)})` : ''})`,
    ).all(provider, ...refs, ...references) as { id: string; provider_ref: string | null }[];
    const placedIds = new Set(rows.map((r) => r.id));
    const placedRefs = new Set(rows.map((r) => r.provider_ref));
    const placed = new Set(seen.filter((s) => placedRefs.has(s.ref) || (s.reference && placedIds.has(s.reference))).map((s) => s.ref));
    return { placed, unresolved };
  }

  async reassignAdopted(provider: Provider, tenant: string): Promise<number> {
    return ledgerWrite(
      'reassignAdopted',
      () => this.sql("UPDATE orders SET tenant = ? WHERE provider = ? AND origin = 'PROVIDER' AND tenant <> ?").run(tenant, provider, tenant).changes,
    );
  }

  async adoptOrders(
    provider: Provider,
    orders: readonly { order: OrderRecord; recipients: RecipientRecord[] }[],
    refs: readonly string[],
  ): Promise<Map<string, OrderRecord>> {
    return ledgerWrite('adoptOrders', () => this.adopt(provider, orders, refs));
  }

  private adopt(
    provider: Provider,
    orders: readonly { order: OrderRecord; recipients: RecipientRecord[] }[],
    refs: readonly string[],
  ): Map<string, OrderRecord> {
    return this.db.transaction(() => {
      // Never an order giftgraph sent, even one whose acceptance was recorded a moment ago; and the
      // owner follows configuration, so a changed owner takes over what was recorded before.
      const insert = this.sql(
        `INSERT INTO orders (id, tenant, provider, origin, idempotency_key, request_hash, submission, provider_ref, status, provider_status,
           total_minor, currency, scheduled_for, details, last_error, created_at, updated_at)
         SELECT @id, @tenant, @provider, 'PROVIDER', @idempotencyKey, @requestHash, @submission, @providerRef, @status, @providerStatus,
           @totalMinor, @currency, @scheduledFor, @details, @lastError, @createdAt, @updatedAt
         WHERE NOT EXISTS (SELECT 1 FROM orders WHERE provider = @provider AND provider_ref = @providerRef AND origin = 'GIFTGRAPH')
         ON CONFLICT (provider, provider_ref) WHERE origin = 'PROVIDER' DO UPDATE SET tenant = excluded.tenant WHERE tenant <> excluded.tenant`,
      );
      const existing = this.sql("SELECT 1 FROM orders WHERE provider = ? AND provider_ref = ? AND origin = 'PROVIDER'").pluck();
      for (const { order, recipients } of orders) {
        const isNew = existing.get(provider, order.providerRef) === undefined;
        if (insert.run(orderParams(order)).changes > 0 && isNew) this.insertRecipients(recipients);
      }
      if (refs.length === 0) return new Map<string, OrderRecord>();
      const rows = this.sql(`SELECT * FROM orders WHERE provider = ? AND origin = 'PROVIDER' AND provider_ref IN (${placeholders(refs.length)})`).all(
        provider,
        ...refs,
      ) as OrderRow[];
      return new Map(rows.map((r) => [r.provider_ref!, toOrder(r)]));
    }).immediate();
  }

  async addRecipients(recipients: readonly RecipientRecord[]): Promise<void> {
    ledgerWrite('addRecipients', () => this.db.transaction(() => this.insertRecipients(recipients, { keepExisting: true })).immediate());
  }

  private insertRecipients(recipients: readonly RecipientRecord[], { keepExisting = false } = {}): void {
    const insert = this.sql(
      `INSERT ${keepExisting ? 'OR IGNORE ' : ''}INTO recipients (id, order_id, position, email, employee_number, first_name, last_name, company, department,
         amount_minor, currency, status, provider_status, provider_ref, gift, submission)
       VALUES (@id, @orderId, @position, @email, @employeeNumber, @firstName, @lastName, @company, @department,
         @amountMinor, @currency, @status, @providerStatus, @providerRef, @gift, @submission)`,
    );
    for (const r of recipients) {
      insert.run({
        ...r,
        amountMinor: r.amount?.minor ?? null,
        currency: r.amount?.currency ?? null,
        gift: r.gift ? JSON.stringify(r.gift) : null,
      });
    }
  }

  async updateSubmission(
    orderId: string,
    expected: Submission,
    patch: { submission: Submission; status?: GiftStatus; providerStatus?: string; lastError?: OrderRecord['lastError'] },
  ): Promise<boolean> {
    const result = ledgerWrite('updateSubmission', () => this.moveSubmission(orderId, expected, patch));
    this.notifyAppend();
    return result;
  }

  private moveSubmission(
    orderId: string,
    expected: Submission,
    patch: { submission: Submission; status?: GiftStatus; providerStatus?: string; lastError?: OrderRecord['lastError'] },
  ): boolean {
    return this.db.transaction(() => {
      const current = this.sql('SELECT status FROM orders WHERE id = ? AND submission = ?').get(orderId, expected) as
        | { status: GiftStatus }
        | undefined;
      if (!current) return false;
      const now = new Date().toISOString();
      const status = patch.status ?? current.status;
      this
        .sql(
          `UPDATE orders SET submission = @submission, status = @status, provider_status = COALESCE(@providerStatus, provider_status),
             last_error = @lastError, updated_at = @now
           WHERE id = @orderId`,
        )
        .run({
          orderId,
          submission: patch.submission,
          status,
          providerStatus: patch.providerStatus ?? null,
          lastError: patch.lastError ? JSON.stringify(patch.lastError) : null,
          now,
        });
      // Recipients tracked one by one move with the order's whole-order outcome.
      this.sql('UPDATE recipients SET submission = ? WHERE order_id = ? AND submission IS NOT NULL').run(patch.submission, orderId);
      if (status !== current.status) {
        this.appendEvent(orderId, null, current.status, status, patch.providerStatus ?? '', now, 'MUTATION');
        // Each recipient that changes with its order gets its own event, as any other change would.
        const recipients = this.sql('SELECT id, status FROM recipients WHERE order_id = ? ORDER BY position').all(orderId) as { id: string; status: GiftStatus }[];
        for (const r of recipients) {
          if (r.status !== status) this.appendEvent(orderId, r.id, r.status, status, patch.providerStatus ?? '', now, 'MUTATION');
        }
        this
          .sql('UPDATE recipients SET status = ?, provider_status = COALESCE(?, provider_status) WHERE order_id = ?')
          .run(status, patch.providerStatus ?? null, orderId);
      }
      return true;
    }).immediate();
  }

  async ingest(obs: Observation, options: { accept?: boolean } = {}): Promise<StatusEventRecord[]> {
    const events = ledgerWrite('ingest', (span) => {
      const appended = this.apply(obs, options);
      if (span.isRecording()) span.setAttribute('giftgraph.ledger.events', appended.length);
      return appended;
    });
    if (events.length > 0) this.notifyAppend();
    return events;
  }

  private apply(obs: Observation, options: { accept?: boolean }): StatusEventRecord[] {
    return this.db.transaction((): StatusEventRecord[] => {
      if (options.accept) {
        // The provider's answer proves it took the order, also when a restart meanwhile marked it UNCONFIRMED.
        this.sql("UPDATE orders SET submission = 'ACCEPTED', last_error = NULL, updated_at = ? WHERE id = ? AND submission IN ('SENDING', 'UNCONFIRMED')")
          .run(obs.occurredAt, obs.orderId);
      }
      const orderRow = this.sql('SELECT * FROM orders WHERE id = ?').get(obs.orderId) as OrderRow | undefined;
      if (!orderRow) return [];
      const recipients = (this.sql('SELECT * FROM recipients WHERE order_id = ? ORDER BY position').all(obs.orderId) as RecipientRow[]).map(toRecipient);
      const plan = planObservation(toOrder(orderRow), recipients, obs);
      if (isEmptyPlan(plan)) return [];

      const o = plan.order;
      this
        .sql(
          `UPDATE orders SET status = COALESCE(@status, status), provider_status = COALESCE(@providerStatus, provider_status),
             provider_ref = COALESCE(@providerRef, provider_ref), details = COALESCE(@details, details),
             total_minor = COALESCE(@totalMinor, total_minor), currency = COALESCE(@currency, currency), updated_at = @now
           WHERE id = @id`,
        )
        .run({
          id: obs.orderId,
          status: o.status ?? null,
          providerStatus: o.providerStatus ?? null,
          providerRef: o.providerRef ?? null,
          details: o.details ? JSON.stringify(o.details) : null,
          totalMinor: o.total?.minor ?? null,
          currency: o.total?.currency ?? null,
          now: obs.occurredAt,
        });
      const updateRecipient = this.sql(
        `UPDATE recipients SET status = COALESCE(@status, status), provider_status = COALESCE(@providerStatus, provider_status),
           provider_ref = COALESCE(@providerRef, provider_ref), gift = COALESCE(@gift, gift), email = COALESCE(@email, email),
           submission = COALESCE(@submission, submission)
         WHERE id = @id`,
      );
      for (const { id, patch } of plan.recipients) {
        updateRecipient.run({
          id,
          status: patch.status ?? null,
          providerStatus: patch.providerStatus ?? null,
          providerRef: patch.providerRef ?? null,
          gift: patch.gift ? JSON.stringify(patch.gift) : null,
          email: patch.email ?? null,
          submission: patch.submission ?? null,
        });
      }
      const traceParent = activeTraceParent();
      return plan.events.map((e) => ({
        seq: this.appendEvent(obs.orderId, e.recipientId, e.from, e.to, e.providerStatus, obs.occurredAt, obs.source, null, traceParent),
        tenant: orderRow.tenant,
        orderId: obs.orderId,
        recipientId: e.recipientId,
        from: e.from,
        to: e.to,
        providerStatus: e.providerStatus,
        occurredAt: obs.occurredAt,
        source: obs.source,
        traceParent,
      }));
    }).immediate();
  }

  async getOrders(tenant: string, ids: readonly string[]): Promise<OrderRecord[]> {
    if (ids.length === 0) return [];
    const rows = this
      .sql(`SELECT * FROM orders WHERE tenant = ? AND id IN (${placeholders(ids.length)})`)
      .all(tenant, ...ids) as OrderRow[];
    return rows.map(toOrder);
  }

  async findOrderByKey(tenant: string, idempotencyKey: string): Promise<OrderRecord | undefined> {
    const row = this.sql('SELECT * FROM orders WHERE tenant = ? AND idempotency_key = ?').get(tenant, idempotencyKey) as OrderRow | undefined;
    return row ? toOrder(row) : undefined;
  }

  async listOrders(q: OrderListQuery): Promise<OrderRecord[]> {
    const where = ['o.tenant = @tenant', "o.origin = 'GIFTGRAPH'"];
    const params: Record<string, unknown> = { tenant: q.tenant, limit: q.limit };
    if (q.after) {
      where.push('(o.created_at < @afterCreated OR (o.created_at = @afterCreated AND o.id < @afterId))');
      params.afterCreated = q.after.createdAt;
      params.afterId = q.after.id;
    }
    if (q.providers?.length) {
      where.push(`o.provider IN (${q.providers.map((_, i) => `@p${i}`).join(',')})`);
      q.providers.forEach((p, i) => (params[`p${i}`] = p));
    }
    if (q.statuses?.length) {
      where.push(`o.status IN (${q.statuses.map((_, i) => `@s${i}`).join(',')})`);
      q.statuses.forEach((s, i) => (params[`s${i}`] = s));
    }
    if (q.createdAfter) {
      where.push('o.created_at > @createdAfter');
      params.createdAfter = q.createdAfter;
    }
    if (q.createdBefore) {
      where.push('o.created_at < @createdBefore');
      params.createdBefore = q.createdBefore;
    }
    if (q.recipientEmail) {
      where.push('EXISTS (SELECT 1 FROM recipients r WHERE r.order_id = o.id AND r.email = @email COLLATE NOCASE)');
      params.email = q.recipientEmail;
    }
    const rows = this
      .sql(`SELECT o.* FROM orders o WHERE ${where.join(' AND ')} ORDER BY o.created_at DESC, o.id DESC LIMIT @limit`)
      .all(params) as OrderRow[];
    return rows.map(toOrder);
  }

  async getRecipientsByEmail(tenant: string, emails: readonly string[]): Promise<(RecipientRecord & { provider: Provider })[]> {
    if (emails.length === 0) return [];
    const rows = this.sql(
      `SELECT r.*, o.provider AS order_provider FROM recipients r JOIN orders o ON o.id = r.order_id
       WHERE o.tenant = ? AND r.email COLLATE NOCASE IN (${placeholders(emails.length)})
       ORDER BY o.created_at DESC, o.id DESC, r.position`,
    ).all(tenant, ...emails) as (RecipientRow & { order_provider: string })[];
    return rows.map((r) => ({ ...toRecipient(r), provider: r.order_provider as Provider }));
  }

  async getRecipients(orderIds: readonly string[]): Promise<RecipientRecord[]> {
    if (orderIds.length === 0) return [];
    const rows = this
      .sql(`SELECT * FROM recipients WHERE order_id IN (${placeholders(orderIds.length)}) ORDER BY order_id, position`)
      .all(...orderIds) as RecipientRow[];
    return rows.map(toRecipient);
  }

  async getStatusEvents(orderIds: readonly string[]): Promise<StatusEventRecord[]> {
    if (orderIds.length === 0) return [];
    const rows = this
      .sql(`SELECT e.*, o.tenant FROM status_events e JOIN orders o ON o.id = e.order_id WHERE e.order_id IN (${placeholders(orderIds.length)}) ORDER BY e.seq`)
      .all(...orderIds) as EventRow[];
    return rows.map(toEvent);
  }

  async hasWebhookDelivery(provider: Provider, deliveryId: string): Promise<boolean> {
    return this.sql('SELECT 1 FROM webhook_receipts WHERE provider = ? AND delivery_id = ?').get(provider, deliveryId) !== undefined;
  }

  async recordWebhookDelivery(provider: Provider, deliveryId: string, receivedAt: string): Promise<boolean> {
    return ledgerWrite(
      'recordWebhookDelivery',
      () => this.sql('INSERT INTO webhook_receipts (provider, delivery_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(provider, deliveryId, receivedAt).changes === 1,
    );
  }

  async recoverInterruptedSends(now: string): Promise<number> {
    const result = ledgerWrite('recoverInterruptedSends', () => this.recoverSends(now));
    this.notifyAppend();
    return result;
  }

  private recoverSends(now: string): number {
    return this.db.transaction(() => {
      // A recipient claimed for a send that never finished: we cannot know whether it was sent.
      const recipients = this.sql("SELECT id, order_id, status FROM recipients WHERE submission = 'SENDING'").all() as {
        id: string;
        order_id: string;
        status: GiftStatus;
      }[];
      for (const r of recipients) {
        this.sql("UPDATE recipients SET submission = 'UNCONFIRMED', status = 'UNCONFIRMED', provider_status = '' WHERE id = ?").run(r.id);
        this.appendEvent(r.order_id, r.id, r.status, 'UNCONFIRMED', '', now, 'MUTATION');
      }
      // Orders are reserved as UNCONFIRMED, so only the submission needs to say we stopped waiting.
      const orders = this.sql("UPDATE orders SET submission = 'UNCONFIRMED', updated_at = ? WHERE submission = 'SENDING'").run(now).changes;
      return orders + recipients.length;
    }).immediate();
  }

  /**
   * Claims recipients whose create certainly failed for a new attempt (NOT_SENT → SENDING), in one
   * transaction, so two concurrent retries never both send to the same recipient. Returns the ids claimed.
   */
  async claimUnsentRecipients(orderId: string, now: string): Promise<string[]> {
    const result = ledgerWrite('claimUnsentRecipients', () => this.claimUnsent(orderId, now));
    this.notifyAppend();
    return result;
  }

  private claimUnsent(orderId: string, now: string): string[] {
    return this.db.transaction(() => {
      const unsent = this.sql("SELECT id, status FROM recipients WHERE order_id = ? AND submission = 'NOT_SENT' ORDER BY position").all(orderId) as {
        id: string;
        status: GiftStatus;
      }[];
      for (const r of unsent) {
        this.sql("UPDATE recipients SET submission = 'SENDING', status = 'UNCONFIRMED', provider_status = '' WHERE id = ?").run(r.id);
        this.appendEvent(orderId, r.id, r.status, 'UNCONFIRMED', '', now, 'MUTATION');
      }
      return unsent.map((r) => r.id);
    }).immediate();
  }

  /** Appends to the event log inside the caller's transaction; returns the event's position. */
  private appendEvent(
    orderId: string,
    recipientId: string | null,
    from: GiftStatus,
    to: GiftStatus,
    providerStatus: string,
    at: string,
    source: StatusSource,
    actor: string | null = null,
    traceParent: string | null = activeTraceParent(),
  ): number {
    this.pendingNotify = true;
    return this.sql(
      `INSERT INTO status_events (order_id, recipient_id, from_status, to_status, provider_status, occurred_at, source, actor, trace_parent)
       VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) RETURNING seq`,
    )
      .pluck()
      .get(orderId, recipientId, from, to, providerStatus, at, source, actor, traceParent) as number;
  }

  async settle(s: Settlement): Promise<SettleOutcome> {
    const settled = ledgerWrite('settle', () => this.applySettlement(s));
    if (settled === 'settled') this.notifyAppend();
    return settled;
  }

  private applySettlement(s: Settlement): SettleOutcome {
    return this.db.transaction((): SettleOutcome => {
      const order = this.sql('SELECT * FROM orders WHERE id = ?').get(s.orderId) as OrderRow | undefined;
      if (!order) return 'not_unconfirmed';
      // A provider's reference names one order or gift: one the ledger holds already is someone else's.
      const held = this.sql(
        `SELECT 1 FROM orders WHERE provider = @provider AND provider_ref = @ref AND id <> @id
         UNION ALL SELECT 1 FROM recipients r JOIN orders o ON o.id = r.order_id WHERE o.provider = @provider AND r.provider_ref = @ref
         LIMIT 1`,
      );
      const refs = s.order ? [s.order.providerRef] : (s.recipients ?? []).map((r) => r.providerRef);
      if (refs.some((ref) => ref !== null && held.get({ provider: order.provider, ref, id: order.id }) !== undefined)) return 'reference_taken';
      const recipients = (this.sql('SELECT * FROM recipients WHERE order_id = ? ORDER BY position').all(s.orderId) as RecipientRow[]).map(toRecipient);
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
      const updateRecipient = this.sql(
        `UPDATE recipients SET status = ?, provider_status = ?, provider_ref = COALESCE(?, provider_ref),
           submission = CASE WHEN submission IS NULL THEN NULL ELSE ? END
         WHERE id = ?`,
      );
      const after = new Map(recipients.map((r) => [r.id, r]));
      for (const t of targets) {
        const r = t.recipient;
        const to = statusOf(t.outcome);
        updateRecipient.run(to, providerStatusOf(t.outcome), t.providerRef, t.outcome === 'SENT' ? 'ACCEPTED' : 'NOT_SENT', r.id);
        if (r.status !== to) this.appendEvent(s.orderId, r.id, r.status, to, providerStatusOf(t.outcome), s.at, 'OPERATOR', s.actor);
        after.set(r.id, { ...r, status: to, submission: r.submission === null ? null : t.outcome === 'SENT' ? 'ACCEPTED' : 'NOT_SENT' });
      }

      // The order: settled whole, or summarizing recipients settled one by one.
      const rows = [...after.values()];
      let submission = order.submission as Submission;
      let status: GiftStatus;
      if (s.order) {
        submission = s.order.outcome === 'SENT' ? 'ACCEPTED' : 'NOT_SENT';
        status = statusOf(s.order.outcome);
      } else {
        if (rows.some((r) => r.submission === 'ACCEPTED')) submission = 'ACCEPTED';
        else if (rows.every((r) => r.submission === 'NOT_SENT')) submission = 'NOT_SENT';
        status = summarizeStatus(rows.map((r) => r.status), order.status as GiftStatus);
      }
      const providerRef = s.order?.outcome === 'SENT' ? s.order.providerRef : null;
      this
        .sql(
          `UPDATE orders SET submission = ?, status = ?, provider_ref = COALESCE(?, provider_ref),
             provider_status = CASE WHEN ? = 'NOT_SENT' THEN 'NOT_SENT' ELSE provider_status END, last_error = NULL, updated_at = ?
           WHERE id = ?`,
        )
        .run(submission, status, providerRef, submission, s.at, s.orderId);
      if (order.status !== status) this.appendEvent(s.orderId, null, order.status as GiftStatus, status, s.order ? providerStatusOf(s.order.outcome) : '', s.at, 'OPERATOR', s.actor);
      return 'settled';
    }).immediate();
  }

  onAppend(listener: () => void): void {
    this.appendListeners.push(listener);
  }

  /** Tells listeners after a commit; never from inside a transaction, whose events are not visible yet. */
  private notifyAppend(): void {
    if (!this.pendingNotify) return;
    this.pendingNotify = false;
    for (const listener of this.appendListeners) listener();
  }

  async getEventsAfter(q: { afterSeq: number; tenant?: string; orderId?: string; limit: number }): Promise<StatusEventRecord[]> {
    const rows = this.sql(
      `SELECT e.*, o.tenant FROM status_events e JOIN orders o ON o.id = e.order_id
       WHERE e.seq > @afterSeq AND (@tenant IS NULL OR o.tenant = @tenant) AND (@orderId IS NULL OR e.order_id = @orderId)
       ORDER BY e.seq LIMIT @limit`,
    ).all({ afterSeq: q.afterSeq, tenant: q.tenant ?? null, orderId: q.orderId ?? null, limit: q.limit }) as EventRow[];
    return rows.map(toEvent);
  }

  async lastEventSeq(): Promise<number> {
    return (this.sql('SELECT COALESCE(MAX(seq), 0) FROM status_events').pluck().get() as number) ?? 0;
  }

  async listOpenOrders(limit: number, after?: { createdAt: string; id: string }): Promise<OrderRecord[]> {
    const rows = this.sql(
      `SELECT * FROM orders WHERE submission = 'ACCEPTED' AND status NOT IN ('DELIVERED','CANCELED','FAILED','EXPIRED')
         AND (@createdAt IS NULL OR created_at > @createdAt OR (created_at = @createdAt AND id > @id))
       ORDER BY created_at, id LIMIT @limit`,
    ).all({ limit, createdAt: after?.createdAt ?? null, id: after?.id ?? null }) as OrderRow[];
    return rows.map(toOrder);
  }

  async listUnconfirmedOrders(providers: readonly Provider[], before: string, limit: number, after?: { createdAt: string; id: string }): Promise<OrderRecord[]> {
    if (providers.length === 0) return [];
    const rows = this.sql(
      `SELECT * FROM orders WHERE submission = 'UNCONFIRMED' AND provider IN (${providers.map((_, i) => `@p${i}`).join(',')}) AND created_at < @before
         AND (@createdAt IS NULL OR created_at > @createdAt OR (created_at = @createdAt AND id > @id))
       ORDER BY created_at, id LIMIT @limit`,
    ).all({ ...Object.fromEntries(providers.map((p, i) => [`p${i}`, p])), before, limit, createdAt: after?.createdAt ?? null, id: after?.id ?? null }) as OrderRow[];
    return rows.map(toOrder);
  }

  async findOrderByProviderRef(provider: Provider, ref: string): Promise<OrderRecord | undefined> {
    // Two indexed lookups: the order's own reference, else one of its recipients'.
    // An order placed through giftgraph wins over its twin recorded from a list while its create was in flight.
    const own = this.sql("SELECT * FROM orders WHERE provider = ? AND provider_ref = ? ORDER BY origin = 'GIFTGRAPH' DESC LIMIT 1").get(provider, ref) as
      | OrderRow
      | undefined;
    const row =
      own ??
      (this.sql(
        "SELECT o.* FROM recipients r JOIN orders o ON o.id = r.order_id WHERE r.provider_ref = ? AND o.provider = ? ORDER BY o.origin = 'GIFTGRAPH' DESC LIMIT 1",
      ).get(ref, provider) as
        | OrderRow
        | undefined);
    return row ? toOrder(row) : undefined;
  }

  /** Row counts of the ledger's tables, for operators and tests. */
  counts(): { orders: number; recipients: number; statusEvents: number } {
    const count = (table: string) => this.sql(`SELECT COUNT(*) FROM ${table}`).pluck().get() as number;
    return { orders: count('orders'), recipients: count('recipients'), statusEvents: count('status_events') };
  }

  /** A pragma's current value, so operators and tests can confirm durability settings. */
  pragma(name: 'journal_mode' | 'synchronous' | 'foreign_keys'): unknown {
    return this.db.pragma(name, { simple: true });
  }

  async countOrdersByStatus(): Promise<OrderStatusCount[]> {
    return this.sql(
      'SELECT provider, status, COUNT(*) AS orders, MIN(created_at) AS oldestCreatedAt FROM orders GROUP BY provider, status',
    ).all() as OrderStatusCount[];
  }

  ping(): boolean {
    try {
      return this.db.open && this.sql('SELECT 1').pluck().get() === 1;
    } catch {
      return false;
    }
  }

  close(): void {
    if (this.db.open) this.db.close();
  }
}
