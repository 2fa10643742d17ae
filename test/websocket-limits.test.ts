import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { MAX_OPERATIONS_PER_SOCKET, MAX_SOCKETS_PER_TOKEN, TOO_MANY_SOCKETS } from '../src/server/socket-limits.js';
import { Harness } from './support/harness.js';
import { parsePrometheusText, sumOf } from './support/prometheus-text.js';
import { runOverSocket } from './support/ws-client.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

const live = 'subscription { orderStatusChanged { cursor } }';

/** WebSockets the server holds open, as its metrics count them. */
const openSockets = async (): Promise<number> => {
  const families = parsePrometheusText(await (await fetch(`${h.url}/metrics`)).text());
  return sumOf(families, 'giftgraph_websocket_connections_active', 'giftgraph_websocket_connections_active');
};

/** A connected graphql-ws client, or the code its socket was closed with. */
const connect = (token: string): Promise<{ client: Client; closed?: number }> =>
  new Promise((resolve) => {
    const client = createClient({
      url: `${h.url.replace('http', 'ws')}/ws`,
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: false,
      on: {
        connected: () => resolve({ client }),
        closed: (event) => resolve({ client, closed: (event as { code: number }).code }),
      },
      onNonLazyError: () => undefined,
    });
  });

describe('sockets per token', () => {
  it(`admits ${MAX_SOCKETS_PER_TOKEN} sockets for one token, closes the next with ${TOO_MANY_SOCKETS}, and admits again once one closes`, async () => {
    const token = await h.token();
    const admitted = await Promise.all(Array.from({ length: MAX_SOCKETS_PER_TOKEN }, () => connect(token)));
    expect(admitted.every((a) => a.closed === undefined)).toBe(true);
    const refused = await connect(token);
    expect(refused.closed).toBe(TOO_MANY_SOCKETS);
    await refused.client.dispose();

    const other = await connect(await h.token({ subject: 'someone-else' }));
    expect(other.closed).toBeUndefined();
    await other.client.dispose();

    const open = await openSockets();
    await admitted.pop()!.client.dispose();
    await expect.poll(openSockets).toBe(open - 1); // the server has closed its side, and given back the token's place
    const again = await connect(token);
    expect(again.closed).toBeUndefined();
    await Promise.all([again, ...admitted].map((a) => a.client.dispose()));
  });
});

describe('operations per socket', () => {
  it(`runs ${MAX_OPERATIONS_PER_SOCKET} subscriptions on one socket and refuses the next as an error of that operation`, async () => {
    const { client } = await connect(await h.token());
    const stops = Array.from({ length: MAX_OPERATIONS_PER_SOCKET }, () =>
      client.subscribe({ query: live }, { next: () => undefined, error: () => undefined, complete: () => undefined }),
    );
    const refused = (await runOverSocket(client, live)).errors!;
    expect(refused[0]!.message).toBe(`At most ${MAX_OPERATIONS_PER_SOCKET} operations run at once on one connection`);
    expect(refused[0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: MAX_OPERATIONS_PER_SOCKET });

    // The socket itself stays usable once one ends (the server reads one socket's messages in order:
    // the end of one is seen before the next operation).
    stops.pop()!();
    const providers = await runOverSocket(client, '{ providers { name } }');
    expect(providers).toMatchObject({ data: { providers: expect.any(Array) } });
    for (const stop of stops) stop();
    await client.dispose();
  });
});

describe('input rules over /ws', () => {
  it('refuse a header-breaking name as over HTTP, before anything is written or sent', async () => {
    const { client } = await connect(await h.token());
    const counts = h.store.counts();
    const posts = h.guusto.http.received.length;
    const result = await runOverSocket(client, 'mutation ($input: SendGiftsInput!) { sendGifts(input: $input) { order { id } problems { code field } } }', {
      input: {
        provider: 'GUUSTO',
        idempotencyKey: 'ws-crlf',
        message: 'Hi',
        amount: { amount: '10', currency: 'CAD' },
        recipients: [{ email: 'a@example.com', firstName: 'Ada\r\nBcc: x@example.com' }],
      },
    });
    expect(result).toMatchObject({ data: { sendGifts: { order: null, problems: [{ code: 'BAD_USER_INPUT', field: 'input.recipients[0].firstName' }] } } });
    expect(JSON.stringify(result)).not.toContain('x@example.com');
    expect(h.store.counts()).toEqual(counts);
    expect(h.guusto.http.received.length).toBe(posts);
    await client.dispose();
  });
});
