/**
 * Webhooks as an inbox: a verified delivery is recorded with the orders it names and answered at
 * once, whatever the provider is doing; the orders are then read from the provider, a burst of
 * deliveries about one order as one read, and what a stop left unread is read after the next start.
 */
import { createHmac, randomBytes } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { decodeId } from '../src/core/global-id.js';
import { CatalogDocument, SendGiftsDocument } from './generated/graphql.js';
import { Harness } from './support/harness.js';

let h: Harness;
let sink: http.Server;
let product: string;

beforeAll(async () => {
  // The sandbox's own deliveries go nowhere: each test posts the ones it means to.
  sink = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
  await new Promise<void>((resolve) => sink.listen(0, '127.0.0.1', resolve));
  const webhookUrl = `http://127.0.0.1:${(sink.address() as AddressInfo).port}/`;
  // The inbox gathers for a minute, unless a test asks it to read now (`idle()`): bursts are held whole.
  h = await Harness.start({ only: ['GOODY'], webhooks: true, sharedClock: true, goody: { webhookUrl }, inbox: { gatherMs: 60_000 } });
  const items = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.map((e) => e.node);
  product = items.find((c) => c.name.includes('Caramels'))!.id;
});
afterAll(async () => {
  await h.close();
  await new Promise((r) => sink.close(r));
});

/** Sends a one-gift Goody order; returns its local id and Goody's batch id. */
async function send(key: string): Promise<{ id: string; batch: string }> {
  const input = {
    provider: 'GOODY' as const,
    idempotencyKey: key,
    senderName: 'Acme',
    recipients: [{ firstName: 'Ada', email: `${key}@example.com` }],
    goody: { productId: product },
  };
  const sent = await h.gql(SendGiftsDocument, { input });
  const id = decodeId(sent.data!.sendGifts.order!.id, 'Order')!.local;
  const [order] = await h.store.getOrders('acme', [id]);
  return { id, batch: order!.providerRef! };
}

/** A Goody event about a batch, signed as Svix signs Goody's, each with its own delivery id. */
function delivery(batch: string): { body: string; headers: Record<string, string> } {
  const body = JSON.stringify({ event_type: 'order_batch.completed', data: { id: batch } });
  const id = `msg_${randomBytes(8).toString('hex')}`;
  // Signatures are checked against the system clock, whatever the sandboxes' clock says.
  const timestamp = String(Math.floor(Date.now() / 1000));
  const key = Buffer.from(h.webhookSecrets.goody.slice('whsec_'.length), 'base64');
  const signature = `v1,${createHmac('sha256', key).update(`${id}.${timestamp}.${body}`).digest('base64')}`;
  return { body, headers: { 'content-type': 'application/json', 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': signature } };
}

const post = async ({ body, headers }: { body: string; headers: Record<string, string> }) => {
  const res = await fetch(`${h.url}/webhooks/goody`, { method: 'POST', headers, body });
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

const batchReads = () => h.goody.http.count('GET', '/v1/order_batches/:id');
const statusOf = async (id: string) => (await h.store.getOrders('acme', [id]))[0]!.status;

it('answers a verified delivery without waiting for the provider, and reads the order once the provider answers', async () => {
  const { id, batch } = await send('inbox-down');
  const sent = await statusOf(id);
  h.advance(3);
  h.goody.http.faults.add({ method: 'GET', path: /^\/v1\/order_batches\//, times: Infinity, fault: { kind: 'status', status: 503 } });
  try {
    expect(await post(delivery(batch))).toEqual({ status: 200, body: { status: 'recorded', orders: 1 } });
    await h.app.inbox.idle();
    expect(await statusOf(id)).toBe(sent);
    expect(await h.store.pendingNudges(10)).toEqual([expect.objectContaining({ orderId: id, provider: 'GOODY' })]);
  } finally {
    h.goody.http.faults.clear();
  }
  // The failed read is tried again after its back-off, not before.
  h.app.inbox.wake();
  await h.app.inbox.idle();
  expect(await h.store.pendingNudges(10)).toHaveLength(1);
  h.clock.advance(10_000);
  h.app.inbox.wake();
  await h.app.inbox.idle();
  expect(await h.store.pendingNudges(10)).toEqual([]);
  expect(await statusOf(id)).not.toBe(sent);
});

it('reads an order once for a burst of deliveries about it', async () => {
  const { batch } = await send('inbox-burst');
  h.advance(2);
  const before = batchReads();
  const answers = await Promise.all(Array.from({ length: 20 }, () => post(delivery(batch))));
  expect(answers.every((a) => a.status === 200 && a.body.status === 'recorded')).toBe(true);
  // Twenty deliveries recorded while the inbox gathered: one read of the order answers them all.
  await h.app.inbox.idle();
  expect(batchReads() - before).toBe(1);
  expect(await h.store.pendingNudges(10)).toEqual([]);
});

it('reads after a restart what a stop left unread', async () => {
  const { id, batch } = await send('inbox-restart');
  const sent = await statusOf(id);
  h.advance(3);
  h.goody.http.faults.add({ method: 'GET', path: /^\/v1\/order_batches\//, times: Infinity, fault: { kind: 'status', status: 503 } });
  expect((await post(delivery(batch))).status).toBe(200);
  await h.app.inbox.idle();
  h.goody.http.faults.clear();
  expect(await statusOf(id)).toBe(sent);

  await h.restart();
  await h.app.inbox.idle();
  expect(await h.store.pendingNudges(10)).toEqual([]);
  expect(await statusOf(id)).not.toBe(sent);
});
