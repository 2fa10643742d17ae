import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { OrdersDocument, SendGiftsDocument } from './generated/graphql.js';
import { errorCode, Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

const wsClient = (connectionParams: Record<string, unknown>): Client =>
  createClient({ url: `${h.url.replace('http', 'ws')}/ws`, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });

const runOnce = <T>(client: Client, query: string): Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] }> =>
  new Promise((resolve, reject) => {
    let result: { data?: T } = {};
    client.subscribe<T>({ query }, { next: (value) => (result = value as never), error: reject, complete: () => resolve(result) });
  });

const deepQuery = (depth: number) => `{ orders { edges { node { ${'recipients { edges { node { '.repeat(depth)} id ${'} } }'.repeat(depth)} } } } }`;

describe('health', () => {
  it('says the process is up and ready with its store and providers', async () => {
    expect(await (await fetch(`${h.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({ status: 'ready', store: 'open', providers: [
        { name: 'GUUSTO', mode: 'SANDBOX' },
        { name: 'GIFTRONAUT', mode: 'SANDBOX' },
        { name: 'GOODY', mode: 'SANDBOX' },
        { name: 'ANDOPEN', mode: 'SANDBOX' },
      ],
    });
  });
});

describe('graphql-ws on /ws', () => {
  it('runs operations with the token in connectionParams.authorization', async () => {
    const client = wsClient({ authorization: `Bearer ${await h.token()}` });
    const result = await runOnce<{ orders: { edges: unknown[] } }>(client, print(OrdersDocument));
    expect(result.errors).toBeUndefined();
    expect(Array.isArray(result.data!.orders.edges)).toBe(true);
    await client.dispose();
  });

  it('accepts the token nested as the Apollo Router forwards it', async () => {
    const client = wsClient({ connectionParams: { token: await h.token({ scope: 'orders:read' }) } });
    const result = await runOnce<{ providers: { name: string }[] }>(client, '{ providers { name } }');
    expect(result.data!.providers).toEqual([{ name: 'GUUSTO' }, { name: 'GIFTRONAUT' }, { name: 'GOODY' }, { name: 'ANDOPEN' }]);
    await client.dispose();
  });

  it('refuses a connection whose token is invalid', async () => {
    const client = wsClient({ authorization: 'Bearer nope' });
    await expect(runOnce(client, '{ providers { name } }')).rejects.toMatchObject({ code: 4403 });
    await client.dispose();
  });

  it('masks errors as HTTP does: a code on each, and no echoed email', async () => {
    const client = wsClient({ authorization: `Bearer ${await h.token()}` });
    const result = await new Promise<{ errors?: { message: string; extensions?: Record<string, unknown> }[] }>((resolve, reject) => {
      let last = {};
      client.subscribe(
        {
          query: print(SendGiftsDocument),
          variables: { input: { provider: 'GUUSTO', idempotencyKey: 'ws-bad', recipients: [{ email: 'secret.person@example.com', bogus: 1 }] } },
        },
        { next: (value) => (last = value), error: reject, complete: () => resolve(last) },
      );
    });
    expect(result.errors![0]!.extensions!.code).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(result)).not.toContain('secret.person');
    expect(result.errors![0]!.message).toMatch(/got an invalid value/);
    await client.dispose();
  });

  it('applies the same depth limit as HTTP', async () => {
    const client = wsClient({ authorization: `Bearer ${await h.token()}` });
    const rejected = runOnce(client, deepQuery(6));
    await expect(rejected).rejects.toSatisfy((errors: unknown) => Array.isArray(errors) && /levels deep/.test((errors as { message: string }[])[0]!.message));
    await client.dispose();
  });
});

describe('limits', () => {
  it('rejects an operation nested too deep over HTTP', async () => {
    const result = await h.gql(deepQuery(6));
    expect(result.errors![0]!.message).toMatch(/levels deep; the limit is 12/);
  });

  it('rejects a body over 1 MiB with 413', async () => {
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: `{ providers { name } } # ${'x'.repeat(1024 * 1024)}` }),
    });
    expect(res.status).toBe(413);
  });

  it('keeps CSRF prevention on for simple requests', async () => {
    const res = await fetch(`${h.url}/graphql?query=${encodeURIComponent('{ providers { name } }')}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/CSRF/i);
  });
});

describe('graceful shutdown', () => {
  it('finishes a request in flight, then refuses new connections and closes the store', async () => {
    const local = await Harness.start();
    local.guusto.http.faults.add({ method: 'POST', path: '/api/v1/orders', fault: { kind: 'latency', ms: 300 } });
    const inFlight = local.gql(SendGiftsDocument, {
      input: { provider: 'GUUSTO', idempotencyKey: 'shutdown', message: 'Hi', amount: { amount: '10', currency: 'CAD' }, recipients: [{ email: 'a@example.com' }] },
    });
    // In flight: giftgraph's create has reached Guusto, which answers it late.
    await expect.poll(() => local.guusto.http.count('POST', '/api/v1/orders'), { interval: 5 }).toBe(1);
    const stopped = local.app.stop();
    const result = await inFlight;
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts.order.status).toBe('PENDING');
    await stopped;
    await expect(fetch(`${local.url}/healthz`)).rejects.toThrow();
    expect(local.store.ping()).toBe(false);
    await local.guusto.close();
  });
});

describe('errors', () => {
  it('carry a code and never a stack trace', async () => {
    const result = await h.gql(OrdersDocument, { first: 1000 });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(result)).not.toMatch(/stacktrace|at .*\.ts:\d+/);
  });
});
