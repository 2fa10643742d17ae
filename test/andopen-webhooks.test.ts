import { createHmac } from 'node:crypto';
import fs from 'node:fs';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import os from 'node:os';
import path from 'node:path';
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest';
import { decodeId } from '../src/core/global-id.js';
import { readAndOpenEnv, type AndOpenVersion } from '../src/providers/andopen/config.js';
import { verifyAndOpenWebhook } from '../src/providers/andopen/webhook.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { RecipientRecord, StatusEventRecord } from '../src/core/records.js';
import { CatalogDocument, OrderDocument, SendGiftsDocument } from './generated/graphql.js';
import { Harness } from './support/harness.js';

/** A one-recipient &Open send through giftgraph; its local order id and Ada's gift request id. */
async function sendToAda(h: Harness, key: string): Promise<{ id: string; orderId: string; giftRequestId: string }> {
  const campaign = (await h.gql(CatalogDocument, { provider: 'ANDOPEN', first: 1 })).data!.catalog.edges[0]!.node.id;
  const sent = await h.gql(SendGiftsDocument, {
    input: { provider: 'ANDOPEN', idempotencyKey: key, recipients: [{ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' }], andOpen: { campaignId: campaign } },
  });
  expect(sent.errors).toBeUndefined();
  const id = sent.data!.sendGifts.order!.id;
  const orderId = decodeId(id, 'Order')!.local;
  const [ada] = await h.store.getRecipients([orderId]);
  return { id, orderId, giftRequestId: ada!.providerRef! };
}

/** What the ledger holds for Ada, read without asking &Open. */
async function ledger(h: Harness, orderId: string): Promise<{ ada: RecipientRecord; events: StatusEventRecord[] }> {
  const [ada] = await h.store.getRecipients([orderId]);
  return { ada: ada!, events: (await h.store.getStatusEvents([orderId])).filter((e) => e.recipientId === ada!.id) };
}

/** Signs a body as &Open does: hex HMAC-SHA256 of "{timestamp}.{body}". */
function signed(h: Harness, body: string, at = Math.floor(Date.now() / 1000), extra: Record<string, string> = {}): Record<string, string> {
  const signature = createHmac('sha256', h.webhookSecrets.andOpen).update(`${at}.${body}`).digest('hex');
  return { ...extra, 'andopen-webhook-signature': signature, 'andopen-webhook-dispatch-timestamp': String(at) };
}

const post = async (h: Harness, body: string, headers: Record<string, string>) => {
  const res = await fetch(`${h.url}/webhooks/andopen`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
  // The delivery is recorded when answered; the orders it names are read right after.
  await h.app.inbox.idle();
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
};

/** An endpoint that takes webhooks and answers 204, so only what a test posts reaches giftgraph. */
async function sink(): Promise<{ url: string; close: () => Promise<void> }> {
  const server = http.createServer((req, res) => req.resume().on('end', () => res.writeHead(204).end()));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/`, close: () => new Promise((r) => server.close(() => r())) };
}

describe('&Open webhooks as the sandbox sends them', () => {
  const secret = 'andopen-signing-secret';
  const received: { body: Buffer; headers: http.IncomingHttpHeaders }[] = [];
  let receiver: http.Server;
  let h: Harness;
  let store: SqliteStore;

  beforeAll(async () => {
    receiver = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c as Buffer));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks), headers: req.headers });
        res.writeHead(received.length === 1 ? 500 : 200).end();
      });
    });
    await new Promise<void>((r) => receiver.listen(0, '127.0.0.1', r));
    const url = `http://127.0.0.1:${(receiver.address() as AddressInfo).port}/webhooks/andopen`;
    h = await Harness.start({ andOpen: { webhookUrl: url, webhookSecret: secret } });
    store = SqliteStore.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-andopen-')), 'ledger.db'));
  });
  afterAll(async () => {
    await h.close();
    store.close();
    await new Promise((r) => receiver.close(r));
  });

  it('are signed over timestamp and body, refused when stale or tampered, and accepted once per event id', async () => {
    const campaign = (await h.gql(CatalogDocument, { provider: 'ANDOPEN', first: 1 })).data!.catalog.edges[0]!.node.id;
    await h.gql(SendGiftsDocument, {
      input: { provider: 'ANDOPEN', idempotencyKey: 'hooked', recipients: [{ firstName: 'Ada', lastName: 'Lovelace' }], andOpen: { campaignId: campaign } },
    });
    h.advance(1);
    await h.andOpen.webhooks.settle();
    // The first delivery was answered 500 and came again, later, with the same event id (and a fresh dispatch time).
    expect(received.map((r) => r.headers['andopen-webhook-event-type']).sort()).toEqual(['gift_request.redeemed', 'gift_request.submitted', 'gift_request.submitted']);
    const verdicts: Record<string, string[]> = {};
    for (const r of received) {
      const verdict = verifyAndOpenWebhook(r.body, r.headers, secret);
      if (!verdict.ok) throw new Error(verdict.reason);
      const accepted = await store.recordWebhookDelivery('ANDOPEN', verdict.deliveryId, new Date().toISOString());
      (verdicts[verdict.eventType] ??= []).push(accepted ? 'accepted' : 'duplicate');
    }
    expect(verdicts).toEqual({ 'gift_request.submitted': ['accepted', 'duplicate'], 'gift_request.redeemed': ['accepted'] });

    const good = received[0]!;
    expect(verifyAndOpenWebhook(good.body, good.headers, 'another-secret')).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyAndOpenWebhook(Buffer.from(good.body.toString().replace('submitted', 'delivered')), good.headers, secret)).toEqual({ ok: false, reason: 'bad signature' });
    expect(verifyAndOpenWebhook(good.body, good.headers, secret, Date.now() + 6 * 60_000)).toEqual({ ok: false, reason: 'stale timestamp' });
    const { 'andopen-webhook-signature': _gone, ...unsigned } = good.headers;
    expect(verifyAndOpenWebhook(good.body, unsigned, secret)).toEqual({ ok: false, reason: 'missing headers' });
    const ts = String(good.headers['andopen-webhook-dispatch-timestamp']);
    expect(good.headers['andopen-webhook-signature']).toBe(createHmac('sha256', secret).update(`${ts}.${good.body.toString()}`).digest('hex'));
  });
});

describe('&Open 2026-05 webhooks: the flat resource', () => {
  let h: Harness;
  afterAll(() => h.close());

  it('refresh the gift request the body is, and its recipient moves on', async () => {
    h = await Harness.start({ webhooks: true, andOpenVersion: '2026-05' });
    const { orderId, giftRequestId } = await sendToAda(h, 'flat');
    await h.andOpen.webhooks.settle();
    await h.app.inbox.idle(); // the submitted webhook's read is done before reads are counted
    const reads = h.andOpen.http.count('GET', '/gift_requests/:id');
    h.advance(1);
    await h.andOpen.webhooks.settle();
    await h.app.inbox.idle();

    // As documented: the resource itself, in the shape the API returns, and the event headers.
    const delivery = h.andOpen.webhooks.log.at(-1)!;
    expect(delivery.delivered).toBe(true);
    const body = JSON.parse(delivery.body) as Record<string, unknown>;
    expect(body).toMatchObject({ id: giftRequestId, status: 'redeemed', recipient: { first_name: 'Ada', last_name: 'Lovelace' } });
    expect(body).not.toHaveProperty('data');
    expect(delivery.headers).toMatchObject({ 'content-type': 'application/json', 'andopen-webhook-api-version': '2026-05' });
    expect(delivery.headers['andopen-webhook-event-id']).toMatch(/^[0-9a-f-]{36}$/);

    const { ada, events } = await ledger(h, orderId);
    expect([ada.status, ada.providerStatus]).toEqual(['REDEEMED', 'redeemed']);
    expect(events.at(-1)).toMatchObject({ from: 'SENT', to: 'REDEEMED', source: 'WEBHOOK' });
    expect(h.andOpen.http.count('GET', '/gift_requests/:id')).toBe(reads + 1);
  });
});

describe('&Open webhooks whose event names we do not know', () => {
  let h: Harness;
  let quiet: Awaited<ReturnType<typeof sink>>;
  beforeAll(async () => {
    quiet = await sink();
    h = await Harness.start({ webhooks: true, andOpen: { webhookUrl: quiet.url } });
  });
  afterAll(async () => {
    await h.close();
    await quiet.close();
  });

  it('still refresh a gift request of ours that the body names', async () => {
    const { orderId, giftRequestId } = await sendToAda(h, 'unnamed-event');
    h.advance(1);
    const body = JSON.stringify({ id: giftRequestId, status: 'redeemed', campaign_id: 'c', redemption_url: null });
    const reply = await post(h, body, signed(h, body, undefined, { 'andopen-webhook-event-id': 'e-unnamed', 'andopen-webhook-event-type': 'gift_request.state_changed' }));
    expect(reply).toEqual({ status: 200, body: { status: 'recorded', orders: 1 } });
    const { ada, events } = await ledger(h, orderId);
    expect(ada.status).toBe('REDEEMED');
    expect(events.at(-1)).toMatchObject({ to: 'REDEEMED', source: 'WEBHOOK' });
  });

  it('read the state from &Open, not from the event, and leave alone a body that names nothing', async () => {
    const { orderId, giftRequestId } = await sendToAda(h, 'claims-delivered');
    // The body claims `delivered`; &Open says `submitted`: the ledger follows &Open.
    const body = JSON.stringify({ id: giftRequestId, status: 'delivered' });
    expect((await post(h, body, signed(h, body))).body).toEqual({ status: 'recorded', orders: 1 });
    expect((await ledger(h, orderId)).ada.status).toBe('SENT');

    const nothing = JSON.stringify({ balance: 'low' });
    expect(await post(h, nothing, signed(h, nothing, undefined, { 'andopen-webhook-event-type': 'account.balance_low' }))).toMatchObject({ status: 202 });
  });
});

describe.each(['2025-09', '2025-10'] as AndOpenVersion[])('&Open JSON:API webhooks (%s)', (version) => {
  let h: Harness;
  /** Between the sandbox and giftgraph: passes every attempt on, but answers the first of each 500, as if the answer were lost. */
  let proxy: http.Server;
  const attempts: { body: string; headers: http.IncomingHttpHeaders; reply: unknown }[] = [];

  beforeAll(async () => {
    proxy = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c: Buffer) => chunks.push(c));
      req.on('end', async () => {
        const body = Buffer.concat(chunks).toString();
        const headers = Object.fromEntries(Object.entries(req.headers).filter(([k]) => k.startsWith('andopen-') || k === 'content-type')) as Record<string, string>;
        const reply = await post(h, body, headers);
        const first = !attempts.some((a) => a.body === body);
        attempts.push({ body, headers: req.headers, reply: reply.body });
        res.writeHead(first ? 500 : reply.status).end();
      });
    });
    await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
    const url = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}/`;
    h = await Harness.start({ webhooks: true, andOpenVersion: version, andOpen: { webhookVersion: version, webhookUrl: url } });
  });
  afterAll(async () => {
    await h.close();
    await new Promise((r) => proxy.close(r));
  });

  it('are taken with only the signature and dispatch timestamp, recorded once, and a retry is a duplicate', async () => {
    const { orderId, giftRequestId } = await sendToAda(h, `json-api-${version}`);
    await h.andOpen.webhooks.settle();
    attempts.length = 0;
    h.advance(1);
    await h.andOpen.webhooks.settle();
    await h.app.inbox.idle();

    // One delivery, tried twice: the same body, JSON:API, with no event id or type header.
    expect(attempts).toHaveLength(2);
    expect(attempts[1]!.body).toBe(attempts[0]!.body);
    for (const { headers } of attempts) {
      expect(
        Object.keys(headers)
          .filter((k) => k.startsWith('andopen-'))
          .sort(),
      ).toEqual(['andopen-webhook-dispatch-timestamp', 'andopen-webhook-signature']);
      expect(headers['content-type']).toBe('application/vnd.api+json');
    }
    const body = JSON.parse(attempts[0]!.body) as { data: { type: string; id: string; attributes: Record<string, unknown> }; meta: { event_id: string } };
    expect(body.data).toMatchObject({ type: 'gift_requests', id: giftRequestId, attributes: { state: 'redeemed' } });
    expect(body.meta.event_id).toMatch(/^[0-9a-f-]{36}$/);
    expect(attempts.map((a) => a.reply)).toEqual([{ status: 'recorded', orders: 1 }, { status: 'duplicate' }]);

    const { ada, events } = await ledger(h, orderId);
    expect(ada.status).toBe('REDEEMED');
    expect(events.filter((e) => e.to === 'REDEEMED')).toEqual([expect.objectContaining({ source: 'WEBHOOK' })]);

    // Signed again at another dispatch time, as &Open does on each attempt: still the same delivery.
    const reads = h.andOpen.http.count('GET', '/gift_requests/:id');
    const again = await post(h, attempts[0]!.body, signed(h, attempts[0]!.body, Math.floor(Date.now() / 1000) - 90, { 'content-type': 'application/vnd.api+json' }));
    expect(again).toEqual({ status: 200, body: { status: 'duplicate' } });
    expect(h.andOpen.http.count('GET', '/gift_requests/:id')).toBe(reads);

    // Without the signature or the timestamp it is refused.
    const { 'andopen-webhook-signature': _signature, ...unsigned } = signed(h, attempts[0]!.body);
    expect(await post(h, attempts[0]!.body, unsigned)).toEqual({ status: 401, body: { error: 'missing headers' } });
  });
});

describe.each([
  ['2026-05', 'state'],
  ['2025-09', 'status'],
  ['2025-10', 'status'],
] as [AndOpenVersion, 'state' | 'status'][])('&Open %s answering with `%s`', (version, stateField) => {
  let h: Harness;
  afterEach(() => h.close());

  it('records the create as sent, never UNCONFIRMED, and reads later states the same way', async () => {
    h = await Harness.start({ andOpenVersion: version, andOpen: { stateField } });
    const { id, orderId } = await sendToAda(h, `field-${stateField}`);
    const { ada } = await ledger(h, orderId);
    expect([ada.submission, ada.status, ada.providerStatus]).toEqual(['ACCEPTED', 'SENT', 'submitted']);
    h.advance(1);
    const read = (await h.gql(OrderDocument, { id })).data!.order!;
    expect(read.status).toBe('REDEEMED');
    expect(read.recipients.edges[0]!.node).toMatchObject({ status: 'REDEEMED', providerStatus: 'redeemed' });
  });
});

describe('ANDOPEN_API_VERSION', () => {
  it('accepts the published JSON:API version 2025-10 beside 2025-09 and 2026-05', () => {
    const key = 'ao-v1-staging-0123456789abcdef';
    for (const version of ['2025-10', '2025-09', '2026-05']) {
      expect(readAndOpenEnv({ ANDOPEN_API_KEY: key, ANDOPEN_API_VERSION: version })).toMatchObject({ connection: { version }, problems: [] });
    }
    expect(readAndOpenEnv({ ANDOPEN_API_KEY: key, ANDOPEN_API_VERSION: '2025-11' }).problems).toEqual([expect.stringMatching(/^ANDOPEN_API_VERSION /)]);
  });
});
