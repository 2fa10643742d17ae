/**
 * giftgraph behind Hive Gateway (@graphql-hive/gateway-runtime), composed as a subgraph with
 * @apollo/composition and served over a real node:http server on a loopback port, configured as the
 * README's "Use it in a supergraph" shows: the client's Authorization passed on to giftgraph
 * (`propagateHeaders.fromClientToSubgraphs`), subscriptions over SSE to giftgraph's /graphql by
 * default, or over its /ws with the token in `connectionParams` (`transportEntries`). Clients talk
 * to the gateway over HTTP, and subscribe with graphql-sse's client.
 *
 * The runtime loads each subgraph's transport by kind, as the module `@graphql-mesh/transport-<kind>`,
 * as an operator's gateway does: no `transports` option, so `@graphql-mesh/transport-http` serves
 * giftgraph (queries and mutations as POST, a subscription as a GET with `Accept: text/event-stream`)
 * and, in the /ws configuration, hands subscriptions to `@graphql-mesh/transport-ws`.
 */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { composeServices } from '@apollo/composition';
import { createGatewayRuntime, type GatewayConfigSupergraph, type GatewayRuntime } from '@graphql-hive/gateway-runtime';
import type { WSTransportOptions } from '@graphql-mesh/transport-ws';
import { parse } from 'graphql';
import { type Client, createClient } from 'graphql-sse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { GUUSTO_LIFE, twoRecipientGuusto } from './support/guusto-lifecycle.js';
import { Harness } from './support/harness.js';
import { parsePrometheusText, sumOf } from './support/prometheus-text.js';

type Answer = { data?: any; errors?: { message: string; path?: unknown[]; extensions?: Record<string, unknown> }[] };

let h: Harness;
const gateways: { runtime: GatewayRuntime; server: Server }[] = [];
const sseClients: Client[] = [];
/** The README's two configurations: subscriptions over SSE (Hive Gateway's default), and over /ws. */
const urls = { sse: '', ws: '' };
/** Every request the SSE gateway sent giftgraph over HTTP, as it sent it. */
const subgraphRequests: { method: string; url: string; headers: Record<string, string> }[] = [];

async function startGateway(config: Omit<GatewayConfigSupergraph, 'supergraph'>, supergraph: string): Promise<string> {
  const runtime = createGatewayRuntime({ supergraph, logging: false, ...config });
  const server = createServer(runtime);
  gateways.push({ runtime, server });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}/graphql`;
}

beforeAll(async () => {
  h = await Harness.start({ only: ['GUUSTO'] });
  const service = await h.gql<{ _service: { sdl: string } }, unknown>('{ _service { sdl } }', undefined, null);
  const composed = composeServices([{ name: 'giftgraph', typeDefs: parse(service.data!._service.sdl), url: `${h.url}/graphql` }]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));

  // README: "Have the gateway pass each client's token on".
  const propagateHeaders: GatewayConfigSupergraph['propagateHeaders'] = {
    fromClientToSubgraphs: ({ request }) => ({ authorization: request.headers.get('authorization') }),
  };
  urls.sse = await startGateway(
    {
      propagateHeaders,
      plugins: () => [
        {
          onFetch: ({ url, options }) => {
            subgraphRequests.push({ method: options.method ?? 'GET', url, headers: { ...(options.headers as Record<string, string>) } });
          },
        },
      ],
    },
    composed.supergraphSdl,
  );
  // README: "To subscribe over giftgraph's /ws instead".
  urls.ws = await startGateway(
    {
      propagateHeaders,
      transportEntries: {
        giftgraph: {
          options: {
            subscriptions: {
              kind: 'ws',
              location: '/ws', // resolved against giftgraph's URL: ws://<host>:4000/ws
              options: { connectionParams: { authorization: '{context.headers.authorization}' } } satisfies WSTransportOptions,
            },
          },
        },
      },
    },
    composed.supergraphSdl,
  );
}, 60_000);

afterAll(async () => {
  for (const client of sseClients) client.dispose();
  for (const { runtime, server } of gateways) {
    await runtime.dispose();
    server.closeAllConnections();
    await new Promise((resolve) => server.close(resolve));
  }
  await h?.close();
});

async function via(gateway: string, query: string, variables: Record<string, unknown>, token: string | null): Promise<Answer> {
  const res = await fetch(gateway, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as Answer;
}

/** giftgraph's count of subscriptions it started over a transport (`sse` on /graphql, `ws` on /ws). */
async function subscriptionsStartedOver(transport: 'sse' | 'ws'): Promise<number> {
  const metrics = parsePrometheusText(await (await fetch(`${h.url}/metrics`)).text());
  return sumOf(metrics, 'giftgraph_graphql_operations_total', 'giftgraph_graphql_operations_total', { transport, operation_type: 'subscription' });
}

const SEND = `mutation Send($input: SendGiftsInput!) {
  sendGifts(input: $input) {
    created
    order { id status ... on GuustoOrder { requestId } statusHistory { cursor from to } }
    problems { code field message retryable }
  }
}`;

const ORDERS = `query Orders {
  orders(first: 10) { edges { node { id provider status ... on GuustoOrder { requestId } } } }
}`;

const ORDER = `query Order($id: ID!) { order(id: $id) { id status } }`;

const WATCH = `subscription Watch($orderId: ID!, $after: String) {
  orderStatusChanged(orderId: $orderId, after: $after) {
    cursor from to
    order { id status }
    recipient { email status }
  }
}`;

interface StatusEvent {
  cursor: string;
  from: string | null;
  to: string;
  order: { id: string; status: string };
  recipient: { email: string; status: string } | null;
}

/** A subscriber to the gateway with graphql-sse's client (distinct connections mode), collecting its events. */
function subscribe(gateway: string, token: string | null, variables: Record<string, unknown>) {
  const client = createClient({ url: gateway, singleConnection: false, retryAttempts: 0, headers: token ? { authorization: `Bearer ${token}` } : {} });
  sseClients.push(client);
  const watcher = {
    events: [] as StatusEvent[],
    errors: [] as unknown[],
    completed: false,
    transitions: () => watcher.events.map((e) => `${e.recipient?.email ?? '*'}:${e.from}>${e.to}`),
    stop: () => {},
  };
  watcher.stop = client.subscribe<{ orderStatusChanged: StatusEvent }>(
    { query: WATCH, variables },
    {
      next: (result) => {
        if (result.errors) watcher.errors.push(...result.errors);
        if (result.data) watcher.events.push(result.data.orderStatusChanged);
      },
      error: (error) => watcher.errors.push(error),
      complete: () => (watcher.completed = true),
    },
  );
  return watcher;
}

const guusto = (key: string, overrides: Record<string, unknown> = {}) => ({
  provider: 'GUUSTO',
  idempotencyKey: key,
  message: 'Thanks!',
  amount: { amount: '20', currency: 'CAD' },
  recipients: [{ email: 'ada@example.com' }],
  ...overrides,
});

describe('through Hive Gateway', () => {
  it("a mutation and a query go through with the client's token: giftgraph answers for that token's tenant", async () => {
    const [tenantA, tenantB] = await Promise.all([h.token({ tenant: 'hive-a' }), h.token({ tenant: 'hive-b' })]);
    const sent = await via(urls.sse, SEND, { input: guusto('hive-send-1') }, tenantA);
    expect(sent.errors).toBeUndefined();
    expect(sent.data.sendGifts).toMatchObject({ created: true, problems: [], order: { status: 'PENDING', requestId: expect.any(String) } });
    const id = sent.data.sendGifts.order.id;

    const refused = await via(urls.sse, SEND, { input: guusto('two words', { message: null }) }, tenantA);
    expect(refused.errors).toBeUndefined();
    expect(refused.data.sendGifts).toMatchObject({ created: false, order: null });
    expect(refused.data.sendGifts.problems.map((p: { field: string }) => p.field).sort()).toEqual(['input.idempotencyKey', 'input.message']);

    // What each client sees is its own tenant's: the gateway passed each one's Authorization on.
    const mine = await via(urls.sse, ORDERS, {}, tenantA);
    expect(mine.data.orders.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([id]);
    expect(mine.data.orders.edges[0].node).toMatchObject({ provider: 'GUUSTO', status: 'PENDING', requestId: sent.data.sendGifts.order.requestId });
    const theirs = await via(urls.sse, ORDERS, {}, tenantB);
    expect(theirs.data.orders.edges).toEqual([]);
    const anonymous = await via(urls.sse, ORDERS, {}, null);
    expect(anonymous.errors?.[0]?.extensions?.code).toBe('UNAUTHENTICATED');
    // The configuration with a WebSocket for subscriptions keeps queries on HTTP, with the same header.
    expect((await via(urls.ws, ORDERS, {}, tenantA)).data.orders.edges.map((e: { node: { id: string } }) => e.node.id)).toEqual([id]);
  });

  describe.each(['sse', 'ws'] as const)('a subscription, with giftgraph reached over %s', (transport) => {
    it("follows an order's status, and resumes from a cursor with after: with nothing missed or repeated", async () => {
      const token = await h.token({ tenant: `hive-live-${transport}` });
      const before = { sse: await subscriptionsStartedOver('sse'), ws: await subscriptionsStartedOver('ws') };
      const sent = await via(urls[transport], SEND, { input: twoRecipientGuusto(`hive-live-${transport}`) }, token);
      const { id, statusHistory } = sent.data.sendGifts.order;
      expect(statusHistory.map((c: { from: string | null; to: string }) => [c.from, c.to])).toEqual([[null, 'PENDING']]);

      const first = subscribe(urls[transport], token, { orderId: id, after: statusHistory[0].cursor });
      await expect.poll(() => first.events.length).toBe(2); // the recipients' creation, after the order's
      h.advance(1);
      await via(urls[transport], ORDER, { id }, token); // giftgraph reads the provider and records the step
      await expect.poll(() => first.events.length).toBe(5);
      first.stop();

      h.advance(1);
      expect((await via(urls[transport], ORDER, { id }, token)).data.order.status).toBe('SENT');
      const resumed = subscribe(urls[transport], token, { orderId: id, after: first.events.at(-1)!.cursor });
      await expect.poll(() => resumed.events.length).toBe(3);
      resumed.stop();

      expect([...first.errors, ...resumed.errors]).toEqual([]);
      expect([...first.transitions(), ...resumed.transitions()]).toEqual(GUUSTO_LIFE.slice(1));
      const cursors = [statusHistory[0].cursor, ...first.events.map((e) => e.cursor), ...resumed.events.map((e) => e.cursor)];
      expect(new Set(cursors).size).toBe(cursors.length);
      expect(resumed.events.at(-1)!.order).toEqual({ id, status: 'SENT' });
      // Both subscriptions reached giftgraph over this transport, and none over the other.
      const other = transport === 'sse' ? 'ws' : 'sse';
      expect(await subscriptionsStartedOver(transport)).toBe(before[transport] + 2);
      expect(await subscriptionsStartedOver(other)).toBe(before[other]);
      if (transport === 'sse') {
        // By default the gateway subscribes with a GET to giftgraph's /graphql asking for an event stream, with the client's token.
        const streams = subgraphRequests.filter((r) => r.headers.accept === 'text/event-stream' && r.url.includes(encodeURIComponent(first.events[0]!.order.id)));
        expect(streams).toHaveLength(2);
        for (const r of streams) {
          expect(r).toMatchObject({ method: 'GET', headers: { authorization: `Bearer ${token}` } });
          expect(new URL(r.url).pathname).toBe('/graphql');
        }
      }
    });

    it("is refused without the client's token, and sees no other tenant's order", async () => {
      const owner = await h.token({ tenant: `hive-owner-${transport}` });
      const sent = await via(urls[transport], SEND, { input: guusto(`hive-owned-${transport}`) }, owner);
      const { id } = sent.data.sendGifts.order;

      // Refused either way. Over /ws giftgraph finds no token in connection_init; over SSE the gateway's GET
      // carries no Authorization, so giftgraph's CSRF prevention refuses it before it looks for a token.
      const anonymous = subscribe(urls[transport], null, { orderId: id });
      await expect.poll(() => anonymous.errors.length > 0 || anonymous.completed).toBe(true);
      expect(anonymous.events).toEqual([]);
      const [refusal] = anonymous.errors as NonNullable<Answer['errors']>;
      if (transport === 'ws') expect(refusal!.extensions?.code).toBe('UNAUTHENTICATED');
      else expect(refusal).toMatchObject({ message: expect.stringMatching(/Cross-Site Request Forgery/), extensions: { code: 'BAD_REQUEST' } });

      const stranger = subscribe(urls[transport], await h.token({ tenant: `hive-stranger-${transport}` }), { orderId: id });
      await expect.poll(() => stranger.errors.length > 0 || stranger.completed).toBe(true);
      expect(JSON.stringify(stranger.errors)).toMatch(/NOT_FOUND/);
      expect(stranger.events).toEqual([]);
    });
  });
});
