import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GuustoApi } from '../src/providers/guusto/api.js';
import { OrderDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness, problemOf, problemsOf } from './support/harness.js';

/** Guusto's `amount` is a number from 1 to 10000: amounts to the cent go through as decimals. */
let h: Harness;
let api: GuustoApi;
beforeAll(async () => {
  h = await Harness.start({ only: ['GUUSTO'] });
  api = new GuustoApi({ baseUrl: h.urls.guusto, token: h.guustoToken, workspaceId: '444' }, 2_000);
});
afterAll(async () => {
  await api.http.close();
  await h.close();
});

const send = (key: string, amount: string, currency = 'CAD'): SendGiftsInput => ({
  provider: 'GUUSTO',
  idempotencyKey: key,
  message: 'Thanks!',
  amount: { amount, currency },
  recipients: [{ email: 'ada@example.com' }],
});

describe('a Guusto amount with cents', () => {
  it('is sent as the decimal 25.5, and the certificate and the balance show exactly 25.50', async () => {
    const before = await api.workspaceBalance('CAD');
    const sent = await h.gql(SendGiftsDocument, { input: send('cents', '25.50') });
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.sendGifts.order!.total).toEqual({ amount: '25.50', currency: 'CAD' });
    h.advance(2);
    const order = (await h.gql(OrderDocument, { id: sent.data!.sendGifts.order!.id })).data!.order!;
    if (order.__typename !== 'GuustoOrder') throw new Error('expected a GuustoOrder');
    // What the sandbox holds: the amount it was sent, as a JSON number.
    const found = await api.findOrder(order.requestId!, 1, 20);
    expect(found.certificates.map((c) => c.amount)).toEqual([25.5]);
    expect(order.recipients.edges[0]!.node.gift).toMatchObject({ __typename: 'Certificate', amount: { amount: '25.50', currency: 'CAD' } });
    expect(await api.workspaceBalance('CAD')).toBe(before - 25.5);
  });

  it.each([
    ['1.00', 'USD'],
    ['10000.00', 'CAD'],
    ['9999.99', 'USD'],
  ])('of %s %s, at an edge of the range, goes through', async (amount, currency) => {
    const sent = await h.gql(SendGiftsDocument, { input: send(`edge-${amount}-${currency}`, amount, currency) });
    expect(sent.errors).toBeUndefined();
    expect(problemsOf(sent)).toEqual([]);
  });

  it.each(['0.99', '10000.01'])('of %s, outside 1 to 10000, is refused before anything is sent', async (amount) => {
    const orders = h.guusto.orderCount;
    const result = await h.gql(SendGiftsDocument, { input: send(`out-${amount}`, amount) });
    expect(result.data!.sendGifts.order).toBeNull();
    expect(problemOf(result).code).toBe('BAD_USER_INPUT');
    expect(problemsOf(result).map((p) => p.field)).toContain('input.recipients[0].amount.amount');
    expect(h.guusto.orderCount).toBe(orders);
  });
});

describe("the Guusto sandbox's amount rules", () => {
  const item = (amount: number) => ({ currency: 'CAD' as const, orderItems: [{ message: 'hi', amount, recipient: { email: 'a@example.com' } }] });

  it('take a decimal amount to the cent', async () => {
    await expect(api.placeOrder(item(12.34), 'sandbox-cents')).resolves.toMatchObject({ requestStatus: 'ACCEPTED' });
  });

  it.each([0.5, 10_000.5, 12.345])('refuse %s as invalid_field', async (amount) => {
    await expect(api.placeOrder(item(amount), `sandbox-${amount}`)).rejects.toMatchObject({ kind: 'rejected', providerCode: 'invalid_field' });
  });
});
