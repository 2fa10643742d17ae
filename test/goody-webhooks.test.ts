import http from 'node:http';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeId } from '../src/core/global-id.js';
import { GoodyAdapter } from '../src/providers/goody/adapter.js';
import { verifySvix } from '../src/providers/goody/webhook.js';
import { ManualClock } from '../src/sandboxes/kit/clock.js';
import { GoodySandbox } from '../src/sandboxes/goody/sandbox.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { CatalogDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness } from './support/harness.js';

const SECRET = `whsec_${randomBytes(24).toString('base64')}`;
const received: { body: Buffer; headers: http.IncomingHttpHeaders }[] = [];
const answers: number[] = [];
let receiver: http.Server;
let sandbox: GoodySandbox;
let adapter: GoodyAdapter;
let store: SqliteStore;
const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);

/** What the live-status issue mounts: verify, then accept each Svix delivery id once, durably. */
async function accept(delivery: { body: Buffer; headers: http.IncomingHttpHeaders }, secret = SECRET, now = Date.now()) {
  const verdict = verifySvix(delivery.body, delivery.headers, secret, now);
  if (!verdict.ok) return verdict.reason;
  return (await store.recordWebhookDelivery('GOODY', verdict.deliveryId, new Date(now).toISOString())) ? 'accepted' : 'duplicate';
}

beforeAll(async () => {
  receiver = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c) => chunks.push(c as Buffer));
    req.on('end', () => {
      received.push({ body: Buffer.concat(chunks), headers: req.headers });
      res.writeHead(answers.shift() ?? 204).end();
    });
  });
  await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
  const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/goody`;
  sandbox = new GoodySandbox({ apiKey: 'k', clock, stepMs: 1_000, webhookUrl: url, webhookSecret: SECRET });
  adapter = new GoodyAdapter({ baseUrl: await sandbox.listen(), apiKey: 'k' }, 2_000);
  store = SqliteStore.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-hooks-')), 'ledger.db'));
});
afterAll(async () => {
  await adapter.close();
  await sandbox.close();
  store.close();
  await new Promise((r) => receiver.close(r));
});

describe('Goody webhooks', () => {
  it('are Svix-signed, accepted once each even when delivered twice', async () => {
    answers.push(204, 500); // the second delivery (order_batch.completed) fails once and is delivered again
    const product = (await adapter.catalog()).find((c) => c.prices.length > 0)!;
    await adapter.create({
      reference: 'hooks',
      idempotencyKey: 'hooks',
      recipients: [{ position: 0, email: 'a@example.com', firstName: 'Ada', employeeNumber: null, lastName: null, company: null, department: null, amount: null }],
      message: null,
      senderName: 'Acme',
      sendAt: null,
      timezone: null,
      options: { productId: Buffer.from(`CatalogItem:GOODY:${product.localId}`).toString('base64url') },
    });
    clock.advance(2_000);
    await sandbox.webhooks.settle();

    const types = received.map((r) => (JSON.parse(r.body.toString()) as { event_type: string }).event_type);
    expect([...types].sort()).toEqual(['order.created', 'order.gift_opened', 'order_batch.completed', 'order_batch.completed', 'order_batch.created']);
    const verdicts: string[] = [];
    for (const delivery of received) verdicts.push(await accept(delivery));
    // The failed delivery came again, later and with the same svix-id: accepted the first time only.
    const completed = received.flatMap((_, i) => (types[i] === 'order_batch.completed' ? [i] : []));
    expect(received[completed[0]!]!.headers['svix-id']).toBe(received[completed[1]!]!.headers['svix-id']);
    expect(completed.map((i) => verdicts[i])).toEqual(['accepted', 'duplicate']);
    expect(verdicts.filter((v) => v === 'accepted')).toHaveLength(4);
  });

  it('with a bad signature, a stale timestamp or missing headers are refused', async () => {
    const good = received[0]!;
    expect(await accept({ body: Buffer.from(good.body.toString().replace('order_batch', 'order_botch')), headers: good.headers })).toBe('bad signature');
    expect(await accept(good, `whsec_${randomBytes(24).toString('base64')}`)).toBe('bad signature');
    expect(await accept(good, SECRET, Date.now() + 6 * 60_000)).toBe('stale timestamp');
    expect(await accept(good, SECRET, Date.now() - 6 * 60_000)).toBe('stale timestamp');
    const { 'svix-signature': _dropped, ...unsigned } = good.headers;
    expect(await accept({ body: good.body, headers: unsigned })).toBe('missing headers');
  });

  it('accept any one of several signatures, as during a key rotation', () => {
    const good = received[0]!;
    const rotated = { ...good.headers, 'svix-signature': `v1,${Buffer.alloc(32).toString('base64')} ${good.headers['svix-signature']}` };
    expect(verifySvix(good.body, rotated, SECRET)).toMatchObject({ ok: true });
    const id = String(good.headers['svix-id']);
    const ts = String(good.headers['svix-timestamp']);
    const key = Buffer.from(SECRET.slice(6), 'base64');
    const manual = createHmac('sha256', key).update(`${id}.${ts}.${good.body.toString()}`).digest('base64');
    expect(String(good.headers['svix-signature'])).toBe(`v1,${manual}`);
  });
});

/** The ledger's own rows for an order: what every later read is answered from. */
async function rows(h: Harness, id: string) {
  const local = decodeId(id, 'Order')!.local;
  const [order] = await h.store.getOrders('acme', [local]);
  return { order: order!, recipients: await h.store.getRecipients([local]), events: await h.store.getStatusEvents([local]) };
}

async function caramels(h: Harness): Promise<string> {
  const items = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.map((e) => e.node);
  return items.find((i) => i.name.includes('Caramels'))!.id;
}

const batchOf = (key: string, productId: string, n: number): SendGiftsInput => ({
  provider: 'GOODY',
  idempotencyKey: key,
  senderName: 'Acme People Team',
  recipients: Array.from({ length: n }, (_, i) => ({ firstName: `Person${i}`, email: `person${i}@example.com` })),
  goody: { productId },
});

describe('Goody batch events named gift_batch.*, as in its published example', () => {
  let h: Harness;
  let sink: http.Server;
  let product: string;
  beforeAll(async () => {
    // The sandbox's webhooks go to a sink: only what a test posts reaches giftgraph.
    sink = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
    await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
    const webhookUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;
    h = await Harness.start({ only: ['GOODY'], webhooks: true, goody: { webhookUrl, batchEvents: 'gift_batch' } });
    product = await caramels(h);
  });
  afterAll(async () => {
    await h.close();
    await new Promise((r) => sink.close(r));
  });

  /** Posts a delivery, then waits for the inbox to read the orders it named. */
  const post = async (body: string, headers: Record<string, string>) => {
    const res = await fetch(`${h.url}/webhooks/goody`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    await h.app.inbox.idle();
    return res;
  };

  /** A delivery signed as Svix signs Goody's. */
  const signed = (body: string): Record<string, string> => {
    const id = `msg_${randomBytes(8).toString('hex')}`;
    const timestamp = String(Math.floor(Date.now() / 1000));
    const key = Buffer.from(h.webhookSecrets.goody.slice('whsec_'.length), 'base64');
    return { 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}` };
  };

  it('gift_batch.completed refreshes its batch: a large one is read back with every gift', async () => {
    const id = (await h.gql(SendGiftsDocument, { input: batchOf('gift-batch', product, 25) })).data!.sendGifts.order!.id;
    expect((await rows(h, id)).order.status).toBe('PROCESSING');
    h.advance(1);
    await h.goody.webhooks.settle();
    const delivery = h.goody.webhooks.log.find((d) => (JSON.parse(d.body) as { event_type: string }).event_type === 'gift_batch.completed')!;
    const data = (JSON.parse(delivery.body) as { data: { id: string; gifts_count: number; gifts_preview: { gift_batch_id: string }[] } }).data;
    expect(data).toMatchObject({ gifts_count: 25 });
    expect(data.gifts_preview[0]!.gift_batch_id).toBe(data.id);

    const reads = h.goody.http.count('GET', '/v1/order_batches/:id');
    const answer = await post(delivery.body, delivery.headers);
    expect(answer.status).toBe(200);
    expect(await answer.json()).toEqual({ status: 'recorded', orders: 1 });
    expect(h.goody.http.count('GET', '/v1/order_batches/:id')).toBe(reads + 1);
    const { order, recipients } = await rows(h, id);
    expect(order.status).toBe('SENT');
    expect(recipients).toHaveLength(25);
    expect(recipients.every((r) => r.status === 'SENT' && r.gift?.kind === 'link')).toBe(true);
  });

  it('an order event naming its batch by gift_batch_id refreshes that batch', async () => {
    const id = (await h.gql(SendGiftsDocument, { input: batchOf('gift-batch-id', product, 1) })).data!.sendGifts.order!.id;
    h.advance(2); // created, notified, opened at Goody; giftgraph has not looked
    const batchId = (await rows(h, id)).order.providerRef!;
    const body = JSON.stringify({ event_type: 'order.gift_opened', id: 'evt-1', data: { id: 'a-gift-we-do-not-know', status: 'opened', gift_batch_id: batchId } });
    const answer = await post(body, signed(body));
    expect(await answer.json()).toEqual({ status: 'recorded', orders: 1 });
    expect((await rows(h, id)).recipients.map((r) => r.status)).toEqual(['OPENED']);
  });
});
