import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness, problemOf } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start({ providerTimeoutMs: 400, guusto: { balances: { CAD: 1_000, USD: 100_000 } } });
});
afterAll(() => h.close());

const CREATE = { method: 'POST', path: '/api/v1/orders' } as const;
const posts = () => h.guusto.http.count('POST', '/api/v1/orders');

const input = (key: string, overrides: Partial<SendGiftsInput> = {}): SendGiftsInput => ({
  provider: 'GUUSTO',
  idempotencyKey: key,
  message: 'Thanks!',
  amount: { amount: '10', currency: 'USD' },
  recipients: [{ email: 'ada@example.com' }],
  ...overrides,
});

describe('a create whose outcome is unknown', () => {
  it('is UNCONFIRMED when the connection drops after Guusto processed it, with exactly one order at Guusto', async () => {
    h.guusto.http.faults.add({ ...CREATE, fault: { kind: 'drop-after' } });
    const ordersAtGuusto = h.guusto.orderCount;
    const result = await h.gql(SendGiftsDocument, { input: input('dropped') });
    // The order recorded, and what the client must know, are both data: no top-level error.
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts).toMatchObject({ created: true, order: { status: 'UNCONFIRMED' } });
    expect(problemOf(result)).toMatchObject({ code: 'OUTCOME_UNKNOWN', provider: 'GUUSTO', retryable: false, retryBefore: null, field: null });
    expect(problemOf(result).message).toMatch(/may have been sent/);
    expect(h.guusto.orderCount).toBe(ordersAtGuusto + 1);

    const orderId = result.data!.sendGifts.order!.id;
    const order = (await h.gql(OrderDocument, { id: orderId })).data!.order!;
    expect(order.status).toBe('UNCONFIRMED');
    expect(order.recipients.edges[0]!.node.status).toBe('UNCONFIRMED');

    // Retrying with the same key returns the recorded order and never sends again.
    const before = posts();
    const retry = await h.gql(SendGiftsDocument, { input: input('dropped') });
    expect(retry.data!.sendGifts).toMatchObject({ created: false, order: { id: orderId, status: 'UNCONFIRMED' } });
    expect(problemOf(retry)).toMatchObject({ code: 'OUTCOME_UNKNOWN', retryable: false });
    expect(posts()).toBe(before);
    expect(h.guusto.orderCount).toBe(ordersAtGuusto + 1);
  });

  it.each([500, 502, 503, 504])('is UNCONFIRMED on a %i, which may come after processing, and is not retried', async (status) => {
    h.guusto.http.faults.add({ ...CREATE, fault: { kind: 'status', status, retryAfterSeconds: 1 } });
    const key = `http-${status}`;
    const before = posts();
    const result = await h.gql(SendGiftsDocument, { input: input(key) });
    expect(result.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
    expect(problemOf(result)).toMatchObject({ code: 'OUTCOME_UNKNOWN', retryable: false });
    expect(posts()).toBe(before + 1);
    const replay = await h.gql(SendGiftsDocument, { input: input(key) });
    expect(replay.data!.sendGifts).toMatchObject({ created: false, order: { status: 'UNCONFIRMED' } });
    expect(posts()).toBe(before + 1);
  });

  it('is UNCONFIRMED when Guusto answers after our timeout, and Guusto holds exactly one order', async () => {
    h.guusto.http.faults.add({ ...CREATE, fault: { kind: 'latency', ms: 1_000 } });
    const ordersAtGuusto = h.guusto.orderCount;
    const result = await h.gql(SendGiftsDocument, { input: input('slow') });
    expect(problemOf(result).code).toBe('OUTCOME_UNKNOWN');
    const order = (await h.gql(OrderDocument, { id: result.data!.sendGifts.order!.id })).data!.order!;
    expect(order.status).toBe('UNCONFIRMED');
    await expect.poll(() => h.guusto.orderCount, { timeout: 3_000 }).toBe(ordersAtGuusto + 1);
  });
});

describe('a ledger that fails after the provider accepted', () => {
  it('says not to send again, keeps the order UNCONFIRMED and logs the provider reference', async () => {
    // The ledger's write of the acceptance fails; every other transaction goes through.
    const transaction = h.store.transaction.bind(h.store);
    let failing = true;
    h.store.transaction = async (name, fn) =>
      transaction(name, async (tx) => {
        const order = tx.order.bind(tx);
        tx.order = async (id) => {
          const found = await order(id);
          if (failing && name === 'ingest' && found?.submission === 'SENDING') throw new Error('disk I/O error');
          return found;
        };
        return fn(tx);
      });
    try {
      const before = posts();
      const result = await h.gql(SendGiftsDocument, { input: input('ledger-fails') });
      expect(result.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
      expect(problemOf(result)).toMatchObject({ code: 'OUTCOME_UNKNOWN', retryable: false });
      expect(problemOf(result).message).toMatch(/accepted the order as [0-9a-f-]{36}.*Do not send it again/);
      const requestId = /as ([0-9a-f-]{36})/.exec(problemOf(result).message)![1]!;
      expect(h.logs.join('\n')).toContain(requestId);

      failing = false;
      const replay = await h.gql(SendGiftsDocument, { input: input('ledger-fails') });
      expect(replay.data!.sendGifts).toMatchObject({ created: false, order: { status: 'UNCONFIRMED' } });
      expect(posts()).toBe(before + 1);
    } finally {
      h.store.transaction = transaction;
    }
  });
});

describe('a create Guusto certainly did not take', () => {
  it('after a 429 is a retryable PROVIDER_UNAVAILABLE, and the retry sends it exactly once', async () => {
    h.guusto.http.faults.add({ ...CREATE, fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } });
    const key = 'retry-after-429';
    const ordersAtGuusto = h.guusto.orderCount;
    const failed = await h.gql(SendGiftsDocument, { input: input(key) });
    expect(failed.data!.sendGifts.order!.status).toBe('FAILED');
    expect(problemOf(failed)).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', provider: 'GUUSTO', retryable: true, retryAfter: expect.any(String) });
    expect(problemOf(failed).message).toMatch(/safe to retry/);
    expect(h.guusto.orderCount).toBe(ordersAtGuusto);

    const retried = await h.gql(SendGiftsDocument, { input: input(key) });
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.sendGifts).toMatchObject({ created: true, order: { status: 'PENDING', providerStatus: 'ACCEPTED' }, problems: [] });
    expect(retried.data!.sendGifts.order!.statusHistory.map((c) => [c.from, c.to])).toEqual([
      [null, 'FAILED'],
      ['FAILED', 'UNCONFIRMED'],
      ['UNCONFIRMED', 'PENDING'],
    ]);
    expect(h.guusto.orderCount).toBe(ordersAtGuusto + 1);

    const replay = await h.gql(SendGiftsDocument, { input: input(key) });
    expect(replay.data!.sendGifts.created).toBe(false);
    expect(h.guusto.orderCount).toBe(ordersAtGuusto + 1);
  });

  it("is a PROVIDER_REJECTED with Guusto's code when the balance does not cover it", async () => {
    const result = await h.gql(SendGiftsDocument, { input: input('too-much', { amount: { amount: '5000', currency: 'CAD' } }) });
    // The refused order is recorded FAILED and returned, with the refusal beside it.
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts).toMatchObject({ created: true, order: { status: 'FAILED', providerStatus: 'insufficient_balance' } });
    expect(problemOf(result)).toMatchObject({ code: 'PROVIDER_REJECTED', provider: 'GUUSTO', providerCode: 'insufficient_balance', retryable: false });
    // Each recipient's change is in the event log too, not only the order's.
    const [order] = await h.store.listOrders({ tenant: 'acme', limit: 1 });
    const events = await h.store.getStatusEvents([order!.id]);
    expect(events.map((e) => [e.recipientId === null ? 'order' : 'recipient', e.from, e.to])).toEqual([
      ['order', null, 'FAILED'],
      ['recipient', null, 'FAILED'],
    ]);
  });
});

describe('reads', () => {
  it('retry a status read that met a 503, and serve the fresh state', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: input('read-retry') });
    const id = sent.data!.sendGifts.order!.id;
    h.advance(2);
    h.guusto.http.faults.add({ method: 'GET', path: /^\/api\/v1\/orders\/status\//, fault: { kind: 'status', status: 503 } });
    const calls = h.guusto.http.count('GET', '/api/v1/orders/status/:id');
    const order = (await h.gql(OrderDocument, { id })).data!.order!;
    expect(order.status).toBe('SENT');
    expect(h.guusto.http.count('GET', '/api/v1/orders/status/:id')).toBe(calls + 2);
  });

  it('serve the last known state when Guusto stays down', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: input('read-down') });
    h.guusto.http.faults.add({ method: 'GET', path: /^\/api\/v1\/orders\/status\//, times: 3, fault: { kind: 'status', status: 502 } });
    const result = await h.gql(OrderDocument, { id: sent.data!.sendGifts.order!.id });
    expect(result.errors).toBeUndefined();
    expect(result.data!.order!.status).toBe('PENDING');
  });
});

describe('secrets and personal data', () => {
  it('never reach the logs, even in a provider error that quotes them', async () => {
    const token = await h.token();
    const sent = await h.gql(SendGiftsDocument, { input: input('logged', { recipients: [{ email: "o'private.person@example.com" }] }) }, token);
    const quoting = { code: 'internal', message: `could not look up o'private.person@example.com for Bearer ${h.guustoToken}` };
    h.guusto.http.faults.add({ method: 'GET', path: /^\/api\/v1\/orders\/status\//, times: 3, fault: { kind: 'status', status: 500, body: quoting } });
    await h.gql(OrderDocument, { id: sent.data!.sendGifts.order!.id }, token);
    const logs = h.logs.join('\n');
    expect(logs).toContain('refresh failed');
    expect(logs).toContain('could not look up [email]');
    expect(logs).not.toContain('private.person');
    expect(logs).not.toContain(h.guustoToken);
    expect(logs).not.toContain(token);
  });

  it('never reach a client through a provider error that quotes them', async () => {
    h.guusto.http.faults.add({
      ...CREATE,
      fault: { kind: 'status', status: 400, body: { code: 'invalid_field', message: 'recipient private.person@example.com is blocked' } },
    });
    const result = await h.gql(SendGiftsDocument, { input: input('quoted', { recipients: [{ email: 'private.person@example.com' }] }) });
    expect(problemOf(result).code).toBe('PROVIDER_REJECTED');
    expect(problemOf(result).message).toContain('recipient [email] is blocked');
    // The order lists the recipient the client sent; the refusal quoting them does not.
    expect(JSON.stringify(result.data!.sendGifts.problems)).not.toContain('private.person');
  });
});

describe('an unreachable provider', () => {
  it('is a retryable PROVIDER_UNAVAILABLE and the order is recorded as not sent', async () => {
    const down = await Harness.start();
    try {
      await down.guusto.close();
      const result = await down.gql(SendGiftsDocument, { input: input('unreachable') });
      expect(result.data!.sendGifts.order!.status).toBe('FAILED');
      expect(problemOf(result)).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
    } finally {
      await down.close();
    }
  });
});
