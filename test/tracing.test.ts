import { randomBytes } from 'node:crypto';
import { context, propagation, SpanKind, trace } from '@opentelemetry/api';
import { AsyncLocalStorageContextManager } from '@opentelemetry/context-async-hooks';
import { W3CTraceContextPropagator } from '@opentelemetry/core';
import { BasicTracerProvider, InMemorySpanExporter, SimpleSpanProcessor, type ReadableSpan } from '@opentelemetry/sdk-trace-base';
import { createClient } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { decodeId } from '../src/core/global-id.js';
import { tracingRequested } from '../src/server/tracing.js';
import { Harness } from './support/harness.js';
import { Subscriber } from './support/subscriber.js';
import { runOverSocket } from './support/ws-client.js';

// The test process's tracer: every span giftgraph ends lands here, in process order.
const exporter = new InMemorySpanExporter();
const contextManager = new AsyncLocalStorageContextManager().enable();
trace.setGlobalTracerProvider(new BasicTracerProvider({ spanProcessors: [new SimpleSpanProcessor(exporter)] }));
context.setGlobalContextManager(contextManager);
propagation.setGlobalPropagator(new W3CTraceContextPropagator());

const spans = (): ReadableSpan[] => exporter.getFinishedSpans();
const inTrace = (traceId: string) => spans().filter((s) => s.spanContext().traceId === traceId);
const named = (name: string, of = spans()) => of.filter((s) => s.name === name);
const parentId = (span: ReadableSpan) => span.parentSpanContext?.spanId;

/** The span's ancestors, nearest first, as far as they were exported. */
function ancestors(span: ReadableSpan): ReadableSpan[] {
  const byId = new Map(spans().map((s) => [s.spanContext().spanId, s]));
  const chain: ReadableSpan[] = [];
  for (let at = byId.get(parentId(span) ?? ''); at; at = byId.get(parentId(at) ?? '')) chain.push(at);
  return chain;
}

/** A caller's span, as the Apollo Router would send it. */
const callerSpan = () => ({ traceId: randomBytes(16).toString('hex'), spanId: randomBytes(8).toString('hex') });
const traceparent = (caller: { traceId: string; spanId: string }) => `00-${caller.traceId}-${caller.spanId}-01`;

async function post(h: Harness, token: string, query: string, variables: Record<string, unknown>, headers: Record<string, string> = {}) {
  const res = await fetch(`${h.url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}`, ...headers },
    body: JSON.stringify({ query, variables }),
  });
  return (await res.json()) as { data?: Record<string, any>; errors?: unknown[] };
}

const SEND = `mutation SendThanks($input: SendGiftsInput!) { sendGifts(input: $input) { order { id status } } }`;
const READ = `query ReadOrder($id: ID!) { order(id: $id) { id status } }`;
const GOODY_PRODUCT = `query GoodyProducts { catalog(provider: GOODY, first: 50) { edges { node { id kind } } } }`;

const EMAIL = 'trace.person@example.com';
const MESSAGE = 'A private note that is only for the recipient';

describe('traces', () => {
  let h: Harness;
  let token: string;

  beforeAll(async () => {
    h = await Harness.start({ webhooks: true });
    token = await h.token();
  });
  afterAll(async () => {
    await h.close();
    trace.disable();
    context.disable();
    propagation.disable();
  });

  it("continue the caller's trace from the operation to each provider call", async () => {
    const caller = callerSpan();
    const input = { provider: 'GUUSTO', idempotencyKey: 'traced-send', message: MESSAGE, amount: { amount: '25', currency: 'CAD' }, recipients: [{ email: EMAIL }] };
    const sent = await post(h, token, SEND, { input }, { traceparent: traceparent(caller) });
    expect(sent.errors).toBeUndefined();

    const [operation, ...others] = named('mutation SendThanks', inTrace(caller.traceId));
    expect(others).toEqual([]);
    expect(operation!.kind).toBe(SpanKind.SERVER);
    expect(parentId(operation!)).toBe(caller.spanId);
    expect(operation!.attributes).toMatchObject({ 'graphql.operation.type': 'mutation', 'graphql.operation.name': 'SendThanks', 'http.response.status_code': 200 });

    const [create] = named('POST /orders', inTrace(caller.traceId));
    expect(create!.kind).toBe(SpanKind.CLIENT);
    expect(create!.attributes).toMatchObject({
      'giftgraph.provider': 'GUUSTO',
      'http.request.method': 'POST',
      'url.template': '/orders',
      'server.address': '127.0.0.1',
    });
    expect(create!.attributes['http.response.status_code']).toBeGreaterThanOrEqual(200);
    expect(ancestors(create!).map((s) => s.name)).toContain('mutation SendThanks');
    expect(ancestors(create!).at(-1)).toBe(operation);

    // The ledger's transactions are in the same trace: the intent, then the provider's answer.
    const ledger = inTrace(caller.traceId).filter((s) => s.name.startsWith('ledger '));
    expect(ledger.map((s) => s.name)).toEqual(expect.arrayContaining(['ledger reserveOrder', 'ledger ingest']));
    for (const span of ledger) expect(ancestors(span)).toContain(operation);

    // The MUTATION events keep the trace that appended them.
    const events = await h.store.getStatusEvents([decodeId(sent.data!.sendGifts.order!.id, 'Order')!.local]);
    expect(events.length).toBeGreaterThan(0);
    for (const e of events) expect(e.traceParent).toMatch(new RegExp(`^00-${caller.traceId}-[0-9a-f]{16}-01$`));
  });

  it('name a read by its operation, and a provider path by its route, without its id or query', async () => {
    const sent = await post(h, token, SEND, {
      input: { provider: 'GUUSTO', idempotencyKey: 'traced-read', message: MESSAGE, amount: { amount: '25', currency: 'CAD' }, recipients: [{ email: EMAIL }] },
    });
    const caller = callerSpan();
    const read = await post(h, token, READ, { id: sent.data!.sendGifts.order!.id }, { traceparent: traceparent(caller) });
    expect(read.errors).toBeUndefined();
    const [operation] = named('query ReadOrder', inTrace(caller.traceId));
    expect(parentId(operation!)).toBe(caller.spanId);
    const calls = inTrace(caller.traceId).filter((s) => s.kind === SpanKind.CLIENT);
    expect(calls.map((s) => s.name)).toContain('GET /orders/status/:id');
    for (const call of calls) expect(ancestors(call)).toContain(operation);
  });

  it('start a WebSocket operation under the traceparent of its connection', async () => {
    const caller = callerSpan();
    const client = createClient({
      url: `${h.url.replace(/^http/, 'ws')}/ws`,
      webSocketImpl: class extends WebSocket {
        constructor(url: string, protocols?: string | string[]) {
          super(url, protocols, { headers: { traceparent: traceparent(caller) } });
        }
      },
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      lazy: true,
    });
    try {
      const result = await runOverSocket(client, 'query ProvidersOverSocket { providers { name } }');
      expect(result.errors).toBeUndefined();
    } finally {
      await client.dispose();
    }
    const [operation] = named('query ProvidersOverSocket', inTrace(caller.traceId));
    expect(parentId(operation!)).toBe(caller.spanId);
    expect(operation!.attributes).toMatchObject({ 'graphql.operation.type': 'query', 'graphql.operation.name': 'ProvidersOverSocket' });
  });

  it("link each subscription delivery to the trace of the webhook that caused it, kept on the event's row", async () => {
    const product = (await post(h, token, GOODY_PRODUCT, {})).data!.catalog.edges.find((e: any) => e.node.kind === 'PRODUCT').node.id;
    const subscriber = new Subscriber(h.url, token);
    await subscriber.started(h.app.server);
    const sent = await post(h, token, SEND, {
      input: { provider: 'GOODY', idempotencyKey: 'traced-webhook', senderName: 'Acme', recipients: [{ email: EMAIL, firstName: 'Ada' }], goody: { productId: product } },
    });
    expect(sent.errors).toBeUndefined();
    const orderId = decodeId(sent.data!.sendGifts.order!.id, 'Order')!.local;

    // The sandbox moves the gift on and posts its signed webhooks, as Goody would.
    const webhookEvents = async () => (await h.store.getStatusEvents([orderId])).filter((e) => e.source === 'WEBHOOK');
    for (let step = 0; step < 3 && (await webhookEvents()).length === 0; step++) {
      h.advance(1);
      await h.goody.webhooks.settle();
      await h.app.inbox.idle();
    }
    const fromWebhooks = await webhookEvents();
    expect(fromWebhooks.length).toBeGreaterThan(0);
    await h.app.tail.flush();
    await expect.poll(() => subscriber.events.filter((e) => e.source === 'WEBHOOK' && e.order.id === sent.data!.sendGifts.order!.id).length).toBe(fromWebhooks.length);
    // A delivery's span lasts until the stream asks for the next event: closing ends the last one.
    await subscriber.close();
    const deliveriesOf = (event: (typeof fromWebhooks)[number]) =>
      named('deliver status event').filter((s) => s.links.some((l) => `00-${l.context.traceId}-${l.context.spanId}-01` === event.traceParent));
    await expect.poll(() => fromWebhooks.every((event) => deliveriesOf(event).length > 0)).toBe(true);

    const receives = named('webhook receive').filter((s) => s.attributes['giftgraph.webhook.result'] === 'recorded');
    for (const event of fromWebhooks) {
      // The row keeps the ledger write that appended it, in a webhook's trace.
      const [, traceId, spanId] = /^00-([0-9a-f]{32})-([0-9a-f]{16})-01$/.exec(event.traceParent ?? '') ?? [];
      expect(traceId, 'trace_parent of a WEBHOOK event').toBeDefined();
      const receive = receives.find((s) => s.spanContext().traceId === traceId);
      expect(receive, 'the webhook span of that trace').toBeDefined();
      expect(receive!.kind).toBe(SpanKind.SERVER);
      expect(receive!.parentSpanContext).toBeUndefined();
      expect(receive!.attributes['giftgraph.provider']).toBe('GOODY');
      const write = spans().find((s) => s.spanContext().spanId === spanId)!;
      expect(write.name).toBe('ledger ingest');
      expect(ancestors(write)).toContain(receive);

      // Its delivery is a trace of its own that links back to that write.
      const deliveries = named('deliver status event').filter((s) => s.links.some((l) => l.context.traceId === traceId && l.context.spanId === spanId));
      expect(deliveries.length, 'delivery spans linked to the webhook').toBeGreaterThan(0);
      for (const delivery of deliveries) {
        expect(delivery.kind).toBe(SpanKind.CONSUMER);
        expect(delivery.parentSpanContext).toBeUndefined();
        expect(delivery.spanContext().traceId).not.toBe(traceId);
        expect(delivery.attributes).toMatchObject({ 'giftgraph.status_event.source': 'WEBHOOK', 'giftgraph.status_event.replayed': false });
      }
    }
    // The webhook's own provider call (reading the batch back) is its child.
    const traceId = receives[0]!.spanContext().traceId;
    expect(inTrace(traceId).some((s) => s.kind === SpanKind.CLIENT && s.attributes['giftgraph.provider'] === 'GOODY')).toBe(true);
    expect(named('subscription OrderStatusChanged').length).toBeGreaterThan(0);
  });

  it('carry no token, secret, email or request body in any span', async () => {
    // A failing read too: a provider error that quotes the recipient and a token reaches no span.
    const sent = await post(h, token, SEND, {
      input: { provider: 'GUUSTO', idempotencyKey: 'traced-quoting', message: MESSAGE, amount: { amount: '25', currency: 'CAD' }, recipients: [{ email: EMAIL }] },
    });
    const quoting = { code: 'internal', message: `could not look up ${EMAIL} for Bearer ${h.guustoToken}` };
    h.guusto.http.faults.add({ method: 'GET', path: /^\/api\/v1\/orders\/status\//, times: 3, fault: { kind: 'status', status: 500, body: quoting } });
    await post(h, token, READ, { id: sent.data!.sendGifts.order!.id });
    const failed = spans().filter((s) => s.attributes['error.type'] === '500');
    expect(failed.length).toBeGreaterThan(0);

    const all = spans();
    expect(all.length).toBeGreaterThan(20);
    const text = JSON.stringify(all.map((s) => ({ name: s.name, attributes: s.attributes, events: s.events, links: s.links, status: s.status })));
    const secrets = [token, h.guustoToken, h.giftronautSecret, h.goodyKey, h.andOpenKey, h.webhookSecrets.giftronaut, h.webhookSecrets.goody, h.webhookSecrets.andOpen];
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).not.toMatch(/bearer/i);
    expect(text).not.toContain('@');
    expect(text).not.toContain(MESSAGE);
    expect(text).not.toContain('idempotencyKey');
    expect(text).not.toContain('traced-');
    expect(text).not.toContain('?');
    // Attribute values are the bounded ones giftgraph sets: no document, variables or body.
    const keys = new Set(all.flatMap((s) => Object.keys(s.attributes)));
    expect([...keys].sort()).toEqual(
      [
        'db.system.name',
        'error.type',
        'giftgraph.ledger.events',
        'giftgraph.ledger.operation',
        'giftgraph.provider',
        'giftgraph.status_event.replayed',
        'giftgraph.status_event.source',
        'giftgraph.webhook.result',
        'graphql.operation.name',
        'graphql.operation.type',
        'http.request.method',
        'http.request.resend_count',
        'http.response.status_code',
        'server.address',
        'server.port',
        'url.template',
      ].filter((k) => keys.has(k)),
    );
  });

  it('put trace_id and span_id on the log lines written inside an operation', async () => {
    const sent = await post(h, token, SEND, {
      input: { provider: 'GUUSTO', idempotencyKey: 'traced-log', message: MESSAGE, amount: { amount: '25', currency: 'CAD' }, recipients: [{ email: EMAIL }] },
    });
    h.guusto.http.faults.add({ method: 'GET', path: /^\/api\/v1\/orders\/status\//, times: 3, fault: { kind: 'status', status: 502 } });
    const caller = callerSpan();
    const logged = h.logs.length;
    await post(h, token, READ, { id: sent.data!.sendGifts.order!.id }, { traceparent: traceparent(caller) });
    const [operation] = named('query ReadOrder', inTrace(caller.traceId));
    const lines = h.logs.slice(logged).map((l) => JSON.parse(l) as Record<string, unknown>);
    const refresh = lines.find((l) => String(l.msg).startsWith('refresh failed'));
    expect(refresh).toMatchObject({ trace_id: caller.traceId, span_id: operation!.spanContext().spanId });
  });

  it('make a poll one trace: its provider read and the ledger write it causes are its children', async () => {
    const polled = await Harness.start({ polling: { tickMs: 20, firstDelayMs: 50, maxDelayMs: 200, webhookDelayMs: 60_000, concurrency: 4, perSecond: 100, syncMs: 60_000 } });
    try {
      const input = { provider: 'GUUSTO', idempotencyKey: 'traced-poll', message: 'Hi', amount: { amount: '25', currency: 'CAD' }, recipients: [{ email: 'poll@example.com' }] };
      expect((await post(polled, await polled.token(), SEND, { input })).errors).toBeUndefined();
      polled.advance(1);
      await expect.poll(() => named('poll').some((p) => named('GET /orders/status/:id', inTrace(p.spanContext().traceId)).length > 0), { timeout: 5_000 }).toBe(true);
      const poll = named('poll').find((p) => named('GET /orders/status/:id', inTrace(p.spanContext().traceId)).length > 0)!;
      expect(parentId(poll)).toBeUndefined();
      expect(poll.attributes).toMatchObject({ 'giftgraph.provider': 'GUUSTO' });
      const read = named('GET /orders/status/:id', inTrace(poll.spanContext().traceId))[0]!;
      expect(ancestors(read)).toContain(poll);
      expect(named('ledger ingest', inTrace(poll.spanContext().traceId)).map((l) => ancestors(l))).toContainEqual(expect.arrayContaining([poll]));
    } finally {
      await polled.close();
    }
  });
});

describe('tracing from the environment', () => {
  it('is off unless an exporter or an OTLP endpoint is named, and OTEL_SDK_DISABLED wins', () => {
    expect(tracingRequested({})).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'none' })).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'none', OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp' })).toBe(true);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'console' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_TRACES_ENDPOINT: 'http://collector:4318/v1/traces' })).toBe(true);
    expect(tracingRequested({ OTEL_EXPORTER_OTLP_ENDPOINT: 'http://collector:4318', OTEL_SDK_DISABLED: 'true' })).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'TRUE' })).toBe(false);
    expect(tracingRequested({ OTEL_TRACES_EXPORTER: 'otlp', OTEL_SDK_DISABLED: 'false' })).toBe(true);
  });
});
