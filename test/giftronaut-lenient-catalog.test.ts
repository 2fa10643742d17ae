/**
 * Giftronaut's catalog shape is not published: whatever a catalog holds that we did not expect (a
 * range instead of price points, fields we do not know, an entry we cannot read), sends go through,
 * and only a product whose currency cannot be known is refused.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness, problemOf, problemsOf } from './support/harness.js';

let h: Harness;
let items: { id: string; name: string; kind: string; currency?: string | null; prices: unknown[]; minAmount?: unknown; maxAmount?: unknown }[];
const id = (name: string) => items.find((i) => i.name === name)!.id;

beforeAll(async () => {
  h = await Harness.start({
    only: ['GIFTRONAUT'],
    giftronaut: {
      extraCatalog: {
        branded: [
          // No currency: an amount could not be checked against the product's.
          { productId: 'GC-MYSTERY', name: 'Mystery Card', pricePoints: [10, 25], countries: ['US'] },
          // Denominations in a shape we do not read: Giftronaut judges the amount.
          { productId: 'GC-ODD', name: 'Odd Denominations', currency: 'USD', denominations: { fixed: [10, 20] }, brand: { tier: 'gold', logo: { w: 64 } } },
          // Entries nobody could order.
          { name: 'No id at all', currency: 'USD', pricePoints: [5], contactEmail: 'partner@example.com' },
          'not a product',
          null,
        ],
        choice: [{ productId: 77, name: 'Numeric Id Choice', currency: 'USD', minAmount: '10.00', maxAmount: 100, tags: ['new'] }],
      },
    },
  });
  items = (await h.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 100 })).data!.catalog.edges.map((e) => e.node);
});
afterAll(() => h.close());

const send = (key: string, productId: string, amount: string): SendGiftsInput => ({
  provider: 'GIFTRONAUT',
  idempotencyKey: key,
  senderName: 'Acme',
  amount: { amount, currency: 'USD' },
  recipients: [{ email: 'ada@example.com' }],
  giftronaut: { productId },
});

describe('a catalog with entries we did not expect', () => {
  it('lists every product it can read, and leaves out only the entries nobody could order', () => {
    expect(items.find((i) => i.name === 'Blue Bottle Coffee')).toBeDefined();
    expect(items.find((i) => i.name === 'Harbor Outfitters')).toMatchObject({
      kind: 'BRANDED_CARD',
      currency: 'USD',
      prices: [],
      minAmount: { amount: '5.00' },
      maxAmount: { amount: '500.00' },
    });
    expect(items.find((i) => i.name === 'Mystery Card')).toMatchObject({ kind: 'BRANDED_CARD', currency: null, prices: [] });
    expect(items.find((i) => i.name === 'Odd Denominations')).toMatchObject({ currency: 'USD', prices: [], minAmount: null, maxAmount: null });
    expect(items.find((i) => i.name === 'Numeric Id Choice')).toMatchObject({ kind: 'CHOICE_CARD', minAmount: { amount: '10.00' }, maxAmount: { amount: '100.00' } });
    expect(items.some((i) => i.name === 'No id at all')).toBe(false);
  });

  it('sends a branded card in a denomination range, and one with a numeric product id', async () => {
    const range = await h.gql(SendGiftsDocument, { input: send('range', id('Harbor Outfitters'), '42.50') });
    expect(range.errors).toBeUndefined();
    expect(problemsOf(range)).toEqual([]);
    const choice = await h.gql(SendGiftsDocument, { input: send('numeric-id', id('Numeric Id Choice'), '50') });
    expect(choice.errors).toBeUndefined();
    expect(problemsOf(choice)).toEqual([]);
  });

  it('leaves denominations it cannot read to Giftronaut, which refuses a wrong amount with its own error', async () => {
    const refused = await h.gql(SendGiftsDocument, { input: send('odd-15', id('Odd Denominations'), '15') });
    expect(refused.data!.sendGifts.order!.status).toBe('FAILED');
    expect(problemOf(refused)).toMatchObject({ code: 'PROVIDER_REJECTED', provider: 'GIFTRONAUT', providerCode: 'INVALID_AMOUNT' });
    const sent = await h.gql(SendGiftsDocument, { input: send('odd-20', id('Odd Denominations'), '20') });
    expect(sent.errors).toBeUndefined();
    expect(problemsOf(sent)).toEqual([]);
  });

  it('refuses only a product whose currency cannot be known, naming it, with nothing written or sent', async () => {
    const rows = h.store.counts();
    const orders = h.giftronaut.orderCount;
    const result = await h.gql(SendGiftsDocument, { input: send('mystery', id('Mystery Card'), '10') });
    expect(result.data!.sendGifts.order).toBeNull();
    expect(problemOf(result)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.giftronaut.productId' });
    expect(problemOf(result).message).toMatch(/Mystery Card \(product GC-MYSTERY\)/);
    expect(problemOf(result).message).toMatch(/currency/);
    expect(h.store.counts()).toEqual(rows);
    expect(h.giftronaut.orderCount).toBe(orders);
  });
});
