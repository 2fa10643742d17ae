/**
 * A frontend on giftgraph as the README's "Use it from a frontend" sets one up: Apollo Client 4
 * (core, no React) with the cache built from the generated schema/possible-types.json and the
 * README's type policies, an HttpLink to /graphql, and a GraphQLWsLink (graphql-ws) to /ws with
 * the token in connectionParams, split on the operation's type. Against a real giftgraph on a
 * loopback port, with its sandboxes: every request below goes over real HTTP or a real WebSocket.
 */
import { ApolloClient, ApolloLink, CombinedGraphQLErrors, gql, HttpLink, InMemoryCache, setLogVerbosity, type TypedDocumentNode } from '@apollo/client';
import { GraphQLWsLink } from '@apollo/client/link/subscriptions';
import { getMainDefinition, relayStylePagination } from '@apollo/client/utilities';
import { createClient } from 'graphql-ws';
import type { Subscription } from 'rxjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import generated from '../schema/possible-types.json' with { type: 'json' };
import { GUUSTO_LIFE, twoRecipientGuusto } from './support/guusto-lifecycle.js';
import { Harness } from './support/harness.js';
import { parsePrometheusText, sumOf } from './support/prometheus-text.js';

let h: Harness;
const started: { stop(): Promise<void> }[] = [];

beforeAll(async () => {
  h = await Harness.start({ only: ['GUUSTO'] });
});
afterAll(async () => {
  for (const frontend of started) await frontend.stop();
  await h?.close();
});

// ---- The README's cache and links, as a frontend writes them (URLs and the token are this test's). ----

/** The README's cache: possibleTypes generated from the schema, each entity keyed as the schema keys it. */
const makeCache = () =>
  new InMemoryCache({
    possibleTypes: generated.possibleTypes, // { Order: ['AndOpenOrder', …], Gift: ['Certificate', 'GiftLink'] }
    typePolicies: {
      Order: { keyFields: ['id'] },
      Recipient: { keyFields: ['id'] },
      Person: { keyFields: ['email'] },
      Query: { fields: { orders: relayStylePagination(['filter']) } }, // fetchMore({ variables: { after: endCursor } }) appends a page
    },
  });

interface Frontend {
  client: ApolloClient;
  cache: InMemoryCache;
  stop(): Promise<void>;
}

/** The README's links around a token source (`currentToken`: the frontend's sign-in). */
function startFrontend(currentToken: () => string): Frontend {
  const cache = makeCache();
  const withToken = new ApolloLink((operation, forward) => {
    operation.setContext(({ headers }: { headers?: Record<string, string> }) => ({
      headers: { ...headers, authorization: `Bearer ${currentToken()}` },
    }));
    return forward(operation);
  });
  const http = withToken.concat(new HttpLink({ uri: `${h.url}/graphql` }));
  const socket = createClient({
    url: `${h.url.replace(/^http/, 'ws')}/ws`,
    connectionParams: () => ({ authorization: `Bearer ${currentToken()}` }),
    webSocketImpl: WebSocket, // Node 20 has no global WebSocket; a browser needs no such line
  });
  const ws = new GraphQLWsLink(socket);

  const client = new ApolloClient({
    cache,
    link: ApolloLink.split(
      ({ query }) => {
        const definition = getMainDefinition(query);
        return definition.kind === 'OperationDefinition' && definition.operation === 'subscription';
      },
      ws,
      http,
    ),
  });
  const frontend = {
    client,
    cache,
    async stop() {
      client.stop();
      await socket.dispose();
    },
  };
  started.push(frontend);
  return frontend;
}

/** A frontend signed in to a tenant of its own, so what it lists is what its test sent. */
async function signedIn(tenant: string): Promise<Frontend> {
  const token = await h.token({ tenant });
  return startFrontend(() => token);
}

// ---- The README's documents (SEND_GIFTS and WATCH_ORDER verbatim), and the test's own reads. ----

interface Problem {
  code: string;
  field: string | null;
  message: string;
  retryable: boolean | null;
  retryBefore: string | null;
}
interface SendGiftsData {
  sendGifts: {
    created: boolean;
    order: { id: string; status: string; providerStatus: string; recipients: { edges: { node: { id: string; email: string | null; status: string } }[] } } | null;
    problems: Problem[];
  };
}

const SEND_GIFTS: TypedDocumentNode<SendGiftsData, { input: Record<string, unknown> }> = gql`
  mutation SendGiftsForm($input: SendGiftsInput!) {
    sendGifts(input: $input) {
      created
      order { id status providerStatus recipients(first: 100) { edges { node { id email status } } } }
      problems { code field message retryable retryBefore }
    }
  }
`;

interface StatusEvent {
  cursor: string;
  from: string | null;
  to: string;
  occurredAt: string;
  order: { id: string; status: string };
  recipient: { id: string; status: string } | null;
}

const WATCH_ORDER: TypedDocumentNode<{ orderStatusChanged: StatusEvent }, { orderId: string; after?: string | null }> = gql`
  subscription WatchOrder($orderId: ID!, $after: String) {
    orderStatusChanged(orderId: $orderId, after: $after) {
      cursor from to occurredAt
      order { id status }
      recipient { id status }
    }
  }
`;

interface OrdersData {
  orders: {
    edges: { node: { __typename: string; id: string; provider: string; status: string; requestId?: string | null; language?: string | null } }[];
    pageInfo: { hasNextPage: boolean; endCursor: string | null };
  };
}

const ORDERS: TypedDocumentNode<OrdersData, { first?: number; after?: string | null }> = gql`
  query OrderList($first: Int, $after: String) {
    orders(first: $first, after: $after) {
      edges {
        node {
          id provider status
          ... on GuustoOrder { requestId language }
          ... on GiftronautOrder { giftronautOrderId cardType }
          ... on GoodyOrderBatch { goodyBatchId ordersCount }
          ... on AndOpenOrder { campaignId }
        }
      }
      pageInfo { hasNextPage endCursor }
    }
  }
`;

/** A card a screen renders from the cache: a fragment on the interface, with one provider's fields. */
const ORDER_CARD = gql`
  fragment OrderCard on Order {
    id provider status
    ... on GuustoOrder { requestId }
  }
`;

interface OrderHistoryData {
  order: {
    id: string;
    status: string;
    statusHistory: { cursor: string; from: string | null; to: string }[];
    recipients: { edges: { node: { id: string; status: string; gift: { __typename: string; shortToken?: string | null } | null } }[] };
  } | null;
}

const ORDER_HISTORY: TypedDocumentNode<OrderHistoryData, { id: string }> = gql`
  query OrderHistory($id: ID!) {
    order(id: $id) {
      id status
      statusHistory { cursor from to }
      recipients(first: 20) { edges { node { id status gift { ... on Certificate { id shortToken } ... on GiftLink { url } } } } }
    }
  }
`;

interface PeopleData {
  orders: { edges: { node: { id: string; recipients: { edges: { node: { id: string; email: string | null; person: { email: string } | null } }[] } } }[] };
}

const RECIPIENT_PEOPLE: TypedDocumentNode<PeopleData, Record<string, never>> = gql`
  query RecipientPeople {
    orders(first: 10) {
      edges { node { id recipients(first: 10) { edges { node { id email person { email } } } } } }
    }
  }
`;

const guustoInput = (key: string, overrides: Record<string, unknown> = {}) => ({
  provider: 'GUUSTO',
  idempotencyKey: key,
  message: 'Thank you!',
  amount: { amount: '25', currency: 'CAD' },
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
  ...overrides,
});

describe('Apollo Client, set up as the README tells a frontend', () => {
  it("a sendGifts the input of which is invalid answers data: the payload's problems, each naming its field, and no order", async () => {
    const { client } = await signedIn('fe-problems');
    const sent = h.guusto.http.received.length;
    const { data, error } = await client.mutate({
      mutation: SEND_GIFTS,
      variables: { input: guustoInput('two words', { message: null, recipients: [{ firstName: 'Ada' }, { email: 'grace@example.com' }] }) },
    });
    expect(error).toBeUndefined();
    expect(data!.sendGifts).toMatchObject({ created: false, order: null });
    expect(data!.sendGifts.problems.map((p) => p.field).sort()).toEqual(['input.idempotencyKey', 'input.message', 'input.recipients[0]']);
    for (const problem of data!.sendGifts.problems) expect(problem).toMatchObject({ code: 'BAD_USER_INPUT', retryable: false, message: expect.any(String) });
    expect(h.guusto.http.received.length).toBe(sent); // nothing reached the provider
  });

  it('a sendGifts that goes through answers the order it recorded, with no problems, and the cache holds the order and its recipients', async () => {
    const { client, cache } = await signedIn('fe-send');
    const { data } = await client.mutate({ mutation: SEND_GIFTS, variables: { input: guustoInput('fe-send-1') } });
    const payload = data!.sendGifts;
    expect(payload).toMatchObject({
      created: true,
      problems: [],
      order: { status: 'PENDING', recipients: { edges: [{ node: { email: 'ada@example.com', status: 'PENDING' } }] } },
    });
    const order = payload.order!;
    // Normalized under the provider's type and the id the Order policy keys it by.
    expect(cache.identify({ __typename: 'GuustoOrder', id: order.id })).toBe(`GuustoOrder:{"id":"${order.id}"}`);
    expect(cache.extract()[`GuustoOrder:{"id":"${order.id}"}`]).toMatchObject({ id: order.id, status: 'PENDING' });
    expect(cache.extract()[`Recipient:{"id":"${order.recipients.edges[0]!.node.id}"}`]).toMatchObject({ status: 'PENDING' });
  });

  it('orders with inline fragments per provider type are normalized so a fragment on the Order interface reads from the cache', async () => {
    const { client, cache } = await signedIn('fe-orders');
    const first = await client.mutate({ mutation: SEND_GIFTS, variables: { input: guustoInput('fe-orders-1', { guusto: { language: 'FR_CA' } }) } });
    const second = await client.mutate({ mutation: SEND_GIFTS, variables: { input: guustoInput('fe-orders-2') } });
    const ids = [second.data!.sendGifts.order!.id, first.data!.sendGifts.order!.id]; // newest first

    const { data } = await client.query({ query: ORDERS, variables: { first: 10 } });
    expect(data!.orders.edges.map((e) => e.node.id)).toEqual(ids);
    for (const { node } of data!.orders.edges) expect(node).toMatchObject({ __typename: 'GuustoOrder', provider: 'GUUSTO', requestId: expect.any(String) });

    // A fragment on the interface matches a GuustoOrder only because possibleTypes says it implements Order.
    const card = cache.readFragment({ id: cache.identify({ __typename: 'GuustoOrder', id: ids[1]! }), fragment: ORDER_CARD });
    expect(card).toEqual({ __typename: 'GuustoOrder', id: ids[1], provider: 'GUUSTO', status: 'PENDING', requestId: data!.orders.edges[1]!.node.requestId });
    // The same answer in a cache without them: the fragment on Order matches nothing of the order there
    // (Apollo Client warns of the missing possibleTypes, which this check means to provoke).
    const verbosity = setLogVerbosity('silent');
    try {
      const bare = new InMemoryCache();
      bare.writeQuery({ query: ORDERS, variables: { first: 10 }, data: data! });
      expect(bare.readFragment({ id: bare.identify({ __typename: 'GuustoOrder', id: ids[1]! }), fragment: ORDER_CARD })).toEqual({ __typename: 'GuustoOrder' });
    } finally {
      setLogVerbosity(verbosity);
    }

    // relayStylePagination(['filter']): the next page is appended to the one list the cache keeps.
    const page1 = await client.query({ query: ORDERS, variables: { first: 1 }, fetchPolicy: 'network-only' });
    expect(page1.data!.orders.pageInfo.hasNextPage).toBe(true);
    await client.query({ query: ORDERS, variables: { first: 1, after: page1.data!.orders.pageInfo.endCursor }, fetchPolicy: 'network-only' });
    const merged = client.readQuery({ query: ORDERS, variables: { first: 1 } });
    expect(merged!.orders.edges.map((e) => e.node.id)).toEqual(ids);
  });

  it("two spellings of one address are one Person in the cache (keyFields: ['email']), while each recipient keeps its own spelling", async () => {
    const { client, cache } = await signedIn('fe-people');
    await client.mutate({ mutation: SEND_GIFTS, variables: { input: guustoInput('fe-people-1', { recipients: [{ email: 'Ada.Lovelace@Example.COM' }] }) } });
    await client.mutate({ mutation: SEND_GIFTS, variables: { input: guustoInput('fe-people-2', { recipients: [{ email: 'ada.lovelace@example.com' }] }) } });

    const { data } = await client.query({ query: RECIPIENT_PEOPLE });
    const recipients = data!.orders.edges.map((e) => e.node.recipients.edges[0]!.node);
    expect(recipients.map((r) => r.email).sort()).toEqual(['Ada.Lovelace@Example.COM', 'ada.lovelace@example.com']);
    for (const r of recipients) expect(r.person).toEqual({ __typename: 'Person', email: 'ada.lovelace@example.com' });

    const stored = cache.extract();
    expect(Object.keys(stored).filter((key) => key.startsWith('Person:'))).toEqual(['Person:{"email":"ada.lovelace@example.com"}']);
    const personRef = { __ref: 'Person:{"email":"ada.lovelace@example.com"}' };
    for (const r of recipients) expect(stored[`Recipient:{"id":"${r.id}"}`]).toMatchObject({ person: personRef });
  });

  it("a subscription through the split link follows the order's status; resumed from a StatusChange cursor with after:, it continues with no repeat", async () => {
    const { client, cache } = await signedIn('fe-live');
    const { data } = await client.mutate({ mutation: SEND_GIFTS, variables: { input: twoRecipientGuusto('fe-live-1') } });
    const orderId = data!.sendGifts.order!.id;
    const orderKey = cache.identify({ __typename: 'GuustoOrder', id: orderId })!;
    const recipientEmail = new Map(data!.sendGifts.order!.recipients.edges.map((e) => [e.node.id, e.node.email]));
    const transition = (e: StatusEvent) => `${e.recipient ? recipientEmail.get(e.recipient.id) : '*'}:${e.from}>${e.to}`;

    // The screen renders the order's history, whose one entry is the creation, from no status.
    const rendered = await client.query({ query: ORDER_HISTORY, variables: { id: orderId } });
    const history = rendered.data!.order!.statusHistory;
    expect(history.map((c) => [c.from, c.to])).toEqual([[null, 'PENDING']]);

    const received: StatusEvent[] = [];
    const errors: unknown[] = [];
    const watch = (after: string): Subscription =>
      client.subscribe({ query: WATCH_ORDER, variables: { orderId, after } }).subscribe({
        next: (result) => {
          if (result.error) errors.push(result.error);
          if (result.data) received.push(result.data.orderStatusChanged as StatusEvent);
        },
        error: (error) => errors.push(error),
      });

    // Joined at the end of that history: first what the log holds after it, the recipients' creation.
    let live = watch(history.at(-1)!.cursor);
    await expect.poll(() => received.length).toBe(2);
    h.advance(1);
    await client.query({ query: ORDER_HISTORY, variables: { id: orderId }, fetchPolicy: 'network-only' }); // giftgraph reads the provider
    await expect.poll(() => received.length).toBe(5);
    expect(received.map(transition)).toEqual(GUUSTO_LIFE.slice(1, 6));
    // Each event lands on the objects the cache holds, as the README's keyFields promise.
    expect(cache.extract()[orderKey]).toMatchObject({ status: 'PROCESSING' });

    // The screen goes away; the order changes while nobody listens; it comes back from the last cursor it saw.
    live.unsubscribe();
    h.advance(1);
    const settled = await client.query({ query: ORDER_HISTORY, variables: { id: orderId }, fetchPolicy: 'network-only' });
    expect(settled.data!.order!.status).toBe('SENT');
    live = watch(received.at(-1)!.cursor);
    await expect.poll(() => received.length).toBe(8);
    live.unsubscribe();
    expect(errors).toEqual([]);
    expect(received.map(transition)).toEqual(GUUSTO_LIFE.slice(1));
    const cursors = [...history.map((c) => c.cursor), ...received.map((e) => e.cursor)];
    expect(new Set(cursors).size).toBe(cursors.length);
    // The order's history, read again, is the creation and the order-level events the subscription delivered.
    const orderEvents = received.filter((e) => !e.recipient).map((e) => e.cursor);
    expect(settled.data!.order!.statusHistory.map((c) => c.cursor)).toEqual([history[0]!.cursor, ...orderEvents]);
    // A sent gift is a Certificate, matched through the Gift union's possibleTypes.
    for (const { node } of settled.data!.order!.recipients.edges) expect(node.gift).toMatchObject({ __typename: 'Certificate', shortToken: expect.any(String) });
    // The split link sent both subscriptions over the WebSocket, and nothing of them over HTTP.
    const metrics = parsePrometheusText(await (await fetch(`${h.url}/metrics`)).text());
    const subscriptionsOver = (transport: string) =>
      sumOf(metrics, 'giftgraph_graphql_operations_total', 'giftgraph_graphql_operations_total', { transport, operation_name: 'WatchOrder', operation_type: 'subscription' });
    expect([subscriptionsOver('ws'), subscriptionsOver('http'), subscriptionsOver('sse')]).toEqual([2, 0, 0]);
  });

  it('a value a typed scalar refuses is an error naming its field, never its value, and the mutation does not run', async () => {
    const { client } = await signedIn('fe-scalars');
    const sent = h.guusto.http.received.length;
    const attempt = client.mutate({
      mutation: SEND_GIFTS,
      variables: { input: guustoInput('fe-scalars-1', { amount: { amount: '25', currency: 'XXQ' }, recipients: [{ email: 'not-an-address' }] }) },
    });
    const error = await attempt.then(
      () => undefined,
      (e: unknown) => e,
    );
    expect(CombinedGraphQLErrors.is(error)).toBe(true);
    const { errors } = error as CombinedGraphQLErrors;
    expect(errors.map((e) => e.extensions?.field).sort()).toEqual(['input.amount.currency', 'input.recipients[0].email']);
    for (const e of errors) {
      expect(e.extensions?.code).toBe('BAD_USER_INPUT');
      expect(e.message).toMatch(new RegExp(`^${String(e.extensions!.field).replace(/[[\].]/g, '\\$&')}: `));
      expect(e.message).not.toMatch(/XXQ|not-an-address/);
    }
    expect((error as Error).message).toMatch(/input\.recipients\[0\]\.email: is not a valid email address/);
    expect(h.guusto.http.received.length).toBe(sent);

    // errorPolicy 'all' keeps the error beside what came (nothing: the operation never ran).
    const kept = await client.mutate({ mutation: SEND_GIFTS, variables: { input: guustoInput('fe-scalars-2', { recipients: [{ email: 'nobody' }] }) }, errorPolicy: 'all' });
    expect(kept.data).toBeUndefined();
    expect(CombinedGraphQLErrors.is(kept.error) && kept.error.errors[0]!.extensions?.field).toBe('input.recipients[0].email');
  });
});
