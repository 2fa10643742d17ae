/**
 * One `orders` connection across every provider, served from the ledger alone: the orders sent
 * through giftgraph, and those placed in Giftronaut's and Goody's own apps, which the background
 * sync records from their lists. Paged with signed cursors, whole when a provider is down, and with
 * no provider request on the path of a page.
 */
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { decodeId } from '../src/core/global-id.js';
import type { Provider } from '../src/core/model.js';
import type { SendRequest } from '../src/providers/adapter.js';
import { CatalogDocument, OrdersWithGiftsDocument, SendGiftsDocument, type OrderFilter, type OrdersWithGiftsQuery, type SendGiftsInput } from './generated/graphql.js';
import { errorCode, Harness, problemCode, type GraphQLResult } from './support/harness.js';

let h: Harness;
let catalog: Record<string, { id: string; kind: string; name: string; currency?: string | null }[]>;
/** Global ids of every order the tenant should see, by how it was placed. */
const placed: string[] = [];
const foreignRefs: string[] = [];

const sendInput = (provider: Provider, key: string, i: number): SendGiftsInput => {
  const recipients = [{ email: `r${i}@example.com`, firstName: 'Ada', lastName: 'Lovelace' }];
  switch (provider) {
    case 'GUUSTO':
      return { provider, idempotencyKey: key, message: 'Thanks!', amount: { amount: '20', currency: 'USD' }, recipients };
    case 'GIFTRONAUT':
      return {
        provider,
        idempotencyKey: key,
        senderName: 'Acme',
        amount: { amount: '20', currency: 'USD' },
        recipients,
        giftronaut: { productId: catalog.GIFTRONAUT!.find((c) => c.kind === 'CHOICE_CARD' && c.currency === 'USD')!.id },
      };
    case 'GOODY':
      return { provider, idempotencyKey: key, senderName: 'Acme', recipients, goody: { productId: catalog.GOODY!.find((c) => c.name.includes('Caramels'))!.id } };
    case 'ANDOPEN':
      return { provider, idempotencyKey: key, recipients, andOpen: { campaignId: catalog.ANDOPEN!.find((c) => c.kind === 'CAMPAIGN')!.id } };
  }
};

async function sendThroughGiftgraph(provider: Provider, i: number): Promise<string> {
  const sent = await h.gql(SendGiftsDocument, { input: sendInput(provider, `merge-${provider}-${i}`, i) });
  if (!sent.data) throw new Error(JSON.stringify(sent.errors));
  return sent.data.sendGifts.order!.id;
}

/** An order placed in the provider's own app: straight to its API, giftgraph's ledger never sees the send. */
async function placeAtProvider(provider: 'GIFTRONAUT' | 'GOODY', i: number): Promise<string> {
  const options =
    provider === 'GIFTRONAUT'
      ? { productId: catalog.GIFTRONAUT!.find((c) => c.kind === 'CHOICE_CARD' && c.currency === 'USD')!.id }
      : { productId: catalog.GOODY!.find((c) => c.name.includes('Caramels'))!.id };
  const request: SendRequest = {
    reference: `dashboard-${provider}-${i}`,
    idempotencyKey: `dashboard-${provider}-${i}`,
    recipients: [
      {
        position: 0,
        email: `outside${i}@example.com`,
        employeeNumber: null,
        firstName: 'Grace',
        lastName: 'Hopper',
        company: null,
        department: null,
        amount: provider === 'GIFTRONAUT' ? { minor: 2000, currency: 'USD' } : null,
      },
    ],
    message: null,
    senderName: 'Dashboard',
    sendAt: null,
    timezone: null,
    options,
  };
  const outcome = await h.providers.get(provider)!.adapter.create(request);
  if (outcome.kind !== 'accepted') throw new Error(`${provider} did not take the order`);
  return outcome.snapshot.providerRef;
}

async function pageThrough(first: number, filter?: OrderFilter, between?: (page: number) => Promise<void>) {
  const seen: { id: string; createdAt: string; origin: string; provider: string }[] = [];
  let after: string | null = null;
  for (let page = 0; page < 500; page++) {
    if (page > 0) await between?.(page);
    const result: GraphQLResult<OrdersWithGiftsQuery> = await h.gql(OrdersWithGiftsDocument, { first, after, filter });
    if (!result.data || result.errors) throw new Error(JSON.stringify(result.errors));
    const { edges, pageInfo } = result.data.orders;
    seen.push(...edges.map((e) => e.node));
    if (!pageInfo.hasNextPage) return seen;
    after = pageInfo.endCursor ?? null;
  }
  throw new Error('the connection never ended');
}

beforeAll(async () => {
  h = await Harness.start({ accountTenant: 'acme', sharedClock: true });
  catalog = {};
  for (const provider of ['GIFTRONAUT', 'GOODY', 'ANDOPEN'] as const) {
    catalog[provider] = (await h.gql(CatalogDocument, { provider, first: 100 })).data!.catalog.edges.map((e) => e.node);
  }
  // Several hundred orders, interleaved in time across all four providers and both origins.
  const order: (Provider | 'GIFTRONAUT-APP' | 'GOODY-APP')[] = ['GUUSTO', 'GIFTRONAUT', 'GOODY-APP', 'ANDOPEN', 'GOODY', 'GIFTRONAUT-APP'];
  for (let i = 0; i < 300; i++) {
    const kind = order[i % order.length]!;
    if (kind === 'GIFTRONAUT-APP') foreignRefs.push(await placeAtProvider('GIFTRONAUT', i));
    else if (kind === 'GOODY-APP') foreignRefs.push(await placeAtProvider('GOODY', i));
    else placed.push(await sendThroughGiftgraph(kind, i));
    h.clock.advance(1_000);
  }
  // What the poller's schedule does in the background: the orders placed in the apps reach the ledger.
  await h.app.syncListings();
}, 120_000);
afterAll(() => h.close());

describe('the merged orders connection', () => {
  it('pages through every order of every provider exactly once, newest first, also as orders arrive', async () => {
    let arrivals = 0;
    const seen = await pageThrough(7, undefined, async (page) => {
      if (page % 5 !== 0) return;
      // Newer than anything listed so far, at the head of the ledger and of both providers' lists.
      arrivals++;
      await sendThroughGiftgraph('GUUSTO', 1000 + arrivals);
      await placeAtProvider('GIFTRONAUT', 1000 + arrivals);
      await placeAtProvider('GOODY', 2000 + arrivals);
      await h.app.syncListings();
      h.clock.advance(1_000);
    });
    expect(arrivals).toBeGreaterThan(3);
    const ids = seen.map((o) => o.id);
    expect(new Set(ids).size).toBe(ids.length);
    const placedSeen = seen.filter((o) => o.origin === 'GIFTGRAPH').map((o) => o.id);
    expect(new Set(placedSeen)).toEqual(new Set(placed));
    expect(seen.filter((o) => o.origin === 'PROVIDER')).toHaveLength(foreignRefs.length);
    expect(new Set(seen.map((o) => o.provider))).toEqual(new Set(['GUUSTO', 'GIFTRONAUT', 'GOODY', 'ANDOPEN']));
    const times = seen.map((o) => Date.parse(o.createdAt));
    expect(times).toEqual([...times].sort((a, b) => b - a));
  });

  it('gives an order placed in a provider app an id that resolves, for the account owner only', async () => {
    const page = await h.gql(OrdersWithGiftsDocument, { first: 20, filter: { providers: ['GOODY'] } });
    const outside = page.data!.orders.edges.map((e) => e.node).find((o) => o.origin === 'PROVIDER')!;
    expect(outside.idempotencyKey).toBeNull();
    expect(outside.recipients.edges[0]!.node).toMatchObject({ email: expect.stringMatching(/^outside\d+@example\.com$/), firstName: 'Grace' });
    const query = `query($id: ID!) { order(id: $id) { id origin provider } }`;
    expect((await h.gql(query, { id: outside.id })).data).toEqual({ order: { id: outside.id, origin: 'PROVIDER', provider: 'GOODY' } });

    const globex = await h.token({ tenant: 'globex' });
    expect(errorCode(await h.gql(query, { id: outside.id }, globex))).toBe('NOT_FOUND');
    const theirs = await h.gql(OrdersWithGiftsDocument, { first: 100 }, globex);
    expect(theirs.data!.orders.edges).toEqual([]);
  });

  it("shows every recipient of a large batch sent from Goody's app, beyond the list's preview of 10", async () => {
    const outcome = await h.providers.get('GOODY')!.adapter.create({
      reference: 'dashboard-large',
      idempotencyKey: 'dashboard-large',
      recipients: Array.from({ length: 12 }, (_, i) => ({
        position: i,
        email: `team${i}@example.com`,
        employeeNumber: null,
        firstName: `Member${i}`,
        lastName: null,
        company: null,
        department: null,
        amount: null,
      })),
      message: null,
      senderName: 'Dashboard',
      sendAt: null,
      timezone: null,
      options: { productId: catalog.GOODY!.find((c) => c.name.includes('Caramels'))!.id },
    });
    expect(outcome.kind).toBe('accepted');
    h.advance(1); // Goody sends batches of more than 10 in the background
    await h.app.syncListings();
    const listed = (await pageThrough(50, { providers: ['GOODY'], recipientEmail: 'team0@example.com' }))[0]!;
    const query = `query($id: ID!) { order(id: $id) { recipients(first: 50) { edges { node { email firstName } } } } }`;
    const read = (await h.gql(query, { id: listed.id })).data as { order: { recipients: { edges: { node: { email: string; firstName: string } }[] } } };
    const people = read.order.recipients.edges.map((e) => e.node);
    expect(people).toHaveLength(12);
    expect(new Set(people.map((p) => p.email))).toEqual(new Set(Array.from({ length: 12 }, (_, i) => `team${i}@example.com`)));
    expect(people.every((p) => p.firstName === `Member${p.email.slice(4, p.email.indexOf('@'))}`)).toBe(true);
  });

  it('filters every source alike', async () => {
    const goody = await pageThrough(50, { providers: ['GOODY'] });
    expect(goody.every((o) => o.provider === 'GOODY')).toBe(true);
    expect(goody.filter((o) => o.origin === 'PROVIDER').length).toBeGreaterThan(40);
    const one = await pageThrough(10, { recipientEmail: 'OUTSIDE2@example.com' });
    expect(one).toHaveLength(1);
    expect(one[0]!.origin).toBe('PROVIDER');
  });

  it('refuses a cursor used with another filter, a tampered cursor and a page size out of range', async () => {
    const first = await h.gql(OrdersWithGiftsDocument, { first: 3, filter: { providers: ['GUUSTO', 'GOODY'] } });
    const cursor = first.data!.orders.pageInfo.endCursor!;
    // The same filter in another order is the same filter.
    expect((await h.gql(OrdersWithGiftsDocument, { first: 3, after: cursor, filter: { providers: ['GOODY', 'GUUSTO'] } })).errors).toBeUndefined();

    const other = await h.gql(OrdersWithGiftsDocument, { first: 3, after: cursor, filter: { providers: ['GUUSTO'] } });
    expect(other.errors?.[0]).toMatchObject({
      message: expect.stringMatching(/^after: was issued with other filter arguments/),
      extensions: { code: 'BAD_USER_INPUT', field: 'after' },
    });

    const [version, payload, mac] = cursor.split('.');
    const moved = Buffer.from(
      Buffer.from(payload!, 'base64url')
        .toString()
        .replace(/"t":"\d/, '"t":"0'),
    ).toString('base64url');
    const tampered = await h.gql(OrdersWithGiftsDocument, { first: 3, after: `${version}.${moved}.${mac}`, filter: { providers: ['GUUSTO', 'GOODY'] } });
    expect(tampered.errors?.[0]).toMatchObject({ message: 'after: is not a cursor this server issued', extensions: { code: 'BAD_USER_INPUT' } });

    const globex = await h.token({ tenant: 'globex' });
    expect(errorCode(await h.gql(OrdersWithGiftsDocument, { first: 3, after: cursor, filter: { providers: ['GUUSTO', 'GOODY'] } }, globex))).toBe('BAD_USER_INPUT');

    for (const first of [-1, 0, 101]) {
      const result = await h.gql(OrdersWithGiftsDocument, { first });
      expect(result.errors?.[0]).toMatchObject({ message: 'first: must be from 1 to 100', extensions: { code: 'BAD_USER_INPUT', field: 'first' } });
      expect(result.data).toBeNull();
    }
  });

  it("never records another tenant's send as placed in the provider's app while its answer is missing", async () => {
    const globex = await h.token({ tenant: 'globex' });
    const input = { ...sendInput('GIFTRONAUT', 'answer-lost', 9000), recipients: [{ email: 'ceo@globex.example' }] };
    // Giftronaut takes the order, and every answer (retries included) is lost on the way back.
    h.giftronaut.http.faults.add({ method: 'POST', path: /choice-cards$/, times: Infinity, fault: { kind: 'drop-after' } });
    const lost = await h.gql(SendGiftsDocument, { input }, globex);
    h.giftronaut.http.faults.clear();
    expect(problemCode(lost)).toBe('OUTCOME_UNKNOWN');
    expect(lost.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
    const ownersView = async () => {
      await h.app.syncListings();
      return (await pageThrough(100, { providers: ['GIFTRONAUT'] })).filter((o) => o.origin === 'PROVIDER').map((o) => o.id);
    };
    const emails = async (ids: string[]) => {
      const query = `query($id: ID!) { order(id: $id) { recipients { edges { node { email } } } } }`;
      const found = await Promise.all(ids.map(async (id) => ((await h.gql(query, { id })).data as any).order.recipients.edges.map((e: any) => e.node.email)));
      return found.flat();
    };
    expect(await emails(await ownersView())).not.toContain('ceo@globex.example');

    // Not retried, the send stays unresolved; the owner's other orders at Giftronaut still show.
    h.clock.advance(60_000);
    await placeAtProvider('GIFTRONAUT', 7000);
    expect(await emails(await ownersView())).toContain('outside7000@example.com');

    // Giftronaut deduplicates the retry: the order is globex's, and stays out of the owner's list.
    const before = await ownersView();
    const retried = await h.gql(SendGiftsDocument, { input }, globex);
    expect(retried.errors).toBeUndefined();
    expect(await ownersView()).toEqual(before);
    const [order] = await h.store.getOrders('globex', [decodeId(retried.data!.sendGifts.order!.id, 'Order')!.local]);
    expect(order).toMatchObject({ origin: 'GIFTGRAPH', submission: 'ACCEPTED' });
    // No twin recorded as placed elsewhere: the reference leads to globex's order alone.
    expect((await h.store.findOrderByProviderRef('GIFTRONAUT', order!.providerRef!))?.id).toBe(order!.id);
    expect((await h.store.adoptOrders('GIFTRONAUT', [], [order!.providerRef!])).size).toBe(0);
  });

  it("serves whole pages while a provider's list is down, and syncs what was placed meanwhile once it is back", async () => {
    // Every attempt fails, retries included.
    h.goody.http.faults.add({ method: 'GET', path: /^\/v1\/order_batches$/, times: Infinity, fault: { kind: 'status', status: 503 } });
    await placeAtProvider('GOODY', 8000);
    const runs = await h.app.syncListings();
    expect(runs.map((r) => r.provider)).toEqual(['GIFTRONAUT']);
    const freshness = async () =>
      Object.fromEntries(
        ((await h.gql(`{ providers { name ordersSync { syncedAt failedAt lastError } } }`)).data as { providers: { name: string; ordersSync: unknown }[] }).providers.map((p) => [
          p.name,
          p.ordersSync,
        ]),
      ) as Record<string, { syncedAt: string | null; failedAt: string | null; lastError: string | null } | null>;
    const down = await freshness();
    expect(down.GUUSTO).toBeNull();
    expect(down.GIFTRONAUT).toMatchObject({ syncedAt: expect.any(String), failedAt: null, lastError: null });
    expect(down.GOODY).toMatchObject({ syncedAt: expect.any(String), failedAt: expect.any(String), lastError: expect.stringContaining('503') });
    const page = await h.gql(OrdersWithGiftsDocument, { first: 30 });
    expect(page.errors).toBeUndefined();
    const nodes = page.data!.orders.edges.map((e) => e.node);
    expect(nodes).toHaveLength(30);
    // The Goody orders placed in its app before it went down are still served: the ledger has them.
    const goody = await pageThrough(100, { providers: ['GOODY'] });
    expect(goody.some((o) => o.origin === 'PROVIDER')).toBe(true);
    expect(
      await emailsOf(
        goody
          .filter((o) => o.origin === 'PROVIDER')
          .slice(0, 3)
          .map((o) => o.id),
      ),
    ).not.toContain('outside8000@example.com');

    h.goody.http.faults.clear();
    expect((await h.app.syncListings()).map((r) => r.provider).sort()).toEqual(['GIFTRONAUT', 'GOODY']);
    expect((await freshness()).GOODY).toMatchObject({ syncedAt: expect.any(String), failedAt: null, lastError: null });
    const after = await pageThrough(100, { providers: ['GOODY'], recipientEmail: 'outside8000@example.com' });
    expect(after).toHaveLength(1);
  });
});

/** The recipients' emails of these orders, read through giftgraph. */
async function emailsOf(ids: string[]): Promise<string[]> {
  const query = `query($id: ID!) { order(id: $id) { recipients { edges { node { email } } } } }`;
  const found = await Promise.all(
    ids.map(async (id) =>
      ((await h.gql(query, { id })).data as { order: { recipients: { edges: { node: { email: string } }[] } } }).order.recipients.edges.map((e) => e.node.email),
    ),
  );
  return found.flat();
}

describe('the cost of a page', () => {
  const providerRequests = () => ({
    GUUSTO: h.guusto.http.received.length,
    GIFTRONAUT: h.giftronaut.http.received.filter((r) => !r.path.startsWith('/oauth2')).length,
    GOODY: h.goody.http.received.length,
    ANDOPEN: h.andOpen.http.received.length,
  });
  const delta = (before: Record<string, number>, after: Record<string, number>) => Object.fromEntries(Object.entries(after).map(([k, v]) => [k, v - before[k]!]));

  async function costOf(first: number) {
    const spies = (['listOrders', 'getOrders', 'getRecipients', 'getStatusEvents', 'findPlaced', 'adoptOrders'] as const).map((m) => vi.spyOn(h.store, m));
    const before = providerRequests();
    const result = await h.gql(OrdersWithGiftsDocument, { first });
    expect(result.errors).toBeUndefined();
    expect(result.data!.orders.edges).toHaveLength(first);
    const storeCalls = spies.reduce((n, s) => n + s.mock.calls.length, 0);
    for (const s of spies) s.mockRestore();
    return { requests: delta(before, providerRequests()), storeCalls };
  }

  const NONE = { GUUSTO: 0, GIFTRONAUT: 0, GOODY: 0, ANDOPEN: 0 };

  it('is no provider request, and the same store queries, for 10 orders with gifts as for 50', async () => {
    const ten = await costOf(10);
    const fifty = await costOf(50);
    expect(fifty.requests).toEqual(NONE);
    expect(ten.requests).toEqual(NONE);
    expect(fifty.storeCalls).toBe(ten.storeCalls);
  });

  it('makes no provider request paging through every order, filtered or not, in pages of 10 and of 100', async () => {
    const before = providerRequests();
    for (const first of [10, 100]) {
      const all = await pageThrough(first);
      expect(all.length).toBeGreaterThanOrEqual(300);
      const filtered = await pageThrough(first, { providers: ['GIFTRONAUT', 'GOODY'], statuses: ['PENDING', 'SENT', 'DELIVERED'] });
      expect(filtered.length).toBeGreaterThan(0);
      expect(filtered.every((o) => o.provider === 'GIFTRONAUT' || o.provider === 'GOODY')).toBe(true);
    }
    expect(delta(before, providerRequests())).toEqual(NONE);
  });

  it('reads a settled order from the ledger alone, and 50 concurrent reads of a moving order from one provider request', async () => {
    const query = `query($id: ID!) { order(id: $id) { id status } }`;
    const moving = await sendThroughGiftgraph('GIFTRONAUT', 9500);
    // A scheduled Giftronaut order can be canceled, which settles it.
    const scheduled = { ...sendInput('GIFTRONAUT', 'merge-GIFTRONAUT-9501', 9501), sendAt: new Date(h.clock.now() + 86_400_000).toISOString(), timezone: 'UTC' };
    const canceled = (await h.gql(SendGiftsDocument, { input: scheduled })).data!.sendGifts.order!.id;
    const cancel = await h.gql(`mutation($id: ID!) { cancelOrder(id: $id) { order { status } } }`, { id: canceled });
    expect(cancel.errors).toBeUndefined();

    const settled = providerRequests();
    for (let i = 0; i < 5; i++) expect((await h.gql(query, { id: canceled })).data).toEqual({ order: { id: canceled, status: 'CANCELED' } });
    expect(delta(settled, providerRequests())).toEqual(NONE);

    const before = providerRequests();
    // Giftronaut answers the read slowly, so all 50 arrive while it is in flight, however loaded the machine.
    h.giftronaut.http.faults.add({ method: 'GET', path: /^\/api\/v1\/orders\//, fault: { kind: 'latency', ms: 500 } });
    const reads = await Promise.all(Array.from({ length: 50 }, () => h.gql(query, { id: moving })));
    expect(reads.every((r) => r.errors === undefined && (r.data as { order: { id: string } }).order.id === moving)).toBe(true);
    expect(delta(before, providerRequests())).toEqual({ ...NONE, GIFTRONAUT: 1 });
  });

  it('resolves a gateway batch of entity references with one store query and no provider call', async () => {
    const ids = (await h.gql(OrdersWithGiftsDocument, { first: 50 })).data!.orders.edges.map((e) => e.node);
    const getOrders = vi.spyOn(h.store, 'getOrders');
    const before = providerRequests();
    const result = await h.gql(`query($r: [_Any!]!) { _entities(representations: $r) { ... on Order { id status recipients { edges { node { status } } } } } }`, {
      r: ids.map((o) => ({ __typename: 'Order', id: o.id })),
    });
    expect(result.errors).toBeUndefined();
    expect((result.data as { _entities: { id: string }[] })._entities.map((e) => e.id)).toEqual(ids.map((o) => o.id));
    expect(getOrders).toHaveBeenCalledTimes(1);
    getOrders.mockRestore();
    expect(delta(before, providerRequests())).toEqual(NONE);
  });
});

describe('a provider account that changes owner', () => {
  it("moves the orders placed in the provider's app to the new owner at start, and away from the old one", async () => {
    const page = await h.gql(OrdersWithGiftsDocument, { first: 5, filter: { providers: ['GOODY'] } });
    const outside = page.data!.orders.edges.map((e) => e.node).find((o) => o.origin === 'PROVIDER')!;
    const query = `query($id: ID!) { order(id: $id) { id origin } }`;
    await h.restart({ accountTenant: 'globex' });
    const globex = await h.token({ tenant: 'globex' });
    expect(errorCode(await h.gql(query, { id: outside.id }))).toBe('NOT_FOUND');
    expect((await h.gql(query, { id: outside.id }, globex)).data).toEqual({ order: { id: outside.id, origin: 'PROVIDER' } });
    const acme = await h.gql(OrdersWithGiftsDocument, { first: 100, filter: { providers: ['GOODY'] } });
    expect(acme.data!.orders.edges.every((e) => e.node.origin === 'GIFTGRAPH')).toBe(true);
  });
});
