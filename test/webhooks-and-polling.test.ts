import { createHmac } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../src/core/model.js';
import { decodeId } from '../src/core/global-id.js';
import type { WebhookSender } from '../src/sandboxes/kit/webhooks.js';
import { Poller, type PollerOptions } from '../src/status/poller.js';
import { CatalogDocument, OrderDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
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

/** Posts a delivery, then waits for the inbox to read the orders it named. */
async function post(h: Harness, provider: string, body: string, headers: Record<string, string>): Promise<Response> {
  const res = await fetch(`${h.url}/webhooks/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  await h.app.inbox.idle();
  return res;
}

/** An item of each webhook provider's catalog to send. */
async function catalogOf(h: Harness): Promise<Record<string, string>> {
  const first = async (provider: Provider, kind: string) =>
    (await h.gql(CatalogDocument, { provider, first: 50 })).data!.catalog.edges.find((e) => e.node.kind === kind)!.node.id;
  return { GIFTRONAUT: await first('GIFTRONAUT', 'CHOICE_CARD'), GOODY: await first('GOODY', 'PRODUCT'), ANDOPEN: await first('ANDOPEN', 'CAMPAIGN') };
}

/** Each order's and each recipient's events form one chain (each starts where the last ended), with no status twice. */
function expectOneChainEach(events: readonly Subscriber['events'][number][]): void {
  const chains = new Map<string, { from: string; to: string }[]>();
  for (const e of events) chains.set(e.recipient?.email ?? '*', [...(chains.get(e.recipient?.email ?? '*') ?? []), e]);
  for (const [who, chain] of chains) {
    for (let i = 1; i < chain.length; i++) expect(`${who}: ${chain[i]!.from}`).toBe(`${who}: ${chain[i - 1]!.to}`);
    expect(new Set(chain.map((e) => e.to)).size).toBe(chain.length);
  }
}

/** Where each of an order's chains ended: `*` for the order, the email for each recipient. */
const lastStatuses = (events: readonly Subscriber['events'][number][]): Record<string, string> =>
  Object.fromEntries(events.map((e) => [e.recipient?.email ?? '*', e.to]));

describe('webhooks', () => {
  let h: Harness;
  let catalog: Record<string, string>;
  const subscribers: Subscriber[] = [];
  beforeAll(async () => {
    h = await Harness.start({ webhooks: true });
    catalog = await catalogOf(h);
  });
  afterAll(async () => {
    await Promise.all(subscribers.map((s) => s.close()));
    await h.close();
  });

  const inputs: Record<'GIFTRONAUT' | 'GOODY' | 'ANDOPEN', (key: string, ids?: Record<string, string>) => SendGiftsInput> = {
    GIFTRONAUT: (key, ids = catalog) => ({ provider: 'GIFTRONAUT', idempotencyKey: key, senderName: 'Acme', amount: { amount: '20', currency: 'USD' }, recipients: [{ email: 'ada@example.com', firstName: 'Ada' }], giftronaut: { productId: ids.GIFTRONAUT! } }),
    GOODY: (key, ids = catalog) => ({ provider: 'GOODY', idempotencyKey: key, senderName: 'Acme', recipients: [{ email: 'ada@example.com', firstName: 'Ada' }], goody: { productId: ids.GOODY! } }),
    ANDOPEN: (key, ids = catalog) => ({ provider: 'ANDOPEN', idempotencyKey: key, recipients: [{ email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' }], andOpen: { campaignId: ids.ANDOPEN! } }),
  };
  const finals = { GIFTRONAUT: 'SENT', GOODY: 'DELIVERED', ANDOPEN: 'DELIVERED' };
  const sandbox = (provider: keyof typeof inputs, of = h): { webhooks: WebhookSender; http: { received: readonly unknown[] } } =>
    provider === 'GIFTRONAUT' ? of.giftronaut : provider === 'GOODY' ? of.goody : of.andOpen;

  const PROVIDERS = ['GIFTRONAUT', 'GOODY', 'ANDOPEN'] as const;
  const eventsOf = (s: Subscriber, orderId: string) => s.events.filter((e) => e.order.id === orderId);
  /** Moves the sandboxes on a step at a time, each step's webhooks delivered and published before the next. */
  const run = async (provider: keyof typeof inputs, steps: number) => {
    for (let step = 0; step < steps; step++) {
      h.advance(1);
      await sandbox(provider).webhooks.settle();
      await h.app.inbox.idle(); // the orders each delivery named, read
    }
    await h.app.tail.flush();
  };

  it.each(PROVIDERS)(
    '%s: every change reaches subscribers from its webhooks alone, in order, once; another tenant sees only its own',
    async (provider) => {
      const mine = await listen(h);
      const globex = await h.token({ tenant: 'globex' });
      const theirs = await listen(h, {}, globex);
      subscribers.push(mine, theirs);
      const id = (await h.gql(SendGiftsDocument, { input: inputs[provider](`hooked-${provider}`) })).data!.sendGifts.order.id;
      const theirId = (await h.gql(SendGiftsDocument, { input: inputs[provider](`hooked-${provider}`) }, globex)).data!.sendGifts.order.id;
      await run(provider, 6);
      await expect.poll(() => eventsOf(mine, id).filter((e) => !e.recipient).at(-1)?.to).toBe(finals[provider]);
      const events = eventsOf(mine, id);
      expectOneChainEach(events);
      expect(lastStatuses(events)).toEqual({ '*': finals[provider], 'ada@example.com': finals[provider] });
      // The send's own answer, then nothing but webhooks.
      expect(events.filter((e) => e.source !== 'WEBHOOK').map((e) => `${e.source}:${e.from}`)).toEqual(['MUTATION:UNCONFIRMED', 'MUTATION:UNCONFIRMED']);
      // The other tenant's order moved through the same webhooks: its subscriber saw that, and only that.
      await expect.poll(() => lastStatuses(eventsOf(theirs, theirId))['*']).toBe(finals[provider]);
      expect(theirs.events.every((e) => e.order.id === theirId)).toBe(true);
      expect(mine.events.some((e) => e.order.id === theirId)).toBe(false);
    },
  );

  it.each(PROVIDERS)('%s: a subscriber that reconnects with its last cursor gets exactly what it missed, then live ones', async (provider) => {
    const witness = await listen(h);
    const first = await listen(h);
    subscribers.push(witness, first);
    const id = (await h.gql(SendGiftsDocument, { input: inputs[provider](`resume-${provider}`) })).data!.sendGifts.order.id;
    await run(provider, 1);
    await expect.poll(() => eventsOf(first, id).length).toBeGreaterThan(1);
    const seen = [...first.events];
    await first.close();
    await run(provider, 2); // changes while nobody listens on this connection
    const resumed = await listen(h, { after: seen.at(-1)!.cursor });
    subscribers.push(resumed);
    await run(provider, 4); // and live ones after the replay
    await expect.poll(() => eventsOf(witness, id).filter((e) => !e.recipient).at(-1)?.to).toBe(finals[provider]);
    await expect.poll(() => [...seen, ...resumed.events].filter((e) => e.order.id === id).length).toBe(eventsOf(witness, id).length);
    const across = [...seen, ...resumed.events].filter((e) => e.order.id === id);
    expect(across.map((e) => e.cursor)).toEqual(eventsOf(witness, id).map((e) => e.cursor));
    expect(eventsOf(resumed, id).length).toBeGreaterThan(0);
  });

  it.each(PROVIDERS)('%s: a webhook delivered twice is answered as a duplicate and records nothing twice', async (provider) => {
    const id = (await h.gql(SendGiftsDocument, { input: inputs[provider](`twice-${provider}`) })).data!.sendGifts.order.id;
    await run(provider, 1);
    const history = async () => (await h.gql(OrderDocument, { id })).data!.order!.statusHistory;
    const before = await history();
    const delivered = sandbox(provider).webhooks.log.filter((d) => d.delivered).at(-1)!;
    const calls = sandbox(provider).http.received.length;
    const again = await post(h, provider.toLowerCase(), delivered.body, delivered.headers);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: 'duplicate' });
    expect(sandbox(provider).http.received.length).toBe(calls); // answered from the ledger, without asking the provider
    expect(await history()).toEqual(before);
  });

  it.each(PROVIDERS)('%s: polls racing a webhook yield one event per change', async (provider) => {
    const s = await listen(h);
    subscribers.push(s);
    const id = (await h.gql(SendGiftsDocument, { input: inputs[provider](`race-${provider}`) })).data!.sendGifts.order.id;
    for (let step = 0; step < 6; step++) {
      h.advance(1);
      await Promise.all([h.gql(OrderDocument, { id }), h.gql(OrderDocument, { id }), sandbox(provider).webhooks.settle()]);
    }
    await h.app.tail.flush();
    await expect.poll(() => lastStatuses(eventsOf(s, id))['*']).toBe(finals[provider]);
    expectOneChainEach(eventsOf(s, id));
  });

  describe('a forged or stale webhook about a real order', () => {
    // Sandboxes whose webhooks go to a sink, not to giftgraph: only what a test posts can make it look.
    let quiet: Harness;
    let sink: http.Server;
    let ids: Record<string, string>;
    beforeAll(async () => {
      sink = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
      await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
      const webhookUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;
      quiet = await Harness.start({ webhooks: true, giftronaut: { webhookUrl }, goody: { webhookUrl }, andOpen: { webhookUrl } });
      ids = await catalogOf(quiet);
    });
    afterAll(async () => {
      await quiet.close();
      await new Promise((r) => sink.close(r));
    });

    /** The same delivery, signed again with the right secret at a time long past (Giftronaut signs none). */
    const restamped = (provider: (typeof PROVIDERS)[number], body: string, headers: Record<string, string>, at: number): Record<string, string> | undefined => {
      if (provider === 'GOODY') {
        const key = Buffer.from(quiet.webhookSecrets.goody.slice('whsec_'.length), 'base64');
        const signature = createHmac('sha256', key).update(`${headers['svix-id']}.${at}.${body}`).digest('base64');
        return { ...headers, 'svix-timestamp': String(at), 'svix-signature': `v1,${signature}` };
      }
      if (provider === 'ANDOPEN') {
        const signature = createHmac('sha256', quiet.webhookSecrets.andOpen).update(`${at}.${body}`).digest('hex');
        return { ...headers, 'andopen-webhook-dispatch-timestamp': String(at), 'andopen-webhook-signature': signature };
      }
      return undefined;
    };

    it.each(PROVIDERS)('%s: is refused and changes nothing, where the same delivery as sent is taken', async (provider) => {
      await quiet.gql(SendGiftsDocument, { input: inputs[provider](`forged-${provider}`, ids) });
      quiet.advance(3); // the provider has moved on and said so; only a verified webhook may make us look
      await sandbox(provider, quiet).webhooks.settle();
      const { body, headers } = sandbox(provider, quiet).webhooks.log.at(-1)!;
      const events = quiet.store.counts().statusEvents;

      const forged = await post(quiet, provider.toLowerCase(), `${body} `, headers);
      expect(forged.status).toBe(401);
      expect(await forged.json()).toEqual({ error: 'bad signature' });
      const stale = restamped(provider, body, headers, Math.floor(Date.now() / 1000) - 600);
      if (stale) {
        const late = await post(quiet, provider.toLowerCase(), body, stale);
        expect(late.status).toBe(401);
        expect(await late.json()).toEqual({ error: 'stale timestamp' });
      }
      expect(quiet.store.counts().statusEvents).toBe(events);

      // The delivery as the provider signed it is taken: so the refusals above were the signatures'.
      const good = await post(quiet, provider.toLowerCase(), body, headers);
      expect(good.status).toBe(200);
      expect(quiet.store.counts().statusEvents).toBeGreaterThan(events);
    });
  });

  it('says Guusto sends none, and accepts but ignores an unknown event type', async () => {
    expect((await post(h, 'guusto', '{}', {})).status).toBe(404);
    expect((await post(h, 'acme', '{}', {})).status).toBe(404);
    const body = JSON.stringify({ eventId: 'evt-1', eventType: 'order.teleported', createdAt: new Date().toISOString(), data: {} });
    const signature = `sha256=${createHmac('sha256', h.webhookSecrets.giftronaut).update(body).digest('hex')}`;
    const unknown = await post(h, 'giftronaut', body, { 'x-giftronaut-signature': signature });
    expect(unknown.status).toBe(202);
    const huge = await post(h, 'giftronaut', 'x'.repeat(300 * 1024), { 'x-giftronaut-signature': signature });
    expect(huge.status).toBe(413);
  });
});

describe('polling', () => {
  /** A one-recipient Guusto send. */
  const guustoInput = (key: string, email = 'ada@example.com'): SendGiftsInput => ({
    provider: 'GUUSTO', idempotencyKey: key, message: 'Hi', amount: { amount: '10', currency: 'CAD' }, recipients: [{ email }],
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
      expect(s.events.every((e) => e.order.id === sent.data!.sendGifts.order.id)).toBe(true);
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
    const card = (await h.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 100 })).data!.catalog.edges.find(
      (e) => e.node.kind === 'CHOICE_CARD' && e.node.currency === 'USD',
    )!.node.id;
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
      ids.push((await h.gql(SendGiftsDocument, { input })).data!.sendGifts.order.id);
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
