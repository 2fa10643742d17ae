import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { Provider } from '../src/core/model.js';
import { BalancesDocument, CatalogDocument, ProvidersDocument, SendGiftsDocument, type CatalogQuery } from './generated/graphql.js';
import { errorCode, Harness, type GraphQLResult } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start({ guusto: { balances: { CAD: 500, USD: 1_000 } } });
});
afterAll(() => h.close());

describe('providers', () => {
  it('lists the configured providers with their mode and what they can do', async () => {
    const result = await h.gql(ProvidersDocument, {});
    expect(result.data!.providers).toEqual([
      {
        name: 'GUUSTO',
        mode: 'SANDBOX',
        capabilities: { canCancel: false, canResend: false, canListOrders: false, canSchedule: true, schedulesNatively: false, hasWebhooks: false, deduplicatesCreates: false },
      },
      {
        name: 'GIFTRONAUT',
        mode: 'SANDBOX',
        capabilities: { canCancel: true, canResend: true, canListOrders: true, canSchedule: true, schedulesNatively: true, hasWebhooks: true, deduplicatesCreates: true },
      },
      {
        name: 'GOODY',
        mode: 'SANDBOX',
        capabilities: { canCancel: true, canResend: false, canListOrders: true, canSchedule: true, schedulesNatively: true, hasWebhooks: true, deduplicatesCreates: true },
      },
      {
        name: 'ANDOPEN',
        mode: 'SANDBOX',
        capabilities: { canCancel: false, canResend: false, canListOrders: false, canSchedule: true, schedulesNatively: false, hasWebhooks: true, deduplicatesCreates: false },
      },
    ]);
  });

  it("reports Guusto's workspace balances, which a send draws down", async () => {
    expect((await h.gql(BalancesDocument, {})).data!.providers[0]!.balances).toEqual([
      { amount: '500.00', currency: 'CAD' },
      { amount: '1000.00', currency: 'USD' },
    ]);
    await h.gql(SendGiftsDocument, {
      input: {
        provider: 'GUUSTO',
        idempotencyKey: 'spend',
        message: 'Hi',
        amount: { amount: '25', currency: 'CAD' },
        recipients: [{ email: 'a@example.com' }, { email: 'b@example.com' }],
      },
    });
    expect((await h.gql(BalancesDocument, {})).data!.providers[0]!.balances![0]).toEqual({ amount: '450.00', currency: 'CAD' });
  });

  it('asks the provider once per request, however often the query asks', async () => {
    const before = h.guusto.http.count('GET', '/api/v1/balances/workspaces/currencies/:currency');
    const aliases = Array.from({ length: 20 }, (_, i) => `b${i}: balances { amount }`).join(' ');
    const result = await h.gql(`{ providers { name ${aliases} } }`);
    expect(result.errors).toBeUndefined();
    expect(h.guusto.http.count('GET', '/api/v1/balances/workspaces/currencies/:currency') - before).toBe(2);
  });

  it('keeps the rest of the answer when the balance cannot be read', async () => {
    h.guusto.http.faults.add({ method: 'GET', path: /^\/api\/v1\/balances\//, times: 6, fault: { kind: 'status', status: 503 } });
    const result = await h.gql(BalancesDocument, {});
    expect(errorCode(result)).toBe('PROVIDER_UNAVAILABLE');
    expect(result.errors![0]!.path).toEqual(['providers', 0, 'balances']);
    expect(result.data!.providers[0]).toEqual({ name: 'GUUSTO', balances: null });
    expect(result.data!.providers[1]!.balances).toEqual([{ amount: '50000.00', currency: 'USD' }]);
  });
});

describe('catalog', () => {
  it("offers Guusto's open amount in each currency it sends", async () => {
    const items = (await h.gql(CatalogDocument, { provider: 'GUUSTO' })).data!.catalog.edges.map((e) => e.node);
    expect(items.map((i) => [i.kind, i.currency, i.minAmount, i.maxAmount, i.prices])).toEqual([
      ['OPEN_AMOUNT', 'CAD', { amount: '1.00', currency: 'CAD' }, { amount: '10000.00', currency: 'CAD' }, []],
      ['OPEN_AMOUNT', 'USD', { amount: '1.00', currency: 'USD' }, { amount: '10000.00', currency: 'USD' }, []],
    ]);
    expect(new Set(items.map((i) => i.id)).size).toBe(2);
  });

  it('pages like every other list', async () => {
    const page = (await h.gql(CatalogDocument, { provider: 'GUUSTO', first: 1 })).data!.catalog;
    expect(page.edges).toHaveLength(1);
    expect(page.pageInfo.hasNextPage).toBe(true);
  });

  it.each([
    ['GOODY', 'page/per_page', {}],
    ['ANDOPEN', 'after=<id> with has_more', { andOpenVersion: '2026-05' as const }],
    ['ANDOPEN', 'JSON:API links.next', { andOpenVersion: '2025-09' as const }],
  ])("pages %s's own catalog (%s) as a connection: every item once, one or two requests a page", async (provider, _style, options) => {
    const own = await Harness.start(options);
    try {
      const whole = (await own.gql(CatalogDocument, { provider: provider as Provider, first: 100 })).data!.catalog;
      expect(whole.pageInfo.hasNextPage).toBe(false);
      const box = provider === 'GOODY' ? own.goody : own.andOpen;
      const listPath = provider === 'GOODY' ? '/v1/products' : '/campaigns';
      const seen: string[] = [];
      let after: string | null | undefined = null;
      for (let pages = 1; ; pages++) {
        const before = box.http.received.filter((r) => r.path === listPath).length;
        const result: GraphQLResult<CatalogQuery> = await own.gql(CatalogDocument, { provider: provider as Provider, first: 4, after });
        const page = result.data!.catalog;
        const requests = box.http.received.filter((r) => r.path === listPath).length - before;
        expect(requests).toBeGreaterThanOrEqual(1);
        expect(requests).toBeLessThanOrEqual(2);
        seen.push(...page.edges.map((e) => e.node.id));
        if (!page.pageInfo.hasNextPage) break;
        after = page.pageInfo.endCursor;
        expect(pages).toBeLessThan(50);
      }
      expect(seen).toEqual(whole.edges.map((e) => e.node.id));
    } finally {
      await own.close();
    }
  });

  it('keeps what it read of a page the provider fails part of the way through, says so as data, and resumes after it', async () => {
    // &Open pages 25 campaigns a request: a page of 30 reads twice. The first read is answered, every attempt of the second fails.
    h.andOpen.http.faults.add({ method: 'GET', path: '/campaigns', fault: { kind: 'latency', ms: 0 } });
    h.andOpen.http.faults.add({ method: 'GET', path: '/campaigns', times: 3, fault: { kind: 'status', status: 503 } });
    const partial = await h.gql(CatalogDocument, { provider: 'ANDOPEN', first: 30 });
    expect(partial.errors).toBeUndefined();
    const page = partial.data!.catalog;
    expect(page.complete).toBe(false);
    expect(page.edges).toHaveLength(25);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(page.problems).toEqual([
      { code: 'PROVIDER_UNAVAILABLE', provider: 'ANDOPEN', retryable: true, message: expect.stringMatching(/^ANDOPEN could not list the rest of this page of its catalog/) },
    ]);

    const rest = (await h.gql(CatalogDocument, { provider: 'ANDOPEN', first: 30, after: page.pageInfo.endCursor })).data!.catalog;
    expect(rest).toMatchObject({ complete: true, problems: [] });
    const whole = (await h.gql(CatalogDocument, { provider: 'ANDOPEN', first: 100 })).data!.catalog;
    expect(whole).toMatchObject({ complete: true, problems: [] });
    expect([...page.edges, ...rest.edges].map((e) => e.node.id)).toEqual(whole.edges.map((e) => e.node.id));
  });

  it('fails a page the provider fails before any item as an error: there is nothing to show', async () => {
    h.andOpen.http.faults.add({ method: 'GET', path: '/campaigns', times: 3, fault: { kind: 'status', status: 503 } });
    const failed = await h.gql(CatalogDocument, { provider: 'ANDOPEN' });
    expect(failed.data).toBeNull();
    expect(failed.errors![0]!.extensions).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', provider: 'ANDOPEN', retryable: true });
  });

  it('refuses a provider that is not configured', async () => {
    const guustoOnly = await Harness.start({ only: ['GUUSTO'] });
    try {
      const result = await guustoOnly.gql(CatalogDocument, { provider: 'ANDOPEN' });
      expect(errorCode(result)).toBe('BAD_USER_INPUT');
      expect(result.errors![0]!.extensions!.field).toBe('provider');
    } finally {
      await guustoOnly.close();
    }
  });
});
