import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { OrderRecord, RecipientRecord } from '../src/core/records.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { NewStatusEvent, Store } from '../src/store/store.js';
import { postgresReachable, type TestSchema, testSchema } from './support/postgres.js';

/**
 * The store contract, run against each engine: every test here passes on SQLite and on
 * PostgreSQL alike. (What only replicas sharing PostgreSQL can show is in postgres-replicas.test.ts.)
 */

let clock = Date.parse('2026-11-01T00:00:00.000Z');
const at = (offsetMs = 0) => new Date(clock + offsetMs).toISOString();
const tick = () => {
  clock += 1_000;
  return at();
};

let serial = 0;
const order = (over: Partial<OrderRecord> = {}): OrderRecord => {
  serial += 1;
  const time = tick();
  return {
    id: `o-${serial}`,
    tenant: 'acme',
    provider: 'GOODY',
    origin: 'GIFTGRAPH',
    idempotencyKey: `key-${serial}`,
    requestHash: 'h',
    submission: 'ACCEPTED',
    providerRef: `ref-${serial}`,
    status: 'PENDING',
    providerStatus: 'created',
    total: { minor: 2_500, currency: 'USD' },
    scheduledFor: null,
    details: { note: 'ü' },
    lastError: null,
    createdAt: time,
    updatedAt: time,
    ...over,
  };
};

const recipient = (orderId: string, position: number, over: Partial<RecipientRecord> = {}): RecipientRecord => ({
  id: `${orderId}-r${position}`,
  orderId,
  position,
  email: `person${position}@example.com`,
  employeeNumber: null,
  firstName: 'Ada',
  lastName: null,
  company: null,
  department: null,
  amount: { minor: 2_500, currency: 'USD' },
  status: 'PENDING',
  providerStatus: 'created',
  providerRef: null,
  gift: null,
  submission: null,
  ...over,
});

const event = (o: OrderRecord, to: OrderRecord['status'], from: OrderRecord['status'] | null = null): NewStatusEvent => ({
  tenant: o.tenant,
  orderId: o.id,
  recipientId: null,
  from,
  to,
  providerStatus: to.toLowerCase(),
  occurredAt: tick(),
  source: 'POLL',
});

interface Engine {
  name: string;
  open(): Promise<Store>;
}

const schemas: TestSchema[] = [];
const engines: Engine[] = [{ name: 'SQLite', open: async () => SqliteStore.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-store-')), 'ledger.db')) }];
if (await postgresReachable()) {
  engines.push({
    name: 'PostgreSQL',
    async open() {
      const schema = await testSchema();
      schemas.push(schema);
      return schema.open();
    },
  });
}

afterAll(async () => {
  for (const schema of schemas) await schema.drop();
});

describe.each(engines)('the store contract on $name', (engine) => {
  const withStore = async (run: (store: Store) => Promise<void>) => {
    const store = await engine.open();
    try {
      await run(store);
    } finally {
      await store.close();
    }
  };

  it('reserves an idempotency key once, with its recipients, and returns the holder after', () =>
    withStore(async (store) => {
      const first = order({ submission: 'SENDING', providerRef: null, status: 'UNCONFIRMED' });
      expect(await store.reserveOrder(first, [recipient(first.id, 0), recipient(first.id, 1)])).toEqual({ created: true, order: first });
      const again = await store.reserveOrder({ ...order(), idempotencyKey: first.idempotencyKey }, []);
      expect(again.created).toBe(false);
      expect(again.order).toMatchObject({ id: first.id, submission: 'SENDING', total: { minor: 2_500, currency: 'USD' }, details: { note: 'ü' } });
      expect((await store.findOrderByKey('acme', first.idempotencyKey))?.id).toBe(first.id);
      expect(await store.findOrderByKey('globex', first.idempotencyKey)).toBeUndefined();
      expect((await store.getRecipients([first.id])).map((r) => r.position)).toEqual([0, 1]);
      expect(await store.getOrders('globex', [first.id])).toEqual([]);
    }));

  it('applies a transaction whole or not at all, and tells the log listeners only after a commit', () =>
    withStore(async (store) => {
      const o = order();
      await store.reserveOrder(o, [recipient(o.id, 0)]);
      let heard = 0;
      store.onAppend(() => {
        heard += 1;
      });
      await expect(
        store.transaction('failing', async (tx) => {
          await tx.updateOrder(o.id, { status: 'SENT' }, tick());
          await tx.appendEvents([event(o, 'SENT', 'PENDING')]);
          throw new Error('no');
        }),
      ).rejects.toThrow('no');
      expect((await store.getOrders('acme', [o.id]))[0]?.status).toBe('PENDING');
      expect(await store.getStatusEvents([o.id])).toEqual([]);
      expect(heard).toBe(0);

      const appended = await store.transaction('ingest', async (tx) => {
        expect((await tx.order(o.id))?.status).toBe('PENDING');
        await tx.updateOrder(o.id, { status: 'SENT', providerStatus: 'sent', lastError: null, details: { step: 2 } }, tick());
        await tx.updateRecipient(`${o.id}-r0`, { status: 'SENT', gift: { kind: 'link', url: 'https://gift.example/1' } });
        expect(await tx.hasEvents(o.id)).toBe(false);
        return tx.appendEvents([event(o, 'PENDING'), event(o, 'SENT', 'PENDING')]);
      });
      expect(heard).toBeGreaterThanOrEqual(1);
      expect(appended[1]!.seq).toBeGreaterThan(appended[0]!.seq);
      expect(await store.getStatusEvents([o.id])).toEqual(appended.map((e) => ({ ...e, actor: null, traceParent: null })));
      expect((await store.getOrders('acme', [o.id]))[0]).toMatchObject({ status: 'SENT', details: { step: 2 } });
      expect((await store.getRecipients([o.id]))[0]?.gift).toEqual({ kind: 'link', url: 'https://gift.example/1' });
      expect(await store.lastEventSeq()).toBe(appended[1]!.seq);
    }));

  it('reads the log after a position, for all, one tenant or one order', () =>
    withStore(async (store) => {
      const a = order();
      const b = order({ tenant: 'globex' });
      await store.reserveOrder(a, []);
      await store.reserveOrder(b, []);
      const [e1, e2, e3] = await store.transaction('ingest', (tx) => tx.appendEvents([event(a, 'PENDING'), event(b, 'PENDING'), event(a, 'SENT', 'PENDING')]));
      expect((await store.getEventsAfter({ afterSeq: 0, limit: 10 })).map((e) => e.seq)).toEqual([e1!.seq, e2!.seq, e3!.seq]);
      expect((await store.getEventsAfter({ afterSeq: e1!.seq, tenant: 'acme', limit: 10 })).map((e) => e.seq)).toEqual([e3!.seq]);
      expect((await store.getEventsAfter({ afterSeq: 0, orderId: b.id, limit: 10 })).map((e) => e.tenant)).toEqual(['globex']);
      expect(await store.getEventsAfter({ afterSeq: 0, limit: 1 })).toHaveLength(1);
    }));

  it('lists a tenant newest first by keyset, with every filter, and finds recipients by email in any case', () =>
    withStore(async (store) => {
      const orders = [order(), order({ provider: 'GUUSTO', status: 'SENT' }), order(), order({ tenant: 'globex' })];
      for (const o of orders) await store.reserveOrder(o, [recipient(o.id, 0, { email: o === orders[1] ? 'Ada@Example.com' : 'bob@example.com' })]);
      const acme = orders.slice(0, 3).reverse();
      const page1 = await store.listOrders({ tenant: 'acme', limit: 2 });
      expect(page1.map((o) => o.id)).toEqual(acme.slice(0, 2).map((o) => o.id));
      const page2 = await store.listOrders({ tenant: 'acme', limit: 2, after: { createdAt: page1[1]!.createdAt, id: page1[1]!.id } });
      expect(page2.map((o) => o.id)).toEqual([acme[2]!.id]);
      expect((await store.listOrders({ tenant: 'acme', limit: 10, providers: ['GUUSTO'] })).map((o) => o.id)).toEqual([orders[1]!.id]);
      expect((await store.listOrders({ tenant: 'acme', limit: 10, statuses: ['PENDING'] })).map((o) => o.id)).toEqual([orders[2]!.id, orders[0]!.id]);
      expect((await store.listOrders({ tenant: 'acme', limit: 10, createdAfter: orders[0]!.createdAt, createdBefore: orders[2]!.createdAt })).map((o) => o.id)).toEqual([
        orders[1]!.id,
      ]);
      expect((await store.listOrders({ tenant: 'acme', limit: 10, recipientEmail: 'ADA@example.COM' })).map((o) => o.id)).toEqual([orders[1]!.id]);
      const found = await store.getRecipientsByEmail('acme', ['ada@EXAMPLE.com']);
      expect(found.map((r) => [r.orderId, r.provider, r.email])).toEqual([[orders[1]!.id, 'GUUSTO', 'Ada@Example.com']]);
    }));

  it('records orders seen in a provider list once, never over an order giftgraph sent, and moves them to a new owner', () =>
    withStore(async (store) => {
      const sent = order({ providerRef: 'listed-1' });
      await store.reserveOrder(sent, []);
      const listed = (ref: string) => {
        const o = order({ origin: 'PROVIDER', providerRef: ref, idempotencyKey: `provider:${ref}` });
        return { order: o, recipients: [recipient(o.id, 0)] };
      };
      const twin = listed('listed-1');
      const fresh = listed('listed-2');
      const recorded = await store.adoptOrders('GOODY', [twin, fresh], ['listed-1', 'listed-2']);
      expect([...recorded.keys()]).toEqual(['listed-2']);
      // Seen again (by this replica or another): nothing new, same record.
      const again = await store.adoptOrders('GOODY', [listed('listed-2')], ['listed-2']);
      expect(again.get('listed-2')?.id).toBe(fresh.order.id);
      expect(await store.getRecipients([fresh.order.id])).toHaveLength(1);
      expect(await store.reassignAdopted('GOODY', 'globex')).toBe(1);
      expect((await store.listOrders({ tenant: 'globex', limit: 10 })).map((o) => o.id)).toEqual([fresh.order.id]);
      const placed = await store.findPlaced('GOODY', [{ ref: 'listed-1' }, { ref: 'listed-2' }, { ref: 'x', reference: sent.id }]);
      expect([...placed.placed].sort()).toEqual(['listed-1', 'x']);
    }));

  it("finds a webhook's order by its own reference or a recipient's, preferring the one giftgraph sent", () =>
    withStore(async (store) => {
      const o = order({ providerRef: 'batch-1' });
      await store.reserveOrder(o, [recipient(o.id, 0, { providerRef: 'gift-1' })]);
      expect((await store.findOrderByProviderRef('GOODY', 'batch-1'))?.id).toBe(o.id);
      expect((await store.findOrderByProviderRef('GOODY', 'gift-1'))?.id).toBe(o.id);
      expect(await store.findOrderByProviderRef('GUUSTO', 'batch-1')).toBeUndefined();
      const held = await store.transaction('check', async (tx) => [await tx.isReferenceHeld('GOODY', 'gift-1', 'other'), await tx.isReferenceHeld('GOODY', 'batch-1', o.id)]);
      expect(held).toEqual([true, false]);
    }));

  it('records a webhook delivery once, with the orders it names until they are read', () =>
    withStore(async (store) => {
      const a = order();
      const b = order();
      await store.reserveOrder(a, []);
      await store.reserveOrder(b, []);
      const first = at(1);
      expect(await store.recordWebhookDelivery('GOODY', 'd-1', first, [a.id, b.id], '00-trace')).toBe(true);
      expect(await store.recordWebhookDelivery('GOODY', 'd-1', at(2), [a.id])).toBe(false);
      expect(await store.hasWebhookDelivery('GOODY', 'd-1')).toBe(true);
      expect(await store.hasWebhookDelivery('GUUSTO', 'd-1')).toBe(false);
      await store.recordWebhookDelivery('GOODY', 'd-2', at(3), [a.id]);
      expect(await store.pendingNudges(10)).toEqual([
        { orderId: a.id, tenant: 'acme', provider: 'GOODY', receivedAt: first, traceParent: '00-trace' },
        { orderId: b.id, tenant: 'acme', provider: 'GOODY', receivedAt: first, traceParent: '00-trace' },
      ]);
      await store.clearNudges(a.id, first);
      expect((await store.pendingNudges(10)).map((n) => [n.orderId, n.receivedAt])).toEqual([
        [b.id, first],
        [a.id, at(3)],
      ]);
    }));

  it('keeps sync states, read marks and status counts', () =>
    withStore(async (store) => {
      await store.recordSync({ provider: 'GOODY', syncedAt: at(), failedAt: null, lastError: null });
      await store.recordSync({ provider: 'GOODY', syncedAt: at(), failedAt: at(5), lastError: 'down' });
      expect(await store.syncStates()).toEqual([{ provider: 'GOODY', syncedAt: at(), failedAt: at(5), lastError: 'down' }]);
      const o = order();
      await store.reserveOrder(o, []);
      await store.markChecked([o.id], at(10));
      await store.markChecked([o.id], at(5));
      expect((await store.getOrders('acme', [o.id]))[0]?.checkedAt).toBe(at(10));
      const counts = await store.countOrdersByStatus();
      expect(counts.find((c) => c.provider === 'GOODY' && c.status === 'PENDING')).toEqual({ provider: 'GOODY', status: 'PENDING', orders: 1, oldestCreatedAt: o.createdAt });
      expect(await store.ping()).toBe(true);
    }));

  it('lists open and unconfirmed orders oldest first, page by page', () =>
    withStore(async (store) => {
      const open = [order(), order(), order({ status: 'DELIVERED' }), order({ submission: 'UNCONFIRMED', status: 'UNCONFIRMED', providerRef: null })];
      for (const o of open) await store.reserveOrder(o, []);
      const first = await store.listOpenOrders(1);
      expect(first.map((o) => o.id)).toEqual([open[0]!.id]);
      expect((await store.listOpenOrders(10, { createdAt: first[0]!.createdAt, id: first[0]!.id })).map((o) => o.id)).toEqual([open[1]!.id]);
      expect((await store.listUnconfirmedOrders(['GOODY'], at(1), 10)).map((o) => o.id)).toEqual([open[3]!.id]);
      expect(await store.listUnconfirmedOrders(['GUUSTO'], at(1), 10)).toEqual([]);
    }));

  it('hands back sends left in flight only by a replica that is gone', () =>
    withStore(async (store) => {
      const mine = order({ submission: 'SENDING', status: 'UNCONFIRMED', providerRef: null });
      await store.reserveOrder(mine, [recipient(mine.id, 0, { submission: 'SENDING', status: 'UNCONFIRMED' })]);
      await store.heartbeat(at());
      const interrupted = (staleBefore: string) => store.transaction('recover', (tx) => tx.interruptedSends(staleBefore));
      expect(await interrupted(at(-5_000))).toEqual({ orders: [], recipients: [] });
      // Silent since before the window: gone.
      const found = await interrupted(at(1));
      expect(found.orders.map((o) => o.id)).toEqual([mine.id]);
      expect(found.recipients).toEqual([{ id: `${mine.id}-r0`, orderId: mine.id, tenant: 'acme', status: 'UNCONFIRMED' }]);
      // Left: gone at once.
      await store.leave();
      expect((await interrupted(at(-5_000))).orders.map((o) => o.id)).toEqual([mine.id]);
    }));

  it("keeps each provider's poll budget: concurrency, then rate per second", () =>
    withStore(async (store) => {
      const budget = { concurrency: 2, perSecond: 3, leaseMs: 30_000 };
      const now = at();
      const a = await store.takePollSlot('GOODY', now, budget);
      const b = await store.takePollSlot('GOODY', now, budget);
      expect(a && b).toBeTruthy();
      expect(await store.takePollSlot('GOODY', now, budget)).toBeNull();
      expect(await store.takePollSlot('GUUSTO', now, budget)).not.toBeNull();
      await store.releasePollSlot(a!, now);
      expect(await store.takePollSlot('GOODY', now, budget)).not.toBeNull();
      await store.releasePollSlot(b!, now);
      // Three started within this second: the rate is spent until it passes.
      expect(await store.takePollSlot('GOODY', now, budget)).toBeNull();
      expect(await store.takePollSlot('GOODY', at(1_001), budget)).not.toBeNull();
    }));

  it('reserves within spending limits, counts what may have been spent, and gives back what certainly was not', () =>
    withStore(async (store) => {
      await store.setSpendingLimit({ tenant: 'acme', currency: 'USD', perDayMinor: 10_000, per30DaysMinor: 12_000 }, at(), 'operator');
      const send = (minor: number, over: Partial<OrderRecord> = {}) => {
        const o = order({ createdAt: at(), ...over });
        return store.reserveOrder(o, [recipient(o.id, 0, { amount: { minor, currency: 'USD' } })]);
      };
      expect((await send(6_000)).created).toBe(true);
      expect(await store.checkSpending('acme', [{ minor: 4_000, currency: 'USD' }], at())).toBeUndefined();
      const refused = await send(4_001);
      expect(refused).toEqual({ created: false, refused: { currency: 'USD', window: 'DAY', limitMinor: 10_000, spentMinor: 6_000, askedMinor: 4_001 } });
      expect(await store.checkSpending('acme', [{ minor: 4_001, currency: 'USD' }], at())).toEqual(refused.refused);
      // Not sent, failed or canceled: given back. Another currency, another tenant: not counted.
      await send(5_000, { submission: 'NOT_SENT', status: 'FAILED' });
      await send(5_000, { status: 'CANCELED' });
      await send(5_000, { tenant: 'globex' });
      expect(await store.spending('acme', at())).toEqual([{ currency: 'USD', perDayMinor: 10_000, per30DaysMinor: 12_000, perDaySpentMinor: 6_000, per30DaysSpentMinor: 6_000 }]);
      // Two days later the day is free again, the 30 days are not.
      clock += 2 * 24 * 3_600_000;
      const later = await send(6_001);
      expect(later.refused).toEqual({ currency: 'USD', window: 'THIRTY_DAYS', limitMinor: 12_000, spentMinor: 6_000, askedMinor: 6_001 });
      expect((await send(6_000)).created).toBe(true);
      expect(await store.spending('acme', at())).toEqual([{ currency: 'USD', perDayMinor: 10_000, per30DaysMinor: 12_000, perDaySpentMinor: 6_000, per30DaysSpentMinor: 12_000 }]);
      await store.setSpendingLimit({ tenant: 'acme', currency: 'USD', perDayMinor: null, per30DaysMinor: null }, at(), 'operator');
      expect((await store.spending('acme', at()))[0]).toMatchObject({ perDayMinor: null, per30DaysMinor: null });
    }));

  it('counts an order that spends again (a retry of a send not sent) from then, not from its creation', () =>
    withStore(async (store) => {
      await store.setSpendingLimit({ tenant: 'acme', currency: 'EUR', perDayMinor: 10_000, per30DaysMinor: null }, at(), 'operator');
      const o = order({ createdAt: at(), submission: 'NOT_SENT', status: 'FAILED' });
      await store.reserveOrder(o, [recipient(o.id, 0, { amount: { minor: 6_000, currency: 'EUR' } })]);
      clock += 2 * 24 * 3_600_000;
      await store.transaction('retry', (tx) => tx.updateOrder(o.id, { submission: 'SENDING', status: 'UNCONFIRMED', spentAt: at() }, at()));
      expect(await store.spending('acme', at())).toEqual([{ currency: 'EUR', perDayMinor: 10_000, per30DaysMinor: null, perDaySpentMinor: 6_000, per30DaysSpentMinor: 6_000 }]);
      expect((await store.checkSpending('acme', [{ minor: 4_001, currency: 'EUR' }], at()))?.window).toBe('DAY');
    }));

  it('leases the polling of an order to this replica', () =>
    withStore(async (store) => {
      const o = order();
      await store.reserveOrder(o, []);
      await store.heartbeat(at());
      expect(await store.leasePolls([o.id, 'missing'], at(-5_000))).toEqual([o.id]);
      expect(await store.leasePolls([o.id], at(-5_000))).toEqual([o.id]);
    }));
});
