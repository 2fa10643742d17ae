/**
 * The sandbox's products. Shapes are not published [assume]: branded cards carry `pricePoints`,
 * choice cards a `minAmount`..`maxAmount` range, both in the product's local currency.
 */
export const BRANDED_CARDS = [
  { productId: '10042', name: 'Blue Bottle Coffee', currency: 'USD', pricePoints: [10, 25, 50] },
  { productId: '10043', name: 'Everyday Books', currency: 'USD', pricePoints: [25, 50, 100] },
  { productId: '20077', name: 'Kinokuniya Books', currency: 'JPY', pricePoints: [1000, 3000, 5000] },
  { productId: '30011', name: 'Tim Hortons', currency: 'CAD', pricePoints: [10, 25] },
];

export const CHOICE_CARDS = [
  { productId: '55', name: 'Thank You Collection', currency: 'USD', minAmount: 5, maxAmount: 500 },
  { productId: '56', name: 'Japan Choice', currency: 'JPY', minAmount: 500, maxAmount: 50000 },
];

/** Balance and funding are in USD [doc]; the sandbox converts at these fixed rates. */
export const USD_PER_UNIT: Record<string, number> = { USD: 1, CAD: 0.73, JPY: 0.0067, EUR: 1.08 };
