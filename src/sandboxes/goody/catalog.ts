/**
 * The sandbox's products and greeting cards. Product fields beyond id and name are not published
 * [assume]: a fixed `price` in cents, or `price_is_variable` with a cents range for gift cards.
 */
export interface SandboxProduct {
  id: string;
  name: string;
  brand: { name: string };
  price: number | null;
  price_is_variable: boolean;
  variable_price_min: number | null;
  variable_price_max: number | null;
  /** Physical gifts ship after acceptance; digital ones are delivered at once. */
  physical: boolean;
}

const fixed = (id: string, name: string, brand: string, price: number): SandboxProduct => ({
  id,
  name,
  brand: { name: brand },
  price,
  price_is_variable: false,
  variable_price_min: null,
  variable_price_max: null,
  physical: true,
});

export const PRODUCTS: SandboxProduct[] = [
  fixed('8d2f6b1e-2a44-4c1f-9a51-1b6f0c0d1001', 'Sea Salt Caramels', 'Little Sweets', 3_200),
  fixed('8d2f6b1e-2a44-4c1f-9a51-1b6f0c0d1002', 'Single-Origin Coffee Trio', 'Morning Roasters', 4_500),
  fixed('8d2f6b1e-2a44-4c1f-9a51-1b6f0c0d1003', 'Desk Succulent', 'Green Corner', 2_800),
  {
    id: '8d2f6b1e-2a44-4c1f-9a51-1b6f0c0d2001',
    name: 'Digital Gift Card',
    brand: { name: 'Everywhere Cards' },
    price: null,
    price_is_variable: true,
    variable_price_min: 1_000,
    variable_price_max: 50_000,
    physical: false,
  },
];

export const CARDS = [
  { id: 'c1a4f0c2-0000-4000-8000-000000000001', name: 'Thank you' },
  { id: 'c1a4f0c2-0000-4000-8000-000000000002', name: 'Happy work anniversary' },
];
