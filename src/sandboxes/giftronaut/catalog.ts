/**
 * The sandbox's products. The catalog's shape is not published [assume]: each product has a
 * `productId`, `name` and `currency`; branded cards come at fixed `pricePoints` or in a
 * `minAmount`..`maxAmount` range, "depending on the brand" [doc: api.giftronaut.com/docs/guides/
 * sending-rewards]; choice cards in a range. Entries also carry fields a client does not know
 * (countries, images, status), as a real catalog would.
 */
export interface SandboxProduct {
  productId: string;
  name: string;
  currency: string;
  pricePoints?: number[];
  minAmount?: number;
  maxAmount?: number;
  [other: string]: unknown;
}

const extras = (country: string, slug: string) => ({
  countries: [country],
  imageUrl: `https://sandbox.giftronaut.invalid/img/${slug}.png`,
  status: 'ACTIVE',
  redemption: { type: 'ONLINE', instructions: 'Redeem online with the code in the email.' },
});

export const BRANDED_CARDS: SandboxProduct[] = [
  { productId: '10042', name: 'Blue Bottle Coffee', currency: 'USD', pricePoints: [10, 25, 50], ...extras('US', 'blue-bottle') },
  { productId: '10043', name: 'Everyday Books', currency: 'USD', pricePoints: [25, 50, 100], ...extras('US', 'everyday-books') },
  { productId: '20077', name: 'Kinokuniya Books', currency: 'JPY', pricePoints: [1000, 3000, 5000], ...extras('JP', 'kinokuniya') },
  { productId: '30011', name: 'Tim Hortons', currency: 'CAD', pricePoints: [10, 25], ...extras('CA', 'tim-hortons') },
  // Brands with an open denomination: any amount in the range.
  { productId: '10077', name: 'Harbor Outfitters', currency: 'USD', minAmount: 5, maxAmount: 500, denominationType: 'RANGE', ...extras('US', 'harbor') },
  { productId: '20091', name: 'Sakura Rail', currency: 'JPY', minAmount: 500, maxAmount: 30000, denominationType: 'RANGE', ...extras('JP', 'sakura-rail') },
];

export const CHOICE_CARDS: SandboxProduct[] = [
  { productId: '55', name: 'Thank You Collection', currency: 'USD', minAmount: 5, maxAmount: 500, ...extras('US', 'thank-you') },
  { productId: '56', name: 'Japan Choice', currency: 'JPY', minAmount: 500, maxAmount: 50000, ...extras('JP', 'japan-choice') },
];

/** Balance and funding are in USD [doc]; the sandbox converts at these fixed rates. */
export const USD_PER_UNIT: Record<string, number> = { USD: 1, CAD: 0.73, JPY: 0.0067, EUR: 1.08 };

/** A product as a raw catalog entry describes it, where it can be ordered at all (it names its id and currency). */
export function orderableProduct(entry: unknown): SandboxProduct | undefined {
  if (!entry || typeof entry !== 'object') return undefined;
  const e = entry as Record<string, unknown>;
  const id = typeof e.productId === 'number' ? String(e.productId) : e.productId;
  if (typeof id !== 'string' || !id || typeof e.currency !== 'string') return undefined;
  const num = (v: unknown) => (typeof v === 'number' ? v : typeof v === 'string' && v.trim() !== '' && Number.isFinite(Number(v)) ? Number(v) : undefined);
  const numbers = (v: unknown) => (Array.isArray(v) && v.every((n) => num(n) !== undefined) ? v.map((n) => num(n)!) : undefined);
  // The provider knows its own products whatever shape it lists them in: `denominations.fixed` too.
  const fixed = (e.denominations as { fixed?: unknown } | undefined)?.fixed;
  return {
    productId: id,
    name: typeof e.name === 'string' ? e.name : id,
    currency: e.currency,
    pricePoints: numbers(e.pricePoints) ?? numbers(fixed),
    minAmount: num(e.minAmount),
    maxAmount: num(e.maxAmount),
  };
}
