import { SignJWT } from 'jose';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CancelOrderDocument, OrderDocument, OrdersDocument, ProvidersDocument, ResendGiftDocument, SendGiftsDocument } from './generated/graphql.js';
import { errorCode, Harness, problemOf } from './support/harness.js';

let h: Harness;
let acmeOrderId: string;
beforeAll(async () => {
  h = await Harness.start();
  const sent = await h.gql(SendGiftsDocument, {
    input: { provider: 'GUUSTO', idempotencyKey: 'acme-1', message: 'Hi', amount: { amount: '10', currency: 'CAD' }, recipients: [{ email: 'ada@example.com' }] },
  });
  acmeOrderId = sent.data!.sendGifts.order!.id;
});
afterAll(() => h.close());

const ENTITIES = `query Entities($representations: [_Any!]!) {
  _entities(representations: $representations) { __typename ... on Order { id status } ... on GuustoOrder { requestId } }
}`;

const rawToken = (claims: Record<string, unknown>, options: { secret?: Uint8Array; audience?: string; exp?: number } = {}) =>
  new SignJWT(claims)
    .setProtectedHeader({ alg: 'HS256' })
    .setSubject('someone')
    .setIssuer('giftgraph')
    .setAudience(options.audience ?? 'giftgraph')
    .setExpirationTime(options.exp ?? Math.floor(Date.now() / 1000) + 600)
    .sign(options.secret ?? h.jwt.secret);

describe('authentication', () => {
  it('requires a token for every operation', async () => {
    for (const result of [
      await h.gql(OrderDocument, { id: acmeOrderId }, null),
      await h.gql(OrdersDocument, {}, null),
      await h.gql(ProvidersDocument, {}, null),
      await h.gql(ENTITIES, { representations: [{ __typename: 'Order', id: acmeOrderId }] }, null),
    ]) {
      expect(errorCode(result)).toBe('UNAUTHENTICATED');
    }
  });

  it('refuses a mutation without a token as a top-level error, not as a problem in its payload, and sends nothing', async () => {
    const received = h.guusto.http.received.length;
    for (const result of [
      await h.gql(
        SendGiftsDocument,
        { input: { provider: 'GUUSTO', idempotencyKey: 'no-token', message: 'Hi', amount: { amount: '10', currency: 'CAD' }, recipients: [{ email: 'a@example.com' }] } },
        null,
      ),
      await h.gql(CancelOrderDocument, { id: acmeOrderId }, null),
      await h.gql(ResendGiftDocument, { input: { orderId: acmeOrderId, recipients: [{ email: 'ada@example.com' }] } }, null),
    ]) {
      expect(errorCode(result)).toBe('UNAUTHENTICATED');
      expect(result.data).toBeNull();
    }
    expect(h.guusto.http.received.length).toBe(received);
  });

  it.each([
    ['a token signed with another secret', () => rawToken({ tenant: 'acme', scope: 'orders:read' }, { secret: new Uint8Array(32).fill(7) })],
    ['an expired token', () => rawToken({ tenant: 'acme', scope: 'orders:read' }, { exp: Math.floor(Date.now() / 1000) - 60 })],
    ['a token for another audience', () => rawToken({ tenant: 'acme', scope: 'orders:read' }, { audience: 'billing' })],
    ['a token without a tenant', () => rawToken({ scope: 'orders:read' })],
    ['garbage', async () => 'not.a.jwt'],
  ])('refuses %s as UNAUTHENTICATED', async (_name, make) => {
    const result = await h.gql(OrdersDocument, {}, await make());
    expect(errorCode(result)).toBe('UNAUTHENTICATED');
    expect(result.data).toBeNull();
  });

  it('refuses a header that is not a bearer token', async () => {
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: 'Basic dXNlcjpwYXNz' },
      body: JSON.stringify({ query: '{ providers { name } }' }),
    });
    const body = (await res.json()) as { errors: { extensions: { code: string } }[] };
    expect(body.errors[0]!.extensions.code).toBe('UNAUTHENTICATED');
  });
});

describe('scopes', () => {
  it('needs orders:read to read', async () => {
    const writer = await h.token({ scope: 'orders:write' });
    expect(errorCode(await h.gql(OrderDocument, { id: acmeOrderId }, writer))).toBe('FORBIDDEN');
    expect(errorCode(await h.gql(OrdersDocument, {}, writer))).toBe('FORBIDDEN');
  });

  it('needs orders:write to send, and sends nothing without it', async () => {
    const reader = await h.token({ scope: 'orders:read' });
    const received = h.guusto.http.received.length;
    const result = await h.gql(
      SendGiftsDocument,
      { input: { provider: 'GUUSTO', idempotencyKey: 'no-scope', message: 'Hi', amount: { amount: '10', currency: 'CAD' }, recipients: [{ email: 'a@example.com' }] } },
      reader,
    );
    expect(errorCode(result)).toBe('FORBIDDEN');
    expect(result.errors![0]!.message).toContain('orders:write');
    // A missing scope is no outcome of the request: a top-level error, with no payload.
    expect(result.data).toBeNull();
    expect(h.guusto.http.received.length).toBe(received);
  });

  it('needs orders:cancel to cancel; with it, Guusto orders are UNSUPPORTED_BY_PROVIDER', async () => {
    const noCancel = await h.token({ scope: 'orders:read orders:write' });
    expect(errorCode(await h.gql(CancelOrderDocument, { id: acmeOrderId }, noCancel))).toBe('FORBIDDEN');
    const canceller = await h.token({ scope: 'orders:cancel' });
    const result = await h.gql(CancelOrderDocument, { id: acmeOrderId }, canceller);
    expect(result.errors).toBeUndefined();
    expect(result.data!.cancelOrder.order).toBeNull();
    expect(problemOf(result)).toMatchObject({ code: 'UNSUPPORTED_BY_PROVIDER', provider: 'GUUSTO', retryable: false });
  });

  it('says a Guusto gift cannot be resent', async () => {
    const result = await h.gql(ResendGiftDocument, { input: { orderId: acmeOrderId, recipients: [{ email: 'ada@example.com' }] } });
    expect(result.data!.resendGift).toMatchObject({ order: null, requeued: 0 });
    expect(problemOf(result)).toMatchObject({ code: 'UNSUPPORTED_BY_PROVIDER', provider: 'GUUSTO' });
  });
});

describe('tenant isolation', () => {
  it("answers another tenant's order id with NOT_FOUND, as if it did not exist", async () => {
    const globex = await h.token({ tenant: 'globex' });
    const theirs = await h.gql(OrderDocument, { id: acmeOrderId }, globex);
    const missing = await h.gql(OrderDocument, { id: Buffer.from('Order:GUUSTO:no-such-order').toString('base64url') }, globex);
    expect(errorCode(theirs)).toBe('NOT_FOUND');
    expect(theirs.errors![0]!.message).toBe(missing.errors![0]!.message);
    const cancel = await h.gql(CancelOrderDocument, { id: acmeOrderId }, globex);
    expect(cancel.data!.cancelOrder.order).toBeNull();
    expect(problemOf(cancel)).toMatchObject({ code: 'NOT_FOUND', message: theirs.errors![0]!.message });
  });

  it("never lists another tenant's orders", async () => {
    const globex = await h.token({ tenant: 'globex' });
    expect((await h.gql(OrdersDocument, {}, globex)).data!.orders.edges).toEqual([]);
    expect((await h.gql(OrdersDocument, {})).data!.orders.edges.map((e) => e.node.id)).toContain(acmeOrderId);
  });

  it("resolves _entities only for the caller's tenant", async () => {
    const reps = [
      { __typename: 'Order', id: acmeOrderId },
      { __typename: 'GuustoOrder', id: acmeOrderId },
    ];
    const mine = await h.gql<{ _entities: ({ __typename: string; id: string; requestId: string } | null)[] }, unknown>(ENTITIES, { representations: reps });
    expect(mine.errors).toBeUndefined();
    expect(mine.data!._entities.map((e) => e?.__typename)).toEqual(['GuustoOrder', 'GuustoOrder']);
    expect(mine.data!._entities[0]!.requestId).toBeTruthy();

    const globex = await h.token({ tenant: 'globex' });
    const theirs = await h.gql<{ _entities: unknown[] }, unknown>(ENTITIES, { representations: reps }, globex);
    expect(theirs.data!._entities).toEqual([null, null]);
  });

  it('rejects an id that is not an order id', async () => {
    expect(errorCode(await h.gql(OrderDocument, { id: 'definitely not an id' }))).toBe('BAD_USER_INPUT');
  });
});
