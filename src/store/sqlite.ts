import fs from 'node:fs';
import path from 'node:path';
import { SpanKind, SpanStatusCode, trace, type Span, type SpanOptions } from '@opentelemetry/api';
import Database from 'better-sqlite3';
import type { GiftStatus, Provider, StatusSource } from '../core/model.js';
import { MIGRATIONS } from './migrations.js';
import type { OrderRecord, RecipientRecord, StatusEventRecord, Submission } from '../core/records.js';
import type {
  InterruptedRecipient,
  LedgerTransaction,
  NewStatusEvent,
  OrderListQuery,
  OrderPatch,
  OrderStatusCount,
  RecipientPatch,
  ReserveResult,
  Store,
  SyncState,
  UnresolvedSend,
  WebhookNudge,
} from './store.js';

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
  checked_at: string | null;
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
  from_status: string | null;
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
  checkedAt: r.checked_at,
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
  from: r.from_status as GiftStatus | null,
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
      failed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

/** A ledger span that ended in an error: its code (a SQLite one) as the error type. */
function failed(span: Span, error: unknown): void {
  const code = (error as { code?: unknown }).code;
  span.setAttribute('error.type', typeof code === 'string' ? code : 'error');
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** `ledgerWrite` for a transaction that awaits: the span ends when it settles. */
async function ledgerTransaction<T>(operation: string, run: () => Promise<T>): Promise<T> {
  return tracer.startActiveSpan(`ledger ${operation}`, LEDGER_SPAN, async (span) => {
    try {
      if (span.isRecording()) span.setAttribute('giftgraph.ledger.operation', operation);
      return await run();
    } catch (error) {
      failed(span, error);
      throw error;
    } finally {
      span.end();
    }
  });
}

const ORDER_COLUMNS: Record<keyof OrderPatch, string> = {
  submission: 'submission',
  status: 'status',
  providerStatus: 'provider_status',
  providerRef: 'provider_ref',
  details: 'details',
  total: 'total',
  lastError: 'last_error',
};

const RECIPIENT_COLUMNS: Record<keyof RecipientPatch, string> = {
  submission: 'submission',
  status: 'status',
  providerStatus: 'provider_status',
  providerRef: 'provider_ref',
  gift: 'gift',
  email: 'email',
};

/** The default store: one SQLite file, WAL with synchronous=FULL so a committed ledger row survives a power cut. */
export class SqliteStore implements Store {
  private readonly db: Database.Database;
  /** Prepared statements by SQL text: preparing is a large share of a small query's cost. */
  private readonly statements = new Map<string, Database.Statement>();
  private readonly appendListeners: (() => void)[] = [];
  /**
   * The transaction in progress, if any. better-sqlite3 has one connection and a transaction here
   * awaits between its statements: until it ends, every other call waits, so none runs inside it.
   */
  private busy: Promise<void> | undefined;

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
    if (this.busy) await this.idle();
    return ledgerWrite('reserveOrder', () => this.reserve(order, recipients));
  }

  private reserve(order: OrderRecord, recipients: RecipientRecord[]): ReserveResult {
    return this.db
      .transaction((): ReserveResult => {
        const existing = this.sql('SELECT * FROM orders WHERE tenant = ? AND idempotency_key = ?').get(order.tenant, order.idempotencyKey) as OrderRow | undefined;
        if (existing) return { created: false, order: toOrder(existing) };
        this.sql(
          `INSERT INTO orders (id, tenant, provider, origin, idempotency_key, request_hash, submission, provider_ref, status, provider_status,
             total_minor, currency, scheduled_for, details, last_error, created_at, updated_at)
           VALUES (@id, @tenant, @provider, @origin, @idempotencyKey, @requestHash, @submission, @providerRef, @status, @providerStatus,
             @totalMinor, @currency, @scheduledFor, @details, @lastError, @createdAt, @updatedAt)`,
        ).run(orderParams(order));
        this.insertRecipients(recipients);
        return { created: true, order };
      })
      .immediate();
  }

  async findPlaced(provider: Provider, seen: readonly { ref: string; reference?: string | null }[]): Promise<{ placed: Set<string>; unresolved: UnresolvedSend[] }> {
    if (this.busy) await this.idle();
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
    if (this.busy) await this.idle();
    return ledgerWrite(
      'reassignAdopted',
      () => this.sql("UPDATE orders SET tenant = ? WHERE provider = ? AND origin = 'PROVIDER' AND tenant <> ?").run(tenant, provider, tenant).changes,
    );
  }

  async adoptOrders(provider: Provider, orders: readonly { order: OrderRecord; recipients: RecipientRecord[] }[], refs: readonly string[]): Promise<Map<string, OrderRecord>> {
    if (this.busy) await this.idle();
    return ledgerWrite('adoptOrders', () => this.adopt(provider, orders, refs));
  }

  private adopt(provider: Provider, orders: readonly { order: OrderRecord; recipients: RecipientRecord[] }[], refs: readonly string[]): Map<string, OrderRecord> {
    return this.db
      .transaction(() => {
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
      })
      .immediate();
  }

  async addRecipients(recipients: readonly RecipientRecord[]): Promise<void> {
    if (this.busy) await this.idle();
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

  async getOrders(tenant: string, ids: readonly string[]): Promise<OrderRecord[]> {
    if (ids.length === 0) return [];
    if (this.busy) await this.idle();
    const rows = this.sql(`SELECT * FROM orders WHERE tenant = ? AND id IN (${placeholders(ids.length)})`).all(tenant, ...ids) as OrderRow[];
    return rows.map(toOrder);
  }

  async findOrderByKey(tenant: string, idempotencyKey: string): Promise<OrderRecord | undefined> {
    if (this.busy) await this.idle();
    const row = this.sql('SELECT * FROM orders WHERE tenant = ? AND idempotency_key = ?').get(tenant, idempotencyKey) as OrderRow | undefined;
    return row ? toOrder(row) : undefined;
  }

  async listOrders(q: OrderListQuery): Promise<OrderRecord[]> {
    if (this.busy) await this.idle();
    const where = ['o.tenant = @tenant'];
    const params: Record<string, unknown> = { tenant: q.tenant, limit: q.limit };
    if (q.after) {
      where.push('(o.created_at < @afterCreated OR (o.created_at = @afterCreated AND o.id < @afterId))');
      params.afterCreated = q.after.createdAt;
      params.afterId = q.after.id;
    }
    if (q.providers?.length) {
      where.push(`o.provider IN (${q.providers.map((_, i) => `@p${i}`).join(',')})`);
      for (const [i, p] of q.providers.entries()) params[`p${i}`] = p;
    }
    if (q.statuses?.length) {
      where.push(`o.status IN (${q.statuses.map((_, i) => `@s${i}`).join(',')})`);
      for (const [i, s] of q.statuses.entries()) params[`s${i}`] = s;
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
    const rows = this.sql(`SELECT o.* FROM orders o WHERE ${where.join(' AND ')} ORDER BY o.created_at DESC, o.id DESC LIMIT @limit`).all(params) as OrderRow[];
    return rows.map(toOrder);
  }

  async getRecipientsByEmail(tenant: string, emails: readonly string[]): Promise<(RecipientRecord & { provider: Provider })[]> {
    if (emails.length === 0) return [];
    if (this.busy) await this.idle();
    const rows = this.sql(
      `SELECT r.*, o.provider AS order_provider FROM recipients r JOIN orders o ON o.id = r.order_id
       WHERE o.tenant = ? AND r.email COLLATE NOCASE IN (${placeholders(emails.length)})
       ORDER BY o.created_at DESC, o.id DESC, r.position`,
    ).all(tenant, ...emails) as (RecipientRow & { order_provider: string })[];
    return rows.map((r) => ({ ...toRecipient(r), provider: r.order_provider as Provider }));
  }

  async getRecipients(orderIds: readonly string[]): Promise<RecipientRecord[]> {
    if (orderIds.length === 0) return [];
    if (this.busy) await this.idle();
    const rows = this.sql(`SELECT * FROM recipients WHERE order_id IN (${placeholders(orderIds.length)}) ORDER BY order_id, position`).all(...orderIds) as RecipientRow[];
    return rows.map(toRecipient);
  }

  async getStatusEvents(orderIds: readonly string[]): Promise<StatusEventRecord[]> {
    if (orderIds.length === 0) return [];
    if (this.busy) await this.idle();
    const rows = this.sql(`SELECT e.*, o.tenant FROM status_events e JOIN orders o ON o.id = e.order_id WHERE e.order_id IN (${placeholders(orderIds.length)}) ORDER BY e.seq`).all(
      ...orderIds,
    ) as EventRow[];
    return rows.map(toEvent);
  }

  async hasWebhookDelivery(provider: Provider, deliveryId: string): Promise<boolean> {
    if (this.busy) await this.idle();
    return this.sql('SELECT 1 FROM webhook_receipts WHERE provider = ? AND delivery_id = ?').get(provider, deliveryId) !== undefined;
  }

  async recordWebhookDelivery(provider: Provider, deliveryId: string, receivedAt: string, orderIds: readonly string[] = [], traceParent: string | null = null): Promise<boolean> {
    if (this.busy) await this.idle();
    return ledgerWrite('recordWebhookDelivery', () =>
      this.db
        .transaction(() => {
          const first =
            this.sql('INSERT INTO webhook_receipts (provider, delivery_id, received_at) VALUES (?, ?, ?) ON CONFLICT DO NOTHING').run(provider, deliveryId, receivedAt).changes ===
            1;
          if (!first) return false;
          const nudge = this.sql('INSERT INTO webhook_nudges (order_id, received_at, trace_parent) VALUES (?, ?, ?) ON CONFLICT DO NOTHING');
          for (const orderId of orderIds) nudge.run(orderId, receivedAt, traceParent);
          return true;
        })
        .immediate(),
    );
  }

  async pendingNudges(limit: number): Promise<WebhookNudge[]> {
    if (this.busy) await this.idle();
    return this.sql(
      `SELECT n.order_id AS orderId, o.tenant, o.provider, n.received_at AS receivedAt, n.trace_parent AS traceParent
       FROM webhook_nudges n JOIN orders o ON o.id = n.order_id
       WHERE n.received_at = (SELECT MIN(received_at) FROM webhook_nudges f WHERE f.order_id = n.order_id)
       ORDER BY n.received_at, n.order_id LIMIT ?`,
    ).all(limit) as WebhookNudge[];
  }

  async clearNudges(orderId: string, receivedUpTo: string): Promise<void> {
    if (this.busy) await this.idle();
    this.sql('DELETE FROM webhook_nudges WHERE order_id = ? AND received_at <= ?').run(orderId, receivedUpTo);
  }

  async syncStates(): Promise<SyncState[]> {
    if (this.busy) await this.idle();
    return this.sql('SELECT provider, synced_at AS syncedAt, failed_at AS failedAt, last_error AS lastError FROM provider_sync ORDER BY provider').all() as SyncState[];
  }

  async recordSync(state: SyncState): Promise<void> {
    if (this.busy) await this.idle();
    this.sql(
      `INSERT INTO provider_sync (provider, synced_at, failed_at, last_error) VALUES (@provider, @syncedAt, @failedAt, @lastError)
       ON CONFLICT (provider) DO UPDATE SET synced_at = excluded.synced_at, failed_at = excluded.failed_at, last_error = excluded.last_error`,
    ).run(state);
  }

  async markChecked(orderIds: readonly string[], at: string): Promise<void> {
    if (orderIds.length === 0) return;
    if (this.busy) await this.idle();
    this.sql(`UPDATE orders SET checked_at = ? WHERE id IN (${placeholders(orderIds.length)}) AND (checked_at IS NULL OR checked_at < ?)`).run(at, ...orderIds, at);
  }

  onAppend(listener: () => void): void {
    this.appendListeners.push(listener);
  }

  async transaction<T>(name: string, fn: (tx: LedgerTransaction) => Promise<T>): Promise<T> {
    while (this.busy) await this.busy;
    let release!: () => void;
    this.busy = new Promise((resolve) => (release = resolve));
    const tx = new SqliteTransaction((text) => this.sql(text));
    try {
      const result = await ledgerTransaction(name, async () => {
        this.db.exec('BEGIN IMMEDIATE');
        try {
          const value = await fn(tx);
          this.db.exec('COMMIT');
          return value;
        } catch (error) {
          if (this.db.inTransaction) this.db.exec('ROLLBACK');
          throw error;
        }
      });
      // Listeners read the log: only after the commit are the events visible.
      if (tx.appended) for (const listener of this.appendListeners) listener();
      return result;
    } finally {
      this.busy = undefined;
      release();
    }
  }

  /** Waits for the transaction in progress (and any that follows at once) to end. */
  private async idle(): Promise<void> {
    while (this.busy) await this.busy;
  }

  async getEventsAfter(q: { afterSeq: number; tenant?: string; orderId?: string; limit: number }): Promise<StatusEventRecord[]> {
    if (this.busy) await this.idle();
    const rows = this.sql(
      `SELECT e.*, o.tenant FROM status_events e JOIN orders o ON o.id = e.order_id
       WHERE e.seq > @afterSeq AND (@tenant IS NULL OR o.tenant = @tenant) AND (@orderId IS NULL OR e.order_id = @orderId)
       ORDER BY e.seq LIMIT @limit`,
    ).all({ afterSeq: q.afterSeq, tenant: q.tenant ?? null, orderId: q.orderId ?? null, limit: q.limit }) as EventRow[];
    return rows.map(toEvent);
  }

  async lastEventSeq(): Promise<number> {
    if (this.busy) await this.idle();
    return (this.sql('SELECT COALESCE(MAX(seq), 0) FROM status_events').pluck().get() as number) ?? 0;
  }

  async listOpenOrders(limit: number, after?: { createdAt: string; id: string }): Promise<OrderRecord[]> {
    if (this.busy) await this.idle();
    const rows = this.sql(
      `SELECT * FROM orders WHERE submission = 'ACCEPTED' AND status NOT IN ('DELIVERED','CANCELED','FAILED','EXPIRED')
         AND (@createdAt IS NULL OR created_at > @createdAt OR (created_at = @createdAt AND id > @id))
       ORDER BY created_at, id LIMIT @limit`,
    ).all({ limit, createdAt: after?.createdAt ?? null, id: after?.id ?? null }) as OrderRow[];
    return rows.map(toOrder);
  }

  async listUnconfirmedOrders(providers: readonly Provider[], before: string, limit: number, after?: { createdAt: string; id: string }): Promise<OrderRecord[]> {
    if (providers.length === 0) return [];
    if (this.busy) await this.idle();
    const rows = this.sql(
      `SELECT * FROM orders WHERE submission = 'UNCONFIRMED' AND provider IN (${providers.map((_, i) => `@p${i}`).join(',')}) AND created_at < @before
         AND (@createdAt IS NULL OR created_at > @createdAt OR (created_at = @createdAt AND id > @id))
       ORDER BY created_at, id LIMIT @limit`,
    ).all({ ...Object.fromEntries(providers.map((p, i) => [`p${i}`, p])), before, limit, createdAt: after?.createdAt ?? null, id: after?.id ?? null }) as OrderRow[];
    return rows.map(toOrder);
  }

  async findOrderByProviderRef(provider: Provider, ref: string): Promise<OrderRecord | undefined> {
    if (this.busy) await this.idle();
    // Two indexed lookups: the order's own reference, else one of its recipients'.
    // An order placed through giftgraph wins over its twin recorded from a list while its create was in flight.
    const own = this.sql("SELECT * FROM orders WHERE provider = ? AND provider_ref = ? ORDER BY origin = 'GIFTGRAPH' DESC LIMIT 1").get(provider, ref) as OrderRow | undefined;
    const row =
      own ??
      (this.sql("SELECT o.* FROM recipients r JOIN orders o ON o.id = r.order_id WHERE r.provider_ref = ? AND o.provider = ? ORDER BY o.origin = 'GIFTGRAPH' DESC LIMIT 1").get(
        ref,
        provider,
      ) as OrderRow | undefined);
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
    if (this.busy) await this.idle();
    return this.sql('SELECT provider, status, COUNT(*) AS orders, MIN(created_at) AS oldestCreatedAt FROM orders GROUP BY provider, status').all() as OrderStatusCount[];
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

/**
 * A transaction's reads and writes, run inside SqliteStore.transaction: synchronous statements on
 * the one connection, which no other call uses until the transaction ends.
 */
class SqliteTransaction implements LedgerTransaction {
  /** Whether this transaction appended to the event log: listeners hear of it after the commit. */
  appended = false;

  constructor(private readonly sql: (text: string) => Database.Statement) {}

  async order(orderId: string): Promise<OrderRecord | undefined> {
    const row = this.sql('SELECT * FROM orders WHERE id = ?').get(orderId) as OrderRow | undefined;
    return row ? toOrder(row) : undefined;
  }

  async recipients(orderId: string): Promise<RecipientRecord[]> {
    return (this.sql('SELECT * FROM recipients WHERE order_id = ? ORDER BY position').all(orderId) as RecipientRow[]).map(toRecipient);
  }

  async updateOrder(orderId: string, patch: OrderPatch, updatedAt: string): Promise<void> {
    const sets = ['updated_at = @updatedAt'];
    const params: Record<string, unknown> = { orderId, updatedAt };
    for (const [key, column] of Object.entries(ORDER_COLUMNS) as [keyof OrderPatch, string][]) {
      if (patch[key] === undefined) continue;
      if (key === 'total') {
        sets.push('total_minor = @totalMinor', 'currency = @currency');
        params.totalMinor = patch.total?.minor ?? null;
        params.currency = patch.total?.currency ?? null;
      } else if (key === 'details' || key === 'lastError') {
        sets.push(`${column} = @${key}`);
        params[key] = patch[key] === null ? null : JSON.stringify(patch[key]);
      } else {
        sets.push(`${column} = @${key}`);
        params[key] = patch[key];
      }
    }
    this.sql(`UPDATE orders SET ${sets.join(', ')} WHERE id = @orderId`).run(params);
  }

  async updateRecipient(recipientId: string, patch: RecipientPatch): Promise<void> {
    const sets: string[] = [];
    const params: Record<string, unknown> = { recipientId };
    for (const [key, column] of Object.entries(RECIPIENT_COLUMNS) as [keyof RecipientPatch, string][]) {
      if (patch[key] === undefined) continue;
      sets.push(`${column} = @${key}`);
      params[key] = key === 'gift' ? (patch.gift === null ? null : JSON.stringify(patch.gift)) : patch[key];
    }
    if (sets.length > 0) this.sql(`UPDATE recipients SET ${sets.join(', ')} WHERE id = @recipientId`).run(params);
  }

  async appendEvents(events: readonly NewStatusEvent[]): Promise<StatusEventRecord[]> {
    const insert = this.sql(
      `INSERT INTO status_events (order_id, recipient_id, from_status, to_status, provider_status, occurred_at, source, actor, trace_parent)
       VALUES (@orderId, @recipientId, @from, @to, @providerStatus, @occurredAt, @source, @actor, @traceParent) RETURNING seq`,
    ).pluck();
    if (events.length > 0) this.appended = true;
    return events.map((e) => {
      const event = { ...e, actor: e.actor ?? null, traceParent: e.traceParent ?? null };
      return { seq: insert.get(event) as number, ...event };
    });
  }

  async hasEvents(orderId: string): Promise<boolean> {
    return this.sql('SELECT 1 FROM status_events WHERE order_id = ? LIMIT 1').get(orderId) !== undefined;
  }

  async isReferenceHeld(provider: Provider, ref: string, exceptOrderId: string): Promise<boolean> {
    return (
      this.sql(
        `SELECT 1 FROM orders WHERE provider = @provider AND provider_ref = @ref AND id <> @id
         UNION ALL SELECT 1 FROM recipients r JOIN orders o ON o.id = r.order_id WHERE o.provider = @provider AND r.provider_ref = @ref
         LIMIT 1`,
      ).get({ provider, ref, id: exceptOrderId }) !== undefined
    );
  }

  async interruptedSends(): Promise<{ orders: OrderRecord[]; recipients: InterruptedRecipient[] }> {
    const orders = (this.sql("SELECT * FROM orders WHERE submission = 'SENDING'").all() as OrderRow[]).map(toOrder);
    const recipients = this.sql(
      "SELECT r.id, r.order_id AS orderId, o.tenant, r.status FROM recipients r JOIN orders o ON o.id = r.order_id WHERE r.submission = 'SENDING'",
    ).all() as InterruptedRecipient[];
    return { orders, recipients };
  }
}
