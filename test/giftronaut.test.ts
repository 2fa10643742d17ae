import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelOrderDocument, CatalogDocument, GiftronautOrderDocument, ResendGiftDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness, problemOf, problemsOf } from './support/harness.js';

let h: Harness;
let catalog: Map<string, string>;
beforeAll(async () => {
  h = await Harness.start({ giftronaut: { balanceUsd: 100_000 } });
  const items = (await h.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 50 })).data!.catalog.edges.map((e) => e.node);
  catalog = new Map(items.map((i) => [i.name, i.id]));
});
afterAll(() => h.close());

const CREATE = /^\/api\/v1\/orders\/(branded|choice)-cards$/;
const creates = () => h.giftronaut.http.received.filter((r) => r.method === 'POST' && CREATE.test(r.path)).length;

const branded = (key: string, overrides: Partial<SendGiftsInput> = {}): SendGiftsInput => ({
  provider: 'GIFTRONAUT',
  idempotencyKey: key,
  senderName: 'Acme Corp',
  message: 'Thank you for your hard work.',
  amount: { amount: '25', currency: 'USD' },
  recipients: [
    { email: 'alice@example.com', firstName: 'Alice', lastName: 'Smith', company: 'Acme', department: 'Engineering' },
    { email: 'bob@example.com', firstName: 'Bob', amount: { amount: '50', currency: 'USD' } },
  ],
  giftronaut: { productId: catalog.get('Blue Bottle Coffee')!, subject: 'A gift for you!' },
  ...overrides,
});

const read = async (id: string) => (await h.gql(GiftronautOrderDocument, { id })).data!.order!;
const asGiftronaut = <T extends { __typename?: string }>(order: T) => order as T & { giftronautOrderId: string | null; cardType: string | null };

describe('the catalog', () => {
  it('offers branded cards at fixed price points and choice cards in a range, JPY included', async () => {
    const items = (await h.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 50 })).data!.catalog.edges.map((e) => e.node);
    expect(items.find((i) => i.name === 'Kinokuniya Books')).toMatchObject({
      kind: 'BRANDED_CARD',
      currency: 'JPY',
      prices: [
        { amount: '1000', currency: 'JPY' },
        { amount: '3000', currency: 'JPY' },
        { amount: '5000', currency: 'JPY' },
      ],
    });
    expect(items.find((i) => i.name === 'Thank You Collection')).toMatchObject({
      kind: 'CHOICE_CARD',
      prices: [],
      minAmount: { amount: '5.00', currency: 'USD' },
      maxAmount: { amount: '500.00', currency: 'USD' },
    });
  });
});

describe('a branded card', () => {
  it('is sent, then read back with each recipient and a gift link once complete', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: branded('branded-1') });
    expect(sent.errors).toBeUndefined();
    const id = sent.data!.sendGifts.order!.id;
    expect(sent.data!.sendGifts.order).toMatchObject({ __typename: 'GiftronautOrder', status: 'PENDING', providerStatus: 'PENDING', total: { amount: '75.00', currency: 'USD' } });

    h.advance(1);
    expect((await read(id)).status).toBe('PROCESSING');
    h.advance(1);
    const order = asGiftronaut(await read(id));
    expect(order).toMatchObject({ status: 'SENT', providerStatus: 'COMPLETE', cardType: 'BRANDED_CARD', productName: 'Blue Bottle Coffee', orderType: 'ONE_TIME' });
    expect(order.giftronautOrderId).toMatch(/^OT\d{10}$/);
    const recipients = order.recipients.edges.map((e) => e.node);
    expect(recipients.map((r) => [r.email, r.status, r.amount])).toEqual([
      ['alice@example.com', 'SENT', { amount: '25.00', currency: 'USD' }],
      ['bob@example.com', 'SENT', { amount: '50.00', currency: 'USD' }],
    ]);
    for (const r of recipients) {
      expect(r.gift).toMatchObject({ __typename: 'GiftLink', url: expect.stringMatching(/^https:\/\/sandbox\.giftronaut\.invalid\/r\//) });
      const expires = Date.parse((r.gift as { expiresAt: string }).expiresAt);
      expect(Math.round((expires - h.clock.now()) / 86_400_000)).toBe(180);
    }
    expect(order.statusHistory.map((c) => c.to)).toEqual(['PENDING', 'PROCESSING', 'SENT']);
  });
});

describe('a choice card in JPY', () => {
  it('keeps yen amounts exact end to end, with 30-day links under the refund option', async () => {
    const input: SendGiftsInput = {
      ...branded('choice-jpy'),
      amount: { amount: '3000', currency: 'JPY' },
      recipients: [{ email: 'kenji@example.com' }, { email: 'yui@example.com', amount: { amount: '12345', currency: 'JPY' } }],
      giftronaut: { productId: catalog.get('Japan Choice')!, refundOption: true, cardType: 'CHOICE_CARD' },
    };
    const sent = await h.gql(SendGiftsDocument, { input });
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.sendGifts.order!.total).toEqual({ amount: '15345', currency: 'JPY' });
    h.advance(2);
    const order = await read(sent.data!.sendGifts.order!.id);
    expect(order).toMatchObject({ status: 'SENT', refundOption: true, cardType: 'CHOICE_CARD' });
    expect(order.recipients.edges.map((e) => e.node.amount)).toEqual([
      { amount: '3000', currency: 'JPY' },
      { amount: '12345', currency: 'JPY' },
    ]);
    const expires = Date.parse((order.recipients.edges[0]!.node.gift as { expiresAt: string }).expiresAt);
    expect(Math.round((expires - h.clock.now()) / 86_400_000)).toBe(30);
  });

  it('refuses a fraction of a yen before anything is sent', async () => {
    const before = creates();
    const result = await h.gql(SendGiftsDocument, {
      input: { ...branded('yen-fraction'), amount: { amount: '3000.5', currency: 'JPY' }, giftronaut: { productId: catalog.get('Japan Choice')! } },
    });
    expect(problemOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.amount.amount' });
    expect(creates()).toBe(before);
  });
});

describe('a scheduled send', () => {
  const tomorrow = () => new Date(h.clock.now() + 86_400_000).toISOString();

  it('waits as SCHEDULED in its time zone, and can be canceled more than an hour ahead', async () => {
    const sendAt = tomorrow();
    const sent = await h.gql(SendGiftsDocument, { input: branded('scheduled-1', { sendAt, timezone: 'Asia/Tokyo' }) });
    expect(sent.errors).toBeUndefined();
    const id = sent.data!.sendGifts.order!.id;
    const scheduled = await read(id);
    expect(scheduled).toMatchObject({ status: 'SCHEDULED', providerStatus: 'PENDING', timezone: 'Asia/Tokyo', scheduledFor: sendAt });
    expect(scheduled.recipients.edges.map((e) => e.node.status)).toEqual(['SCHEDULED', 'SCHEDULED']);
    // A resend (to a corrected address) has no documented condition on the order's state.
    expect(scheduled.capabilities).toEqual({ canCancel: true, canResend: true });

    // Scheduled sends do not start before their time, however long the sandbox runs.
    h.advance(10);
    expect((await read(id)).status).toBe('SCHEDULED');

    const canceled = await h.gql(CancelOrderDocument, { id });
    expect(canceled.errors).toBeUndefined();
    expect(canceled.data!.cancelOrder.order!.status).toBe('CANCELED');
    const after = await read(id);
    expect(after.recipients.edges.map((e) => e.node.status)).toEqual(['CANCELED', 'CANCELED']);
    expect(after.statusHistory.map((c) => c.to)).toEqual(['SCHEDULED', 'CANCELED']);
  });

  it('refuses a cancel inside the last hour with a clear, typed error', async () => {
    const sendAt = new Date(h.clock.now() + 30 * 60_000).toISOString();
    const sent = await h.gql(SendGiftsDocument, { input: branded('scheduled-soon', { sendAt, timezone: 'America/New_York' }) });
    const id = sent.data!.sendGifts.order!.id;
    expect((await read(id)).capabilities.canCancel).toBe(false);
    const result = await h.gql(CancelOrderDocument, { id });
    expect(result.errors).toBeUndefined();
    expect(result.data!.cancelOrder.order).toMatchObject({ id, status: 'SCHEDULED' });
    expect(problemOf(result)).toMatchObject({ code: 'PROVIDER_REJECTED', provider: 'GIFTRONAUT', providerCode: 'ORDER_NOT_CANCELABLE', retryable: false });
    expect(problemOf(result).message).toMatch(/only scheduled orders, and only until 1 hour before their send time/);
    expect((await read(id)).status).toBe('SCHEDULED');
  });

  it('refuses to cancel an immediate order', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: branded('immediate-cancel') });
    const result = await h.gql(CancelOrderDocument, { id: sent.data!.sendGifts.order!.id });
    expect(problemOf(result)).toMatchObject({ code: 'PROVIDER_REJECTED', providerCode: 'ORDER_NOT_CANCELABLE' });
  });

  it('returns a scheduled order to a same-key replay after its send time passed', async () => {
    const fresh = await Harness.start({ sharedClock: true });
    try {
      const product = (await fresh.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 50 })).data!.catalog.edges.find((e) => e.node.name === 'Blue Bottle Coffee')!.node.id;
      const input = { ...branded('replay-late'), sendAt: new Date(fresh.clock.now() + 1_500).toISOString(), timezone: 'UTC', giftronaut: { productId: product } };
      const first = await fresh.gql(SendGiftsDocument, { input });
      expect(first.errors).toBeUndefined();
      fresh.clock.advance(1_600); // for giftgraph and Giftronaut alike
      const replay = await fresh.gql(SendGiftsDocument, { input });
      expect(replay.errors).toBeUndefined();
      expect(replay.data!.sendGifts).toMatchObject({ created: false, order: { id: first.data!.sendGifts.order!.id } });
    } finally {
      await fresh.close();
    }
  });

  it('refuses a send time in the hour that repeats when clocks go back', async () => {
    for (const sendAt of ['2027-11-07T05:30:00Z', '2027-11-07T06:30:00Z']) {
      const result = await h.gql(SendGiftsDocument, { input: branded(`dst-${sendAt}`, { sendAt, timezone: 'America/New_York' }) });
      expect(problemOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.sendAt' });
    }
  });

  it('sends Giftronaut the wall-clock time in the zone asked', async () => {
    const sendAt = '2027-01-15T00:00:00.000Z';
    const sent = await h.gql(SendGiftsDocument, { input: branded('tokyo-morning', { sendAt, timezone: 'Asia/Tokyo' }) });
    const giftronautId = asGiftronaut(await read(sent.data!.sendGifts.order!.id)).giftronautOrderId!;
    const adapter = h.providers.get('GIFTRONAUT')!.adapter as unknown as { api: { getOrder(id: string): Promise<{ sendTiming?: unknown }> } };
    expect((await adapter.api.getOrder(giftronautId)).sendTiming).toEqual({ type: 'SCHEDULED', scheduledAt: '2027-01-15T09:00:00', timezone: 'Asia/Tokyo' });
  });
});

describe('resending', () => {
  it('sends a completed gift again to a corrected address, which the order then shows', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: branded('resend-1') });
    const id = sent.data!.sendGifts.order!.id;
    h.advance(2);
    expect((await read(id)).capabilities.canResend).toBe(true);
    const result = await h.gql(ResendGiftDocument, { input: { orderId: id, recipients: [{ email: 'alice@example.com', updatedEmail: 'alice.smith@example.com' }] } });
    expect(result.errors).toBeUndefined();
    expect(result.data!.resendGift.requeued).toBe(1);
    expect((await read(id)).recipients.edges.map((e) => e.node.email)).toEqual(['alice.smith@example.com', 'bob@example.com']);
  });

  it('keeps each recipient when several addresses are corrected at once and Giftronaut lists them in another order', async () => {
    const sent = await h.gql(SendGiftsDocument, {
      input: branded('resend-several', { recipients: [{ email: 'zoe@example.com' }, { email: 'adam@example.com' }, { email: 'mia@example.com' }] }),
    });
    const id = sent.data!.sendGifts.order!.id;
    h.advance(2);
    const links = (await read(id)).recipients.edges.map((e) => (e.node.gift as { url: string }).url);
    const result = await h.gql(ResendGiftDocument, {
      input: {
        orderId: id,
        recipients: [
          { email: 'zoe@example.com', updatedEmail: 'amy@example.com' },
          { email: 'adam@example.com', updatedEmail: 'zed@example.com' },
        ],
      },
    });
    expect(result.data!.resendGift.requeued).toBe(2);
    // Giftronaut lists amy, mia, zed: each keeps its own gift under its new address.
    const after = (await read(id)).recipients.edges.map((e) => e.node);
    expect(after.map((r) => r.email)).toEqual(['amy@example.com', 'zed@example.com', 'mia@example.com']);
    expect(after.map((r) => (r.gift as { url: string }).url)).toEqual(links);
  });

  it('corrects an address on a scheduled order before its send time', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: branded('resend-scheduled', { sendAt: new Date(h.clock.now() + 86_400_000).toISOString(), timezone: 'UTC' }) });
    const id = sent.data!.sendGifts.order!.id;
    expect((await read(id)).capabilities.canResend).toBe(true);
    const result = await h.gql(ResendGiftDocument, { input: { orderId: id, recipients: [{ email: 'bob@example.com', updatedEmail: 'robert@example.com' }] } });
    expect(result.errors).toBeUndefined();
    expect(result.data!.resendGift.requeued).toBe(1);
    const after = await read(id);
    expect(after.status).toBe('SCHEDULED');
    expect(after.recipients.edges.map((e) => e.node.email)).toEqual(['alice@example.com', 'robert@example.com']);
  });

  it('refuses an address that is not a recipient, naming it, without calling Giftronaut', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: branded('resend-2') });
    const before = h.giftronaut.http.count('POST', '/api/v1/orders/:id/resend');
    const result = await h.gql(ResendGiftDocument, { input: { orderId: sent.data!.sendGifts.order!.id, recipients: [{ email: 'mallory@example.com' }] } });
    expect(result.data!.resendGift).toMatchObject({ order: null, requeued: 0 });
    expect(problemOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.recipients[0].email' });
    expect(h.giftronaut.http.count('POST', '/api/v1/orders/:id/resend')).toBe(before);
  });

  it('offers a resend for a bounced gift, and the gift is SENT once resent to a corrected address', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: branded('bounced', { recipients: [{ email: 'typo@bounce.invalid' }] }) });
    const id = sent.data!.sendGifts.order!.id;
    h.advance(2);
    const bounced = await read(id);
    expect(bounced).toMatchObject({ status: 'FAILED', providerStatus: 'COMPLETE', capabilities: { canResend: true } });
    const resent = await h.gql(ResendGiftDocument, { input: { orderId: id, recipients: [{ email: 'typo@bounce.invalid', updatedEmail: 'right@example.com' }] } });
    expect(resent.data!.resendGift.requeued).toBe(1);
    const after = await read(id);
    expect(after.status).toBe('SENT');
    expect(after.recipients.edges[0]!.node).toMatchObject({ email: 'right@example.com', status: 'SENT', gift: { __typename: 'GiftLink' } });
  });
});

describe('a branded card with a denomination range', () => {
  it('is sent at any amount in its range, and refused outside it before anything is sent', async () => {
    const range = { productId: catalog.get('Harbor Outfitters')! };
    const sent = await h.gql(SendGiftsDocument, { input: branded('range-inside', { amount: { amount: '37.50', currency: 'USD' }, giftronaut: range }) });
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.sendGifts.order!.total).toEqual({ amount: '87.50', currency: 'USD' });

    const before = creates();
    const outside = await h.gql(SendGiftsDocument, { input: branded('range-outside', { amount: { amount: '600', currency: 'USD' }, giftronaut: range }) });
    expect(problemOf(outside)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.recipients[0].amount.amount' });
    expect(problemOf(outside).message).toMatch(/Harbor Outfitters takes 5\.00 to 500\.00 USD/);
    expect(creates()).toBe(before);
  });
});

describe('idempotency keys', () => {
  it('reach Giftronaut in the body and as X-Idempotency-Key, the same value', async () => {
    const from = h.giftronaut.creates.length;
    const sent = await h.gql(SendGiftsDocument, { input: branded('both-keys') });
    expect(sent.errors).toBeUndefined();
    const received = h.giftronaut.creates.slice(from);
    expect(received).toHaveLength(1);
    expect(received[0]!.bodyKey).toBeTruthy();
    expect(received[0]!.headerKey).toBe(received[0]!.bodyKey);
  });
});

describe('recipients', () => {
  it('are matched by email when Giftronaut lists them in another order than they were sent', async () => {
    // The sandbox lists recipients by email: adam before zoe, the reverse of how they were sent.
    const sent = await h.gql(SendGiftsDocument, {
      input: branded('reordered', {
        recipients: [
          { email: 'zoe@example.com', firstName: 'Zoe' },
          { email: 'adam@bounce.invalid', firstName: 'Adam' },
        ],
      }),
    });
    expect(sent.errors).toBeUndefined();
    h.advance(2);
    const order = asGiftronaut(await read(sent.data!.sendGifts.order!.id));
    const [zoe, adam] = order.recipients.edges.map((e) => e.node);
    expect(zoe).toMatchObject({ email: 'zoe@example.com', status: 'SENT', gift: { __typename: 'GiftLink' } });
    expect(adam).toMatchObject({ email: 'adam@bounce.invalid', status: 'FAILED', gift: null });

    const adapter = h.providers.get('GIFTRONAUT')!.adapter as unknown as {
      api: { getOrder(id: string): Promise<{ recipients?: { email: string; rewardLink?: string | null }[] }> };
    };
    const listed = (await adapter.api.getOrder(order.giftronautOrderId!)).recipients!;
    expect(listed.map((r) => r.email)).toEqual(['adam@bounce.invalid', 'zoe@example.com']);
    expect((zoe!.gift as { url: string }).url).toBe(listed.find((r) => r.email === 'zoe@example.com')!.rewardLink);
  });
});

describe('a cancel', () => {
  it('whose answer was lost, retried, reports the order CANCELED', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: branded('cancel-answer-lost', { sendAt: new Date(h.clock.now() + 86_400_000).toISOString(), timezone: 'UTC' }) });
    const id = sent.data!.sendGifts.order!.id;
    const CANCEL = /^\/api\/v1\/orders\/[^/]+\/cancel$/;
    const before = h.giftronaut.http.count('DELETE', '/api/v1/orders/:id/cancel');
    // Giftronaut cancels the order, and its answer never arrives; asked again, it says the order is not cancelable.
    h.giftronaut.http.faults.add({ method: 'DELETE', path: CANCEL, fault: { kind: 'drop-after' } });
    const canceled = await h.gql(CancelOrderDocument, { id });
    expect(canceled.errors).toBeUndefined();
    expect(canceled.data!.cancelOrder.order!.status).toBe('CANCELED');
    expect(h.giftronaut.http.count('DELETE', '/api/v1/orders/:id/cancel')).toBe(before + 2);

    // A client that lost our answer too and asks again is told the same.
    const again = await h.gql(CancelOrderDocument, { id });
    expect(again.errors).toBeUndefined();
    expect(again.data!.cancelOrder.order!.status).toBe('CANCELED');
  });
});

describe('creates Giftronaut deduplicates', () => {
  it('are retried after a dropped connection, and Giftronaut holds exactly one order', async () => {
    h.giftronaut.http.faults.add({ method: 'POST', path: CREATE, fault: { kind: 'drop-after' } });
    const orders = h.giftronaut.orderCount;
    const before = creates();
    const sent = await h.gql(SendGiftsDocument, { input: branded('dropped-once') });
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.sendGifts).toMatchObject({ created: true, order: { status: 'PENDING' } });
    expect(creates()).toBe(before + 2);
    expect(h.giftronaut.orderCount).toBe(orders + 1);
  });

  it('are retried after a 5xx', async () => {
    h.giftronaut.http.faults.add({ method: 'POST', path: CREATE, fault: { kind: 'status', status: 502 } });
    const orders = h.giftronaut.orderCount;
    const sent = await h.gql(SendGiftsDocument, { input: branded('bad-gateway') });
    expect(sent.errors).toBeUndefined();
    expect(h.giftronaut.orderCount).toBe(orders + 1);
  });

  it('left UNCONFIRMED after every retry failed are sent again by a same-key replay, still once', async () => {
    h.giftronaut.http.faults.add({ method: 'POST', path: CREATE, times: 3, fault: { kind: 'drop-after' } });
    const orders = h.giftronaut.orderCount;
    const first = await h.gql(SendGiftsDocument, { input: branded('dropped-thrice') });
    expect(first.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
    expect(problemOf(first)).toMatchObject({ code: 'OUTCOME_UNKNOWN', retryable: true });
    expect(h.giftronaut.orderCount).toBe(orders + 1);
    const replay = await h.gql(SendGiftsDocument, { input: branded('dropped-thrice') });
    expect(replay.errors).toBeUndefined();
    expect(replay.data!.sendGifts).toMatchObject({ created: false, order: { status: 'PENDING', providerStatus: 'PENDING' }, problems: [] });
    expect(h.giftronaut.orderCount).toBe(orders + 1);
  });

  it('from two tenants with the same key stay two orders', async () => {
    const orders = h.giftronaut.orderCount;
    await h.gql(SendGiftsDocument, { input: branded('same-key-two-tenants') }, await h.token({ tenant: 'one' }));
    await h.gql(SendGiftsDocument, { input: branded('same-key-two-tenants') }, await h.token({ tenant: 'two' }));
    expect(h.giftronaut.orderCount).toBe(orders + 2);
  });

  it('keeps an UNCONFIRMED order UNCONFIRMED when its same-key retry is refused, and sends it once when retried again', async () => {
    const fresh = await Harness.start();
    try {
      const product = (await fresh.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 50 })).data!.catalog.edges.find((e) => e.node.name === 'Blue Bottle Coffee')!.node.id;
      const input = { ...branded('refused-retry'), giftronaut: { productId: product } };
      fresh.giftronaut.http.faults.add({ method: 'POST', path: CREATE, times: 3, fault: { kind: 'drop-after' } });
      expect(problemOf(await fresh.gql(SendGiftsDocument, { input })).code).toBe('OUTCOME_UNKNOWN');
      expect(fresh.giftronaut.orderCount).toBe(1);

      fresh.giftronaut.http.faults.add({ method: 'POST', path: CREATE, fault: { kind: 'status', status: 429, retryAfterSeconds: 60 } });
      const refused = await fresh.gql(SendGiftsDocument, { input });
      expect(problemOf(refused)).toMatchObject({ code: 'OUTCOME_UNKNOWN', provider: 'GIFTRONAUT', retryable: true });
      expect(problemOf(refused).message).toMatch(/stays UNCONFIRMED/);
      expect(problemOf(refused).retryBefore).not.toBeNull();
      const id = refused.data!.sendGifts.order!.id;
      expect((await fresh.gql(GiftronautOrderDocument, { id })).data!.order!.status).toBe('UNCONFIRMED');

      const again = await fresh.gql(SendGiftsDocument, { input });
      expect(again.data!.sendGifts.order).toMatchObject({ id, status: 'PENDING' });
      expect(fresh.giftronaut.orderCount).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('treats a 409 on our idempotency key as proof an order may exist, not as a refusal', async () => {
    h.giftronaut.http.faults.add({ method: 'POST', path: CREATE, fault: { kind: 'status', status: 409, body: { error: 'DUPLICATE_IDEMPOTENCY_KEY', message: 'key reused' } } });
    const result = await h.gql(SendGiftsDocument, { input: branded('duplicate-409') });
    expect(problemOf(result)).toMatchObject({ code: 'OUTCOME_UNKNOWN', retryable: true });
    expect(result.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
    expect((await read(result.data!.sendGifts.order!.id)).status).toBe('UNCONFIRMED');
  });
});

describe('bad input', () => {
  const cases: [string, (key: string) => SendGiftsInput, string][] = [
    ['an amount that is not a price point', (k) => branded(k, { amount: { amount: '30', currency: 'USD' } }), 'input.recipients[0].amount.amount'],
    ['a send time without a time zone', (k) => branded(k, { sendAt: new Date(Date.now() + 86_400_000).toISOString() }), 'input.timezone'],
    [
      'an unknown product',
      (k) => branded(k, { giftronaut: { productId: Buffer.from('CatalogItem:GIFTRONAUT:branded:99999').toString('base64url') } }),
      'input.giftronaut.productId',
    ],
    [
      'a product id from another provider',
      (k) => branded(k, { giftronaut: { productId: Buffer.from('CatalogItem:GUUSTO:open-amount-CAD').toString('base64url') } }),
      'input.giftronaut.productId',
    ],
    ['no product', (k) => branded(k, { giftronaut: null }), 'input.giftronaut.productId'],
    [
      'a card type that contradicts the product',
      (k) => branded(k, { giftronaut: { productId: catalog.get('Blue Bottle Coffee')!, cardType: 'CHOICE_CARD' } }),
      'input.giftronaut.cardType',
    ],
    [
      'the wrong currency for the product',
      (k) => branded(k, { amount: { amount: '25', currency: 'CAD' }, recipients: [{ email: 'a@example.com' }] }),
      'input.recipients[0].amount.currency',
    ],
    [
      'a choice amount out of range',
      (k) => branded(k, { amount: { amount: '600', currency: 'USD' }, giftronaut: { productId: catalog.get('Thank You Collection')! } }),
      'input.recipients[0].amount.amount',
    ],
    ['a recipient without an email', (k) => branded(k, { recipients: [{ employeeNumber: '7' }] }), 'input.recipients[0].email'],
    ['no sender name', (k) => branded(k, { senderName: null }), 'input.senderName'],
    ['Guusto options on a Giftronaut order', (k) => branded(k, { guusto: { language: 'EN_CA' } }), 'input.guusto'],
  ];

  it.each(cases)('rejects %s with a typed problem naming the field, nothing written or sent', async (_name, make, field) => {
    const rows = h.store.counts();
    const before = creates();
    const result = await h.gql(SendGiftsDocument, { input: make(`bad-${field}`) });
    expect(result.data!.sendGifts.order).toBeNull();
    expect(problemOf(result).code).toBe('BAD_USER_INPUT');
    expect(problemsOf(result).map((p) => p.field)).toContain(field);
    expect(h.store.counts()).toEqual(rows);
    expect(creates()).toBe(before);
  });

  it('is never sent in an unchecked currency: with no catalog read yet and none readable, nothing is written or sent', async () => {
    const fresh = await Harness.start();
    try {
      const usdChoice = catalog.get('Thank You Collection')!;
      fresh.giftronaut.http.faults.add({ method: 'GET', path: /^\/api\/v1\/catalog\//, times: 6, fault: { kind: 'status', status: 503 } });
      const yen = { ...branded('yen-as-dollars'), amount: { amount: '300', currency: 'JPY' }, recipients: [{ email: 'a@example.com' }], giftronaut: { productId: usdChoice } };
      const result = await fresh.gql(SendGiftsDocument, { input: yen });
      expect(result.data!.sendGifts.order).toBeNull();
      expect(problemOf(result)).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', provider: 'GIFTRONAUT', retryable: true });
      expect(fresh.store.counts().orders).toBe(0);
      expect(fresh.giftronaut.orderCount).toBe(0);
    } finally {
      await fresh.close();
    }
  });

  it('is checked against the last catalog read when Giftronaut cannot be asked now', async () => {
    const fresh = await Harness.start();
    try {
      await fresh.gql(CatalogDocument, { provider: 'GIFTRONAUT' });
      fresh.giftronaut.http.faults.add({ method: 'GET', path: /^\/api\/v1\/catalog\//, times: 100, fault: { kind: 'status', status: 503 } });
      // Five minutes on, the cached catalog is stale, and Giftronaut cannot be asked.
      const later = Date.now() + 6 * 60_000;
      const realNow = Date.now;
      Date.now = () => later;
      try {
        const yen = {
          ...branded('stale-catalog'),
          amount: { amount: '300', currency: 'JPY' },
          recipients: [{ email: 'a@example.com' }],
          giftronaut: { productId: catalog.get('Thank You Collection')! },
        };
        const result = await fresh.gql(SendGiftsDocument, { input: yen });
        expect(problemOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.recipients[0].amount.currency' });
      } finally {
        Date.now = realNow;
      }
    } finally {
      await fresh.close();
    }
  });

  it("is refused when the balance does not cover it, with Giftronaut's code", async () => {
    const poor = await Harness.start({ giftronaut: { balanceUsd: 20 } });
    try {
      const result = await poor.gql(SendGiftsDocument, { input: branded('too-dear') });
      expect(result.data!.sendGifts.order!.status).toBe('FAILED');
      expect(problemOf(result)).toMatchObject({ code: 'PROVIDER_REJECTED', providerCode: 'INSUFFICIENT_BALANCE', retryable: false });
    } finally {
      await poor.close();
    }
  });
});

describe('OAuth tokens during a send', () => {
  it('counts a token endpoint outage as nothing sent, so the same key sends it later', async () => {
    const down = await Harness.start();
    try {
      const product = (await down.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 50 })).data!.catalog.edges.find((e) => e.node.name === 'Blue Bottle Coffee')!.node.id;
      // The catalog call fetched a token; make the sandbox forget it so the send needs a new one.
      down.clock.advance(86_401_000);
      down.giftronaut.http.faults.add({ method: 'POST', path: '/oauth2/token', times: 3, fault: { kind: 'status', status: 503 } });
      const input = { ...branded('token-outage'), giftronaut: { productId: product } };
      const failed = await down.gql(SendGiftsDocument, { input });
      expect(failed.data!.sendGifts.order!.status).toBe('FAILED');
      expect(problemOf(failed)).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', retryable: true });
      expect(down.giftronaut.orderCount).toBe(0);
      const sent = await down.gql(SendGiftsDocument, { input });
      expect(sent.errors).toBeUndefined();
      expect(problemsOf(sent)).toEqual([]);
      expect(down.giftronaut.orderCount).toBe(1);
    } finally {
      await down.close();
    }
  });

  it('renews a token refused on a create and sends it once', async () => {
    const fresh = await Harness.start();
    try {
      const product = (await fresh.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 50 })).data!.catalog.edges.find((e) => e.node.name === 'Blue Bottle Coffee')!.node.id;
      fresh.clock.advance(86_401_000); // the sandbox's token has expired; our cached copy has not
      const sent = await fresh.gql(SendGiftsDocument, { input: { ...branded('renew-on-create'), giftronaut: { productId: product } } });
      expect(sent.errors).toBeUndefined();
      expect(fresh.giftronaut.http.count('POST', '/api/v1/orders/branded-cards')).toBe(2);
      expect(fresh.giftronaut.http.count('POST', '/oauth2/token')).toBe(2);
      expect(fresh.giftronaut.orderCount).toBe(1);
    } finally {
      await fresh.close();
    }
  });
});

describe('secrets', () => {
  it('never logs the client secret or an access token', () => {
    const logs = h.logs.join('\n');
    expect(logs).not.toContain(h.giftronautSecret);
    expect(logs).not.toMatch(/access_token|Bearer [A-Za-z0-9_-]{20,}/);
  });
});
