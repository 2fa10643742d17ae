import { randomBytes } from 'node:crypto';
import { context, propagation, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor } from '@opentelemetry/sdk-trace-base';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-sse';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { MAX_COST } from '../src/server/cost.js';
import { MAX_TOKENS } from '../src/server/limits.js';
import { MAX_STREAMS_PER_TOKEN } from '../src/server/sse.js';
import {
  OrderDocument,
  OrderStatusChangedDocument,
  SendGiftsDocument,
  type OrderStatusChangedSubscription,
  type OrderStatusChangedSubscriptionVariables,
} from './generated/graphql.js';
import { GUUSTO_LIFE, twoRecipientGuusto } from './support/guusto-lifecycle.js';
import { Harness } from './support/harness.js';
import { parsePrometheusText, sumOf } from './support/prometheus-text.js';
import { runOverSocket, wsClient, type OperationResult } from './support/ws-client.js';

// Spans giftgraph ends land here, so a stream's operation can be found in its caller's trace.
const exporter = new InMemorySpanExporter();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
context.setGlobalContextManager(new AsyncLocalStorageContextManager().enable());
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

type StatusEvent = OrderStatusChangedSubscription['orderStatusChanged'];
const SUBSCRIPTION = print(OrderStatusChangedDocument);

let h: Harness;
const open: { close(): void }[] = [];
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(async () => {
  for (const s of open) s.close();
  await h.close();
  trace.disable();
  context.disable();
  propagation.disable();
});

/** graphql-sse's own client in distinct connections mode: one POST with a JSON body per operation. */
const sseClient = (token: string | null, headers: Record<string, string> = {}): Client =>
  createClient({
    url: `${h.url}/graphql`,
    singleConnection: false,
    retryAttempts: 0,
    headers: { ...headers, ...(token ? { authorization: `Bearer ${token}` } : {}) },
  });

/** One operation over SSE to its end: every result it sent, or the error its stream failed with. */
async function runOverStream(query: string, variables?: Record<string, unknown>, token: string | null = null): Promise<OperationResult[]> {
  const client = sseClient(token);
  const results: OperationResult[] = [];
  try {
    for await (const result of client.iterate({ query, variables })) results.push(result as OperationResult);
  } finally {
    client.dispose();
  }
  return results;
}

/** A subscriber over SSE, collecting orderStatusChanged events; live once `connected` resolves. */
class StreamSubscriber {
  readonly events: StatusEvent[] = [];
  readonly errors: { message: string; extensions?: Record<string, unknown> }[] = [];
  failure: unknown;
  completed = false;
  readonly connected: Promise<void>;
  private readonly client: Client;
  private readonly stop: () => void;

  constructor(token: string | null, variables: OrderStatusChangedSubscriptionVariables = {}) {
    this.client = sseClient(token);
    let connected!: () => void;
    this.connected = new Promise((resolve) => (connected = resolve));
    this.stop = this.client.subscribe<OrderStatusChangedSubscription>(
      { query: SUBSCRIPTION, variables },
      {
        next: (value) => {
          if (value.errors) this.errors.push(...(value.errors as unknown as StreamSubscriber['errors']));
          if (value.data) this.events.push(value.data.orderStatusChanged);
        },
        error: (error) => (this.failure = error),
        complete: () => (this.completed = true),
      },
      { connected: () => connected() },
    );
    open.push(this);
  }

  transitions(): string[] {
    return this.events.map((e) => `${e.recipient?.email ?? '*'}:${e.from}>${e.to}`);
  }

  close(): void {
    this.stop();
    this.client.dispose();
  }
}

const subscribe = async (variables: OrderStatusChangedSubscriptionVariables = {}, token?: string | null) => {
  const s = new StreamSubscriber(token === undefined ? await h.token() : token, variables);
  await s.connected;
  return s;
};

interface RawEvent {
  event: string;
  data: string;
}

/** An event stream read by hand, as Hive Gateway reads one: each event as it arrives, and whether the stream ended. */
class RawStream {
  readonly events: RawEvent[] = [];
  ended = false;
  private readonly reader: ReadableStreamDefaultReader<Uint8Array>;

  constructor(response: Response) {
    this.reader = response.body!.getReader();
    void this.read();
  }

  /** Leaves, as a client that goes away. */
  async cancel(): Promise<void> {
    await this.reader.cancel();
  }

  results(): OperationResult[] {
    return this.events.filter((e) => e.event === 'next').map((e) => JSON.parse(e.data) as OperationResult);
  }

  private async read(): Promise<void> {
    const decoder = new TextDecoder();
    let buffered = '';
    try {
      for (let chunk = await this.reader.read(); !chunk.done; chunk = await this.reader.read()) {
        buffered += decoder.decode(chunk.value, { stream: true });
        let end: number;
        while ((end = buffered.indexOf('\n\n')) >= 0) {
          const block = buffered.slice(0, end);
          buffered = buffered.slice(end + 2);
          const event = /^event: (.*)$/m.exec(block)?.[1];
          const data = /^data:(.*)$/m.exec(block)?.[1]?.trim() ?? '';
          if (event) this.events.push({ event, data });
        }
      }
    } catch {
      // The connection was cut: the stream has ended all the same.
    }
    this.ended = true;
  }
}

/** A GET as Hive Gateway sends it by default: the operation in the query string, `Accept: text/event-stream`. */
const getStream = async (query: string, variables: Record<string, unknown> | undefined, headers: Record<string, string>) => {
  const search = new URLSearchParams({ query, ...(variables ? { variables: JSON.stringify(variables) } : {}) });
  return fetch(`${h.url}/graphql?${search}`, { headers: { accept: 'text/event-stream', ...headers } });
};

const scrape = async () => parsePrometheusText(await (await fetch(`${h.url}/metrics`)).text());

/** Moves the order one lifecycle step on and reads it, which polls it (three events per step). */
const step = async (id: string) => {
  h.advance(1);
  await h.gql(OrderDocument, { id });
};

describe('orderStatusChanged over SSE on /graphql', () => {
  it("delivers every transition of an order, in order, once, to graphql-sse's client", async () => {
    const groups = (h.app.server as unknown as { streamGroups: { size: number } }).streamGroups;
    const before = groups.size;
    const s = await subscribe();
    // Identical live subscriptions of a tenant run once, as over /ws.
    const twin = await subscribe();
    expect(groups.size).toBe(before + 1);
    const sent = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('sse-1') });
    const id = sent.data!.sendGifts.order!.id;
    await step(id);
    await step(id);
    await expect.poll(() => s.events.length).toBe(GUUSTO_LIFE.length);
    expect(s.transitions()).toEqual(GUUSTO_LIFE);
    expect(new Set(s.events.map((e) => e.order.id))).toEqual(new Set([id]));
    expect(twin.transitions()).toEqual(GUUSTO_LIFE);
    expect(s.errors).toEqual([]);
    expect(s.failure).toBeUndefined();
    // A client that goes away leaves its group; the last one ends it.
    s.close();
    twin.close();
    await expect.poll(() => groups.size).toBe(before);
  });

  it('resumes from `after` with exactly the events missed, then live ones', async () => {
    const first = await subscribe();
    const sent = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('sse-resume') });
    const id = sent.data!.sendGifts.order!.id;
    await expect.poll(() => first.events.length).toBe(3);
    const cursor = first.events.at(-1)!.cursor;
    first.close();

    await step(id); // three events happen while nobody listens
    const resumed = await subscribe({ orderId: id, after: cursor });
    await expect.poll(() => resumed.events.length).toBe(3);
    await step(id);
    await expect.poll(() => resumed.events.length).toBe(6);
    expect(resumed.transitions()).toEqual(GUUSTO_LIFE.slice(3));
    expect(new Set(resumed.events.map((e) => e.cursor)).size).toBe(6);
  });

  it('answers a subscriber without a token UNAUTHENTICATED, and ends its stream', async () => {
    const anonymous = await subscribe({}, null);
    await expect.poll(() => anonymous.completed).toBe(true);
    expect(anonymous.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
    expect(anonymous.events).toEqual([]);
  });

  it("shows another tenant's subscriber nothing, and refuses it one of our orders", async () => {
    const theirs = await subscribe({}, await h.token({ tenant: 'globex' }));
    const sent = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('sse-private') });
    const id = sent.data!.sendGifts.order!.id;
    const ours = await subscribe({ orderId: id });
    await step(id);
    await expect.poll(() => ours.events.length).toBe(3);
    await h.app.tail.flush();
    expect(theirs.events).toEqual([]);

    const snooping = await subscribe({ orderId: id }, await h.token({ tenant: 'globex' }));
    await expect.poll(() => snooping.completed).toBe(true);
    expect(snooping.errors.map((e) => e.extensions?.code)).toEqual(['NOT_FOUND']);
    expect(snooping.events).toEqual([]);
  });

  it('refuses a document over the token limit or the cost limit with the same codes as /ws', async () => {
    const token = await h.token();
    const oversized = `subscription { ${Array.from({ length: MAX_TOKENS / 2 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
    const costly =
      'query Costly { orders(first: 100) { edges { node { recipients(first: 100) { edges { node { order { recipients(first: 100) { edges { node { id } } } } } } } } } } }';
    const socket = wsClient(h.url, token);
    try {
      for (const [document, code] of [
        [oversized, 'GRAPHQL_PARSE_FAILED'],
        [costly, 'BAD_USER_INPUT'],
      ] as const) {
        const overStream = await runOverStream(document, undefined, token);
        const overSocket = await runOverSocket(socket, document);
        expect(overStream).toHaveLength(1);
        expect(overStream[0]!.data).toBeUndefined();
        expect(overStream[0]!.errors!.map((e) => e.extensions?.code)).toEqual([code]);
        expect(overSocket.errors!.map((e) => e.extensions?.code)).toEqual([code]);
        expect(overStream[0]!.errors![0]!.message).toBe(overSocket.errors![0]!.message);
      }
    } finally {
      await socket.dispose();
    }
    const [refused] = await runOverStream(costly, undefined, token);
    expect(refused!.errors![0]!.extensions).toMatchObject({ limit: MAX_COST, cost: expect.any(Number) });
  });

  it('answers a query asked for as an event stream with one result, then completes', async () => {
    const results = await runOverStream('query Providers { providers { name } }', undefined, await h.token());
    expect(results).toHaveLength(1);
    expect(results[0]!.errors).toBeUndefined();
    expect((results[0]!.data as { providers: unknown[] }).providers.length).toBeGreaterThan(0);
  });

  it('refuses a GET a browser could send without a preflight (CSRF), and serves one that carries the token', async () => {
    const query = 'subscription Watch { orderStatusChanged { cursor from to order { id } } }';
    // What an EventSource sends: no header it could not send cross-origin without asking first.
    const forged = await getStream(query, undefined, {});
    expect(forged.status).toBe(400);
    const body = (await forged.json()) as OperationResult;
    expect(body.errors![0]!.extensions!.code).toBe('BAD_REQUEST');
    expect(body.errors![0]!.message).toMatch(/Cross-Site Request Forgery/);
    const plain = await fetch(`${h.url}/graphql`, { method: 'POST', headers: { accept: 'text/event-stream', 'content-type': 'text/plain' }, body: JSON.stringify({ query }) });
    expect(plain.status).toBe(400);
    await plain.body?.cancel();

    // Hive Gateway's default: a GET with the client's token passed on.
    const response = await getStream(query, undefined, { authorization: `Bearer ${await h.token()}` });
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toMatch(/^text\/event-stream/);
    const stream = new RawStream(response);
    const sent = await h.gql(SendGiftsDocument, { input: twoRecipientGuusto('sse-get') });
    await expect.poll(() => stream.results().length).toBe(3);
    expect(stream.results().every((r) => (r.data as { orderStatusChanged: StatusEvent }).orderStatusChanged.order.id === sent.data!.sendGifts.order!.id)).toBe(true);
    await stream.cancel();

    // A mutation is never run from a GET.
    const mutation = await getStream('mutation { cancelOrder(id: "x") { order { id } } }', undefined, { authorization: `Bearer ${await h.token()}` });
    expect(mutation.status).toBe(405);
    expect(((await mutation.json()) as OperationResult).errors![0]!.extensions!.code).toBe('BAD_REQUEST');
  });

  it('leaves a request that prefers JSON to Apollo Server', async () => {
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json, text/event-stream', authorization: `Bearer ${await h.token()}` },
      body: JSON.stringify({ query: '{ providers { name } }' }),
    });
    expect(res.headers.get('content-type')).toMatch(/^application\/json/);
    expect(((await res.json()) as OperationResult).data).toBeDefined();
  });

  it('continues the caller’s trace', async () => {
    const caller = { traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') };
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: {
        'content-type': 'application/json',
        accept: 'text/event-stream',
        authorization: `Bearer ${await h.token()}`,
        traceparent: `00-${caller.traceId}-${caller.spanId}-01`,
      },
      body: JSON.stringify({ query: 'query ProvidersOverStream { providers { name } }' }),
    });
    await res.text();
    const operation = exporter.getFinishedSpans().find((s) => s.spanContext().traceId === caller.traceId && s.name === 'query ProvidersOverStream');
    expect(operation?.parentSpanContext?.spanId).toBe(caller.spanId);
    expect(operation!.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'ProvidersOverStream' });
  });

  it('counts operations, errors and running subscriptions under transport sse', async () => {
    const ok = { transport: 'sse', operation_name: 'OrderStatusChanged', operation_type: 'subscription', outcome: 'ok' };
    const before = await scrape();
    const s = await subscribe({}, await h.token({ tenant: 'metrics-sse' }));
    const during = await scrape();
    expect(
      sumOf(during, 'giftgraph_graphql_operations_total', 'giftgraph_graphql_operations_total', ok) -
        sumOf(before, 'giftgraph_graphql_operations_total', 'giftgraph_graphql_operations_total', ok),
    ).toBe(1);
    const active = (m: typeof before) => sumOf(m, 'giftgraph_subscriptions_active', 'giftgraph_subscriptions_active', { transport: 'sse' });
    expect(active(during) - active(before)).toBe(1);

    await subscribe({}, null);
    const unauthenticated = (m: typeof before) => sumOf(m, 'giftgraph_graphql_errors_total', 'giftgraph_graphql_errors_total', { transport: 'sse', code: 'UNAUTHENTICATED' });
    await expect.poll(async () => unauthenticated(await scrape()) - unauthenticated(before)).toBe(1);

    s.close();
    await expect.poll(async () => active(await scrape())).toBe(active(before));
  });

  it(`holds a token to ${MAX_STREAMS_PER_TOKEN} streams at once`, async () => {
    const token = await h.token({ tenant: 'capped' });
    const streams = await Promise.all(Array.from({ length: MAX_STREAMS_PER_TOKEN }, () => getStream(SUBSCRIPTION, {}, { authorization: `Bearer ${token}` })));
    expect(streams.map((r) => r.status)).toEqual(streams.map(() => 200));
    const refused = await getStream(SUBSCRIPTION, {}, { authorization: `Bearer ${token}` });
    expect(refused.status).toBe(429);
    // Spelled otherwise, it is the same token to the verifier, and so to the cap.
    for (const spelling of [`bearer ${token}`, `BEARER   ${token}`]) expect((await getStream(SUBSCRIPTION, {}, { authorization: spelling })).status).toBe(429);
    expect(((await refused.json()) as OperationResult).errors![0]!.extensions).toMatchObject({ code: 'BAD_USER_INPUT', limit: MAX_STREAMS_PER_TOKEN });
    // Another token is not held to this one's streams, and a place comes back when a stream ends.
    const other = await getStream(SUBSCRIPTION, {}, { authorization: `Bearer ${await h.token({ tenant: 'capped', subject: 'someone-else' })}` });
    expect(other.status).toBe(200);
    await other.body!.cancel();
    await streams[0]!.body!.cancel();
    await expect
      .poll(async () => {
        const again = await getStream(SUBSCRIPTION, {}, { authorization: `Bearer ${token}` });
        await again.body!.cancel();
        return again.status;
      })
      .toBe(200);
    await Promise.all(streams.slice(1).map((r) => r.body!.cancel()));
  });

  it('ends the stream when its token expires, saying so', async () => {
    // Expiry is in whole seconds: this token has one to two left.
    const brief = await subscribe({}, await h.token({ ttlSeconds: 2 }));
    await expect.poll(() => brief.completed, { timeout: 4_000 }).toBe(true);
    expect(brief.errors.map((e) => e.extensions?.code)).toEqual(['UNAUTHENTICATED']);
  });

  // Last: it restarts the server.
  it('ends open streams when the server stops, without waiting out the grace period', async () => {
    const response = await getStream(SUBSCRIPTION, {}, { authorization: `Bearer ${await h.token()}` });
    const stream = new RawStream(response);
    await expect.poll(() => (h.app.server as unknown as { streams: { subscriptions: number } }).streams.subscriptions).toBeGreaterThan(0);
    const started = Date.now();
    await h.restart();
    expect(Date.now() - started).toBeLessThan(5_000);
    await expect.poll(() => stream.ended).toBe(true);
    // No `complete`: a client takes the stream as lost, and reconnects with `after`.
    expect(stream.events.map((e) => e.event)).not.toContain('complete');
  });
});
