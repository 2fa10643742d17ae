import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import pino from 'pino';
import { decodeId } from '../src/core/global-id.js';
import { UnconfirmedReconciler } from '../src/orders/reconcile.js';
import { CatalogDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { errorCode, Harness, problemCode, problemOf } from './support/harness.js';

let h: Harness;
let admin: string;
beforeAll(async () => {
  h = await Harness.start();
  admin = await h.token({ scope: 'orders:read orders:admin', subject: 'ops-ada' });
});
afterAll(() => h.close());

const CREATE = { method: 'POST', path: '/api/v1/orders' };
const posts = () => h.guusto.http.count('POST', '/api/v1/orders');

const guusto = (key: string): SendGiftsInput => ({
  provider: 'GUUSTO',
  idempotencyKey: key,
  message: 'Thank you!',
  amount: { amount: '25', currency: 'CAD' },
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
});

const SETTLE = `mutation Settle($input: SettleOrderInput!) {
  settleOrder(input: $input) {
    settled
    order { id status providerStatus ... on GuustoOrder { requestId } statusHistory { from to source actor } }
    problems { code field message retryable }
  }
}`;
interface Settled {
  settleOrder: {
    settled: boolean;
    order: { id: string; status: string; requestId?: string | null; statusHistory: { from: string; to: string; source: string; actor: string | null }[] } | null;
    problems: { code: string; field: string | null; message: string; retryable: boolean | null }[];
  };
}
const settle = (input: Record<string, unknown>, token = admin) => h.gql<Settled, { input: Record<string, unknown> }>(SETTLE, { input }, token);

const READ = 'query ($id: ID!) { order(id: $id) { status recipients { edges { node { status gift { __typename } } } } } }';
const read = async (id: string) =>
  (await h.gql<{ order: { status: string; recipients: { edges: { node: { status: string; gift: unknown } }[] } } }, { id: string }>(READ, { id }, admin)).data!.order;

/** A Guusto send whose answer was lost after Guusto took it: UNCONFIRMED, and Guusto holds it. */
async function unconfirmed(key: string): Promise<{ id: string; requestId: string | undefined }> {
  h.guusto.http.faults.add({ ...CREATE, fault: { kind: 'drop-after' } });
  const sent = await h.gql(SendGiftsDocument, { input: guusto(key) });
  expect(problemCode(sent)).toBe('OUTCOME_UNKNOWN');
  const id = sent.data!.sendGifts.order!.id;
  return { id, requestId: h.guusto.requestIdFor(decodeId(id, 'Order')!.local) };
}

describe('settling an UNCONFIRMED Guusto order', () => {
  it('as SENT, under the reference found at Guusto: it is tracked from then on and reaches SENT with its certificate', async () => {
    const { id, requestId } = await unconfirmed('settle-sent');
    expect(requestId).toBeDefined();
    const result = await settle({ orderId: id, outcome: 'SENT', providerRef: requestId });
    expect(result.errors).toBeUndefined();
    const { order, settled, problems } = result.data!.settleOrder;
    expect(settled).toBe(true);
    expect(problems).toEqual([]);
    expect(order).toMatchObject({ id, status: 'PENDING', requestId });
    expect(order!.statusHistory.at(-1)).toEqual({ from: 'UNCONFIRMED', to: 'PENDING', source: 'OPERATOR', actor: 'ops-ada' });

    h.advance(3);
    const tracked = await read(id);
    expect(tracked.status).toBe('SENT');
    expect(tracked.recipients.edges[0]!.node.gift).toEqual({ __typename: 'Certificate' });
  });

  it('as NOT_SENT: it is FAILED, and the same idempotency key then sends it, once', async () => {
    const { id } = await unconfirmed('settle-not-sent');
    const result = await settle({ orderId: id, outcome: 'NOT_SENT' });
    expect(result.data!.settleOrder.order).toMatchObject({ status: 'FAILED', providerStatus: 'NOT_SENT' });
    expect(result.data!.settleOrder.order!.statusHistory.at(-1)).toMatchObject({ to: 'FAILED', source: 'OPERATOR', actor: 'ops-ada' });

    const before = posts();
    const again = await h.gql(SendGiftsDocument, { input: guusto('settle-not-sent') });
    expect(again.errors).toBeUndefined();
    expect(again.data!.sendGifts).toMatchObject({ created: true, order: { id, status: 'PENDING' } });
    expect(posts()).toBe(before + 1);
  });

  it('the same way twice records it once', async () => {
    const { id, requestId } = await unconfirmed('settle-twice');
    await settle({ orderId: id, outcome: 'SENT', providerRef: requestId });
    const events = h.store.counts().statusEvents;
    const again = await settle({ orderId: id, outcome: 'SENT', providerRef: requestId });
    expect(again.data!.settleOrder.settled).toBe(false);
    expect(h.store.counts().statusEvents).toBe(events);
  });
});

describe('a settlement is refused', () => {
  it('without the orders:admin scope, which no development token has unless asked', async () => {
    const { id, requestId } = await unconfirmed('settle-scope');
    const refused = await settle({ orderId: id, outcome: 'SENT', providerRef: requestId }, await h.token());
    expect(errorCode(refused)).toBe('FORBIDDEN');
    expect((await read(id)).status).toBe('UNCONFIRMED');
  });

  it('for an order that is not UNCONFIRMED, or settled otherwise before', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: guusto('settle-accepted') });
    const refused = await settle({ orderId: sent.data!.sendGifts.order!.id, outcome: 'NOT_SENT' });
    expect(refused.errors).toBeUndefined();
    expect(refused.data!.settleOrder).toMatchObject({ settled: false, order: null });
    expect(problemOf(refused)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.orderId' });
    expect(problemOf(refused).message).toMatch(/is PENDING, not UNCONFIRMED/);

    const { id, requestId } = await unconfirmed('settle-contradicted');
    await settle({ orderId: id, outcome: 'SENT', providerRef: requestId });
    expect(problemCode(await settle({ orderId: id, outcome: 'NOT_SENT' }))).toBe('BAD_USER_INPUT');
  });

  it("under a reference the ledger holds for another order, even another tenant's", async () => {
    const theirs = await h.gql(SendGiftsDocument, { input: guusto('settle-theirs') }, await h.token({ tenant: 'globex' }));
    const theirRef = h.guusto.requestIdFor(decodeId(theirs.data!.sendGifts.order!.id, 'Order')!.local)!;
    const { id } = await unconfirmed('settle-stolen-ref');
    const refused = await settle({ orderId: id, outcome: 'SENT', providerRef: theirRef });
    expect(problemOf(refused)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.providerRef' });
    expect(JSON.stringify(refused)).not.toContain('globex');
    expect((await read(id)).status).toBe('UNCONFIRMED');
  });

  it("for another tenant's order, as if it did not exist", async () => {
    const { id, requestId } = await unconfirmed('settle-tenant');
    const other = await h.token({ tenant: 'globex', scope: 'orders:admin' });
    expect(problemCode(await settle({ orderId: id, outcome: 'SENT', providerRef: requestId }, other))).toBe('NOT_FOUND');
    expect((await read(id)).status).toBe('UNCONFIRMED');
  });

  it('as SENT without the provider reference, or NOT_SENT with one, naming the field', async () => {
    const { id } = await unconfirmed('settle-input');
    const noRef = await settle({ orderId: id, outcome: 'SENT' });
    expect(problemOf(noRef)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.providerRef' });
    const withRef = await settle({ orderId: id, outcome: 'NOT_SENT', providerRef: 'abc' });
    expect(problemOf(withRef)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.providerRef' });
    const perRecipient = await settle({ orderId: id, recipients: [{ recipientId: 'x', outcome: 'SENT', providerRef: 'y' }] });
    expect(problemOf(perRecipient)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.recipients' });
    expect((await read(id)).status).toBe('UNCONFIRMED');
  });
});

describe('settling an &Open recipient whose gift request is UNCONFIRMED', () => {
  it('settles that recipient alone, under its gift request id, and leaves the others as they are', async () => {
    const campaign = (await h.gql(CatalogDocument, { provider: 'ANDOPEN', first: 1 })).data!.catalog.edges[0]!.node.id;
    h.andOpen.http.faults.add({ method: 'POST', path: '/gift_requests', fault: { kind: 'drop-after' } });
    const sent = await h.gql(SendGiftsDocument, {
      input: {
        provider: 'ANDOPEN',
        idempotencyKey: 'settle-andopen',
        recipients: [
          { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' },
          { firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.com' },
        ],
        andOpen: { campaignId: campaign },
      },
    });
    const id = sent.data!.sendGifts.order!.id;
    const people = await h.gql<{ order: { recipients: { edges: { node: { id: string; email: string; status: string } }[] } } }, { id: string }>(
      'query ($id: ID!) { order(id: $id) { recipients { edges { node { id email status } } } } }',
      { id },
      admin,
    );
    const nodes = people.data!.order.recipients.edges.map((e) => e.node);
    const unknown = nodes.find((n) => n.status === 'UNCONFIRMED')!;
    const known = nodes.find((n) => n.status !== 'UNCONFIRMED')!;
    expect(unknown).toBeDefined();

    const whole = await settle({ orderId: id, outcome: 'SENT', providerRef: 'x' });
    expect(problemOf(whole)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.outcome' });
    const result = await settle({ orderId: id, recipients: [{ recipientId: unknown.id, outcome: 'SENT', providerRef: h.andOpen.giftRequestIdFor(unknown.email) }] });
    expect(result.errors).toBeUndefined();
    expect(result.data!.settleOrder.settled).toBe(true);

    const after = await h.gql<
      { order: { recipients: { edges: { node: { id: string; status: string; statusHistory: { to: string; source: string; actor: string | null }[] } }[] } } },
      { id: string }
    >('query ($id: ID!) { order(id: $id) { recipients { edges { node { id status statusHistory { to source actor } } } } } }', { id }, admin);
    const byId = new Map(after.data!.order.recipients.edges.map((e) => [e.node.id, e.node]));
    expect(byId.get(unknown.id)!.statusHistory).toContainEqual({ to: 'PENDING', source: 'OPERATOR', actor: 'ops-ada' });
    expect(byId.get(unknown.id)!.status).not.toBe('UNCONFIRMED');
    expect(byId.get(known.id)!.statusHistory.every((e) => e.source !== 'OPERATOR')).toBe(true);
  });
});

describe('an UNCONFIRMED Goody order', () => {
  it('is found at Goody by our reference and settled by itself, without a second send', async () => {
    const product = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.find((e) => e.node.kind === 'PRODUCT')!.node.id;
    // Every attempt reaches Goody and loses its answer, and Goody's list cannot be read to find the batch.
    h.goody.http.faults.add({ method: 'POST', path: '/v1/order_batches', times: 3, fault: { kind: 'drop-after' } });
    h.goody.http.faults.add({ method: 'GET', path: '/v1/order_batches', times: 3, fault: { kind: 'status', status: 503 } });
    const gifts = h.goody.orderCount;
    const sent = await h.gql(SendGiftsDocument, {
      input: { provider: 'GOODY', idempotencyKey: 'settle-goody', senderName: 'Acme', recipients: [{ firstName: 'Ada', email: 'ada@example.com' }], goody: { productId: product } },
    });
    expect(problemCode(sent)).toBe('OUTCOME_UNKNOWN');
    const id = sent.data!.sendGifts.order!.id;
    expect((await read(id)).status).toBe('UNCONFIRMED');
    expect(h.goody.orderCount).toBe(gifts + 1);

    const reconciler = new UnconfirmedReconciler(h.store, h.providers, h.app.orders, pino({ level: 'silent' }), { intervalMs: 60_000, graceMs: 0, perRound: 20 });
    expect(await reconciler.runOnce()).toBe(1);
    const settled = await read(id);
    expect(settled.status).not.toBe('UNCONFIRMED');
    expect(settled.recipients.edges[0]!.node.gift).toEqual({ __typename: 'GiftLink' });
    expect(h.goody.orderCount).toBe(gifts + 1);
    expect(h.logs.some((line) => line.includes('found at its provider by our reference'))).toBe(true);
    // Settled once: a second round finds nothing left to look up.
    expect(await reconciler.runOnce()).toBe(0);
  });

  it('never found does not keep a newer one from being looked up', async () => {
    const product = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.find((e) => e.node.kind === 'PRODUCT')!.node.id;
    const send = (key: string) =>
      h.gql(SendGiftsDocument, {
        input: { provider: 'GOODY', idempotencyKey: key, senderName: 'Acme', recipients: [{ firstName: 'Ada', email: 'ada@example.com' }], goody: { productId: product } },
      });
    // The first never reached Goody, though its answer was lost too: Goody will never find it.
    h.goody.http.faults.add({ method: 'POST', path: '/v1/order_batches', times: 3, fault: { kind: 'drop-before' } });
    h.goody.http.faults.add({ method: 'GET', path: '/v1/order_batches', times: 3, fault: { kind: 'status', status: 503 } });
    const lost = (await send('reconcile-lost')).data!.sendGifts.order!.id;
    h.goody.http.faults.add({ method: 'POST', path: '/v1/order_batches', times: 3, fault: { kind: 'drop-after' } });
    h.goody.http.faults.add({ method: 'GET', path: '/v1/order_batches', times: 3, fault: { kind: 'status', status: 503 } });
    const found = (await send('reconcile-found')).data!.sendGifts.order!.id;
    expect([(await read(lost)).status, (await read(found)).status]).toEqual(['UNCONFIRMED', 'UNCONFIRMED']);

    const reconciler = new UnconfirmedReconciler(h.store, h.providers, h.app.orders, pino({ level: 'silent' }), { intervalMs: 60_000, graceMs: 0, perRound: 1 });
    expect(await reconciler.runOnce()).toBe(0);
    expect(await reconciler.runOnce()).toBe(1);
    expect((await read(found)).status).not.toBe('UNCONFIRMED');
    expect((await read(lost)).status).toBe('UNCONFIRMED');
  });
});
