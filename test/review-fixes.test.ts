/**
 * Failures a review reproduced against the sandboxes, kept as tests: each once lost, misstated or
 * double-counted money.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { matchOrders } from '../src/providers/goody/map.js';
import { CancelOrderDocument, CatalogDocument, GoodyBatchDocument, OrderDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { errorCode, Harness } from './support/harness.js';

let h: Harness;
let products: Map<string, string>;
let campaign: string;
beforeAll(async () => {
  h = await Harness.start();
  const items = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.map((e) => e.node);
  products = new Map(items.map((i) => [i.name.split(': ')[1]!, i.id]));
  campaign = (await h.gql(CatalogDocument, { provider: 'ANDOPEN', first: 1 })).data!.catalog.edges[0]!.node.id;
});
afterAll(() => h.close());

const people = (n: number) => Array.from({ length: n }, (_, i) => ({ firstName: `Person${i}`, email: `person${i}@example.com` }));
const batch = (key: string, overrides: Partial<SendGiftsInput> = {}): SendGiftsInput => ({
  provider: 'GOODY',
  idempotencyKey: key,
  senderName: 'Acme',
  recipients: people(3),
  goody: { productId: products.get('Sea Salt Caramels')! },
  ...overrides,
});
const BATCHES = '/v1/order_batches';

describe('Goody', () => {
  it('never calls a batch unsent when a retry is rate-limited after an attempt whose answer was lost', async () => {
    h.goody.http.faults.add({ method: 'POST', path: BATCHES, fault: { kind: 'drop-after' } });
    h.goody.http.faults.add({ method: 'POST', path: BATCHES, times: 2, fault: { kind: 'status', status: 429, retryAfterSeconds: 0 } });
    const batches = h.goody.orderCount;
    const result = await h.gql(SendGiftsDocument, { input: batch('lost-then-limited') });
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts.order.status).toBe('SENT');
    expect(h.goody.orderCount).toBe(batches + 1);
  });

  it('keeps a created batch created when its orders cannot be read at once', async () => {
    const fresh = await Harness.start({ goody: { stepMs: 0 } });
    try {
      const items = (await fresh.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.map((e) => e.node);
      const product = items.find((i) => i.name.includes('Caramels'))!.id;
      fresh.goody.http.faults.add({ method: 'GET', path: /\/orders$/, times: 3, fault: { kind: 'status', status: 429 } });
      const sent = await fresh.gql(SendGiftsDocument, { input: { ...batch('paging-fails'), recipients: people(25), goody: { productId: product } } });
      expect(sent.errors).toBeUndefined();
      const order = (await fresh.gql(GoodyBatchDocument, { id: sent.data!.sendGifts.order.id, first: 100 })).data!.order!;
      expect(order.recipients.edges).toHaveLength(25);
      expect(order.recipients.edges.every((e) => e.node.gift?.__typename === 'GiftLink')).toBe(true);
      expect(fresh.goody.orderCount).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('finds the batch when a same-key retry is refused for another reason than a duplicate', async () => {
    const fresh = await Harness.start({ sharedClock: true });
    try {
      const items = (await fresh.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.map((e) => e.node);
      const input = { ...batch('scheduled-lost'), sendAt: new Date(fresh.clock.now() + 1_200).toISOString(), goody: { productId: items.find((i) => i.name.includes('Caramels'))!.id } };
      fresh.goody.http.faults.add({ method: 'POST', path: BATCHES, times: 3, fault: { kind: 'drop-after' } });
      const first = await fresh.gql(SendGiftsDocument, { input });
      expect(first.errors).toBeUndefined(); // found at once, though every answer was lost
      expect(fresh.goody.orderCount).toBe(1);
      fresh.clock.advance(1_300); // past the send time, for giftgraph and Goody alike
      const replay = await fresh.gql(SendGiftsDocument, { input });
      expect(replay.data!.sendGifts).toMatchObject({ created: false, order: { id: first.data!.sendGifts.order.id } });
      expect(fresh.goody.orderCount).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('reports a cancel that failed part of the way, and records the gifts it did cancel', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: batch('partial-cancel') });
    const id = sent.data!.sendGifts.order.id;
    // The first gift's cancel goes through, the second is refused by Goody, the third goes through.
    const cancel = /\/v1\/orders\/[^/]+\/cancel$/;
    h.goody.http.faults.add({ method: 'POST', path: cancel, fault: { kind: 'latency', ms: 0 } });
    h.goody.http.faults.add({ method: 'POST', path: cancel, fault: { kind: 'status', status: 400, body: { error: 'Order cannot be canceled once accepted' } } });
    const result = await h.gql(CancelOrderDocument, { id });
    expect(errorCode(result)).toBe('PROVIDER_REJECTED');
    expect(result.errors![0]!.message).toMatch(/2 of 3 gifts were canceled/);
    const after = (await h.gql(GoodyBatchDocument, { id })).data!.order!;
    expect(after.recipients.edges.map((e) => `${e.node.status}:${e.node.providerStatus}`).sort()).toEqual(['CANCELED:failed', 'CANCELED:failed', 'SENT:created']);
  });

  it('does not send a fixed-price product an amount equal to its price as a variable price', async () => {
    const result = await h.gql(SendGiftsDocument, { input: batch('fixed-amount', { amount: { amount: '32', currency: 'USD' } }) });
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts.order.total).toEqual({ amount: '96.00', currency: 'USD' });
  });

  it('gives each gift link to the recipient it is for, whatever order Goody lists them in', () => {
    const order = (first: string, email: string | null) => ({ id: first, status: 'created', recipient_first_name: first, recipient_email: email });
    const listed = [order('Grace', 'grace@example.com'), order('Ada', null), order('Ada', null), order('Bob', 'bob@example.com')];
    const ours = [
      { position: 0, email: null, firstName: 'Ada', lastName: null },
      { position: 1, email: 'bob@example.com', firstName: 'Bob', lastName: null },
      { position: 2, email: 'GRACE@example.com', firstName: 'Grace', lastName: null },
      { position: 3, email: null, firstName: 'Ada', lastName: null },
    ];
    const matched = matchOrders(listed, ours);
    expect(listed.map((o) => matched.get(o))).toEqual([2, 0, 3, 1]);
    expect(matchOrders([order('Zed', 'zed@example.com')], ours).size).toBe(0);
  });
});

describe('&Open', () => {
  const andOpen = (key: string, n = 2): SendGiftsInput => ({
    provider: 'ANDOPEN',
    idempotencyKey: key,
    recipients: [
      { firstName: 'Ada', lastName: 'Lovelace' },
      { firstName: 'Grace', lastName: 'Hopper' },
      { firstName: 'Katherine', lastName: 'Johnson' },
    ].slice(0, n),
    andOpen: { campaignId: campaign },
  });

  it('follows a recipient sent by a retry after the rest of the order was delivered', async () => {
    h.andOpen.http.faults.add({ method: 'POST', path: '/gift_requests', fault: { kind: 'status', status: 429 } });
    const sent = await h.gql(SendGiftsDocument, { input: andOpen('late-recipient') });
    const id = sent.data!.sendGifts.order.id;
    h.advance(3);
    await h.gql(OrderDocument, { id });
    const retry = await h.gql(SendGiftsDocument, { input: andOpen('late-recipient') });
    expect(retry.data!.sendGifts.order.status).toBe('SENT');
    h.advance(3);
    const done = (await h.gql(OrderDocument, { id })).data!.order!;
    expect(done.recipients.edges.map((e) => e.node.status)).toEqual(['DELIVERED', 'DELIVERED']);
    expect(done.status).toBe('DELIVERED');
  });

  it('records a refused and an unknown recipient apart when all requests fail, and retries only the refused', async () => {
    h.andOpen.http.faults.add({ method: 'POST', path: '/gift_requests', fault: { kind: 'status', status: 429 } });
    h.andOpen.http.faults.add({ method: 'POST', path: '/gift_requests', fault: { kind: 'drop-after' } });
    const requests = h.andOpen.giftRequestCount;
    const first = await h.gql(SendGiftsDocument, { input: andOpen('refused-and-unknown') });
    const statuses = first.data!.sendGifts.order.recipients.edges.map((e) => e.node.status).sort();
    expect(statuses).toEqual(['FAILED', 'UNCONFIRMED']);
    expect(h.andOpen.giftRequestCount).toBe(requests + 1);
    const retry = await h.gql(SendGiftsDocument, { input: andOpen('refused-and-unknown') });
    expect(retry.data!.sendGifts.order.recipients.edges.map((e) => e.node.status).sort()).toEqual(['SENT', 'UNCONFIRMED']);
    expect(h.andOpen.giftRequestCount).toBe(requests + 2);
  });
});
