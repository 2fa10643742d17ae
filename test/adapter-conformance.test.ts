/**
 * The contract every provider adapter meets, run against each provider's sandbox over real HTTP
 * and through the whole API. A new provider adds one fixture here.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { decodeId } from '../src/core/global-id.js';
import type { Provider } from '../src/core/model.js';
import type { SandboxHttpServer } from '../src/sandboxes/kit/server.js';
import { CancelOrderDocument, CatalogDocument, OrderDocument, ProvidersDocument, ResendGiftDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness, type HarnessOptions, problemCode, problemOf } from './support/harness.js';

interface Fixture {
  provider: Provider;
  name?: string;
  harness?: HarnessOptions;
  /** A valid send of two recipients, given the provider's catalog. */
  input(key: string, catalog: { id: string; kind: string; name: string; currency?: string | null }[]): SendGiftsInput;
  createPath: RegExp;
  /** What the sandbox holds for our orders, and how many of those one two-recipient order makes. */
  sandbox(h: Harness): { http: SandboxHttpServer; orderCount: number };
  perOrder?: number;
}

const fixtures: Fixture[] = [
  {
    provider: 'GUUSTO',
    input: (key) => ({
      provider: 'GUUSTO',
      idempotencyKey: key,
      message: 'Thanks!',
      amount: { amount: '20', currency: 'USD' },
      recipients: [{ email: 'ada@example.com' }, { employeeNumber: 'E-7' }],
    }),
    createPath: /^\/api\/v1\/orders$/,
    sandbox: (h) => h.guusto,
  },
  {
    provider: 'GIFTRONAUT',
    input: (key, catalog) => ({
      provider: 'GIFTRONAUT',
      idempotencyKey: key,
      senderName: 'Acme',
      amount: { amount: '20', currency: 'USD' },
      recipients: [{ email: 'ada@example.com' }, { email: 'grace@example.com' }],
      giftronaut: { productId: catalog.find((c) => c.kind === 'CHOICE_CARD' && c.currency === 'USD')!.id },
    }),
    createPath: /^\/api\/v1\/orders\/(branded|choice)-cards$/,
    sandbox: (h) => h.giftronaut,
  },
  {
    provider: 'GOODY',
    input: (key, catalog) => ({
      provider: 'GOODY',
      idempotencyKey: key,
      senderName: 'Acme',
      recipients: [
        { email: 'ada@example.com', firstName: 'Ada' },
        { email: 'grace@example.com', firstName: 'Grace' },
      ],
      goody: { productId: catalog.find((c) => c.kind === 'PRODUCT' && c.name.includes('Caramels'))!.id },
    }),
    createPath: /^\/v1\/order_batches$/,
    sandbox: (h) => h.goody,
  },
  ...(['2026-05', '2025-09'] as const).map(
    (version): Fixture => ({
      provider: 'ANDOPEN',
      name: `ANDOPEN (${version})`,
      harness: { andOpenVersion: version },
      input: (key, catalog) => ({
        provider: 'ANDOPEN',
        idempotencyKey: key,
        recipients: [
          { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' },
          { email: 'grace@example.com', firstName: 'Grace', lastName: 'Hopper' },
        ],
        andOpen: { campaignId: catalog.find((c) => c.kind === 'CAMPAIGN')!.id },
      }),
      createPath: /^\/gift_requests$/,
      sandbox: (h) => ({ http: h.andOpen.http, orderCount: h.andOpen.giftRequestCount }),
      perOrder: 2,
    }),
  ),
];

const ACCEPTED = ['PENDING', 'SCHEDULED', 'PROCESSING', 'SENT'];
const REACHED_RECIPIENT = ['SENT', 'OPENED', 'REDEEMED', 'SHIPPED', 'DELIVERED'];

describe.each(fixtures.map((f) => ({ ...f, name: f.name ?? f.provider })))('the $name adapter', (fixture) => {
  let h: Harness;
  let catalog: { id: string; kind: string; name: string; currency?: string | null }[];
  const creates = () => fixture.sandbox(h).http.received.filter((r) => r.method === 'POST' && fixture.createPath.test(r.path)).length;
  const adapter = () => h.providers.get(fixture.provider)!.adapter;

  beforeAll(async () => {
    h = await Harness.start(fixture.harness);
    catalog = (await h.gql(CatalogDocument, { provider: fixture.provider, first: 100 })).data!.catalog.edges.map((e) => e.node);
  });
  afterAll(() => h.close());

  it('lists a catalog whose items name their provider', () => {
    expect(catalog.length).toBeGreaterThan(0);
    for (const item of catalog) expect(decodeId(item.id, 'CatalogItem')?.provider).toBe(fixture.provider);
  });

  it('sends, reads back, and follows the order to SENT with a gift for every recipient', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: fixture.input('conformance-send', catalog) });
    expect(sent.errors).toBeUndefined();
    const order = sent.data!.sendGifts.order!;
    expect(order.provider).toBe(fixture.provider);
    expect(ACCEPTED).toContain(order.status);
    expect(order.recipients.edges).toHaveLength(2);
    expect(decodeId(order.id, 'Order')?.provider).toBe(fixture.provider);

    h.advance(2);
    const read = (await h.gql(OrderDocument, { id: order.id })).data!.order!;
    expect(REACHED_RECIPIENT).toContain(read.status);
    expect(read.recipients.edges.every((e) => REACHED_RECIPIENT.includes(e.node.status) && e.node.gift !== null)).toBe(true);
    expect(read.statusHistory.at(-1)).toMatchObject({ to: read.status, source: 'POLL' });
  });

  it('replays the same key without a second create', async () => {
    const first = await h.gql(SendGiftsDocument, { input: fixture.input('conformance-replay', catalog) });
    const before = creates();
    const again = await h.gql(SendGiftsDocument, { input: fixture.input('conformance-replay', catalog) });
    expect(again.data!.sendGifts).toMatchObject({ created: false, order: { id: first.data!.sendGifts.order!.id } });
    expect(creates()).toBe(before);
  });

  it('reports the capabilities it acts on', async () => {
    const info = (await h.gql(ProvidersDocument, {})).data!.providers.find((p) => p.name === fixture.provider)!;
    // Every provider takes a send time: scheduled by the provider where it can, else held by giftgraph.
    expect(info.capabilities).toEqual({ ...adapter().capabilities, canSchedule: true });
  });

  it('lists its orders where it can', async () => {
    const list = adapter().orderList;
    if (!adapter().capabilities.canListOrders) return expect(list).toBeUndefined();
    const page = await list!.read(undefined, 100);
    expect(page.entries.length).toBeGreaterThanOrEqual(2);
    expect(page.entries.every((e) => e.item.providerRef.length > 0)).toBe(true);
  });

  it('resends and cancels exactly when the order says it can', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: fixture.input('conformance-after', catalog) });
    const id = sent.data!.sendGifts.order!.id;
    h.advance(2);
    const can = (await h.gql(OrderDocument, { id })).data!.order!.capabilities;
    const refusal = (providerCan: boolean) => (providerCan ? 'PROVIDER_REJECTED' : 'UNSUPPORTED_BY_PROVIDER');

    const resend = await h.gql(ResendGiftDocument, { input: { orderId: id, recipients: [{ email: 'ada@example.com' }] } });
    if (can.canResend) expect(resend.data!.resendGift.requeued).toBe(1);
    else expect(problemCode(resend)).toBe(refusal(adapter().capabilities.canResend));

    const cancel = await h.gql(CancelOrderDocument, { id });
    if (can.canCancel) expect(cancel.data!.cancelOrder.order!.status).toBe('CANCELED');
    else expect(problemCode(cancel)).toBe(refusal(adapter().capabilities.canCancel));
  });

  it('never creates two orders when the connection drops after the provider processed the create', async () => {
    const box = fixture.sandbox(h);
    box.http.faults.add({ method: 'POST', path: fixture.createPath, fault: { kind: 'drop-after' } });
    const orders = box.orderCount;
    const perOrder = fixture.perOrder ?? 1;
    const result = await h.gql(SendGiftsDocument, { input: fixture.input('conformance-drop', catalog) });
    expect(fixture.sandbox(h).orderCount).toBe(orders + perOrder);
    if (adapter().capabilities.deduplicatesCreates) {
      expect(ACCEPTED).toContain(result.data!.sendGifts.order!.status);
    } else if (adapter().sendsPerRecipient) {
      // One request's answer was lost: that recipient alone is UNCONFIRMED, and so is the order.
      const recipients = result.data!.sendGifts.order!.recipients.edges.map((e) => e.node.status);
      expect(recipients.filter((s) => s === 'UNCONFIRMED')).toHaveLength(1);
      expect(result.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
    } else {
      expect(result.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
      expect(problemOf(result)).toMatchObject({ code: 'OUTCOME_UNKNOWN', retryable: false });
    }
    await h.gql(SendGiftsDocument, { input: fixture.input('conformance-drop', catalog) });
    expect(fixture.sandbox(h).orderCount).toBe(orders + perOrder);
  });
});
