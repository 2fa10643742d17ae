import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrderDocument, OrderRecipientsDocument, OrdersDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { errorCode, Harness, problemCode, problemOf } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

const input = (key: string, overrides: Partial<SendGiftsInput> = {}): SendGiftsInput => ({
  provider: 'GUUSTO',
  idempotencyKey: key,
  message: 'Thank you for your hard work!',
  amount: { amount: '25', currency: 'CAD' },
  recipients: [
    { email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' },
    { employeeNumber: 'E-1002', firstName: 'Grace', lastName: 'Hopper', amount: { amount: '50', currency: 'CAD' } },
  ],
  guusto: { language: 'FR_CA' },
  ...overrides,
});

describe('sending a gift through Guusto', () => {
  it('is accepted, then reaches SENT with one certificate per recipient as the sandbox clock advances', async () => {
    const sent = await h.gql(SendGiftsDocument, { input: input('walk-1') });
    expect(sent.errors).toBeUndefined();
    const order = sent.data!.sendGifts.order!;
    expect(sent.data!.sendGifts.created).toBe(true);
    expect(sent.data!.sendGifts.problems).toEqual([]);
    expect(order).toMatchObject({ provider: 'GUUSTO', status: 'PENDING', providerStatus: 'ACCEPTED', total: { amount: '75.00', currency: 'CAD' } });
    expect(order.__typename).toBe('GuustoOrder');
    if (!('requestId' in order)) throw new Error('expected a GuustoOrder');
    expect(order.requestId).toMatch(/^[0-9a-f-]{36}$/);
    expect(order.language).toBe('FR_CA');
    expect(order.recipients.edges.map((e) => e.node.status)).toEqual(['PENDING', 'PENDING']);
    expect(order.recipients.edges.every((e) => e.node.gift === null)).toBe(true);

    h.advance(1);
    const processing = await h.gql(OrderDocument, { id: order.id });
    expect(processing.data!.order).toMatchObject({ status: 'PROCESSING', providerStatus: 'PROCESSING_IN_PROGRESS' });

    h.advance(1);
    const done = (await h.gql(OrderDocument, { id: order.id })).data!.order!;
    expect(done).toMatchObject({ status: 'SENT', providerStatus: 'COMPLETED', orderStep: 'COMPLETED' });
    if (!('guustoOrderId' in done)) throw new Error('expected a GuustoOrder');
    expect(done.guustoOrderId).toMatch(/^\d+$/);
    const recipients = done.recipients.edges.map((e) => e.node);
    expect(recipients.map((r) => [r.email, r.employeeNumber, r.status])).toEqual([
      ['ada@example.com', null, 'SENT'],
      [null, 'E-1002', 'SENT'],
    ]);
    const gifts = recipients.map((r) => r.gift);
    expect(gifts.map((g) => g?.__typename)).toEqual(['Certificate', 'Certificate']);
    const [first, second] = gifts as Extract<(typeof gifts)[number], { __typename: 'Certificate' }>[];
    expect(first!.amount).toEqual({ amount: '25.00', currency: 'CAD' });
    expect(second!.amount).toEqual({ amount: '50.00', currency: 'CAD' });
    expect(first!.shortToken).toMatch(/^[0-9A-F]{5}$/);
    expect(first!.longToken).toBeTruthy();
    expect(first!.message).toBe('Thank you for your hard work!');
    expect(first!.id).not.toBe(second!.id);

    expect(done.statusHistory.map((c) => [c.from, c.to, c.source])).toEqual([
      [null, 'PENDING', 'MUTATION'],
      ['PENDING', 'PROCESSING', 'POLL'],
      ['PROCESSING', 'SENT', 'POLL'],
    ]);

    // Once Guusto's request is COMPLETED nothing more can change, so reads stop asking Guusto.
    const statusCalls = h.guusto.http.count('GET', '/api/v1/orders/status/:id');
    await h.gql(OrderDocument, { id: order.id });
    expect(h.guusto.http.count('GET', '/api/v1/orders/status/:id')).toBe(statusCalls);
  });

  it('returns the same order for the same key and input, without calling Guusto again', async () => {
    const posts = () => h.guusto.http.count('POST', '/api/v1/orders');
    const before = posts();
    const first = await h.gql(SendGiftsDocument, { input: input('replay-1') });
    const again = await h.gql(SendGiftsDocument, { input: input('replay-1') });
    expect(first.data!.sendGifts.created).toBe(true);
    expect(again.errors).toBeUndefined();
    expect(again.data!.sendGifts).toMatchObject({ created: false, problems: [] });
    expect(again.data!.sendGifts.order!.id).toBe(first.data!.sendGifts.order!.id);
    expect(posts()).toBe(before + 1);
  });

  it('treats field order as the same input, and a message as typed', async () => {
    const first = await h.gql(SendGiftsDocument, { input: input('replay-2') });
    const { recipients, ...rest } = input('replay-2');
    const reordered = { recipients: recipients.map((r) => Object.fromEntries(Object.entries(r).reverse()) as typeof r), ...rest };
    const again = await h.gql(SendGiftsDocument, { input: reordered });
    expect(again.data!.sendGifts.order!.id).toBe(first.data!.sendGifts.order!.id);
    // A message reaches the provider as typed, so surrounding spaces make it another message.
    const spaced = await h.gql(SendGiftsDocument, { input: input('replay-2', { message: '  Thank you for your hard work!  ' }) });
    expect(problemCode(spaced)).toBe('IDEMPOTENCY_CONFLICT');
  });

  it('refuses the same key with a different input as an IDEMPOTENCY_CONFLICT problem, recording and sending nothing', async () => {
    await h.gql(SendGiftsDocument, { input: input('conflict-1') });
    const posts = h.guusto.http.count('POST', '/api/v1/orders');
    const rows = h.store.counts();
    const conflict = await h.gql(SendGiftsDocument, { input: input('conflict-1', { amount: { amount: '30', currency: 'CAD' } }) });
    expect(conflict.errors).toBeUndefined();
    // The order of the key's first request is not this request's: nothing was recorded for it.
    expect(conflict.data!.sendGifts).toMatchObject({ order: null, created: false });
    expect(conflict.data!.sendGifts.problems).toEqual([
      expect.objectContaining({ code: 'IDEMPOTENCY_CONFLICT', field: 'input.idempotencyKey', retryable: false, message: 'this key was already used for a different request' }),
    ]);
    expect(h.store.counts()).toEqual(rows);
    expect(h.guusto.http.count('POST', '/api/v1/orders')).toBe(posts);
  });

  it('sends once when the same key arrives twice at the same time', async () => {
    h.guusto.http.faults.add({ method: 'POST', path: '/api/v1/orders', fault: { kind: 'latency', ms: 200 } });
    const before = h.guusto.http.count('POST', '/api/v1/orders');
    const [a, b] = await Promise.all([h.gql(SendGiftsDocument, { input: input('race-1') }), h.gql(SendGiftsDocument, { input: input('race-1') })]);
    const outcomes = [a, b].map((r) => problemCode(r) ?? r.data!.sendGifts.created);
    expect(outcomes.sort()).toEqual(['IDEMPOTENCY_CONFLICT', true].sort());
    // The request that lost the race gets the order being sent, and may retry shortly.
    const [sent, conflict] = problemCode(a) ? [b, a] : [a, b];
    expect(problemOf(conflict)).toMatchObject({ field: 'input.idempotencyKey', retryable: true });
    expect(conflict.data!.sendGifts.order!.id).toBe(sent.data!.sendGifts.order!.id);
    expect(h.guusto.http.count('POST', '/api/v1/orders')).toBe(before + 1);
  });

  it('keeps idempotency keys per tenant', async () => {
    const other = await h.token({ tenant: 'globex' });
    const mine = await h.gql(SendGiftsDocument, { input: input('shared-key') });
    const theirs = await h.gql(SendGiftsDocument, { input: input('shared-key') }, other);
    expect(theirs.data!.sendGifts.created).toBe(true);
    expect(theirs.data!.sendGifts.order!.id).not.toBe(mine.data!.sendGifts.order!.id);
  });
});

describe('listing orders', () => {
  it('pages newest first with exact hasNextPage and no repeats, even when orders arrive between pages', async () => {
    const token = await h.token({ tenant: 'pager' });
    for (let i = 0; i < 5; i++) await h.gql(SendGiftsDocument, { input: input(`page-${i}`) }, token);
    const page1 = (await h.gql(OrdersDocument, { first: 2 }, token)).data!.orders;
    expect(page1.edges).toHaveLength(2);
    expect(page1.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });

    await h.gql(SendGiftsDocument, { input: input('page-late') }, token);
    const page2 = (await h.gql(OrdersDocument, { first: 2, after: page1.pageInfo.endCursor }, token)).data!.orders;
    const page3 = (await h.gql(OrdersDocument, { first: 2, after: page2.pageInfo.endCursor }, token)).data!.orders;
    expect(page3.pageInfo.hasNextPage).toBe(false);
    const ids = [...page1.edges, ...page2.edges, ...page3.edges].map((e) => e.node.id);
    expect(new Set(ids).size).toBe(5);
    const created = [...page1.edges, ...page2.edges, ...page3.edges].map((e) => e.node.createdAt);
    expect([...created].sort().reverse()).toEqual(created);
  });

  it('filters by provider, status and recipient email', async () => {
    const token = await h.token({ tenant: 'filters' });
    await h.gql(SendGiftsDocument, { input: input('f-1') }, token);
    await h.gql(SendGiftsDocument, { input: input('f-2', { recipients: [{ email: 'zoe@example.com' }] }) }, token);
    const byEmail = await h.gql(OrdersDocument, { filter: { recipientEmail: 'ZOE@example.com' } }, token);
    expect(byEmail.data!.orders.edges).toHaveLength(1);
    const byStatus = await h.gql(OrdersDocument, { filter: { statuses: ['SENT'] } }, token);
    expect(byStatus.data!.orders.edges).toHaveLength(0);
    const byProvider = await h.gql(OrdersDocument, { filter: { providers: ['GUUSTO'], statuses: ['PENDING'] } }, token);
    expect(byProvider.data!.orders.edges).toHaveLength(2);
  });

  it('rejects a page size out of range and a cursor it did not issue', async () => {
    expect(errorCode(await h.gql(OrdersDocument, { first: 0 }))).toBe('BAD_USER_INPUT');
    expect(errorCode(await h.gql(OrdersDocument, { first: 101 }))).toBe('BAD_USER_INPUT');
    expect(errorCode(await h.gql(OrdersDocument, { after: 'not-a-cursor' }))).toBe('BAD_USER_INPUT');
  });

  it("pages an order's recipients as a connection", async () => {
    const recipients = Array.from({ length: 5 }, (_, i) => ({ email: `r${i}@example.com` }));
    const sent = await h.gql(SendGiftsDocument, { input: input('recipients-page', { recipients }) });
    const id = sent.data!.sendGifts.order!.id;
    const first = (await h.gql(OrderRecipientsDocument, { id, first: 3 })).data!.order!.recipients;
    expect(first.edges.map((e) => e.node.email)).toEqual(['r0@example.com', 'r1@example.com', 'r2@example.com']);
    expect(first.pageInfo.hasNextPage).toBe(true);
    const rest = (await h.gql(OrderRecipientsDocument, { id, first: 3, after: first.pageInfo.endCursor })).data!.order!.recipients;
    expect(rest.edges.map((e) => e.node.email)).toEqual(['r3@example.com', 'r4@example.com']);
    expect(rest.pageInfo).toMatchObject({ hasNextPage: false, hasPreviousPage: true });
  });
});

describe('a Guusto request that completes at once', () => {
  it('still gets every certificate, and is settled only then', async () => {
    const fast = await Harness.start({ guusto: { stepMs: 0 } });
    try {
      const sent = await fast.gql(SendGiftsDocument, { input: input('instant') });
      expect(sent.data!.sendGifts.order).toMatchObject({ status: 'SENT', providerStatus: 'COMPLETED' });
      const order = (await fast.gql(OrderDocument, { id: sent.data!.sendGifts.order!.id })).data!.order!;
      expect(order.recipients.edges.map((e) => e.node.gift?.__typename)).toEqual(['Certificate', 'Certificate']);
      const reads = fast.guusto.http.count('GET', '/api/v1/orders/:id');
      await fast.gql(OrderDocument, { id: sent.data!.sendGifts.order!.id });
      expect(fast.guusto.http.count('GET', '/api/v1/orders/:id')).toBe(reads);
    } finally {
      await fast.close();
    }
  });
});
