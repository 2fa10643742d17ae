export interface Migration {
  version: number;
  name: string;
  sql: string;
}

/**
 * Versioned schema migrations of each engine, applied in order at start-up inside one transaction
 * each. Never edit a released migration: add a new one, to both lists, with the same version, so a
 * version names the same schema on either engine.
 */
export const SQLITE_MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'ledger',
    sql: `
      CREATE TABLE orders (
        id               TEXT PRIMARY KEY,
        tenant           TEXT NOT NULL,
        provider         TEXT NOT NULL,
        idempotency_key  TEXT NOT NULL,
        request_hash     TEXT NOT NULL,
        submission       TEXT NOT NULL CHECK (submission IN ('SENDING','ACCEPTED','NOT_SENT','UNCONFIRMED')),
        provider_ref     TEXT,
        status           TEXT NOT NULL,
        provider_status  TEXT NOT NULL,
        total_minor      INTEGER,
        currency         TEXT,
        scheduled_for    TEXT,
        details          TEXT NOT NULL DEFAULT '{}',
        last_error       TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        UNIQUE (tenant, idempotency_key)
      );
      CREATE INDEX orders_tenant_created ON orders (tenant, created_at DESC, id DESC);
      CREATE INDEX orders_provider_ref ON orders (provider, provider_ref);

      CREATE TABLE recipients (
        id               TEXT PRIMARY KEY,
        order_id         TEXT NOT NULL REFERENCES orders (id),
        position         INTEGER NOT NULL,
        email            TEXT,
        employee_number  TEXT,
        first_name       TEXT,
        last_name        TEXT,
        company          TEXT,
        department       TEXT,
        amount_minor     INTEGER,
        currency         TEXT,
        status           TEXT NOT NULL,
        provider_status  TEXT NOT NULL,
        provider_ref     TEXT,
        gift             TEXT,
        UNIQUE (order_id, position)
      );
      CREATE INDEX recipients_email ON recipients (email);

      CREATE TABLE status_events (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id         TEXT NOT NULL REFERENCES orders (id),
        recipient_id     TEXT REFERENCES recipients (id),
        from_status      TEXT NOT NULL,
        to_status        TEXT NOT NULL,
        provider_status  TEXT NOT NULL,
        occurred_at      TEXT NOT NULL,
        source           TEXT NOT NULL
      );
      CREATE INDEX status_events_order ON status_events (order_id, seq);
    `,
  },
  {
    version: 2,
    name: 'webhook receipts',
    sql: `
      -- Providers deliver webhooks at least once: each delivery id is accepted once.
      CREATE TABLE webhook_receipts (
        provider     TEXT NOT NULL,
        delivery_id  TEXT NOT NULL,
        received_at  TEXT NOT NULL,
        PRIMARY KEY (provider, delivery_id)
      );
    `,
  },
  {
    version: 3,
    name: 'recipient submissions',
    sql: `
      -- Where a provider takes one recipient per request (&Open), each recipient's create has its own
      -- outcome. NULL: the recipient follows its order's submission.
      ALTER TABLE recipients ADD COLUMN submission TEXT
        CHECK (submission IS NULL OR submission IN ('SENDING','ACCEPTED','NOT_SENT','UNCONFIRMED'));
    `,
  },
  {
    version: 4,
    name: 'recipient provider references',
    sql: `
      -- Webhooks about one recipient's gift (Goody orders, &Open gift requests) find it by reference.
      CREATE INDEX recipients_provider_ref ON recipients (provider_ref);
    `,
  },
  {
    version: 5,
    name: 'orders placed outside giftgraph',
    sql: `
      -- GIFTGRAPH: sent through giftgraph. PROVIDER: listed by a provider (placed in its own app),
      -- recorded on first sight for the tenant owning that account, so it has an id and a history.
      ALTER TABLE orders ADD COLUMN origin TEXT NOT NULL DEFAULT 'GIFTGRAPH' CHECK (origin IN ('GIFTGRAPH','PROVIDER'));
      CREATE UNIQUE INDEX orders_adopted ON orders (provider, provider_ref) WHERE origin = 'PROVIDER';
    `,
  },
  {
    version: 6,
    name: 'recipients by email, any case',
    sql: `
      -- A person's gifts are found by email whatever its case (a gateway's Person references).
      CREATE INDEX recipients_email_nocase ON recipients (email COLLATE NOCASE);
    `,
  },
  {
    version: 7,
    name: 'who settled an outcome',
    sql: `
      -- An operator's settlement of an UNCONFIRMED outcome names who recorded it (the token's subject).
      ALTER TABLE status_events ADD COLUMN actor TEXT;
    `,
  },
  {
    version: 8,
    name: 'the trace that caused an event',
    sql: `
      -- The W3C traceparent of the span that appended the event (a webhook's, a poll's, a mutation's),
      -- so its delivery to subscribers can link back to it. NULL when tracing was off.
      ALTER TABLE status_events ADD COLUMN trace_parent TEXT;
    `,
  },
  {
    version: 9,
    name: 'reads served from the ledger',
    sql: `
      -- When an order was last read from its provider: a read within the freshness window is served
      -- from the ledger. NULL: never read since it was recorded.
      ALTER TABLE orders ADD COLUMN checked_at TEXT;
      -- Orders a verified webhook named, until the poller reads them from their provider.
      CREATE TABLE webhook_nudges (
        order_id     TEXT NOT NULL REFERENCES orders (id),
        received_at  TEXT NOT NULL,
        -- The delivery's trace, which the read it causes continues.
        trace_parent TEXT,
        PRIMARY KEY (order_id, received_at)
      );
      CREATE INDEX webhook_nudges_received ON webhook_nudges (received_at);
      -- How far the background sync of each provider's own list has come.
      CREATE TABLE provider_sync (
        provider    TEXT PRIMARY KEY,
        synced_at   TEXT,
        failed_at   TEXT,
        last_error  TEXT
      );
      -- Work the poller, the reconciler and metrics look for across all tenants.
      CREATE INDEX orders_open ON orders (submission, status, created_at, id);
    `,
  },
  {
    version: 10,
    name: 'an order is created from no status',
    sql: `
      -- The creation of an order (the first outcome of a send) has no status before it: from_status
      -- NULL. SQLite cannot relax a NOT NULL column in place, so the log is copied into a new table.
      CREATE TABLE status_events_v10 (
        seq              INTEGER PRIMARY KEY AUTOINCREMENT,
        order_id         TEXT NOT NULL REFERENCES orders (id),
        recipient_id     TEXT REFERENCES recipients (id),
        from_status      TEXT,
        to_status        TEXT NOT NULL,
        provider_status  TEXT NOT NULL,
        occurred_at      TEXT NOT NULL,
        source           TEXT NOT NULL,
        actor            TEXT,
        trace_parent     TEXT
      );
      INSERT INTO status_events_v10 (seq, order_id, recipient_id, from_status, to_status, provider_status, occurred_at, source, actor, trace_parent)
        SELECT seq, order_id, recipient_id, from_status, to_status, provider_status, occurred_at, source, actor, trace_parent FROM status_events;
      DROP TABLE status_events;
      ALTER TABLE status_events_v10 RENAME TO status_events;
      CREATE INDEX status_events_order ON status_events (order_id, seq);
    `,
  },
  {
    version: 11,
    name: 'replicas',
    sql: `
      -- The replica whose create call is in flight: recovery takes over only the sends of replicas that are gone.
      ALTER TABLE orders ADD COLUMN sending_by TEXT;
      ALTER TABLE recipients ADD COLUMN sending_by TEXT;
      -- The replica that polls the order: a lease that lapses when that replica stops or goes silent.
      ALTER TABLE orders ADD COLUMN poll_owner TEXT;
      -- Emails are matched through lower(), which both engines index the same way.
      CREATE INDEX recipients_email_lower ON recipients (lower(email));
      CREATE TABLE replicas (
        id            TEXT PRIMARY KEY,
        started_at    TEXT NOT NULL,
        heartbeat_at  TEXT NOT NULL
      );
      CREATE TABLE poll_slots (
        id          TEXT PRIMARY KEY,
        provider    TEXT NOT NULL,
        replica     TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        until       TEXT NOT NULL
      );
      CREATE INDEX poll_slots_provider ON poll_slots (provider, until);
    `,
  },
  {
    version: 12,
    name: 'held sends',
    sql: `
      -- A send to a provider that cannot schedule is held by giftgraph until its time: submission
      -- HELD, with what was asked that the ledger keeps nowhere else (held_request, JSON), sent at
      -- scheduled_for. SQLite cannot change a CHECK in place, so orders is copied into a new table
      -- (migrations run with foreign keys off, and are checked before they commit), and every index
      -- of orders is made again.
      CREATE TABLE orders_v12 (
        id               TEXT PRIMARY KEY,
        tenant           TEXT NOT NULL,
        provider         TEXT NOT NULL,
        origin           TEXT NOT NULL DEFAULT 'GIFTGRAPH' CHECK (origin IN ('GIFTGRAPH','PROVIDER')),
        idempotency_key  TEXT NOT NULL,
        request_hash     TEXT NOT NULL,
        submission       TEXT NOT NULL CHECK (submission IN ('SENDING','ACCEPTED','NOT_SENT','UNCONFIRMED','HELD')),
        provider_ref     TEXT,
        status           TEXT NOT NULL,
        provider_status  TEXT NOT NULL,
        total_minor      INTEGER,
        currency         TEXT,
        scheduled_for    TEXT,
        details          TEXT NOT NULL DEFAULT '{}',
        last_error       TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        checked_at       TEXT,
        sending_by       TEXT,
        poll_owner       TEXT,
        held_request     TEXT,
        UNIQUE (tenant, idempotency_key)
      );
      INSERT INTO orders_v12 (id, tenant, provider, origin, idempotency_key, request_hash, submission, provider_ref, status, provider_status,
                              total_minor, currency, scheduled_for, details, last_error, created_at, updated_at, checked_at, sending_by, poll_owner)
        SELECT id, tenant, provider, origin, idempotency_key, request_hash, submission, provider_ref, status, provider_status,
               total_minor, currency, scheduled_for, details, last_error, created_at, updated_at, checked_at, sending_by, poll_owner FROM orders;
      DROP TABLE orders;
      ALTER TABLE orders_v12 RENAME TO orders;
      CREATE INDEX orders_tenant_created ON orders (tenant, created_at DESC, id DESC);
      CREATE INDEX orders_provider_ref ON orders (provider, provider_ref);
      CREATE UNIQUE INDEX orders_adopted ON orders (provider, provider_ref) WHERE origin = 'PROVIDER';
      -- Also where the scheduler looks for held sends that are due (submission HELD, status SCHEDULED).
      CREATE INDEX orders_open ON orders (submission, status, created_at, id);
    `,
  },
  {
    version: 13,
    name: 'spending limits',
    sql: `
      -- Each tenant's limit per currency over a rolling day and a rolling 30 days (NULL: none). What was
      -- spent is the ledger's own sends in the window, so it needs no table of its own.
      CREATE TABLE spending_limits (
        tenant              TEXT NOT NULL,
        currency            TEXT NOT NULL,
        per_day_minor       INTEGER,
        per_30_days_minor   INTEGER,
        updated_at          TEXT NOT NULL,
        updated_by          TEXT NOT NULL,
        PRIMARY KEY (tenant, currency)
      );
      -- When an order's amounts last began to count against its tenant's limits: a same-key retry
      -- of a send not sent spends again from then. NULL: from its creation.
      ALTER TABLE orders ADD COLUMN spent_at TEXT;
      -- Sends in flight, which every replica's heartbeat looks for among all recipients.
      CREATE INDEX recipients_sending ON recipients (submission) WHERE submission = 'SENDING';
    `,
  },
];

/**
 * PostgreSQL came with schema version 11: its first step creates the ledger as SQLite's steps 1 to
 * 11 left it. Times stay ISO-8601 text, as in SQLite, so every query compares them the same way.
 */
export const POSTGRES_MIGRATIONS: readonly Migration[] = [
  {
    version: 11,
    name: 'ledger',
    sql: `
      CREATE TABLE orders (
        id               TEXT PRIMARY KEY,
        tenant           TEXT NOT NULL,
        provider         TEXT NOT NULL,
        origin           TEXT NOT NULL DEFAULT 'GIFTGRAPH' CHECK (origin IN ('GIFTGRAPH','PROVIDER')),
        idempotency_key  TEXT NOT NULL,
        request_hash     TEXT NOT NULL,
        submission       TEXT NOT NULL CHECK (submission IN ('SENDING','ACCEPTED','NOT_SENT','UNCONFIRMED')),
        provider_ref     TEXT,
        status           TEXT NOT NULL,
        provider_status  TEXT NOT NULL,
        total_minor      BIGINT,
        currency         TEXT,
        scheduled_for    TEXT,
        details          TEXT NOT NULL DEFAULT '{}',
        last_error       TEXT,
        created_at       TEXT NOT NULL,
        updated_at       TEXT NOT NULL,
        checked_at       TEXT,
        sending_by       TEXT,
        poll_owner       TEXT,
        UNIQUE (tenant, idempotency_key)
      );
      CREATE INDEX orders_tenant_created ON orders (tenant, created_at DESC, id DESC);
      CREATE INDEX orders_provider_ref ON orders (provider, provider_ref);
      CREATE UNIQUE INDEX orders_adopted ON orders (provider, provider_ref) WHERE origin = 'PROVIDER';
      CREATE INDEX orders_open ON orders (submission, status, created_at, id);

      CREATE TABLE recipients (
        id               TEXT PRIMARY KEY,
        order_id         TEXT NOT NULL REFERENCES orders (id),
        position         INTEGER NOT NULL,
        email            TEXT,
        employee_number  TEXT,
        first_name       TEXT,
        last_name        TEXT,
        company          TEXT,
        department       TEXT,
        amount_minor     BIGINT,
        currency         TEXT,
        status           TEXT NOT NULL,
        provider_status  TEXT NOT NULL,
        provider_ref     TEXT,
        gift             TEXT,
        submission       TEXT CHECK (submission IS NULL OR submission IN ('SENDING','ACCEPTED','NOT_SENT','UNCONFIRMED')),
        sending_by       TEXT,
        UNIQUE (order_id, position)
      );
      CREATE INDEX recipients_email_lower ON recipients (lower(email));
      CREATE INDEX recipients_provider_ref ON recipients (provider_ref);

      -- Positions are handed out in commit order: see appendEvents in src/store/sql-store.ts.
      CREATE TABLE status_events (
        seq              BIGSERIAL PRIMARY KEY,
        order_id         TEXT NOT NULL REFERENCES orders (id),
        recipient_id     TEXT REFERENCES recipients (id),
        from_status      TEXT,
        to_status        TEXT NOT NULL,
        provider_status  TEXT NOT NULL,
        occurred_at      TEXT NOT NULL,
        source           TEXT NOT NULL,
        actor            TEXT,
        trace_parent     TEXT
      );
      CREATE INDEX status_events_order ON status_events (order_id, seq);

      CREATE TABLE webhook_receipts (
        provider     TEXT NOT NULL,
        delivery_id  TEXT NOT NULL,
        received_at  TEXT NOT NULL,
        PRIMARY KEY (provider, delivery_id)
      );
      CREATE TABLE webhook_nudges (
        order_id      TEXT NOT NULL REFERENCES orders (id),
        received_at   TEXT NOT NULL,
        trace_parent  TEXT,
        PRIMARY KEY (order_id, received_at)
      );
      CREATE INDEX webhook_nudges_received ON webhook_nudges (received_at);
      CREATE TABLE provider_sync (
        provider    TEXT PRIMARY KEY,
        synced_at   TEXT,
        failed_at   TEXT,
        last_error  TEXT
      );
      CREATE TABLE replicas (
        id            TEXT PRIMARY KEY,
        started_at    TEXT NOT NULL,
        heartbeat_at  TEXT NOT NULL
      );
      CREATE TABLE poll_slots (
        id          TEXT PRIMARY KEY,
        provider    TEXT NOT NULL,
        replica     TEXT NOT NULL,
        started_at  TEXT NOT NULL,
        until       TEXT NOT NULL
      );
      CREATE INDEX poll_slots_provider ON poll_slots (provider, until);
    `,
  },
  {
    version: 12,
    name: 'held sends',
    sql: `
      -- A send to a provider that cannot schedule is held by giftgraph until its time: submission
      -- HELD, with what was asked that the ledger keeps nowhere else (held_request, JSON), sent at
      -- scheduled_for.
      -- Replicas go on serving while one migrates: wait at most this long for the table's lock, and
      -- fail the start (to be retried) rather than hold every query of the ledger behind it.
      SET LOCAL lock_timeout = '5s';
      ALTER TABLE orders DROP CONSTRAINT orders_submission_check;
      -- NOT VALID: every row already passed the narrower check, so the table is not scanned under the lock.
      ALTER TABLE orders ADD CONSTRAINT orders_submission_check CHECK (submission IN ('SENDING','ACCEPTED','NOT_SENT','UNCONFIRMED','HELD')) NOT VALID;
      ALTER TABLE orders ADD COLUMN held_request TEXT;
    `,
  },
  {
    version: 13,
    name: 'spending limits',
    sql: `
      -- Each tenant's limit per currency over a rolling day and a rolling 30 days (NULL: none). What was
      -- spent is the ledger's own sends in the window, so it needs no table of its own.
      CREATE TABLE spending_limits (
        tenant              TEXT NOT NULL,
        currency            TEXT NOT NULL,
        per_day_minor       BIGINT,
        per_30_days_minor   BIGINT,
        updated_at          TEXT NOT NULL,
        updated_by          TEXT NOT NULL,
        PRIMARY KEY (tenant, currency)
      );
      -- When an order's amounts last began to count against its tenant's limits: a same-key retry
      -- of a send not sent spends again from then. NULL: from its creation.
      ALTER TABLE orders ADD COLUMN spent_at TEXT;
      -- Sends in flight, which every replica's heartbeat looks for among all recipients.
      CREATE INDEX recipients_sending ON recipients (submission) WHERE submission = 'SENDING';
    `,
  },
];

/** The steps in the order they apply. */
export const inOrder = (migrations: readonly Migration[]): Migration[] => [...migrations].sort((a, b) => a.version - b.version);

/** A ledger migrated past what this build knows was migrated by a newer giftgraph: serving it could corrupt it. */
export function assertKnownSchema(applied: number, migrations: readonly Migration[]): void {
  const latest = Math.max(...migrations.map((m) => m.version));
  if (applied > latest) {
    throw new Error(`The ledger is at schema version ${applied}, newer than this giftgraph knows (${latest}): run a giftgraph release that knows it.`);
  }
}
