import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeId } from '../src/core/global-id.js';
import { GoodyAdapter } from '../src/providers/goody/adapter.js';
import { ManualClock } from '../src/sandboxes/kit/clock.js';
import { GoodySandbox } from '../src/sandboxes/goody/sandbox.js';
import type { OrderRecord, RecipientRecord } from '../src/core/records.js';
import { CancelOrderDocument, CatalogDocument, GoodyBatchDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness, problemOf } from './support/harness.js';

const people = (n: number) => Array.from({ length: n }, (_, i) => ({ firstName: `Person${i}`, email: `person${i}@example.com` }));

async function caramels(h: Harness): Promise<string> {
  const items = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.map((e) => e.node);
  return items.find((i) => i.name.includes('Caramels'))!.id;
}

const batchOf = (key: string, productId: string, n: number): SendGiftsInput => ({
  provider: 'GOODY',
  idempotencyKey: key,
  senderName: 'Acme People Team',
  recipients: people(n),
  goody: { productId },
});

/** The ledger's own rows for an order: what every later read is answered from. */
async function rows(h: Harness, id: string) {
  const local = decodeId(id, 'Order')!.local;
  const [order] = await h.store.getOrders('acme', [local]);
  return { order: order!, recipients: await h.store.getRecipients([local]), events: await h.store.getStatusEvents([local]) };
}

describe('canceling', () => {
  let h: Harness;
  let products: Map<string, string>;
  beforeAll(async () => {
    h = await Harness.start();
    const items = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.map((e) => e.node);
    products = new Map(items.map((i) => [i.name.split(': ')[1]!, i.id]));
  });
  afterAll(() => h.close());

  const batch = (key: string, overrides: Partial<SendGiftsInput> = {}): SendGiftsInput => ({ ...batchOf(key, products.get('Sea Salt Caramels')!, 3), ...overrides });
  const read = async (id: string, first = 100) => (await h.gql(GoodyBatchDocument, { id, first })).data!.order!;

  it('succeeds while the gifts are early, for every gift of the batch', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: batch('cancel-early') });
    const id = sent.data!.sendGifts.order!.id;
    expect((await read(id)).capabilities.canCancel).toBe(true);
    const result = await h.gql(CancelOrderDocument, { id });
    expect(result.errors).toBeUndefined();
    expect(result.data!.cancelOrder.order!.status).toBe('CANCELED');
    // Goody reports a canceled gift as failed: its word is kept, the status says what happened.
    expect((await read(id)).recipients.edges.map((e) => [e.node.status, e.node.providerStatus])).toEqual([
      ['CANCELED', 'failed'],
      ['CANCELED', 'failed'],
      ['CANCELED', 'failed'],
    ]);
  });

  it('is refused, clearly and whole, once a gift was accepted', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: batch('cancel-late') });
    const id = sent.data!.sendGifts.order!.id;
    h.advance(3);
    expect((await read(id)).capabilities.canCancel).toBe(false);
    const before = h.goody.http.count('POST', '/v1/orders/:id/cancel');
    const result = await h.gql(CancelOrderDocument, { id });
    expect(result.data!.cancelOrder.order!.id).toBe(id);
    expect(problemOf(result)).toMatchObject({ code: 'PROVIDER_REJECTED', provider: 'GOODY', providerCode: 'not_cancelable', retryable: false });
    expect(problemOf(result).message).toMatch(/3 of 3 gifts were already accepted/);
    expect(h.goody.http.count('POST', '/v1/orders/:id/cancel')).toBe(before);
  });

  it('is refused for a scheduled batch whose gifts do not exist yet', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: batch('cancel-scheduled', { sendAt: new Date(h.clock.now() + 86_400_000).toISOString() }) });
    const id = sent.data!.sendGifts.order!.id;
    expect((await read(id)).status).toBe('SCHEDULED');
    const result = await h.gql(CancelOrderDocument, { id });
    expect(problemOf(result).message).toMatch(/nothing to cancel yet/);
    expect(result.data!.cancelOrder.order).toMatchObject({ id, status: 'SCHEDULED' });
  });

  it('reports a cancel that failed part of the way, and records the gifts it did cancel', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: batch('partial-cancel') });
    const id = sent.data!.sendGifts.order!.id;
    // The first gift's cancel goes through, the second is refused by Goody, the third goes through.
    const cancel = /\/v1\/orders\/[^/]+\/cancel$/;
    h.goody.http.faults.add({ method: 'POST', path: cancel, fault: { kind: 'latency', ms: 0 } });
    h.goody.http.faults.add({ method: 'POST', path: cancel, fault: { kind: 'status', status: 400, body: { error: 'Order cannot be canceled once accepted' } } });
    const result = await h.gql(CancelOrderDocument, { id });
    expect(problemOf(result).code).toBe('PROVIDER_REJECTED');
    expect(problemOf(result).message).toMatch(/2 of 3 gifts were canceled/);
    // The payload's order is what is true after the partial cancel, as recorded.
    expect(result.data!.cancelOrder.order!.id).toBe(id);
    const after = (await h.gql(GoodyBatchDocument, { id })).data!.order!;
    expect(after.recipients.edges.map((e) => `${e.node.status}:${e.node.providerStatus}`).sort()).toEqual(['CANCELED:failed', 'CANCELED:failed', 'SENT:created']);
  });
});

describe('a Goody cancel, which Goody reports as failed', () => {
  let h: Harness;
  let product: string;
  beforeAll(async () => {
    // Goody's webhooks come back to giftgraph, so its order.canceled events race the cancel's own answer.
    h = await Harness.start({ only: ['GOODY'], webhooks: true });
    product = await caramels(h);
  });
  afterAll(() => h.close());

  it('ends CANCELED through the answer, the order.canceled webhooks and every later read', async () => {
    const id = (await h.gql(SendGiftsDocument, { input: batchOf('cancel', product, 3) })).data!.sendGifts.order!.id;
    const result = await h.gql(CancelOrderDocument, { id });
    expect(result.errors).toBeUndefined();
    expect(result.data!.cancelOrder.order!.status).toBe('CANCELED');
    await h.goody.webhooks.settle();
    await h.app.inbox.idle(); // and the orders they named, read

    // Goody said failed, in the answer, in its events and in its reads, as its documentation shows.
    const canceledEvents = h.goody.webhooks.log.map((d) => JSON.parse(d.body) as { event_type: string; data: { status: string } }).filter((e) => e.event_type === 'order.canceled');
    expect(canceledEvents.map((e) => e.data.status)).toEqual(['failed', 'failed', 'failed']);
    const { order, recipients, events } = await rows(h, id);
    const goody = await fetch(`${h.urls.goody}/v1/orders/${recipients[0]!.providerRef}`, { headers: { authorization: `Bearer ${h.goodyKey}` } });
    expect(((await goody.json()) as { status: string }).status).toBe('failed');

    expect(order.status).toBe('CANCELED');
    expect(recipients.map((r) => [r.status, r.providerStatus])).toEqual([
      ['CANCELED', 'failed'],
      ['CANCELED', 'failed'],
      ['CANCELED', 'failed'],
    ]);
    expect(events.some((e) => e.to === 'FAILED')).toBe(false);
    expect(order.details.canceledOrderIds).toEqual(recipients.map((r) => r.providerRef));

    h.advance(5);
    await h.goody.webhooks.settle();
    await h.app.inbox.idle(); // and the orders they named, read
    const later = (await h.gql(GoodyBatchDocument, { id })).data!.order!;
    expect(later.status).toBe('CANCELED');
    expect(later.recipients.edges.map((e) => e.node.status)).toEqual(['CANCELED', 'CANCELED', 'CANCELED']);
  });

  it('keeps a real failure FAILED, and cancels only the gifts still live', async () => {
    const id = (await h.gql(SendGiftsDocument, { input: batchOf('real-failure', product, 3) })).data!.sendGifts.order!.id;
    const { recipients } = await rows(h, id);
    expect(h.goody.failOrder(recipients[0]!.providerRef!)).toBe(true);
    const failed = (await h.gql(GoodyBatchDocument, { id })).data!.order!;
    expect(failed.recipients.edges.map((e) => [e.node.status, e.node.providerStatus])).toEqual([
      ['FAILED', 'failed'],
      ['SENT', 'created'],
      ['SENT', 'created'],
    ]);

    const cancels = h.goody.http.count('POST', '/v1/orders/:id/cancel');
    expect((await h.gql(CancelOrderDocument, { id })).errors).toBeUndefined();
    await h.goody.webhooks.settle();
    await h.app.inbox.idle(); // and the orders they named, read
    expect(h.goody.http.count('POST', '/v1/orders/:id/cancel')).toBe(cancels + 2);
    const after = await rows(h, id);
    expect(after.recipients.map((r) => [r.status, r.providerStatus])).toEqual([
      ['FAILED', 'failed'],
      ['CANCELED', 'failed'],
      ['CANCELED', 'failed'],
    ]);
  });
});

describe('a cancel kept on the order', () => {
  const clock = new ManualClock(Math.floor(Date.now() / 1000) * 1000);
  const sandbox = new GoodySandbox({ apiKey: 'k', clock, stepMs: 60_000 });
  let asking: GoodyAdapter;
  let other: GoodyAdapter;
  beforeAll(async () => {
    const baseUrl = await sandbox.listen();
    asking = new GoodyAdapter({ baseUrl, apiKey: 'k' }, 2_000);
    other = new GoodyAdapter({ baseUrl, apiKey: 'k' }, 2_000);
  });
  afterAll(async () => {
    await Promise.all([asking.close(), other.close()]);
    await sandbox.close();
  });

  it('tells another process (a replica, or after a restart) that the failed gifts were canceled', async () => {
    const product = (await asking.catalog()).find((c) => c.name.includes('Caramels'))!;
    const recipients = people(2).map((p, position) => ({ position, ...p, lastName: null, employeeNumber: null, company: null, department: null, amount: null }));
    const created = await asking.create({
      reference: 'kept',
      idempotencyKey: 'kept',
      recipients,
      message: null,
      senderName: 'Acme',
      sendAt: null,
      timezone: null,
      options: { productId: Buffer.from(`CatalogItem:GOODY:${product.localId}`).toString('base64url') },
    });
    if (created.kind !== 'accepted') throw new Error('expected the batch to be accepted');
    const order = { id: 'kept', origin: 'GIFTGRAPH', providerRef: created.snapshot.providerRef, details: created.snapshot.details ?? {} } as OrderRecord;
    const records = recipients as unknown as RecipientRecord[];

    const canceled = await asking.cancel(order, records);
    expect(canceled.recipients!.map((r) => [r.status, r.providerStatus])).toEqual([
      ['CANCELED', 'failed'],
      ['CANCELED', 'failed'],
    ]);
    // What the ledger keeps of that answer lets another process read Goody's `failed` as the cancel.
    const recorded = { ...order, details: { ...order.details, ...canceled.details } };
    expect((await other.refresh(recorded, records)).recipients!.map((r) => r.status)).toEqual(['CANCELED', 'CANCELED']);
    // Without it, Goody's word alone is a failure: the record is what makes the difference.
    expect((await other.refresh(order, records)).recipients!.map((r) => r.status)).toEqual(['FAILED', 'FAILED']);
  });
});
