import pino from 'pino';
import { describe, expect, it } from 'vitest';
import { decodeId } from '../src/core/global-id.js';
import { Poller, type PollerOptions } from '../src/status/poller.js';
import { CatalogDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness } from './support/harness.js';
import { Subscriber } from './support/subscriber.js';

const FAST_POLLING: PollerOptions = { tickMs: 20, firstDelayMs: 50, maxDelayMs: 200, webhookDelayMs: 60_000, concurrency: 4, perSecond: 100, syncMs: 60_000 };

/**
 * A poller's options when a test ticks it by hand (`pollDue`) on the harness's clock: no tick comes
 * by itself, and an order polled once is not due again for many seconds of that clock.
 */
const BY_HAND: PollerOptions = { ...FAST_POLLING, tickMs: 24 * 3_600_000, firstDelayMs: 10_000, maxDelayMs: 60_000 };

/** A poller of giftgraph's own orders (its services, ledger and providers), scheduling by the harness's clock. */
const pollerOf = (h: Harness, options: Partial<PollerOptions> = {}): Poller =>
  new Poller({ orders: h.app.orders, store: h.store, providers: h.providers, log: pino({ level: 'silent' }), now: () => h.clock.now() }, { ...BY_HAND, ...options });

/** A subscriber the server runs already: every event committed from now on reaches it. */
async function listen(h: Harness, variables = {}, token?: string): Promise<Subscriber> {
  const s = new Subscriber(h.url, token ?? (await h.token()), variables);
  await s.started(h.app.server);
  return s;
}

describe('polling', () => {
  /** A one-recipient Guusto send. */
  const guustoInput = (key: string, email = 'ada@example.com'): SendGiftsInput => ({
    provider: 'GUUSTO',
    idempotencyKey: key,
    message: 'Hi',
    amount: { amount: '10', currency: 'CAD' },
    recipients: [{ email }],
  });

  it('follows an order of a provider without webhooks, with no one reading it', async () => {
    const h = await Harness.start({ polling: FAST_POLLING, only: ['GUUSTO'] });
    try {
      const s = await listen(h);
      const sent = await h.gql(SendGiftsDocument, { input: guustoInput('polled') });
      h.advance(2);
      await expect.poll(() => s.events.filter((e) => !e.recipient).at(-1)?.to, { timeout: 5_000 }).toBe('SENT');
      expect(s.events.filter((e) => !e.recipient).map((e) => [e.to, e.source])).toEqual([
        ['PENDING', 'MUTATION'],
        ['SENT', 'POLL'],
      ]);
      expect(s.events.every((e) => e.order.id === sent.data!.sendGifts.order!.id)).toBe(true);
      // Each event is answered with the ledger as it is then, not as the subscription first saw it.
      const last = s.events.filter((e) => !e.recipient).at(-1)!;
      expect(last.order.statusHistory.at(-1)?.to).toBe('SENT');
      await s.close();
    } finally {
      await h.close();
    }
  });

  /** Sends `count` one-recipient Giftronaut orders through giftgraph; their global ids. */
  async function sendGiftronautOrders(h: Harness, key: string, count: number): Promise<string[]> {
    const card = (await h.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 100 })).data!.catalog.edges.find((e) => e.node.kind === 'CHOICE_CARD' && e.node.currency === 'USD')!
      .node.id;
    const ids: string[] = [];
    for (let i = 0; i < count; i++) {
      const input = {
        provider: 'GIFTRONAUT' as const,
        idempotencyKey: `${key}-${i}`,
        senderName: 'Acme',
        amount: { amount: '20', currency: 'USD' },
        recipients: [{ email: `${key}${i}@example.com` }],
        giftronaut: { productId: card },
      };
      ids.push((await h.gql(SendGiftsDocument, { input })).data!.sendGifts.order!.id);
    }
    return ids;
  }

  /** Each order's status in the ledger, as polls (and no one reading them) left it. */
  const ledgerStatuses = (h: Harness, ids: string[]) => Promise.all(ids.map(async (id) => (await h.store.getOrders('acme', [decodeId(id, 'Order')!.local]))[0]!.status));

  it("reads a listing provider's due orders from one page of its list, not one request each", async () => {
    const h = await Harness.start({ only: ['GIFTRONAUT'] });
    const poller = pollerOf(h);
    try {
      const ids = await sendGiftronautOrders(h, 'batch-poll', 6);
      await poller.start(); // every send made before the first poll
      const gets = () => h.giftronaut.http.received.filter((r) => r.method === 'GET');
      const before = gets().length;
      h.advance(3); // Giftronaut has sent them, and they are due
      await poller.pollDue();
      expect(await ledgerStatuses(h, ids)).toEqual(ids.map(() => 'SENT'));
      const polled = gets().slice(before);
      expect(polled.filter((r) => r.path === '/api/v1/orders').length).toBeGreaterThan(0);
      expect(polled.filter((r) => /^\/api\/v1\/orders\/[^/]+$/.test(r.path))).toEqual([]);
    } finally {
      await poller.stop();
      await h.close();
    }
  });

  it("polls a listing provider's orders one by one when its list cannot be read", async () => {
    const h = await Harness.start({ only: ['GIFTRONAUT'] });
    const poller = pollerOf(h);
    try {
      h.giftronaut.http.faults.add({ method: 'GET', path: '/api/v1/orders', times: Infinity, fault: { kind: 'status', status: 403, body: { error: 'INSUFFICIENT_SCOPE' } } });
      const ids = await sendGiftronautOrders(h, 'no-list', 3);
      await poller.start();
      h.advance(3);
      await poller.pollDue(); // the list cannot be read...
      expect(h.giftronaut.http.received.some((r) => r.method === 'GET' && r.path === '/api/v1/orders')).toBe(true);
      expect(await ledgerStatuses(h, ids)).toEqual(ids.map(() => 'PENDING'));
      await poller.pollDue(); // ...so each of its orders is polled on its own, at once
      expect(await ledgerStatuses(h, ids)).toEqual(ids.map(() => 'SENT'));
    } finally {
      await poller.stop();
      await h.close();
    }
  });

  /** Sends `count` one-recipient Guusto orders through giftgraph. */
  async function sendGuustoOrders(h: Harness, key: string, count: number): Promise<void> {
    for (let i = 0; i < count; i++) await h.gql(SendGiftsDocument, { input: guustoInput(`${key}-${i}`, `${key}${i}@example.com`) });
  }

  it('polls no more orders of a provider at once than its concurrency allows', async () => {
    const h = await Harness.start({ only: ['GUUSTO'] });
    const poller = pollerOf(h, { concurrency: 2 });
    try {
      await sendGuustoOrders(h, 'capped', 6);
      await poller.start();
      h.clock.advance(BY_HAND.firstDelayMs); // all six are due
      const polls = () => h.guusto.http.count('GET', '/api/v1/orders/status/:id');
      const start = polls();
      // Two start; a tick while they are in flight starts none: a third waits for one of them to end.
      const ticks = [poller.pollDue(), poller.pollDue()];
      await Promise.all(ticks);
      expect(polls() - start).toBe(2);
      // And still every order is polled, two at a time.
      await poller.pollDue();
      expect(polls() - start).toBe(4);
      await poller.pollDue();
      expect(polls() - start).toBe(6);
    } finally {
      await poller.stop();
      await h.close();
    }
  });

  it('starts no more polls of a provider a second than its rate allows', async () => {
    const h = await Harness.start({ only: ['GUUSTO'] });
    const poller = pollerOf(h, { perSecond: 3, concurrency: 10 });
    try {
      const polls = () => h.guusto.http.count('GET', '/api/v1/orders/status/:id');
      await sendGuustoOrders(h, 'rated', 8);
      // Started as after a restart: all eight are picked up from the ledger at once, and all are due together.
      await poller.start();
      h.clock.advance(BY_HAND.firstDelayMs);
      const start = polls();
      await poller.pollDue();
      expect(polls() - start).toBe(3);
      await poller.pollDue(); // within the same second: none more
      expect(polls() - start).toBe(3);
      // And still every one of them is polled, three a second.
      h.clock.advance(1_000);
      await poller.pollDue();
      expect(polls() - start).toBe(6);
      h.clock.advance(1_000);
      await poller.pollDue();
      expect(polls() - start).toBe(8);
    } finally {
      await poller.stop();
      await h.close();
    }
  });

  it('resumes after a restart and delivers the later changes of orders left open', async () => {
    const h = await Harness.start({ polling: FAST_POLLING, only: ['GUUSTO'] });
    try {
      const before = await listen(h);
      await h.gql(SendGiftsDocument, { input: guustoInput('across-restart') });
      await expect.poll(() => before.events.length).toBe(2);
      const cursor = before.events.at(-1)!.cursor;
      await before.close();

      await h.restart();
      const after = await listen(h, { after: cursor });
      h.advance(2);
      await expect.poll(() => after.events.filter((e) => !e.recipient).at(-1)?.to, { timeout: 5_000 }).toBe('SENT');
      expect(after.events.map((e) => `${e.recipient ? 'r' : 'o'}:${e.to}`)).toEqual(['o:SENT', 'r:SENT']);
      await after.close();
    } finally {
      await h.close();
    }
  });
});
