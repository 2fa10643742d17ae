import { describe, expect, it } from 'vitest';
import { readProduct } from '../../src/providers/giftronaut/api.js';
import { giftronautStatus, matchRecipients, orderSnapshot } from '../../src/providers/giftronaut/map.js';

const ours = (...emails: (string | null)[]) => emails.map((email, position) => ({ position, email }));
const listed = (...emails: (string | null)[]) => emails.map((email) => ({ email }));

describe("Giftronaut's recipients", () => {
  it('are matched by email, whatever order they are listed in, case aside', () => {
    expect(matchRecipients(listed('b@x.com', 'A@x.com', 'c@x.com'), ours('a@x.com', 'b@x.com', 'c@x.com'))).toEqual([1, 0, 2]);
  });

  it('with an address none of ours are matched when one is left, wherever it is listed', () => {
    expect(matchRecipients(listed('a@x.com', 'new@x.com', 'c@x.com'), ours('a@x.com', 'b@x.com', 'c@x.com'))).toEqual([0, 1, 2]);
    expect(matchRecipients(listed('new@x.com', 'c@x.com', 'b@x.com'), ours('a@x.com', 'b@x.com', 'c@x.com'))).toEqual([0, 2, 1]);
  });

  it('with addresses none of ours are left out rather than guessed when several are', () => {
    expect(matchRecipients(listed('b@x.com', 'y@x.com', 'z@x.com'), ours('a@x.com', 'b@x.com', 'c@x.com'))).toEqual([1, undefined, undefined]);
    expect(matchRecipients(listed('y@x.com', 'z@x.com', 'c@x.com'), ours('a@x.com', 'b@x.com', 'c@x.com'))).toEqual([undefined, undefined, 2]);
  });

  it('with an address none of ours are left out when the list is not the one we sent', () => {
    // Two listed for three sent: the stranger is not guessed onto the one unmatched recipient.
    expect(matchRecipients(listed('a@x.com', 'stranger@x.com'), ours('a@x.com', 'b@x.com', 'c@x.com'))).toEqual([0, undefined]);
  });

  it('listed without an address keep their place in the list', () => {
    expect(matchRecipients(listed(null, 'b@x.com', null), ours('a@x.com', 'b@x.com', 'c@x.com'))).toEqual([0, 1, 2]);
  });

  it('with the same address twice are matched in turn', () => {
    expect(matchRecipients(listed('a@x.com', 'b@x.com', 'a@x.com'), ours('a@x.com', 'a@x.com', 'b@x.com'))).toEqual([0, 2, 1]);
  });

  it('of an order placed elsewhere keep the list order; one we have not seen takes its own place', () => {
    expect(matchRecipients(listed('a@x.com', 'b@x.com'))).toEqual([0, 1]);
    expect(matchRecipients(listed('a@x.com', 'b@x.com', 'c@x.com'), ours('a@x.com', 'b@x.com'))).toEqual([0, 1, 2]);
  });

  it('left out are absent from the snapshot, which then speaks only for those it matched', () => {
    const snapshot = orderSnapshot(
      { orderId: 'OT1', status: 'COMPLETE', recipients: [{ email: 'y@x.com', rewardLink: 'https://l/1' }, { email: 'b@x.com', rewardLink: 'https://l/2' }, { email: 'z@x.com' }] },
      { recipients: ours('a@x.com', 'b@x.com', 'c@x.com') },
    );
    expect(snapshot.recipients).toEqual([expect.objectContaining({ position: 1, email: 'b@x.com', gift: { kind: 'link', url: 'https://l/2', expiresAt: null } })]);
  });
});

describe("a Giftronaut order's status", () => {
  it("is the order's own where it says SCHEDULED", () => {
    expect(giftronautStatus({ status: 'SCHEDULED' })).toBe('SCHEDULED');
  });

  it('is SCHEDULED while PENDING for a later send, from the echoed sendTiming or from what we asked', () => {
    expect(giftronautStatus({ status: 'PENDING', sendTiming: { type: 'SCHEDULED' } })).toBe('SCHEDULED');
    expect(giftronautStatus({ status: 'PENDING' }, { scheduled: true })).toBe('SCHEDULED');
    expect(giftronautStatus({ status: 'PENDING' })).toBe('PENDING');
    expect(giftronautStatus({ status: 'IN_PROGRESS' }, { scheduled: true })).toBe('PROCESSING');
  });
});

describe('a Giftronaut catalog entry', () => {
  it('is read with price points, a range, both, or neither, ignoring fields we do not know', () => {
    expect(readProduct({ productId: 1, name: 'A', currency: 'usd', pricePoints: [10, '25.50'], extra: { x: 1 } })).toEqual({
      productId: '1',
      name: 'A',
      currency: 'USD',
      pricePoints: [10, 25.5],
      minAmount: null,
      maxAmount: null,
    });
    expect(readProduct({ productId: 'B', name: 'B', currencyCode: 'JPY', minAmount: 500, maxAmount: '30000' })).toMatchObject({
      currency: 'JPY',
      pricePoints: null,
      minAmount: 500,
      maxAmount: 30000,
    });
    expect(readProduct({ productId: 'C', name: 'C', currency: 'USD', pricePoints: [{ value: 10 }], minAmount: 50, maxAmount: 5 })).toMatchObject({
      pricePoints: null,
      minAmount: null,
      maxAmount: null,
    });
  });

  it('keeps a currency it cannot know as unknown, and is left out only without a product id', () => {
    expect(readProduct({ productId: 'D', name: 'D', currency: 'Dollars' })).toMatchObject({ productId: 'D', currency: null });
    expect(readProduct({ productId: 'E' })).toMatchObject({ name: 'Giftronaut product E', currency: null });
    expect(readProduct({ name: 'F', currency: 'USD' })).toEqual({ reason: 'no productId' });
    expect(readProduct([1, 2])).toEqual({ reason: 'not an object' });
  });
});

describe("A Giftronaut order's scheduled state", () => {
  it("follows the order's own echoed sendTiming over what we asked for", () => {
    expect(giftronautStatus({ status: 'PENDING', sendTiming: { type: 'IMMEDIATE' } }, { scheduled: true })).toBe('PENDING');
    expect(giftronautStatus({ status: 'PENDING', sendTiming: { type: 'SCHEDULED' } }, { scheduled: false })).toBe('SCHEDULED');
  });

  it('falls back to what we asked for where the answer echoes no sendTiming', () => {
    expect(giftronautStatus({ status: 'PENDING' }, { scheduled: true })).toBe('SCHEDULED');
    expect(giftronautStatus({ status: 'PENDING' }, { scheduled: false })).toBe('PENDING');
    expect(giftronautStatus({ status: 'COMPLETE' }, { scheduled: true })).toBe('SENT');
  });
});
