import http from 'node:http';
import os from 'node:os';
import fs from 'node:fs';
import path from 'node:path';
import { createHmac, randomBytes } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GoodyAdapter } from '../src/providers/goody/adapter.js';
import { verifySvix } from '../src/providers/goody/webhook.js';
import { ManualClock } from '../src/sandboxes/kit/clock.js';
import { GoodySandbox } from '../src/sandboxes/goody/sandbox.js';
import { SqliteStore } from '../src/store/sqlite.js';

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
    const completed = received.flatMap((r, i) => (types[i] === 'order_batch.completed' ? [i] : []));
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
