/**
 * A mutation's outcome is data: what the request recorded and its problems reach a client through a
 * gateway whatever the gateway does with subgraph errors. giftgraph composed by @apollo/composition,
 * queried through @apollo/gateway twice over HTTP on ephemeral ports: passing subgraph errors on,
 * and hiding them as the Apollo Router does by default (`include_subgraph_errors` off).
 */
import { ApolloGateway, RemoteGraphQLDataSource } from '@apollo/gateway';
import { composeServices } from '@apollo/composition';
import { ApolloServer } from '@apollo/server';
import { startStandaloneServer } from '@apollo/server/standalone';
import { parse } from 'graphql';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Harness } from './support/harness.js';

type Context = { authorization?: string };
type Answer = { data?: any; errors?: { message: string; extensions?: Record<string, unknown> }[] };

let h: Harness;
const servers: ApolloServer<Context>[] = [];
/** A gateway that passes subgraph errors on, and one that hides them as the Apollo Router does by default. */
const gateways = { passing: '', hiding: '' };

async function startGateway(supergraphSdl: string, hideSubgraphErrors: boolean): Promise<string> {
  const gateway = new ApolloGateway({
    supergraphSdl,
    buildService: ({ url }) =>
      new RemoteGraphQLDataSource<Context>({
        url,
        willSendRequest({ request, context }) {
          if (context.authorization) request.http?.headers.set('authorization', context.authorization);
        },
      }),
  });
  const server = new ApolloServer<Context>({
    gateway,
    // The router's answer for a subgraph error it hides: its message replaced, its extensions gone.
    ...(hideSubgraphErrors ? { formatError: (formatted) => ({ message: 'Subgraph errors redacted', path: formatted.path }) } : {}),
  });
  servers.push(server);
  const { url } = await startStandaloneServer(server, {
    listen: { port: 0, host: '127.0.0.1' },
    context: async ({ req }) => ({ authorization: req.headers.authorization }),
  });
  return url;
}

async function via(gateway: string, query: string, variables: Record<string, unknown>, token?: string): Promise<Answer> {
  const res = await fetch(gateway, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token ?? (await h.token())}` },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as Answer;
}

beforeAll(async () => {
  h = await Harness.start({ only: ['GUUSTO'] });
  const service = await h.gql<{ _service: { sdl: string } }, unknown>('{ _service { sdl } }', undefined, null);
  const composed = composeServices([{ name: 'giftgraph', typeDefs: parse(service.data!._service.sdl), url: `${h.url}/graphql` }]);
  if (composed.errors) throw new Error(composed.errors.map((e) => e.message).join('\n'));
  gateways.passing = await startGateway(composed.supergraphSdl, false);
  gateways.hiding = await startGateway(composed.supergraphSdl, true);
}, 60_000);

afterAll(async () => {
  for (const server of servers) await server.stop();
  await h?.close();
});

const SEND = `mutation Send($input: SendGiftsInput!) {
  sendGifts(input: $input) {
    created
    order { id status providerStatus }
    problems { code field message retryable provider providerCode retryBefore }
  }
}`;

const input = (key: string, overrides: Record<string, unknown> = {}) => ({
  provider: 'GUUSTO',
  idempotencyKey: key,
  message: 'Thanks!',
  amount: { amount: '20', currency: 'CAD' },
  recipients: [{ email: 'ada@example.com' }],
  ...overrides,
});

const CREATE = { method: 'POST', path: '/api/v1/orders' } as const;

describe.each(['passing', 'hiding'] as const)('through a gateway %s subgraph errors', (which) => {
  const gateway = () => gateways[which];

  it('a bad input comes back as data: every problem with its field, no order, and nothing sent', async () => {
    const received = h.guusto.http.received.length;
    const result = await via(gateway(), SEND, {
      input: input(`bad-${which}`, { idempotencyKey: 'two words', message: null, recipients: [{ firstName: 'Ada' }, { email: 'grace@example.com' }] }),
    });
    expect(result.errors).toBeUndefined();
    expect(result.data.sendGifts).toMatchObject({ created: false, order: null });
    expect(result.data.sendGifts.problems.map((p: { field: string }) => p.field).sort()).toEqual(['input.idempotencyKey', 'input.message', 'input.recipients[0]']);
    for (const problem of result.data.sendGifts.problems) expect(problem).toMatchObject({ code: 'BAD_USER_INPUT', retryable: false, message: expect.any(String) });
    expect(h.guusto.http.received.length).toBe(received);
  });

  it("a provider's refusal comes back as the FAILED order it recorded and the refusal, with the provider's code", async () => {
    h.guusto.http.faults.add({ ...CREATE, fault: { kind: 'status', status: 422, body: { code: 'insufficient_balance', message: 'not enough funds' } } });
    const result = await via(gateway(), SEND, { input: input(`refused-${which}`) });
    expect(result.errors).toBeUndefined();
    expect(result.data.sendGifts).toMatchObject({ created: true, order: { status: 'FAILED', providerStatus: 'insufficient_balance' } });
    expect(result.data.sendGifts.problems).toEqual([
      {
        code: 'PROVIDER_REJECTED',
        field: null,
        message: expect.stringMatching(/^GUUSTO refused the order: .*Nothing was sent/),
        retryable: false,
        provider: 'GUUSTO',
        providerCode: 'insufficient_balance',
        retryBefore: null,
      },
    ]);
  });

  it('an unknown outcome comes back as the UNCONFIRMED order and whether a same-key retry is safe', async () => {
    h.guusto.http.faults.add({ ...CREATE, fault: { kind: 'drop-after' } });
    const result = await via(gateway(), SEND, { input: input(`unknown-${which}`) });
    expect(result.errors).toBeUndefined();
    expect(result.data.sendGifts.order.status).toBe('UNCONFIRMED');
    // Guusto does not deduplicate creates: no retry is safe, and so there is no time until which it would be.
    expect(result.data.sendGifts.problems).toEqual([expect.objectContaining({ code: 'OUTCOME_UNKNOWN', retryable: false, retryBefore: null, provider: 'GUUSTO' })]);
  });
});

describe('what is no outcome of the request', () => {
  it('stays a top-level error, which a gateway hiding subgraph errors passes on without its code', async () => {
    const reader = await h.token({ scope: 'orders:read' });
    const passed = await via(gateways.passing, SEND, { input: input('no-scope') }, reader);
    expect(passed.data).toBeNull();
    expect(passed.errors![0]!.extensions).toMatchObject({ code: 'FORBIDDEN' });

    const hidden = await via(gateways.hiding, SEND, { input: input('no-scope') }, reader);
    expect(hidden.data).toBeNull();
    expect(hidden.errors).toEqual([{ message: 'Subgraph errors redacted', path: ['sendGifts'] }]);
  });
});
