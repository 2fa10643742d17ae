import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, Harness, problemsOf } from './support/harness.js';

/**
 * Spending limits, over GraphQL with the Guusto sandbox: an operator sets them, a send that would
 * exceed one is refused before any provider call, concurrent sends never overshoot together, and
 * what certainly was not spent is given back.
 */

const SET = `mutation Set($input: SpendingLimitInput!) {
  setSpendingLimit(input: $input) {
    spending { currency perDayLimit perDaySpent perDayRemaining per30DaysLimit per30DaysSpent per30DaysRemaining }
    problems { code field message }
  }
}`;
const SPENDING = '{ spending { currency perDayLimit perDaySpent perDayRemaining per30DaysLimit per30DaysSpent per30DaysRemaining } }';
const SEND = `mutation Send($input: SendGiftsInput!) {
  sendGifts(input: $input) { created order { id status } problems { code field message retryable } }
}`;
const SETTLE = `mutation Settle($input: SettleOrderInput!) {
  settleOrder(input: $input) { settled order { id status } problems { code message } }
}`;

const send = (key: string, amount = '25') => ({
  input: {
    provider: 'GUUSTO',
    idempotencyKey: key,
    message: 'Thank you!',
    amount: { amount, currency: 'CAD' },
    recipients: [{ email: `${key}@example.com` }],
  },
});

const creates = (h: Harness) => h.guusto.http.received.filter((r) => r.method === 'POST' && r.path === '/api/v1/orders').length;

describe('spending limits', () => {
  let h: Harness;
  let admin: string;

  beforeAll(async () => {
    h = await Harness.start({ only: ['GUUSTO'] });
    admin = await h.token({ tenant: 'acme', scope: 'orders:read orders:admin', subject: 'operator-1' });
  });
  afterAll(() => h.close());

  it('are set by an operator only, and every problem of the input is named', async () => {
    const client = await h.token({ scope: 'orders:read orders:write' });
    expect(errorCode(await h.gql(SET, { input: { tenant: 'acme', currency: 'CAD', perDay: '10' } }, client))).toBe('FORBIDDEN');
    const refused = await h.gql(SET, { input: { tenant: 'not a tenant!', currency: 'CAD', perDay: '1.234', per30Days: 'lots' } }, admin);
    expect((refused.data as any).setSpendingLimit.spending).toBeNull();
    expect(problemsOf(refused).map((p) => [p.code, p.field])).toEqual([
      ['BAD_USER_INPUT', 'input.tenant'],
      ['BAD_USER_INPUT', 'input.perDay'],
      ['BAD_USER_INPUT', 'input.per30Days'],
    ]);
    // An operator's token is its tenant's: another tenant's limits are not its to set.
    const otherTenant = await h.gql(SET, { input: { tenant: 'globex', currency: 'CAD', perDay: '1000000' } }, admin);
    expect(problemsOf(otherTenant).map((p) => [p.code, p.field])).toEqual([['BAD_USER_INPUT', 'input.tenant']]);
    expect((await h.gql(SPENDING, undefined)).data).toEqual({ spending: [] });
  });

  it('let exactly as many of 50 concurrent sends through as the limit allows, refuse the rest before any provider call, and add up', async () => {
    const set = await h.gql(SET, { input: { tenant: 'acme', currency: 'cad', perDay: '500', per30Days: '2000' } }, admin);
    expect((set.data as any).setSpendingLimit).toEqual({
      spending: {
        currency: 'CAD',
        perDayLimit: '500.00',
        perDaySpent: '0.00',
        perDayRemaining: '500.00',
        per30DaysLimit: '2000.00',
        per30DaysSpent: '0.00',
        per30DaysRemaining: '2000.00',
      },
      problems: [],
    });
    const before = creates(h);
    const answers = await Promise.all(Array.from({ length: 50 }, (_, i) => h.gql(SEND, send(`burst-${i}`))));
    const sent = answers.filter((a) => (a.data as any)?.sendGifts.order);
    const refused = answers.filter((a) => problemsOf(a)[0]?.code === 'SPENDING_LIMIT_EXCEEDED');
    expect(sent).toHaveLength(20);
    expect(refused).toHaveLength(30);
    expect(refused[0]!.data).toMatchObject({ sendGifts: { order: null, created: false } });
    expect(problemsOf(refused[0]!)[0]).toEqual({
      code: 'SPENDING_LIMIT_EXCEEDED',
      field: 'input.amount',
      message: 'this send of 25.00 CAD would exceed the spending limit of 500.00 CAD per rolling day: 0.00 CAD remains',
      retryable: false,
    });
    // Only the 20 reached Guusto.
    expect(creates(h) - before).toBe(20);
    expect((await h.gql(SPENDING, undefined)).data).toEqual({
      spending: [
        {
          currency: 'CAD',
          perDayLimit: '500.00',
          perDaySpent: '500.00',
          perDayRemaining: '0.00',
          per30DaysLimit: '2000.00',
          per30DaysSpent: '500.00',
          per30DaysRemaining: '1500.00',
        },
      ],
    });
    // A replay of a key sent before is answered as before, whatever the limit says now.
    const replay = await h.gql(SEND, send(`burst-${answers.indexOf(sent[0]!)}`));
    expect((replay.data as any).sendGifts).toMatchObject({ created: false, problems: [] });
    // Another tenant has limits of its own (none here).
    const globex = await h.token({ tenant: 'globex' });
    expect(problemsOf(await h.gql(SEND, send('globex-1'), globex))).toEqual([]);
  });

  it('give back what certainly was not spent, and keep what may have been until it is settled', async () => {
    await h.gql(SET, { input: { tenant: 'acme', currency: 'CAD', perDay: '600', per30Days: null } }, admin);
    const spent = async () => (await h.gql<any, unknown>(SPENDING, undefined)).data.spending[0].perDaySpent;
    expect(await spent()).toBe('500.00');

    // Guusto refuses it: certainly not sent (FAILED), so nothing is counted.
    h.guusto.http.faults.add({ method: 'POST', path: '/api/v1/orders', fault: { kind: 'status', status: 400 } });
    const failed = await h.gql(SEND, send('refused-by-guusto', '50'));
    expect((failed.data as any).sendGifts.order.status).toBe('FAILED');
    expect(await spent()).toBe('500.00');

    // The answer is lost: the send may have been taken (UNCONFIRMED), so it counts...
    h.guusto.http.faults.add({ method: 'POST', path: '/api/v1/orders', fault: { kind: 'drop-after' } });
    const unknown = await h.gql(SEND, send('answer-lost', '50'));
    const order = (unknown.data as any).sendGifts.order;
    expect(order.status).toBe('UNCONFIRMED');
    expect(await spent()).toBe('550.00');
    // ...and stands in the way of a send that would go over with it.
    expect(problemsOf(await h.gql(SEND, send('one-too-many', '75')))[0]?.code).toBe('SPENDING_LIMIT_EXCEEDED');

    // An operator finds it was not sent: it is given back, and the next send fits.
    const settled = await h.gql(SETTLE, { input: { orderId: order.id, outcome: 'NOT_SENT' } }, await h.token({ scope: 'orders:read orders:admin' }));
    expect((settled.data as any).settleOrder.settled).toBe(true);
    expect(await spent()).toBe('500.00');
    expect(problemsOf(await h.gql(SEND, send('fits-now', '75')))).toEqual([]);
    expect(await spent()).toBe('575.00');

    // A same-key retry of the send Guusto refused spends again: within the limit, as a new send.
    const retry = send('refused-by-guusto', '50');
    const PREVIEW = 'query P($input: SendGiftsInput!) { previewSend(input: $input) { overSpendingLimit problems { code field message retryable } } }';
    const previewed = (await h.gql<any, unknown>(PREVIEW, retry)).data.previewSend;
    expect(previewed.overSpendingLimit).toBe(true);
    const retried = await h.gql(SEND, retry);
    expect(problemsOf(retried)).toEqual(previewed.problems);
    expect(problemsOf(retried)[0]?.message).toBe('this send of 50.00 CAD would exceed the spending limit of 600.00 CAD per rolling day: 25.00 CAD remains');
    // The order was recorded before: it is answered as it stands, FAILED, with why it was not sent again.
    expect((retried.data as any).sendGifts).toMatchObject({ created: false, order: { status: 'FAILED' } });
    expect(await spent()).toBe('575.00');

    // Both limits removed: no window is left but what was spent.
    await h.gql(SET, { input: { tenant: 'acme', currency: 'CAD', perDay: null, per30Days: null } }, admin);
    expect((await h.gql<any, unknown>(SPENDING, undefined)).data.spending).toEqual([
      { currency: 'CAD', perDayLimit: null, perDaySpent: '575.00', perDayRemaining: null, per30DaysLimit: null, per30DaysSpent: '575.00', per30DaysRemaining: null },
    ]);
  });
});
