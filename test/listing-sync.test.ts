/**
 * The background sync of providers' own lists: run by the poller on its schedule, it records the
 * orders placed in a provider's app, so `orders` shows them without any request asking a provider,
 * and `providers` tells how fresh each list is.
 */
import { afterAll, beforeAll, expect, it } from 'vitest';
import type { SendRequest } from '../src/providers/adapter.js';
import { CatalogDocument, OrdersWithGiftsDocument } from './generated/graphql.js';
import { Harness } from './support/harness.js';

let h: Harness;

beforeAll(async () => {
  h = await Harness.start({
    only: ['GIFTRONAUT', 'GOODY'],
    accountTenant: 'acme',
    polling: { tickMs: 10, firstDelayMs: 60_000, maxDelayMs: 60_000, webhookDelayMs: 60_000, concurrency: 4, perSecond: 100, syncMs: 50 },
  });
});
afterAll(() => h.close());

/** An order placed in Goody's own app: straight to its API. */
async function placeInGoodysApp(email: string): Promise<string> {
  const product = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 })).data!.catalog.edges.find((e) => e.node.name.includes('Caramels'))!.node.id;
  const request: SendRequest = {
    reference: `app-${email}`,
    idempotencyKey: `app-${email}`,
    recipients: [{ position: 0, email, employeeNumber: null, firstName: 'Grace', lastName: null, company: null, department: null, amount: null }],
    message: null,
    senderName: 'Dashboard',
    sendAt: null,
    timezone: null,
    options: { productId: product },
  };
  const outcome = await h.providers.get('GOODY')!.adapter.create(request);
  if (outcome.kind !== 'accepted') throw new Error('Goody did not take the order');
  return outcome.snapshot.providerRef;
}

const listed = async (email: string) => (await h.gql(OrdersWithGiftsDocument, { first: 10, filter: { recipientEmail: email } })).data!.orders.edges.map((e) => e.node);

it('shows an order placed in the provider app once the poller has synced its list, with no request from a reader', async () => {
  await placeInGoodysApp('placed-in-app@example.com');
  const pages = h.goody.http.count('GET', '/v1/order_batches');
  await expect.poll(() => listed('placed-in-app@example.com'), { timeout: 5_000, interval: 20 }).toEqual([expect.objectContaining({ origin: 'PROVIDER', provider: 'GOODY' })]);
  // The list was read by the sync, newest first, and stopped at what the ledger already had.
  expect(h.goody.http.count('GET', '/v1/order_batches')).toBeGreaterThan(pages);

  const sync = (
    (await h.gql(`{ providers { name ordersSync { syncedAt failedAt } } }`)).data as {
      providers: { name: string; ordersSync: { syncedAt: string | null; failedAt: string | null } | null }[];
    }
  ).providers;
  expect(sync).toEqual(
    expect.arrayContaining([
      { name: 'GOODY', ordersSync: { syncedAt: expect.any(String), failedAt: null } },
      { name: 'GIFTRONAUT', ordersSync: { syncedAt: expect.any(String), failedAt: null } },
    ]),
  );
});

it('reads nothing more of a list than its newest page when nothing new was placed', async () => {
  // Let a sync run over an unchanged list, then count what one more sync reads.
  const before = h.goody.http.count('GET', '/v1/order_batches');
  await expect.poll(() => h.goody.http.count('GET', '/v1/order_batches'), { timeout: 5_000, interval: 10 }).toBeGreaterThan(before + 1);
  const runs = await h.app.syncListings();
  expect(runs.find((r) => r.provider === 'GOODY')).toMatchObject({ pages: 1, recorded: [] });
});
