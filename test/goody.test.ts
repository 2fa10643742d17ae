import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogDocument, GoodyBatchDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness, problemOf, problemsOf } from './support/harness.js';

let h: Harness;
let products: Map<string, string>;
beforeAll(async () => {
  h = await Harness.start();
  const items = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.map((e) => e.node);
  products = new Map(items.map((i) => [i.name.split(': ')[1]!, i.id]));
});
afterAll(() => h.close());

const people = (n: number) => Array.from({ length: n }, (_, i) => ({ firstName: `Person${i}`, lastName: 'Doe', email: `person${i}@example.com` }));

const batch = (key: string, overrides: Partial<SendGiftsInput> = {}): SendGiftsInput => ({
  provider: 'GOODY',
  idempotencyKey: key,
  senderName: 'Acme People Team',
  recipients: people(3),
  goody: { productId: products.get('Sea Salt Caramels')! },
  ...overrides,
});

const BATCHES = '/v1/order_batches';

const read = async (id: string, first = 100) => (await h.gql(GoodyBatchDocument, { id, first })).data!.order!;
const batchCalls = () => h.goody.http.count('GET', '/v1/order_batches/:id/orders');

describe('a batch of 3', () => {
  it('is processed at once: every recipient has a gift link, and the total sums the orders', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: batch('three') });
    expect(sent.errors).toBeUndefined();
    const order = await read(sent.data!.sendGifts.order!.id);
    expect(order).toMatchObject({ status: 'SENT', providerStatus: 'complete', sendStatus: 'complete', ordersCount: 3, sendMethod: 'EMAIL_AND_LINK' });
    expect(order.total).toEqual({ amount: '96.00', currency: 'USD' });
    const recipients = order.recipients.edges.map((e) => e.node);
    expect(recipients.map((r) => [r.firstName, r.status, r.providerStatus])).toEqual([
      ['Person0', 'SENT', 'created'],
      ['Person1', 'SENT', 'created'],
      ['Person2', 'SENT', 'created'],
    ]);
    expect(new Set(recipients.map((r) => (r.gift as { url: string }).url)).size).toBe(3);
  });

  it("follows each gift through Goody's lifecycle to DELIVERED", async () => {
    const sent = await h.gql(SendGiftsDocument, { input: batch('lifecycle') });
    const id = sent.data!.sendGifts.order!.id;
    const seen: string[] = [];
    for (let step = 0; step < 6; step++) {
      seen.push((await read(id)).status);
      h.advance(1);
    }
    expect(seen).toEqual(['SENT', 'SENT', 'OPENED', 'REDEEMED', 'SHIPPED', 'DELIVERED']);
    const calls = h.goody.http.count('GET', '/v1/order_batches/:id');
    await read(id);
    expect(h.goody.http.count('GET', '/v1/order_batches/:id')).toBe(calls);
  });
});

describe('a batch of 25', () => {
  it('is processed in the background, then read back with every recipient, paging past the preview', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: batch('twenty-five', { recipients: people(25) }) });
    expect(sent.errors).toBeUndefined();
    const id = sent.data!.sendGifts.order!.id;
    const pending = await read(id);
    expect(pending).toMatchObject({ status: 'PROCESSING', sendStatus: 'pending' });
    expect(pending.recipients.edges.every((e) => e.node.gift === null)).toBe(true);

    h.advance(1);
    const before = batchCalls();
    const done = await read(id);
    expect(done).toMatchObject({ sendStatus: 'complete', ordersCount: 25 });
    expect(batchCalls()).toBe(before + 1);
    const recipients = done.recipients.edges.map((e) => e.node);
    expect(recipients).toHaveLength(25);
    expect(recipients.map((r) => r.firstName)).toEqual(people(25).map((p) => p.firstName));
    expect(recipients.every((r) => r.gift?.__typename === 'GiftLink')).toBe(true);
    expect(done.total).toEqual({ amount: '800.00', currency: 'USD' });
  });

  it('keeps a created batch created when its orders cannot be read at once', async () => {
    const fresh = await Harness.start({ goody: { stepMs: 0 } });
    try {
      const items = (await fresh.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.map((e) => e.node);
      const product = items.find((i) => i.name.includes('Caramels'))!.id;
      fresh.goody.http.faults.add({ method: 'GET', path: /\/orders$/, times: 3, fault: { kind: 'status', status: 429 } });
      const sent = await fresh.gql(SendGiftsDocument, { input: { ...batch('paging-fails'), recipients: people(25), goody: { productId: product } } });
      expect(sent.errors).toBeUndefined();
      const order = (await fresh.gql(GoodyBatchDocument, { id: sent.data!.sendGifts.order!.id, first: 100 })).data!.order!;
      expect(order.recipients.edges).toHaveLength(25);
      expect(order.recipients.edges.every((e) => e.node.gift?.__typename === 'GiftLink')).toBe(true);
      expect(fresh.goody.orderCount).toBe(1);
    } finally {
      await fresh.close();
    }
  });
});

describe('other ways to send', () => {
  it('makes links without emails, and loads a variable-price gift card with the amount asked', async () => {
    const sent = await h.gql(SendGiftsDocument, {
      input: batch('links-only', {
        recipients: [{ firstName: 'Ada' }, { firstName: 'Grace' }],
        amount: { amount: '75', currency: 'USD' },
        goody: { productId: products.get('Digital Gift Card')!, sendMethod: 'LINK_MULTIPLE_CUSTOM_LIST', expiresAt: '2099-01-31T00:00:00.000Z' },
      }),
    });
    expect(sent.errors).toBeUndefined();
    const order = await read(sent.data!.sendGifts.order!.id);
    expect(order).toMatchObject({
      sendMethod: 'LINK_MULTIPLE_CUSTOM_LIST',
      total: { amount: '150.00', currency: 'USD' },
      expiresAt: '2099-01-31T00:00:00.000Z',
    });
    expect(order.recipients.edges.every((e) => e.node.gift?.__typename === 'GiftLink')).toBe(true);
  });

  it('does not send a fixed-price product an amount equal to its price as a variable price', async () => {
    const result = await h.gql(SendGiftsDocument, { input: batch('fixed-amount', { amount: { amount: '32', currency: 'USD' } }) });
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts.order!.total).toEqual({ amount: '96.00', currency: 'USD' });
  });
});

describe('a create whose answer is lost', () => {
  it('is retried, recognized as a duplicate by Goody, and resolves to the one batch it created', async () => {
    h.goody.http.faults.add({ method: 'POST', path: '/v1/order_batches', fault: { kind: 'drop-after' } });
    const batches = h.goody.orderCount;
    const sent = await h.gql(SendGiftsDocument, { input: batch('dropped') });
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.sendGifts.created).toBe(true);
    expect(h.goody.orderCount).toBe(batches + 1);
    expect(h.goody.http.count('POST', '/v1/order_batches')).toBeGreaterThanOrEqual(2);
    expect((await read(sent.data!.sendGifts.order!.id)).recipients.edges).toHaveLength(3);
  });

  it('never calls a batch unsent when a retry is rate-limited after an attempt whose answer was lost', async () => {
    h.goody.http.faults.add({ method: 'POST', path: BATCHES, fault: { kind: 'drop-after' } });
    h.goody.http.faults.add({ method: 'POST', path: BATCHES, times: 2, fault: { kind: 'status', status: 429, retryAfterSeconds: 0 } });
    const batches = h.goody.orderCount;
    const result = await h.gql(SendGiftsDocument, { input: batch('lost-then-limited') });
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts.order!.status).toBe('SENT');
    expect(h.goody.orderCount).toBe(batches + 1);
  });

  it('finds the batch when a same-key retry is refused for another reason than a duplicate', async () => {
    const fresh = await Harness.start({ sharedClock: true });
    try {
      const items = (await fresh.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.map((e) => e.node);
      const input = {
        ...batch('scheduled-lost'),
        sendAt: new Date(fresh.clock.now() + 1_200).toISOString(),
        goody: { productId: items.find((i) => i.name.includes('Caramels'))!.id },
      };
      fresh.goody.http.faults.add({ method: 'POST', path: BATCHES, times: 3, fault: { kind: 'drop-after' } });
      const first = await fresh.gql(SendGiftsDocument, { input });
      expect(first.errors).toBeUndefined(); // found at once, though every answer was lost
      expect(fresh.goody.orderCount).toBe(1);
      fresh.clock.advance(1_300); // past the send time, for giftgraph and Goody alike
      const replay = await fresh.gql(SendGiftsDocument, { input });
      expect(replay.data!.sendGifts).toMatchObject({ created: false, order: { id: first.data!.sendGifts.order!.id } });
      expect(fresh.goody.orderCount).toBe(1);
    } finally {
      await fresh.close();
    }
  });
});

describe('bad input', () => {
  const cases: [string, (k: string) => SendGiftsInput, string][] = [
    ['a recipient without a first name', (k) => batch(k, { recipients: [{ email: 'x@example.com' }] }), 'input.recipients[0].firstName'],
    ['no email when Goody sends the email', (k) => batch(k, { recipients: [{ firstName: 'Ada' }] }), 'input.recipients[0].email'],
    ['a message without a greeting card', (k) => batch(k, { message: 'Thanks!' }), 'input.goody.cardId'],
    ['no product', (k) => batch(k, { goody: null }), 'input.goody.productId'],
    ['an unknown product', (k) => batch(k, { goody: { productId: Buffer.from('CatalogItem:GOODY:product:nope').toString('base64url') } }), 'input.goody.productId'],
    ['an amount for a fixed-price product', (k) => batch(k, { amount: { amount: '10', currency: 'USD' } }), 'input.recipients[0].amount.amount'],
    ['no amount for a gift card', (k) => batch(k, { goody: { productId: products.get('Digital Gift Card')! } }), 'input.recipients[0].amount'],
    [
      'a gift card amount out of range',
      (k) => batch(k, { amount: { amount: '600', currency: 'USD' }, goody: { productId: products.get('Digital Gift Card')! } }),
      'input.recipients[0].amount.amount',
    ],
    [
      'different amounts in one batch',
      (k) =>
        batch(k, {
          recipients: [
            { firstName: 'A', email: 'a@example.com', amount: { amount: '20', currency: 'USD' } },
            { firstName: 'B', email: 'b@example.com', amount: { amount: '30', currency: 'USD' } },
          ],
          goody: { productId: products.get('Digital Gift Card')! },
        }),
      'input.recipients',
    ],
    [
      'a currency other than USD',
      (k) => batch(k, { amount: { amount: '20', currency: 'EUR' }, goody: { productId: products.get('Digital Gift Card')! } }),
      'input.recipients[0].amount.currency',
    ],
    ['DIRECT_SEND', (k) => batch(k, { goody: { productId: products.get('Sea Salt Caramels')!, sendMethod: 'DIRECT_SEND' } }), 'input.goody.sendMethod'],
    ['a quantity of zero', (k) => batch(k, { goody: { productId: products.get('Sea Salt Caramels')!, quantity: 0 } }), 'input.goody.quantity'],
    ['no sender name', (k) => batch(k, { senderName: null }), 'input.senderName'],
    [
      'links that expire before they are sent',
      (k) => batch(k, { goody: { productId: products.get('Sea Salt Caramels')!, expiresAt: '2001-01-01T00:00:00Z' } }),
      'input.goody.expiresAt',
    ],
  ];

  it.each(cases)('rejects %s with a typed problem naming the field, nothing written or sent', async (_name, make, field) => {
    const rows = h.store.counts();
    const before = h.goody.http.count('POST', '/v1/order_batches');
    const result = await h.gql(SendGiftsDocument, { input: make(`bad-${field}`) });
    expect(result.data!.sendGifts.order).toBeNull();
    expect(problemOf(result).code).toBe('BAD_USER_INPUT');
    expect(problemsOf(result).map((p) => p.field)).toContain(field);
    expect(h.store.counts()).toEqual(rows);
    expect(h.goody.http.count('POST', '/v1/order_batches')).toBe(before);
  });
});
