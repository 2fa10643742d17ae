import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { OrderRecord, StatusEventRecord } from '../src/core/records.js';
import { POSTGRES_MIGRATIONS } from '../src/store/migrations.js';
import type { PostgresStore } from '../src/store/postgres.js';
import { postgresReachable, type TestSchema, testSchema } from './support/postgres.js';

/**
 * What holds when several replicas share one PostgreSQL ledger, each replica here a store of its
 * own with its own pool (as each process has): the database, not any one process, keeps one send
 * per key, one record per webhook delivery, one poller per order, and the event log in commit order.
 */

const reachable = await postgresReachable();
const LATEST = Math.max(...POSTGRES_MIGRATIONS.map((m) => m.version));

const now = () => new Date().toISOString();
let serial = 0;
const order = (over: Partial<OrderRecord> = {}): OrderRecord => {
  serial += 1;
  const time = now();
  return {
    id: `o-${serial}-${Math.random().toString(36).slice(2, 8)}`,
    tenant: 'acme',
    provider: 'GUUSTO',
    origin: 'GIFTGRAPH',
    idempotencyKey: `key-${serial}`,
    requestHash: 'h',
    submission: 'SENDING',
    providerRef: null,
    status: 'UNCONFIRMED',
    providerStatus: '',
    total: { minor: 1_000, currency: 'CAD' },
    scheduledFor: null,
    details: {},
    lastError: null,
    createdAt: time,
    updatedAt: time,
    ...over,
  };
};

describe.skipIf(!reachable)('replicas sharing one PostgreSQL ledger', () => {
  let schema: TestSchema;
  let replicas: PostgresStore[];

  beforeAll(async () => {
    schema = await testSchema();
    // Three replicas starting at once: one migrates, the others wait for it and find nothing to do.
    replicas = await Promise.all([schema.open(), schema.open(), schema.open()]);
  });

  afterAll(async () => {
    await Promise.all(replicas.map((r) => r.close()));
    await schema.drop();
  });

  it('migrated the ledger once, though three replicas started together', async () => {
    const client = new pg.Client({ connectionString: schema.url, options: `-c search_path=${schema.schema}` });
    await client.connect();
    try {
      const rows = (await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows;
      expect(rows.map((r) => r.version)).toEqual(POSTGRES_MIGRATIONS.map((m) => m.version).sort((a, b) => a - b));
      expect(await replicas[0]!.schemaVersion()).toBe(LATEST);
    } finally {
      await client.end();
    }
  });

  it('refuses to start on a ledger a newer release migrated', async () => {
    const newer = await testSchema();
    const store = await newer.open();
    await store.close();
    const client = new pg.Client({ connectionString: newer.url, options: `-c search_path=${newer.schema}` });
    await client.connect();
    await client.query("INSERT INTO schema_migrations (version, name, applied_at) VALUES (99, 'from the future', '2027-01-01T00:00:00.000Z')");
    await client.end();
    await expect(newer.open()).rejects.toThrow(`schema version 99, newer than this giftgraph knows (${LATEST})`);
    await newer.drop();
  });

  it('reserves one idempotency key once, whichever replicas it reaches at the same moment', async () => {
    for (let round = 0; round < 10; round += 1) {
      const key = `same-${round}`;
      const results = await Promise.all(replicas.map((r) => r.reserveOrder(order({ idempotencyKey: key }), [])));
      expect(results.filter((r) => r.created)).toHaveLength(1);
      expect(new Set(results.map((r) => r.order!.id)).size).toBe(1);
    }
  });

  it('records a webhook delivery once, whichever replica a retry reaches', async () => {
    const o = order({ submission: 'ACCEPTED' });
    await replicas[0]!.reserveOrder(o, []);
    const firsts = await Promise.all(replicas.map((r) => r.recordWebhookDelivery('GOODY', 'delivery-1', now(), [o.id])));
    expect(firsts.filter(Boolean)).toHaveLength(1);
    expect(await replicas[2]!.recordWebhookDelivery('GOODY', 'delivery-1', now(), [o.id])).toBe(false);
  });

  it('records an order seen in a provider list once, whichever replicas see it together', async () => {
    const listed = () => {
      const o = order({ origin: 'PROVIDER', providerRef: 'app-order-1', submission: 'ACCEPTED', status: 'SENT', idempotencyKey: `provider:${Math.random()}` });
      return [{ order: o, recipients: [{ ...recipientOf(o) }] }];
    };
    const seen = await Promise.all(replicas.map((r) => r.adoptOrders('GUUSTO', listed(), ['app-order-1'])));
    const ids = new Set(seen.map((m) => m.get('app-order-1')?.id));
    expect(ids.size).toBe(1);
    expect(await replicas[0]!.getRecipients([...ids] as string[])).toHaveLength(1);
  });

  it("never takes a live replica's send for an interrupted one; takes a gone replica's at once", async () => {
    const [a, b] = replicas as [PostgresStore, PostgresStore];
    await a.heartbeat(now());
    await b.heartbeat(now());
    const inFlight = order();
    await a.reserveOrder(inFlight, []);
    const recovered = () => b.transaction('recover', (tx) => tx.interruptedSends(new Date(Date.now() - 5_000).toISOString()));
    expect((await recovered()).orders.map((o) => o.id)).not.toContain(inFlight.id);
    // A replica silent for longer than the window is gone.
    const client = new pg.Client({ connectionString: schema.url, options: `-c search_path=${schema.schema}` });
    await client.connect();
    await client.query('UPDATE replicas SET heartbeat_at = $1 WHERE id = $2', [new Date(Date.now() - 60_000).toISOString(), a.replica]);
    await client.end();
    expect((await recovered()).orders.map((o) => o.id)).toContain(inFlight.id);
    await a.heartbeat(now());
  });

  it('leases each order to one poller, and a gone replica’s orders to another', async () => {
    const a = replicas[0]!;
    for (const r of replicas) await r.heartbeat(now());
    const orders = Array.from({ length: 30 }, () => order({ submission: 'ACCEPTED', status: 'PENDING' }));
    for (const o of orders) await a.reserveOrder(o, []);
    const ids = orders.map((o) => o.id);
    const staleBefore = new Date(Date.now() - 5_000).toISOString();
    const taken = await Promise.all(replicas.map((r) => r.leasePolls(ids, staleBefore)));
    // Every order polled by exactly one of them.
    expect(taken.flat().sort()).toEqual([...ids].sort());
    const owner = replicas[taken.findIndex((t) => t.length > 0)]!;
    const others = replicas.filter((r) => r !== owner);
    expect(await others[0]!.leasePolls(taken.flat(), staleBefore)).toEqual(taken[replicas.indexOf(others[0]!)]);
    // The owner stops: what it polled is taken over at once.
    await owner.leave();
    expect((await others[0]!.leasePolls(ids, staleBefore)).sort()).toEqual([...ids].sort());
    await owner.heartbeat(now());
  });

  it("keeps a provider's poll concurrency and rate across all replicas together", async () => {
    const budget = { concurrency: 4, perSecond: 100, leaseMs: 30_000 };
    const at = now();
    const slots = await Promise.all(Array.from({ length: 12 }, (_, i) => replicas[i % 3]!.takePollSlot('ANDOPEN', at, budget)));
    expect(slots.filter(Boolean)).toHaveLength(4);
    const rate = { concurrency: 100, perSecond: 5, leaseMs: 30_000 };
    const started = await Promise.all(Array.from({ length: 12 }, (_, i) => replicas[i % 3]!.takePollSlot('GIFTRONAUT', at, rate)));
    expect(started.filter(Boolean)).toHaveLength(5);
  });

  it('never lets concurrent sends on several replicas overshoot a spending limit together', async () => {
    await replicas[0]!.setSpendingLimit({ tenant: 'limited', currency: 'CAD', perDayMinor: 20 * 2_500, per30DaysMinor: null }, now(), 'operator');
    const results = await Promise.all(
      Array.from({ length: 50 }, (_, i) => {
        const o = order({ tenant: 'limited', idempotencyKey: `limited-${i}` });
        return replicas[i % 3]!.reserveOrder(o, [{ ...recipientOf(o), amount: { minor: 2_500, currency: 'CAD' } }]);
      }),
    );
    expect(results.filter((r) => r.created)).toHaveLength(20);
    expect(results.filter((r) => r.refused?.window === 'DAY')).toHaveLength(30);
    const [cad] = await replicas[2]!.spending('limited', now());
    expect(cad).toEqual({ currency: 'CAD', perDayMinor: 50_000, per30DaysMinor: null, perDaySpentMinor: 50_000, per30DaysSpentMinor: 50_000 });
  });

  it('wakes every replica when any one appends to the log', async () => {
    const [a, , c] = replicas as [PostgresStore, PostgresStore, PostgresStore];
    const o = order({ submission: 'ACCEPTED', status: 'PENDING' });
    await a.reserveOrder(o, []);
    const woken = new Promise<void>((resolve) => c.onAppend(resolve));
    await a.transaction('ingest', (tx) =>
      tx.appendEvents([{ tenant: 'acme', orderId: o.id, recipientId: null, from: 'PENDING', to: 'SENT', providerStatus: 'sent', occurredAt: now(), source: 'POLL' }]),
    );
    await woken;
  });

  /**
   * The seam a sequence leaves: transactions on three replicas append events and then commit after
   * random delays, so that (without the log's lock) a later position would often commit before an
   * earlier one. A reader tails the log by position the whole time, as every replica's outbox does.
   * It must read every event exactly once, in position order, and the positions must be the commit order.
   */
  it('is read in commit order: a reader tailing by position never skips or repeats an event', async () => {
    const orders = replicas.map(() => order({ submission: 'ACCEPTED', status: 'PENDING' }));
    for (const [i, o] of orders.entries()) await replicas[i]!.reserveOrder(o, []);
    const start = await replicas[0]!.lastEventSeq();
    const writers = Array.from({ length: 60 }, (_, i) => {
      const replica = replicas[i % 3]!;
      const o = orders[i % 3]!;
      return replica.transaction('ingest', async (tx) => {
        const [e] = await tx.appendEvents([
          { tenant: 'acme', orderId: o.id, recipientId: null, from: 'PENDING', to: 'PENDING', providerStatus: `step-${i}`, occurredAt: now(), source: 'POLL' },
        ]);
        // Hold the transaction open a little, a different while each: commits would cross.
        await new Promise((resolve) => setTimeout(resolve, Math.random() * 15));
        return e!.seq;
      });
    });
    const read: StatusEventRecord[] = [];
    let done = false;
    const reader = (async () => {
      let last = start;
      for (;;) {
        const finished = done;
        const page = await replicas[1]!.getEventsAfter({ afterSeq: last, limit: 500 });
        read.push(...page);
        if (page.length > 0) last = page.at(-1)!.seq;
        if (finished && page.length === 0) return;
      }
    })();
    await Promise.all(writers);
    done = true;
    await reader;
    const positions = read.map((e) => e.seq);
    expect(positions).toHaveLength(60);
    expect(new Set(positions).size).toBe(60);
    expect(positions).toEqual([...positions].sort((x, y) => x - y));
  });
});

const recipientOf = (o: OrderRecord) => ({
  id: `${o.id}-r0`,
  orderId: o.id,
  position: 0,
  email: 'ada@example.com',
  employeeNumber: null,
  firstName: null,
  lastName: null,
  company: null,
  department: null,
  amount: null,
  status: o.status,
  providerStatus: '',
  providerRef: null,
  gift: null,
  submission: null,
});
