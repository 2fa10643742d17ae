import http from 'node:http';
import { createHmac } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { GiftronautAdapter } from '../src/providers/giftronaut/adapter.js';
import { GiftronautApi } from '../src/providers/giftronaut/api.js';
import { GiftronautTokens } from '../src/providers/giftronaut/oauth.js';
import { giftronautEvent, giftronautWebhooks, verifyGiftronautSignature } from '../src/providers/giftronaut/webhook.js';
import { ManualClock } from '../src/sandboxes/kit/clock.js';
import { GiftronautSandbox, type GiftronautSandboxOptions } from '../src/sandboxes/giftronaut/sandbox.js';
import { CancelOrderDocument, CatalogDocument, SendGiftsDocument } from './generated/graphql.js';
import { Harness, problemOf } from './support/harness.js';

const ALL_SCOPES = ['orders.read', 'orders.write', 'orders.cancel', 'catalog.read'];
const cleanup: (() => Promise<void>)[] = [];
afterEach(async () => {
  for (const step of cleanup.splice(0).reverse()) await step();
});

async function sandbox(options: Partial<GiftronautSandboxOptions> = {}) {
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  const box = new GiftronautSandbox({ clientId: 'c', clientSecret: 's', clock, stepMs: 1_000, rateLimitPerMinute: 10_000, ...options });
  const baseUrl = await box.listen();
  const connection = { baseUrl, clientId: 'c', clientSecret: 's', scopes: ALL_SCOPES };
  const warnings: { details: Record<string, unknown>; message: string }[] = [];
  const adapter = new GiftronautAdapter(connection, 2_000, { warn: (details, message) => warnings.push({ details, message }) });
  cleanup.push(
    () => box.close(),
    () => adapter.close(),
  );
  return { box, clock, adapter, connection, warnings };
}

const tokenCalls = (box: GiftronautSandbox) => box.http.count('POST', '/oauth2/token');

describe('OAuth tokens', () => {
  it('are fetched once however many requests wait for one', async () => {
    const { box, adapter } = await sandbox();
    await Promise.all(Array.from({ length: 12 }, () => adapter.balances()));
    expect(tokenCalls(box)).toBe(1);
    expect(box.http.count('GET', '/api/v1/balance')).toBe(12);
  });

  it('are renewed once when the provider says 401, and the request goes through', async () => {
    const { box, clock, adapter } = await sandbox({ tokenTtlSeconds: 600 });
    await adapter.balances();
    clock.advance(601_000); // the sandbox now considers the token expired; our wall clock does not
    await Promise.all(Array.from({ length: 5 }, () => adapter.balances()));
    expect(tokenCalls(box)).toBe(2);
  });

  it('are renewed before they expire', async () => {
    const { box, connection } = await sandbox({ tokenTtlSeconds: 3_600 });
    let now = Date.now();
    const tokens = new GiftronautTokens(connection, 2_000, () => now);
    cleanup.push(() => tokens.close());
    const first = await tokens.token();
    now += 3_000_000;
    expect(await tokens.token()).toBe(first);
    now += 600_000; // inside the last minute of its hour
    expect(await tokens.token()).not.toBe(first);
    expect(tokenCalls(box)).toBe(2);
  });

  it('are refused for a wrong secret, as a rejection', async () => {
    const { connection } = await sandbox();
    const api = new GiftronautApi({ ...connection, clientSecret: 'wrong' }, 2_000);
    cleanup.push(() => api.close());
    await expect(api.balance()).rejects.toMatchObject({ kind: 'rejected', status: 401, providerCode: 'invalid_client' });
  });
});

describe('scopes', () => {
  it('without orders.cancel, a cancel is refused by Giftronaut as a typed error', async () => {
    const h = await Harness.start({ giftronautScopes: ['orders.read', 'orders.write', 'catalog.read'] });
    cleanup.push(() => h.close());
    const product = (await h.gql(CatalogDocument, { provider: 'GIFTRONAUT' })).data!.catalog.edges[0]!.node.id;
    const sent = await h.gql(SendGiftsDocument, {
      input: {
        provider: 'GIFTRONAUT',
        idempotencyKey: 'no-cancel-scope',
        senderName: 'Acme',
        amount: { amount: '10', currency: 'USD' },
        recipients: [{ email: 'a@example.com' }],
        sendAt: new Date(Date.now() + 86_400_000).toISOString(),
        timezone: 'UTC',
        giftronaut: { productId: product },
      },
    });
    const result = await h.gql(CancelOrderDocument, { id: sent.data!.sendGifts.order!.id });
    // Refused, the order is returned as it stands.
    expect(result.data!.cancelOrder.order!.id).toBe(sent.data!.sendGifts.order!.id);
    expect(problemOf(result)).toMatchObject({ code: 'PROVIDER_REJECTED', provider: 'GIFTRONAUT', providerCode: 'INSUFFICIENT_SCOPE', retryable: false });
  });
});

describe('the rate limit', () => {
  it('answers 429 with Retry-After past the limit, which the adapter reports as retryable, until the minute passes', async () => {
    const { clock, adapter } = await sandbox({ rateLimitPerMinute: 3 });
    for (let i = 0; i < 3; i++) await adapter.balances();
    await expect(adapter.balances()).rejects.toMatchObject({ kind: 'unavailable', status: 429, retryAfterMs: 60_000 });
    clock.advance(60_000);
    await expect(adapter.balances()).resolves.toHaveLength(1);
  });
});

describe('listing orders', () => {
  it('pages newest first with page/pageSize and a total', async () => {
    const { clock, adapter } = await sandbox();
    const [product] = (await adapter.catalog()).filter((c) => c.kind === 'BRANDED_CARD' && c.currency === 'USD');
    const productId = Buffer.from(`CatalogItem:GIFTRONAUT:${product!.localId}`).toString('base64url');
    for (let i = 0; i < 5; i++) {
      await adapter.create({
        reference: `ref-${i}`,
        idempotencyKey: `k-${i}`,
        recipients: [
          { position: 0, email: `p${i}@example.com`, employeeNumber: null, firstName: null, lastName: null, company: null, department: null, amount: product!.prices[0]! },
        ],
        message: null,
        senderName: 'Acme',
        sendAt: null,
        timezone: null,
        options: { productId },
      });
      clock.advance(1_000);
    }
    // One request reads as far as Giftronaut's largest page allows, from wherever a position points.
    const head = await adapter.orderList.read(undefined, 2);
    expect(head.more).toBe(false);
    const tail = await adapter.orderList.read({ o: 3, n: 5 }, 2);
    expect(tail.entries.map((e) => e.item.providerRef)).toEqual(head.entries.slice(3).map((e) => e.item.providerRef));
    expect(tail.entries.map((e) => e.after)).toEqual(tail.entries.map((e, i) => ({ o: 4 + i, n: 5, k: e.item.providerRef })));
    const all = head.entries.map((e) => e.item);
    expect(new Set(all.map((o) => o.providerRef)).size).toBe(5);
    const created = all.map((o) => o.createdAt!);
    expect([...created].sort().reverse()).toEqual(created);
    expect(all[0]!.total).toEqual({ minor: 1000, currency: 'USD' });
  });
});

describe('the catalog', () => {
  it('leaves out an entry it cannot read and logs where it was, never what it held', async () => {
    const { adapter, warnings } = await sandbox({
      extraCatalog: { branded: [{ name: 'No id', currency: 'USD', pricePoints: [5], contactEmail: 'partner@example.com' }, 42] },
    });
    const catalog = await adapter.catalog();
    expect(catalog.filter((c) => c.kind === 'BRANDED_CARD').map((c) => c.name)).toContain('Harbor Outfitters');
    expect(catalog.some((c) => c.name === 'No id')).toBe(false);
    expect(warnings).toHaveLength(1);
    expect(warnings[0]!.details).toMatchObject({ cardType: 'BRANDED_CARD', skipped: [{ reason: 'no productId' }, { reason: 'not an object' }] });
    expect(JSON.stringify(warnings)).not.toMatch(/partner@example\.com|No id/);
  });
});

describe("the sandbox's idempotency contract", () => {
  async function raw(baseUrl: string, token: string, body: unknown, headers: Record<string, string> = {}, path = '/api/v1/orders/branded-cards') {
    const res = await fetch(`${baseUrl}${path}`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
      body: JSON.stringify(body),
    });
    return { status: res.status, body: (await res.json()) as Record<string, unknown> };
  }

  it('answers 201, then 200 with the original, then 409 for a different body; the key may come as a header', async () => {
    const { box, connection } = await sandbox();
    const tokens = new GiftronautTokens(connection, 2_000);
    cleanup.push(() => tokens.close());
    const token = await tokens.token();
    const order = {
      productId: '10042',
      sendTiming: { type: 'IMMEDIATE' },
      emailSetting: { senderName: 'Acme', subject: 'Hi' },
      recipients: [{ email: 'a@example.com', amount: 10 }],
    };
    const first = await raw(connection.baseUrl, token, { idempotencyKey: 'k1', ...order });
    const again = await raw(connection.baseUrl, token, order, { 'x-idempotency-key': 'k1' });
    const different = await raw(connection.baseUrl, token, { idempotencyKey: 'k1', ...order, recipients: [{ email: 'b@example.com', amount: 10 }] });
    expect([first.status, again.status, different.status]).toEqual([201, 200, 409]);
    expect(again.body.orderId).toBe(first.body.orderId);
    expect(different.body.error).toBe('DUPLICATE_IDEMPOTENCY_KEY');
    expect(box.orderCount).toBe(1);
  });

  it('remembers a key for 24 hours of its clock: after that, the same key places a new order', async () => {
    const { box, clock, connection } = await sandbox({ tokenTtlSeconds: 3 * 86_400 });
    const tokens = new GiftronautTokens(connection, 2_000);
    cleanup.push(() => tokens.close());
    const order = {
      productId: '10042',
      sendTiming: { type: 'IMMEDIATE' },
      emailSetting: { senderName: 'Acme', subject: 'Hi' },
      recipients: [{ email: 'a@example.com', amount: 10 }],
    };
    const first = await raw(connection.baseUrl, await tokens.token(), order, { 'x-idempotency-key': 'day-key' });
    clock.advance(24 * 3_600_000 - 1_000);
    const inside = await raw(connection.baseUrl, await tokens.token(), { idempotencyKey: 'day-key', ...order });
    clock.advance(2_000);
    const after = await raw(connection.baseUrl, await tokens.token(), { idempotencyKey: 'day-key', ...order }, { 'x-idempotency-key': 'day-key' });
    expect([first.status, inside.status, after.status]).toEqual([201, 200, 201]);
    expect(inside.body.orderId).toBe(first.body.orderId);
    expect(after.body.orderId).not.toBe(first.body.orderId);
    expect(box.orderCount).toBe(2);
  });

  it('refuses a body key and a header key that differ, and a key too long for where it is', async () => {
    const { box, connection } = await sandbox();
    const tokens = new GiftronautTokens(connection, 2_000);
    cleanup.push(() => tokens.close());
    const token = await tokens.token();
    const order = {
      productId: '10042',
      sendTiming: { type: 'IMMEDIATE' },
      emailSetting: { senderName: 'Acme', subject: 'Hi' },
      recipients: [{ email: 'a@example.com', amount: 10 }],
    };
    const differ = await raw(connection.baseUrl, token, { idempotencyKey: 'a', ...order }, { 'x-idempotency-key': 'b' });
    const longBody = await raw(connection.baseUrl, token, { idempotencyKey: 'k'.repeat(65), ...order });
    const longHeader = await raw(connection.baseUrl, token, order, { 'x-idempotency-key': 'k'.repeat(129) });
    const header128 = await raw(connection.baseUrl, token, order, { 'x-idempotency-key': 'k'.repeat(128) });
    expect([differ.status, longBody.status, longHeader.status, header128.status]).toEqual([400, 400, 400, 201]);
    expect(box.orderCount).toBe(1);
  });

  it("validates a branded card's amount against its denomination range", async () => {
    const { connection } = await sandbox();
    const tokens = new GiftronautTokens(connection, 2_000);
    cleanup.push(() => tokens.close());
    const token = await tokens.token();
    const order = (amount: number) => ({
      productId: '10077',
      sendTiming: { type: 'IMMEDIATE' },
      emailSetting: { senderName: 'Acme', subject: 'Hi' },
      recipients: [{ email: 'a@example.com', amount }],
    });
    const inside = await raw(connection.baseUrl, token, { idempotencyKey: 'r1', ...order(37.5) });
    const above = await raw(connection.baseUrl, token, { idempotencyKey: 'r2', ...order(600) });
    const below = await raw(connection.baseUrl, token, { idempotencyKey: 'r3', ...order(1) });
    expect([inside.status, above.status, below.status]).toEqual([201, 400, 400]);
    expect(above.body.error).toBe('INVALID_AMOUNT');
  });
});

describe('webhooks', () => {
  async function receiver(answers: number[]) {
    const received: { body: Buffer; signature: string | undefined }[] = [];
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c as Buffer));
      req.on('end', () => {
        received.push({ body: Buffer.concat(chunks), signature: req.headers['x-giftronaut-signature'] as string | undefined });
        res.writeHead(answers.shift() ?? 200).end();
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(() => r())));
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/giftronaut`, received };
  }

  it("answer Giftronaut's registration challenge with its token, and only a challenge", async () => {
    const secret = 'whsec-test-secret';
    const hooks = giftronautWebhooks(secret);
    const server = http.createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on('data', (c) => chunks.push(c as Buffer));
      req.on('end', () => {
        const reply = hooks.challenge(Buffer.concat(chunks), req.headers) ?? { status: 401, body: { error: 'not a challenge' } };
        res.writeHead(reply.status, { 'content-type': 'application/json' }).end(JSON.stringify(reply.body));
      });
    });
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    cleanup.push(() => new Promise((r) => server.close(() => r())));
    const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/webhooks/giftronaut`;

    const signed = await sandbox({ webhookUrl: url, webhookSecret: secret });
    expect(await signed.box.registerWebhookEndpoint()).toBe(true);
    const unsigned = await sandbox({ webhookUrl: url });
    expect(await unsigned.box.registerWebhookEndpoint()).toBe(true);
    const wrongSecret = await sandbox({ webhookUrl: url, webhookSecret: 'another-secret' });
    expect(await wrongSecret.box.registerWebhookEndpoint()).toBe(false);

    const event = Buffer.from(JSON.stringify({ eventId: 'e1', eventType: 'order.created', createdAt: '2026-01-01T00:00:00Z', data: {}, challengeToken: 'x' }));
    expect(hooks.challenge(event, {})).toBeUndefined();
    expect(hooks.challenge(Buffer.from(JSON.stringify({ challengeToken: '<script>' })), {})).toBeUndefined();
  });

  it('are signed, verifiable, and delivered again until acknowledged', async () => {
    const hook = await receiver([200, 500]);
    const { box, clock, adapter } = await sandbox({ webhookUrl: hook.url, webhookSecret: 'whsec-test-secret' });
    const [product] = (await adapter.catalog()).filter((c) => c.kind === 'CHOICE_CARD' && c.currency === 'USD');
    const outcome = await adapter.create({
      reference: 'hooked',
      idempotencyKey: 'hooked',
      recipients: [
        { position: 0, email: 'a@example.com', employeeNumber: null, firstName: null, lastName: null, company: null, department: null, amount: { minor: 2000, currency: 'USD' } },
      ],
      message: null,
      senderName: 'Acme',
      sendAt: null,
      timezone: null,
      options: { productId: Buffer.from(`CatalogItem:GIFTRONAUT:${product!.localId}`).toString('base64url') },
    });
    expect(outcome.kind).toBe('accepted');
    clock.advance(2_000);
    await expect.poll(() => hook.received.length, { timeout: 5_000 }).toBe(3);
    await box.webhooks.settle();

    const events = hook.received.map((r) => giftronautEvent.parse(JSON.parse(r.body.toString('utf8'))));
    expect(events.map((e) => e.eventType)).toEqual(['order.created', 'order.delivery_complete', 'order.delivery_complete']);
    expect(events[2]!.eventId).toBe(events[1]!.eventId);
    expect(events[1]!.data).toMatchObject({ cardType: 'CHOICE_CARD', recipientCount: 1, sentCount: 1 });
    for (const r of hook.received) expect(verifyGiftronautSignature(r.body, r.signature, 'whsec-test-secret')).toBe(true);

    const first = hook.received[0]!;
    expect(verifyGiftronautSignature(first.body, first.signature, 'another-secret')).toBe(false);
    expect(verifyGiftronautSignature(Buffer.from(first.body.toString().replace('order.created', 'order.canceled')), first.signature, 'whsec-test-secret')).toBe(false);
    expect(verifyGiftronautSignature(first.body, undefined, 'whsec-test-secret')).toBe(false);
    expect(verifyGiftronautSignature(first.body, `sha256=${createHmac('sha256', 'whsec-test-secret').update(first.body).digest('hex').slice(0, 10)}`, 'whsec-test-secret')).toBe(
      false,
    );
  });
});
