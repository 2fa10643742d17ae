import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { GuustoApi } from '../src/providers/guusto/api.js';
import { allCertificates } from '../src/providers/guusto/certificates.js';
import { ManualClock } from '../src/sandboxes/kit/clock.js';
import { GuustoSandbox } from '../src/sandboxes/guusto/sandbox.js';
import { OrderDocument, SendGiftsDocument } from './generated/graphql.js';
import { Harness } from './support/harness.js';

/** Guusto does not publish whether `page` counts from 0 or 1; the adapter must read every certificate once either way. */
describe.each([0, 1] as const)('certificate pages on a %i-based Guusto', (pageBase) => {
  const clock = new ManualClock();
  const sandbox = new GuustoSandbox({ token: 't', workspaceId: '444', clock, stepMs: 1_000, pageBase });
  let api: GuustoApi;

  afterEach(() => sandbox.http.faults.clear());
  afterAll(async () => {
    await api?.http.close();
    await sandbox.close();
  });

  async function placeCompletedOrder(items: number): Promise<string> {
    if (!api) api = new GuustoApi({ baseUrl: await sandbox.listen(), token: 't', workspaceId: '444' }, 2_000);
    const placed = await api.placeOrder(
      {
        currency: 'USD',
        orderItems: Array.from({ length: items }, (_, i) => ({ message: `gift ${i}`, amount: i + 1, recipient: { email: `p${i}@example.com` } })),
      },
      `ref-${items}-${pageBase}`,
    );
    clock.advance(2_000);
    return placed.requestId;
  }

  it.each([1, 3, 7, 9, 20])('reads %i certificates in item order, each once, in a bounded number of requests', async (items) => {
    const requestId = await placeCompletedOrder(items);
    const before = sandbox.http.count('GET', '/api/v1/orders/:id');
    const certificates = await allCertificates(api, requestId, 3);
    expect(certificates.map((c) => c.amount)).toEqual(Array.from({ length: items }, (_, i) => i + 1));
    const requests = sandbox.http.count('GET', '/api/v1/orders/:id') - before;
    expect(requests).toBeLessThanOrEqual(Math.ceil(items / 3) + 1);
  });

  it('reads an order with no certificates yet in one request', async () => {
    if (!api) api = new GuustoApi({ baseUrl: await sandbox.listen(), token: 't', workspaceId: '444' }, 2_000);
    const placed = await api.placeOrder({ currency: 'USD', orderItems: [{ message: 'hi', amount: 5, recipient: { employeeNumber: '7' } }] }, 'ref-empty');
    const before = sandbox.http.count('GET', '/api/v1/orders/:id');
    expect(await allCertificates(api, placed.requestId)).toEqual([]);
    expect(sandbox.http.count('GET', '/api/v1/orders/:id') - before).toBe(1);
  });
});

describe('a 0-based Guusto through the whole API', () => {
  it('still gives all 20 recipients their certificate', async () => {
    const h = await Harness.start({ guusto: { pageBase: 0 } });
    try {
      const recipients = Array.from({ length: 20 }, (_, i) => ({ email: `p${i}@example.com`, amount: { amount: String(i + 1), currency: 'CAD' } }));
      const sent = await h.gql(SendGiftsDocument, { input: { provider: 'GUUSTO', idempotencyKey: 'base-0', message: 'Hi', recipients } });
      h.advance(2);
      const order = (await h.gql(OrderDocument, { id: sent.data!.sendGifts.order!.id })).data!.order!;
      const gifts = order.recipients.edges.map((e) => e.node.gift);
      expect(gifts.map((g) => (g?.__typename === 'Certificate' ? g.amount.amount : null))).toEqual(recipients.map((r) => `${r.amount.amount}.00`));
    } finally {
      await h.close();
    }
  });
});
