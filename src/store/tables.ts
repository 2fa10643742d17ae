import type { Generated } from 'kysely';

/**
 * The ledger's tables as both engines hold them (src/store/migrations.ts). Times are ISO-8601 UTC
 * strings of one fixed width in both engines, so they sort and compare as text the same way;
 * amounts are integer minor units; JSON is stored as text.
 */
export interface LedgerTables {
  orders: {
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
    /** The replica whose create call is in flight while `submission` is SENDING. */
    sending_by: string | null;
    /** The replica that polls the order: a lease that lapses when that replica stops or goes silent. */
    poll_owner: string | null;
    /** When the order's amounts last began to count against its tenant's spending limits; null: from created_at. */
    spent_at: string | null;
    /** A send held until scheduled_for (submission HELD): what was asked that the ledger keeps nowhere else, as JSON. */
    held_request: string | null;
  };
  recipients: {
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
    sending_by: string | null;
  };
  status_events: {
    seq: Generated<number>;
    order_id: string;
    recipient_id: string | null;
    from_status: string | null;
    to_status: string;
    provider_status: string;
    occurred_at: string;
    source: string;
    actor: string | null;
    trace_parent: string | null;
  };
  webhook_receipts: { provider: string; delivery_id: string; received_at: string };
  webhook_nudges: { order_id: string; received_at: string; trace_parent: string | null };
  provider_sync: { provider: string; synced_at: string | null; failed_at: string | null; last_error: string | null };
  /** Every replica serving this ledger, while it lives: its heartbeat says so. */
  replicas: { id: string; started_at: string; heartbeat_at: string };
  /** Polls in flight and recently started, per provider, across all replicas: the provider's shared poll budget. */
  poll_slots: { id: string; provider: string; replica: string; started_at: string; until: string };
  /** Each tenant's spending limits per currency, in minor units; null: no limit over that window. */
  spending_limits: { tenant: string; currency: string; per_day_minor: number | null; per_30_days_minor: number | null; updated_at: string; updated_by: string };
  schema_migrations: { version: number; name: string; applied_at: string };
}
