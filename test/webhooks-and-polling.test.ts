import { createHmac } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../src/core/model.js';
import { decodeId } from '../src/core/global-id.js';
import type { WebhookSender } from '../src/sandboxes/kit/webhooks.js';
import { CatalogDocument, OrderDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness } from './support/harness.js';
import { Subscriber } from './support/subscriber.js';

const FAST_POLLING = { tickMs: 20, firstDelayMs: 50, maxDelayMs: 200, webhookDelayMs: 60_000, concurrency: 4, perSecond: 100 };

async function listen(h: Harness, variables = {}, token?: string): Promise<Subscriber> {
  const s = new Subscriber(h.url, token ?? (await h.token()), variables);
  await new Promise((r) => setTimeout(r, 100));
  return s;
}

const post = (h: Harness, provider: string, body: string, headers: Record<string, string>) =>
  fetch(`${h.url}/webhooks/${provider}`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

describe('webhooks', () => {
  let h: Harness;
  let catalog: Record<string, string>;
  const subscribers: Subscriber[] = [];
  beforeAll(async () => {
    h = await Harness.start({ webhooks: true });
    const first = async (provider: Provider, kind: string) =>
      (await h.gql(CatalogDocument, { provider, first: 50 })).data!.catalog.edges.find((e) => e.node.kind === kind)!.node.id;
    catalog = { GIFTRONAUT: await first('GIFTRONAUT', 'CHOICE_CARD'), GOODY: await first('GOODY', 'PRODUCT'), ANDOPEN: await first('ANDOPEN', 'CAMPAIGN') };
  });
  afterAll(async () => {
    await Promise.all(subscribers.map((s) => s.close()));
    await h.close();
  });

  const inputs: Record<'GIFTRONAUT' | 'GOODY' | 'ANDOPEN', (key: string) => SendGiftsInput> = {
    GIFTRONAUT: (key) => ({ provider: 'GIFTRONAUT', idempotencyKey: key, senderName: 'Acme', amount: { amount: '20', currency: 'USD' }, recipients: [{ email: 'ada@example.com', firstName: 'Ada' }], giftronaut: { productId: catalog.GIFTRONAUT! } }),
    GOODY: (key) => ({ provider: 'GOODY', idempotencyKey: key, senderName: 'Acme', recipients: [{ email: 'ada@example.com', firstName: 'Ada' }], goody: { productId: catalog.GOODY! } }),
    ANDOPEN: (key) => ({ provider: 'ANDOPEN', idempotencyKey: key, recipients: [{ email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' }], andOpen: { campaignId: catalog.ANDOPEN! } }),
  };
  const finals = { GIFTRONAUT: 'SENT', GOODY: 'DELIVERED', ANDOPEN: 'DELIVERED' };
  const sandbox = (provider: keyof typeof inputs): { webhooks: WebhookSender } =>
    provider === 'GIFTRONAUT' ? h.giftronaut : provider === 'GOODY' ? h.goody : h.andOpen;

  it.each(['GIFTRONAUT', 'GOODY', 'ANDOPEN'] as const)(
    '%s: every change reaches subscribers from its webhooks alone, in order, once; another tenant sees nothing',
    async (provider) => {
      const mine = await listen(h);
      const theirs = await listen(h, {}, await h.token({ tenant: 'globex' }));
      subscribers.push(mine, theirs);
      const sent = await h.gql(SendGiftsDocument, { input: inputs[provider](`hooked-${provider}`) });
      const id = sent.data!.sendGifts.order.id;
      for (let step = 0; step < 6; step++) {
        h.advance(1);
        await sandbox(provider).webhooks.settle();
      }
      await h.app.tail.flush();
      const orderEvents = () => mine.events.filter((e) => e.order.id === id && !e.recipient);
      await expect.poll(() => orderEvents().at(-1)?.to).toBe(finals[provider]);
      const statuses = orderEvents().map((e) => e.to);
      expect(new Set(statuses).size).toBe(statuses.length);
      expect(orderEvents().slice(1).every((e) => e.source === 'WEBHOOK')).toBe(true);
      expect(theirs.events).toEqual([]);
    },
  );

  it('answers a webhook delivered twice as a duplicate, and records nothing twice', async () => {
    const s = await listen(h);
    subscribers.push(s);
    await h.gql(SendGiftsDocument, { input: inputs.GOODY('twice') });
    h.advance(1);
    await h.goody.webhooks.settle();
    await h.app.tail.flush();
    const before = s.events.length;
    const delivered = h.goody.webhooks.log.filter((d) => d.delivered).at(-1)!;
    const again = await post(h, 'goody', delivered.body, delivered.headers);
    expect(again.status).toBe(200);
    expect(await again.json()).toMatchObject({ status: 'duplicate' });
    await h.app.tail.flush();
    expect(s.events.length).toBe(before);
  });

  it('yields one event when a poll races a webhook', async () => {
    const s = await listen(h);
    subscribers.push(s);
    const sent = await h.gql(SendGiftsDocument, { input: inputs.ANDOPEN('race') });
    const id = sent.data!.sendGifts.order.id;
    h.advance(1);
    await Promise.all([h.gql(OrderDocument, { id }), h.gql(OrderDocument, { id }), h.andOpen.webhooks.settle()]);
    await h.app.tail.flush();
    await new Promise((r) => setTimeout(r, 50));
    const redeemed = s.events.filter((e) => e.order.id === id && e.to === 'REDEEMED');
    expect(redeemed.map((e) => (e.recipient ? 'recipient' : 'order'))).toEqual(['order', 'recipient']);
  });

  it('refuses a forged or stale webhook about a real order, changing nothing', async () => {
    // A Goody that sends no webhooks of its own: only the ones this test posts can make us look.
    const quiet = await Harness.start({ webhooks: true, goody: { webhookUrl: undefined } });
    const h = quiet;
    try {
      const product = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.find((e) => e.node.kind === 'PRODUCT')!.node.id;
      const sent = await h.gql(SendGiftsDocument, { input: { ...inputs.GOODY('forged-target'), goody: { productId: product } } });
      const [order] = await h.store.getOrders('acme', [Buffer.from(sent.data!.sendGifts.order.id, 'base64url').toString().split(':')[2]!]);
      h.advance(3); // Goody has moved on; only a verified webhook may make us look
      const events = h.store.counts().statusEvents;
      const body = JSON.stringify({ event_type: 'order_batch.completed', id: 'msg_forged', data: { id: order!.providerRef } });
      const now = Math.floor(Date.now() / 1000);
      const sign = (secret: string, id: string, ts: number) =>
        `v1,${createHmac('sha256', Buffer.from(secret.slice(6), 'base64')).update(`${id}.${ts}.${body}`).digest('base64')}`;
      const forged = await post(h, 'goody', body, { 'svix-id': 'msg_forged', 'svix-timestamp': String(now), 'svix-signature': sign(`whsec_${Buffer.from('wrong').toString('base64')}`, 'msg_forged', now) });
      expect(forged.status).toBe(401);
      const stale = await post(h, 'goody', body, { 'svix-id': 'msg_stale', 'svix-timestamp': String(now - 600), 'svix-signature': sign(h.webhookSecrets.goody, 'msg_stale', now - 600) });
      expect(stale.status).toBe(401);
      expect(await stale.json()).toEqual({ error: 'stale timestamp' });
      const unsigned = await post(h, 'andopen', body, {});
      expect(unsigned.status).toBe(401);
      expect(h.store.counts().statusEvents).toBe(events);
      // The same body, signed right, does make us look: so the refusals above were the signatures'.
      const good = await post(h, 'goody', body, { 'svix-id': 'msg_good', 'svix-timestamp': String(now), 'svix-signature': sign(h.webhookSecrets.goody, 'msg_good', now) });
      expect(good.status).toBe(200);
      expect(h.store.counts().statusEvents).toBeGreaterThan(events);
    } finally {
      await quiet.close();
    }
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
  it('follows an order of a provider without webhooks, with no one reading it', async () => {
    const h = await Harness.start({ polling: FAST_POLLING, only: ['GUUSTO'] });
    try {
      const s = await listen(h);
      const sent = await h.gql(SendGiftsDocument, {
        input: { provider: 'GUUSTO', idempotencyKey: 'polled', message: 'Hi', amount: { amount: '10', currency: 'CAD' }, recipients: [{ email: 'ada@example.com' }] },
      });
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

  /** Waits until the ledger holds every one of these orders as SENT, with no one reading them. */
  async function untilSent(h: Harness, ids: string[]): Promise<void> {
    const statuses = async () => Promise.all(ids.map(async (id) => (await h.store.getOrders('acme', [decodeId(id, 'Order')!.local]))[0]!.status));
    await expect.poll(statuses, { timeout: 5_000 }).toEqual(ids.map(() => 'SENT'));
  }

  it("reads a listing provider's due orders from one page of its list, not one request each", async () => {
    // A first delay long enough for every send to be made before the first poll.
    const h = await Harness.start({ polling: { ...FAST_POLLING, firstDelayMs: 500 }, only: ['GIFTRONAUT'] });
    try {
      const ids = await sendGiftronautOrders(h, 'batch-poll', 6);
      const gets = () => h.giftronaut.http.received.filter((r) => r.method === 'GET');
      const before = gets().length;
      h.advance(3);
      await untilSent(h, ids);
      const polled = gets().slice(before);
      expect(polled.filter((r) => r.path === '/api/v1/orders').length).toBeGreaterThan(0);
      expect(polled.filter((r) => /^\/api\/v1\/orders\/[^/]+$/.test(r.path))).toEqual([]);
    } finally {
      await h.close();
    }
  });

  it("polls a listing provider's orders one by one when its list cannot be read", async () => {
    const h = await Harness.start({ polling: { ...FAST_POLLING, firstDelayMs: 300 }, only: ['GIFTRONAUT'] });
    try {
      h.giftronaut.http.faults.add({ method: 'GET', path: '/api/v1/orders', times: Infinity, fault: { kind: 'status', status: 403, body: { error: 'INSUFFICIENT_SCOPE' } } });
      const ids = await sendGiftronautOrders(h, 'no-list', 3);
      h.advance(3);
      await untilSent(h, ids);
      expect(h.giftronaut.http.received.some((r) => r.method === 'GET' && r.path === '/api/v1/orders')).toBe(true);
    } finally {
      await h.close();
    }
  });

  it('resumes after a restart and delivers the later changes of orders left open', async () => {
    const h = await Harness.start({ polling: FAST_POLLING, only: ['GUUSTO'] });
    try {
      const before = await listen(h);
      await h.gql(SendGiftsDocument, {
        input: { provider: 'GUUSTO', idempotencyKey: 'across-restart', message: 'Hi', amount: { amount: '10', currency: 'CAD' }, recipients: [{ email: 'ada@example.com' }] },
      });
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
