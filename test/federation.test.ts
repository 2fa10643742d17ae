/**
 * giftgraph in a federated graph, with real peers: composed with a people subgraph by
 * @apollo/composition, then queried through @apollo/gateway over HTTP on ephemeral ports.
 */
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { composeServices } from '@apollo/composition';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import { Harness } from './support/harness.js';
import { PEOPLE_SDL, startPeopleSubgraph, type PeopleSubgraph } from './support/people-subgraph.js';

/** Composition hints we accept, and why. Any other hint fails the test, so a new one gets read. */
const ACCEPTED_HINTS: Record<string, string> = {};

const directory = [
  ...Array.from({ length: 100 }, (_, i) => ({
    email: `person${i}@example.com`,
    displayName: `Person ${i}`,
    team: i % 2 === 0 ? 'Engineering' : 'Sales',
  })),
  // The directory's own spelling of an address; giftgraph's gifts to her are spelled otherwise.
  { email: 'Ada.Lovelace@Example.com', displayName: 'Ada Lovelace', team: 'Research' },
];

let h: Harness;
let people: PeopleSubgraph;
let gatewayServer: ApolloServer<{ authorization?: string }>;
let gatewayUrl: string;
let giftgraphSdl: string;

async function viaGateway<T = any>(query: string, variables?: Record<string, unknown>, token?: string): Promise<{ data?: T; errors?: any[] }> {
  const res = await fetch(gatewayUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token ?? (await h.token())}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: T; errors?: any[] };
}

function compose() {
  return composeServices([
    { name: 'giftgraph', typeDefs: parse(giftgraphSdl), url: `${h.url}/graphql` },
    { name: 'people', typeDefs: parse(PEOPLE_SDL), url: people.url },
  ]);
}

beforeAll(async () => {
  h = await Harness.start();
  people = await startPeopleSubgraph(directory);
  // What a gateway or `rover subgraph introspect` reads: no user token needed.
  const service = await fetch(`${h.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify({ query: '{ _service { sdl } }' }),
  });
  giftgraphSdl = ((await service.json()) as { data: { _service: { sdl: string } } }).data._service.sdl;

  const composed = compose();
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  const gateway = new ApolloGateway({
    supergraphSdl: composed.supergraphSdl,
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<{ authorization?: string }>({
        url,
        // The client's token reaches every subgraph, so each one enforces its tenant.
        willSendRequest({ request, context }) {
          if (context.authorization) request.http?.headers.set('authorization', context.authorization);
        },
      }),
  });
  gatewayServer = new ApolloServer({ gateway });
  ({ url: gatewayUrl } = await startStandaloneServer(gatewayServer, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  }));
}, 60_000);

afterAll(async () => {
  await gatewayServer?.stop();
  await people?.stop();
  await h?.close();
});

describe('the subgraph', () => {
  it('serves its SDL with @key on the Order interface and every order type, without a token', async () => {
    const result = await h.gql<{ _service: { sdl: string } }, unknown>('{ _service { sdl } }', undefined, null);
    const sdl = result.data!._service.sdl;
    expect(sdl).toMatch(/interface Order\s+@key\(fields: "id"\)/);
    expect(sdl).toMatch(/type GuustoOrder implements Order\s+@key\(fields: "id"\)/);
    expect(sdl).toContain('@link(url: "https://specs.apollo.dev/federation/v2.7"');
  });
});

describe('composition', () => {
  it('composes with a people subgraph without errors, and only with hints we accept', () => {
    const composed = compose();
    expect(composed.errors).toBeUndefined();
    const unexpected = (composed.hints ?? []).filter((hint) => !(hint.definition.code in ACCEPTED_HINTS)).map((hint) => `${hint.definition.code}: ${hint.message}`);
    expect(unexpected).toEqual([]);
  });

  it('keeps internal fields out of the public API schema, and marks shared value types', () => {
    const composed = compose();
    const api = composed.schema!.toAPISchema().toGraphQLJSSchema();
    expect(api.getType('GuustoOrder')).toBeDefined();
    expect(Object.keys((api.getType('GuustoOrder') as any).getFields())).not.toContain('providerDetails');
    expect(giftgraphSdl).toMatch(/type Money\s+@shareable/);
    expect(giftgraphSdl).toMatch(/type PageInfo\s+@shareable/);
    for (const entity of ['Order', 'GuustoOrder', 'GiftronautOrder', 'GoodyOrderBatch', 'AndOpenOrder']) {
      expect(giftgraphSdl).toMatch(new RegExp(`(type|interface) ${entity}(\\s+implements Order)?\\s+@key\\(fields: "id"\\)`));
    }
    expect(giftgraphSdl).toMatch(/type Person\s+@key\(fields: "email"\)/);
  });

  it('composes its typed scalars, and keeps the shared value types as other subgraphs define them', () => {
    // A budgets subgraph defines Money and PageInfo as they always were: currency a String.
    const budgets = `
      extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@shareable"])
      type Query { "Budgets, each with what is left." budgets: [Budget!]! }
      type Budget { id: ID! left: Money! }
      type Money @shareable { amount: String! currency: String! }
      type PageInfo @shareable { hasNextPage: Boolean! hasPreviousPage: Boolean! startCursor: String endCursor: String }
    `;
    const composed = composeServices([
      { name: 'giftgraph', typeDefs: parse(giftgraphSdl), url: `${h.url}/graphql` },
      { name: 'people', typeDefs: parse(PEOPLE_SDL), url: people.url },
      { name: 'budgets', typeDefs: parse(budgets), url: 'http://127.0.0.1:1/graphql' },
    ]);
    expect(composed.errors).toBeUndefined();
    expect((composed.hints ?? []).map((hint) => hint.definition.code).filter((code) => !(code in ACCEPTED_HINTS))).toEqual([]);
    const api = composed.schema!.toAPISchema().toGraphQLJSSchema();
    for (const scalar of ['EmailAddress', 'CurrencyCode', 'TimeZone', 'URL', 'DateTime']) expect(api.getType(scalar)?.toString()).toBe(scalar);
    expect(String((api.getType('Person') as any).getFields().email.type)).toBe('EmailAddress!');
    expect(String((api.getType('Money') as any).getFields().currency.type)).toBe('String!');
  });

  it('does not compose with a subgraph whose Person.email is a String: the key field must be an EmailAddress there too', () => {
    const stringly = PEOPLE_SDL.replace('scalar EmailAddress', '').replaceAll('EmailAddress!', 'String!');
    const composed = composeServices([
      { name: 'giftgraph', typeDefs: parse(giftgraphSdl), url: `${h.url}/graphql` },
      { name: 'people', typeDefs: parse(stringly), url: people.url },
    ]);
    expect(composed.errors?.map((e) => e.message)).toEqual([expect.stringContaining('Type of field "Person.email" is incompatible across subgraphs')]);
  });
});

describe('through @apollo/gateway', () => {
  it('sends a gift, then answers one query joining orders, recipients and people', async () => {
    const sent = await viaGateway(`mutation($input: SendGiftsInput!) { sendGifts(input: $input) { order { id status provider } } }`, {
      input: {
        provider: 'GUUSTO',
        idempotencyKey: 'via-gateway',
        message: 'Thanks!',
        amount: { amount: '20', currency: 'USD' },
        recipients: directory.slice(0, 3).map((p) => ({ email: p.email })),
      },
    });
    expect(sent.errors).toBeUndefined();
    expect(sent.data.sendGifts.order).toMatchObject({ provider: 'GUUSTO' });

    const joined = await viaGateway(`{
      orders(first: 5) { edges { node { id provider recipients { edges { node { email status
        person { displayName team giftsReceived { edges { node { order { id } } } } } } } } } } }
    }`);
    expect(joined.errors).toBeUndefined();
    const order = joined.data.orders.edges[0].node;
    expect(order.id).toBe(sent.data.sendGifts.order.id);
    expect(order.recipients.edges.map((e: any) => e.node.person.displayName)).toEqual(['Person 0', 'Person 1', 'Person 2']);
    expect(order.recipients.edges[1].node.person.team).toBe('Sales');
    expect(order.recipients.edges[0].node.person.giftsReceived.edges[0].node.order.id).toBe(order.id);
  });

  it('does not expose internal fields through the gateway', async () => {
    const result = await viaGateway(`{ orders(first: 1) { edges { node { id providerDetails } } } }`);
    expect(result.errors?.[0]?.extensions?.code).toBe('GRAPHQL_VALIDATION_FAILED');
  });

  it('resolves a batch of 100 entity references with one lookup per type', async () => {
    // Ten orders of ten recipients: 100 people, each in the directory.
    for (let o = 0; o < 10; o++) {
      const result = await viaGateway(`mutation($input: SendGiftsInput!) { sendGifts(input: $input) { order { id } } }`, {
        input: {
          provider: 'GUUSTO',
          idempotencyKey: `batch-${o}`,
          message: 'Thanks!',
          amount: { amount: '10', currency: 'USD' },
          recipients: directory.slice(o * 10, o * 10 + 10).map((p) => ({ email: p.email })),
        },
      });
      expect(result.errors).toBeUndefined();
    }

    // giftgraph → people: 100 Person representations in one _entities call, one directory lookup.
    people.lookups.length = 0;
    const forward = await viaGateway(`{ orders(first: 10) { edges { node { recipients(first: 10) { edges { node { person { displayName } } } } } } } }`);
    expect(forward.errors).toBeUndefined();
    const names = forward.data.orders.edges.flatMap((e: any) => e.node.recipients.edges.map((r: any) => r.node.person.displayName));
    expect(names).toHaveLength(100);
    expect(people.lookups).toEqual([100]);

    // people → giftgraph: 100 Person representations, one ledger query for all their gifts.
    const byEmail = vi.spyOn(h.store, 'getRecipientsByEmail');
    const reverse = await viaGateway(`{ people(first: 100) { email giftsReceived(first: 5) { edges { node { status order { id provider } } } } } }`);
    expect(reverse.errors).toBeUndefined();
    expect(reverse.data.people).toHaveLength(100);
    expect(reverse.data.people.every((p: any) => p.giftsReceived.edges.length >= 1)).toBe(true);
    expect(byEmail).toHaveBeenCalledTimes(1);
    expect(byEmail.mock.calls[0]![1]).toHaveLength(100);
    byEmail.mockRestore();
  });

  it("scopes the gifts a person received to the caller's tenant", async () => {
    const globex = await h.token({ tenant: 'globex' });
    const sent = await viaGateway(
      `mutation($input: SendGiftsInput!) { sendGifts(input: $input) { order { id } } }`,
      { input: { provider: 'GUUSTO', idempotencyKey: 'globex-gift', message: 'Hi', amount: { amount: '5', currency: 'USD' }, recipients: [{ email: directory[0]!.email }] } },
      globex,
    );
    expect(sent.errors).toBeUndefined();
    const query = `{ people(first: 1) { displayName giftsReceived(first: 50) { edges { node { order { id } } } } } }`;
    const theirs = await viaGateway(query, undefined, globex);
    expect(theirs.data.people[0].giftsReceived.edges.map((e: any) => e.node.order.id)).toEqual([sent.data.sendGifts.order.id]);
    const ours = await viaGateway(query);
    const ourOrders = ours.data.people[0].giftsReceived.edges.map((e: any) => e.node.order.id);
    expect(ourOrders.length).toBeGreaterThan(0);
    expect(ourOrders).not.toContain(sent.data.sendGifts.order.id);
  });
});

describe('one person, however the address is spelled', () => {
  const spellings = ['ada.lovelace@example.com', 'ADA.LOVELACE@example.com', ' Ada.Lovelace@EXAMPLE.COM '];
  const orderIds: string[] = [];

  beforeAll(async () => {
    // Two orders, to the address in two spellings: the ledger keeps each as typed.
    for (const [i, email] of spellings.slice(0, 2).entries()) {
      const sent = await h.gql<{ sendGifts: { order: { id: string } } }, unknown>(`mutation($input: SendGiftsInput!) { sendGifts(input: $input) { order { id } } }`, {
        input: { provider: 'GUUSTO', idempotencyKey: `spelling-${i}`, message: 'Thanks!', amount: { amount: '15', currency: 'USD' }, recipients: [{ email }] },
      });
      expect(sent.errors).toBeUndefined();
      orderIds.unshift(sent.data!.sendGifts.order.id);
    }
  });

  it('resolves every spelling of a reference to the one normalized key, with the same gifts', async () => {
    const result = await h.gql<{ _entities: ({ email: string; giftsReceived: { edges: { node: { email: string; order: { id: string } } }[] } } | null)[] }, unknown>(
      `query($representations: [_Any!]!) { _entities(representations: $representations) {
        ... on Person { email giftsReceived(first: 10) { edges { node { email order { id } } } } } } }`,
      { representations: [...spellings, 'not an address'].map((email) => ({ __typename: 'Person', email })) },
    );
    expect(result.errors).toBeUndefined();
    const [first, ...others] = result.data!._entities;
    expect(first!.email).toBe('ada.lovelace@example.com');
    expect(first!.giftsReceived.edges.map((e) => e.node.order.id)).toEqual(orderIds);
    // Each recipient keeps the address as it was sent to.
    expect(first!.giftsReceived.edges.map((e) => e.node.email)).toEqual(['ADA.LOVELACE@example.com', 'ada.lovelace@example.com']);
    expect(others.slice(0, 2)).toEqual([first, first]);
    expect(others[2]).toBeNull();
  });

  it('joins recipients of both spellings, and the directory, to one person through @apollo/gateway', async () => {
    const joined = await viaGateway(`{ orders(first: 2) { edges { node { id recipients { edges { node { email
      person { email displayName giftsReceived(first: 10) { edges { node { order { id } } } } } } } } } } } }`);
    expect(joined.errors).toBeUndefined();
    const recipients = joined.data.orders.edges.map((e: any) => e.node.recipients.edges[0].node);
    expect(recipients.map((r: any) => r.email)).toEqual(['ADA.LOVELACE@example.com', 'ada.lovelace@example.com']);
    for (const { person } of recipients) {
      expect(person).toEqual({
        email: 'ada.lovelace@example.com',
        displayName: 'Ada Lovelace',
        giftsReceived: { edges: orderIds.map((id) => ({ node: { order: { id } } })) },
      });
    }

    // From the directory's side: its entry, spelled its own way, holds both gifts.
    const fromPeople = await viaGateway(`{ person(email: "Ada.Lovelace@Example.com") { email displayName giftsReceived(first: 10) { edges { node { order { id } } } } } }`);
    expect(fromPeople.errors).toBeUndefined();
    expect(fromPeople.data.person.email).toBe('ada.lovelace@example.com');
    expect(fromPeople.data.person.giftsReceived.edges.map((e: any) => e.node.order.id)).toEqual(orderIds);
  });
});

describe('inline traces', () => {
  it('are returned as ftv1 when a gateway asks for them', async () => {
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await h.token()}`, 'apollo-federation-include-trace': 'ftv1' },
      body: JSON.stringify({ query: '{ providers { name } }' }),
    });
    const body = (await res.json()) as { data: unknown; extensions?: { ftv1?: string } };
    expect(body.data).toBeDefined();
    expect(body.extensions?.ftv1).toMatch(/^[A-Za-z0-9+/=]{20,}$/);

    const plain = await h.gql('{ providers { name } }');
    expect((plain as { extensions?: unknown }).extensions).toBeUndefined();
  });
});
