import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_COST, MAX_ENTITY_REPRESENTATIONS } from '../src/server/cost.js';
import { Harness } from './support/harness.js';
import { runOverSocket, wsClient } from './support/ws-client.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

/** About 400 bytes, well inside the depth and field limits, and an answer of millions of recipients. */
const nestedPages = `query Nested {
  a: orders(first: 100) { edges { node { recipients(first: 100) { edges { node { id order { recipients(first: 100) { edges { node { id email } } } } } } } } } }
  b: orders(first: 100) { edges { node { id } } }
}`;

/** Every provider request any sandbox has received so far. */
const providerRequests = () => [h.guusto, h.giftronaut, h.goody, h.andOpen].reduce((n, s) => n + s.http.received.length, 0);

const overSocket = async (query: string, variables?: Record<string, unknown>) => {
  const client = wsClient(h.url, await h.token());
  try {
    return await runOverSocket(client, query, variables);
  } finally {
    await client.dispose();
  }
};

describe('an operation whose lists multiply past the cost limit', () => {
  it('is refused over HTTP before execution, saying its cost and the limit, and asks no provider', async () => {
    const before = providerRequests();
    const refused = await h.gql(nestedPages, undefined, await h.token({ scope: 'orders:read' }));
    expect(refused.data).toBeUndefined();
    expect(refused.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: MAX_COST });
    expect(refused.errors![0]!.extensions!.cost as number).toBeGreaterThan(1_000_000);
    expect(refused.errors![0]!.message).toMatch(new RegExp(`Operation Nested costs \\d+; the limit is ${MAX_COST}`));
    expect(providerRequests()).toBe(before);
  });

  it('is refused the same way over /ws', async () => {
    const refused = await overSocket(nestedPages);
    expect(refused.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: MAX_COST });
    expect(refused.errors![0]!.extensions).not.toHaveProperty('http');
    expect(refused.errors![0]!.message).toMatch(/costs \d+; the limit is/);
  });

  it('counts a page size given as a variable', async () => {
    const query = 'query Sized($n: Int) { orders(first: $n) { edges { node { recipients(first: $n) { edges { node { id gift { __typename } } } } } } } }';
    expect((await h.gql(query, { n: 10 })).errors).toBeUndefined();
    expect((await h.gql(query, { n: 100 })).errors![0]!.message).toMatch(/costs \d+; the limit is/);
  });

  it('measures a document again for each value of the variables its cost depends on', async () => {
    const query = 'query Toggled($deep: Boolean!) { orders(first: 100) { edges { node { recipients(first: 100) @include(if: $deep) { edges { node { id } } } } } } }';
    expect((await h.gql(query, { deep: false })).errors).toBeUndefined();
    expect((await h.gql(query, { deep: true })).errors![0]!.message).toMatch(/costs \d+; the limit is/);
    expect((await h.gql(query, { deep: false })).errors).toBeUndefined();
  });

  it('is not let through by a first request whose variables do not coerce', async () => {
    const query =
      'query Poison($id: ID!, $n: Int) { order(id: $id) { id } orders(first: $n) { edges { node { recipients(first: $n) { edges { node { order { recipients(first: $n) { edges { node { id } } } } } } } } } } }';
    const unset = await h.gql(query, { n: 100 });
    expect(unset.errors![0]!.message).toMatch(/\$id/);
    expect(unset.errors![0]!.message).not.toMatch(/costs/);
    expect((await h.gql(query, { id: 'T3JkZXI6R1VVU1RPOng', n: 100 })).errors![0]!.message).toMatch(/costs \d+; the limit is/);
  });

  it('counts a page size left out as its default, not as an explicit null', async () => {
    const query = 'query Defaulted($n: Int = 100) { orders(first: $n) { edges { node { recipients(first: $n) { edges { node { id email status gift { __typename } } } } } } } }';
    const explicitNull = await h.gql(query, { n: null });
    expect(explicitNull.errors).toBeUndefined();
    expect((await h.gql(query, {})).errors![0]!.message).toMatch(/costs \d+; the limit is/);
  });

  it('is refused when padded past what the measure walks, not let through unmeasured', async () => {
    // Nested inline fragments spread twice a level: few tokens and fields, many selections to walk.
    const fragments = ['fragment F0 on Query { __typename }'];
    const nest = (inner: string) => `${'... { '.repeat(12)}${inner}${' }'.repeat(12)}`;
    for (let i = 1; i <= 9; i++) fragments.push(`fragment F${i} on Query { ${nest(`...F${i - 1}`)} ${nest(`...F${i - 1}`)} }`);
    const padded = `query Padded { orders(first: 100) { edges { node { recipients(first: 100) { edges { node { order { recipients(first: 100) { edges { node { id } } } } } } } } } } ...F9 } ${fragments.join(' ')}`;
    const refused = await h.gql(padded);
    expect(refused.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: MAX_COST });
  });

  it('lets a dashboard page of 100 orders with their recipients through', async () => {
    const page = '{ orders(first: 100) { edges { node { id status recipients { edges { node { email status gift { __typename } } } } } } } }';
    expect((await h.gql(page)).errors).toBeUndefined();
  });
});

describe('_entities', () => {
  const entities = 'query People($r: [_Any!]!) { _entities(representations: $r) { ... on Person { email } } }';
  const people = (n: number) => Array.from({ length: n }, (_, i) => ({ __typename: 'Person', email: `p${i}@example.com` }));

  it(`resolves up to ${MAX_ENTITY_REPRESENTATIONS} representations in one request`, async () => {
    const result = await h.gql<{ _entities: unknown[] }, { r: unknown[] }>(entities, { r: people(MAX_ENTITY_REPRESENTATIONS) });
    expect(result.errors).toBeUndefined();
    expect(result.data!._entities).toHaveLength(MAX_ENTITY_REPRESENTATIONS);
  });

  it('refuses more, naming the limit, over HTTP and /ws', async () => {
    const http = await h.gql(entities, { r: people(MAX_ENTITY_REPRESENTATIONS + 1) });
    expect(http.errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: MAX_ENTITY_REPRESENTATIONS });
    expect(http.errors![0]!.message).toMatch(/at most 100 representations; this request has 101/);
    const ws = await overSocket(entities, { r: people(MAX_ENTITY_REPRESENTATIONS + 1) });
    expect(ws.errors![0]!.message).toMatch(/at most 100 representations/);
  });
});
