import { afterEach, describe, expect, it } from 'vitest';
import { OrderDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness, type HarnessOptions } from './support/harness.js';

/** Whose certificate is whose: by the recipient a certificate names, never by a guess that could be wrong. */
let h: Harness | undefined;
afterEach(async () => {
  await h?.close();
  h = undefined;
});

const input: SendGiftsInput = {
  provider: 'GUUSTO',
  idempotencyKey: 'matching',
  message: 'Thanks!',
  recipients: [
    { email: 'ada@example.com', amount: { amount: '10', currency: 'CAD' } },
    { employeeNumber: 'E-7', amount: { amount: '20.50', currency: 'CAD' } },
    { email: 'grace@example.com', employeeNumber: 'E-8', amount: { amount: '30', currency: 'CAD' } },
  ],
};

async function sentAndIssued(guusto: HarnessOptions['guusto']) {
  h = await Harness.start({ only: ['GUUSTO'], guusto });
  const sent = await h.gql(SendGiftsDocument, { input });
  expect(sent.errors).toBeUndefined();
  h.advance(2);
  const order = (await h.gql(OrderDocument, { id: sent.data!.sendGifts.order!.id })).data!.order!;
  return order.recipients.edges.map(({ node }) => [node.email ?? node.employeeNumber, node.status, node.gift?.__typename === 'Certificate' ? node.gift.amount.amount : null]);
}

describe('Guusto certificates', () => {
  it('go to the recipient they name, though Guusto lists them in another order', async () => {
    expect(await sentAndIssued({ certificateOrder: 'reversed', recipientUser: 'user' })).toEqual([
      ['ada@example.com', 'SENT', '10.00'],
      ['E-7', 'SENT', '20.50'],
      ['grace@example.com', 'SENT', '30.00'],
    ]);
  });

  it('that name nobody (a bare user id, as documented) go by place in the order they were sent', async () => {
    expect(await sentAndIssued({ recipientUser: 'id' })).toEqual([
      ['ada@example.com', 'SENT', '10.00'],
      ['E-7', 'SENT', '20.50'],
      ['grace@example.com', 'SENT', '30.00'],
    ]);
  });

  it('that name nobody and come in another order are never given to the wrong recipient', async () => {
    // Only the middle one's place and amount agree; the others are left without rather than swapped.
    expect(await sentAndIssued({ certificateOrder: 'reversed', recipientUser: 'id' })).toEqual([
      ['ada@example.com', 'SENT', null],
      ['E-7', 'SENT', '20.50'],
      ['grace@example.com', 'SENT', null],
    ]);
  });
});
