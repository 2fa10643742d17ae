/**
 * GraphQL over WebSocket on /ws. First as the Apollo Router's subscription passthrough uses it:
 * subprotocol graphql-transport-ws, the client's token nested in the connection_init payload
 * (connectionParams.token), an ack well within the router's 5 s, and ping/pong, spoken frame by
 * frame over a raw WebSocket. Then as a browser's graphql-ws client uses it.
 */
import { randomUUID } from 'node:crypto';
import { EventEmitter, once } from 'node:events';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { OrdersDocument, SendGiftsDocument } from './generated/graphql.js';
import { Harness } from './support/harness.js';
import { runningOn, taggedSocketUrl } from './support/ws-client.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

/** A raw connection that queues every frame it receives; `tag` names it to the server (see `runningOn`). */
async function connect(protocol = 'graphql-transport-ws', tag = randomUUID()) {
  const ws = new WebSocket(taggedSocketUrl(h.url, tag), protocol);
  const frames: any[] = [];
  const arrived = new EventEmitter();
  ws.on('message', (data) => {
    frames.push(JSON.parse(String(data)));
    arrived.emit('frame');
  });
  const closed = new Promise<{ code: number; reason: string }>((resolve) => ws.on('close', (code, reason) => resolve({ code, reason: String(reason) })));
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  /** The first queued frame of this type, waiting for frames as they arrive (at most `timeoutMs`). */
  const next = async (type: string, timeoutMs = 5_000) => {
    const signal = AbortSignal.timeout(timeoutMs);
    for (;;) {
      const index = frames.findIndex((f) => f.type === type);
      if (index >= 0) return frames.splice(index, 1)[0];
      try {
        await once(arrived, 'frame', { signal });
      } catch {
        throw new Error(`no ${type} frame within ${timeoutMs} ms; got ${JSON.stringify(frames)}`);
      }
    }
  };
  const send = (frame: unknown) => ws.send(JSON.stringify(frame));
  return { ws, next, send, closed, tag };
}

describe('/ws for the Apollo Router', () => {
  it('speaks graphql-transport-ws with the token nested as the router forwards it, and streams events', async () => {
    const { ws, next, send, tag } = await connect();
    expect(ws.protocol).toBe('graphql-transport-ws');

    const started = performance.now();
    send({ type: 'connection_init', payload: { connectionParams: { token: await h.token({ scope: 'orders:read orders:write' }) } } });
    await next('connection_ack');
    expect(performance.now() - started).toBeLessThan(1_000);

    send({ type: 'ping' });
    expect(await next('pong')).toEqual({ type: 'pong' });

    send({ id: 's1', type: 'subscribe', payload: { query: 'subscription { orderStatusChanged { to source cursor order { id } } }' } });
    await expect.poll(() => runningOn(h.app.server, tag), { interval: 5 }).toBe(1);
    const sent = await h.gql(SendGiftsDocument, {
      input: { provider: 'GUUSTO', idempotencyKey: 'router-ws', message: 'Hi', amount: { amount: '5', currency: 'USD' }, recipients: [{ email: 'ada@example.com' }] },
    });
    const event = await next('next');
    expect(event).toMatchObject({ id: 's1', payload: { data: { orderStatusChanged: { source: 'MUTATION', order: { id: sent.data!.sendGifts.order!.id } } } } });

    send({ id: 's1', type: 'complete' });
    ws.close(1000);
  });

  it('refuses a forged token at connection, and a subscription without a token', async () => {
    const forged = await connect();
    forged.send({ type: 'connection_init', payload: { connectionParams: { token: 'not-a-token' } } });
    expect((await forged.closed).code).toBe(4403);

    const anonymous = await connect();
    anonymous.send({ type: 'connection_init', payload: {} });
    await anonymous.next('connection_ack');
    anonymous.send({ id: 's1', type: 'subscribe', payload: { query: 'subscription { orderStatusChanged { to } }' } });
    expect(await anonymous.next('next')).toMatchObject({
      id: 's1',
      payload: { errors: [{ message: 'A valid bearer token is required', extensions: { code: 'UNAUTHENTICATED' } }] },
    });
    await anonymous.next('complete');
    anonymous.ws.close(1000);
  });

  it('refuses another subprotocol', async () => {
    const ws = new WebSocket(`${h.url.replace('http', 'ws')}/ws`, 'graphql-ws');
    const outcome = await new Promise<string>((resolve) => {
      ws.on('error', (error) => resolve(error.message));
      ws.on('close', (code) => resolve(String(code)));
    });
    // No subprotocol is agreed, so the handshake fails (or graphql-ws closes with 4406).
    expect(outcome).toMatch(/no subprotocol|4406/i);
  });
});

const wsClient = (connectionParams: Record<string, unknown>): Client =>
  createClient({ url: `${h.url.replace('http', 'ws')}/ws`, webSocketImpl: WebSocket, connectionParams, retryAttempts: 0, lazy: true });

const runOnce = <T>(client: Client, query: string): Promise<{ data?: T; errors?: { message: string; extensions?: Record<string, unknown> }[] }> =>
  new Promise((resolve, reject) => {
    let result: { data?: T } = {};
    client.subscribe<T>({ query }, { next: (value) => (result = value as never), error: reject, complete: () => resolve(result) });
  });

describe('graphql-ws clients', () => {
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
});
