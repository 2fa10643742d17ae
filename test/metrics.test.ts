import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { createClient } from 'graphql-ws';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { createApp, type App } from '../src/app.js';
import { ConfigError, loadConfig } from '../src/config.js';
import { decodeId } from '../src/core/global-id.js';
import { buildRegistry } from '../src/providers/index.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { CatalogDocument, OrderDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { errorCode, Harness, problemCode } from './support/harness.js';
import { parsePrometheusText, sumOf, type PromFamily } from './support/prometheus-text.js';
import { Subscriber } from './support/subscriber.js';

const FAST_POLLING = { tickMs: 20, firstDelayMs: 50, maxDelayMs: 200, webhookDelayMs: 60_000, concurrency: 4, perSecond: 100, syncMs: 60_000 };
const TENANT = 'metrics-tenant-7f3a';
const EMAIL = 'metrics.person@example.com';

class Scrape {
  readonly families: Map<string, PromFamily>;

  constructor(readonly text: string) {
    this.families = parsePrometheusText(text);
  }

  family(name: string): PromFamily | undefined {
    return this.families.get(name);
  }

  /** Sum of a counter's or gauge's samples whose labels include `labels` (0 when there is none). */
  value(name: string, labels: Record<string, string> = {}): number {
    return sumOf(this.families, name, name, labels);
  }

  /** Sum of a histogram's `_count` over the series whose labels include `labels`. */
  count(name: string, labels: Record<string, string> = {}): number {
    return sumOf(this.families, name, `${name}_count`, labels);
  }
}

async function scrape(url: string, token?: string): Promise<Scrape> {
  const res = await fetch(`${url}/metrics`, { headers: token ? { authorization: `Bearer ${token}` } : {} });
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain; version=0\.0\.4/);
  return new Scrape(await res.text());
}

describe('metrics after real traffic', () => {
  let h: Harness;
  let token: string;
  let catalog: { GOODY: string };
  const sentIds: string[] = [];

  beforeAll(async () => {
    h = await Harness.start({ webhooks: true, polling: FAST_POLLING, providerTimeoutMs: 400 });
    token = await h.token({ tenant: TENANT });
    const goody = (await h.gql(CatalogDocument, { provider: 'GOODY', first: 50 }, token)).data!.catalog.edges.find((e) => e.node.kind === 'PRODUCT')!.node.id;
    catalog = { GOODY: goody };
  });
  afterAll(() => h.close());

  const guusto = (key: string): SendGiftsInput => ({
    provider: 'GUUSTO',
    idempotencyKey: key,
    message: 'Thanks!',
    amount: { amount: '10', currency: 'CAD' },
    recipients: [{ email: EMAIL, firstName: 'Metrics' }],
  });
  const send = async (input: SendGiftsInput) => {
    const result = await h.gql(SendGiftsDocument, { input }, token);
    const id = result.data?.sendGifts.order?.id;
    if (id) sentIds.push(id);
    return result;
  };

  it("serves Prometheus text: giftgraph's metrics in Prometheus' naming, and Node's process metrics", async () => {
    const s = await scrape(h.url);
    const ours = [...s.families.values()].filter((f) => f.name.startsWith('giftgraph_'));
    for (const f of ours) {
      if (f.type === 'counter') expect(f.name).toMatch(/_total$/);
      if (f.type === 'histogram') expect(f.name).toMatch(/_seconds$/);
      expect(f.help.length).toBeGreaterThan(0);
    }
    const types = Object.fromEntries(ours.map((f) => [f.name, f.type]));
    expect(types).toMatchObject({
      giftgraph_graphql_operations_total: 'counter',
      giftgraph_graphql_operation_duration_seconds: 'histogram',
      giftgraph_graphql_errors_total: 'counter',
      giftgraph_provider_requests_total: 'counter',
      giftgraph_provider_request_duration_seconds: 'histogram',
      giftgraph_webhook_deliveries_total: 'counter',
      giftgraph_polls_total: 'counter',
      giftgraph_events_appended_total: 'counter',
      giftgraph_event_delivery_delay_seconds: 'histogram',
      giftgraph_subscribers_lagged_total: 'counter',
      giftgraph_subscriptions_active: 'gauge',
      giftgraph_websocket_connections_active: 'gauge',
      giftgraph_ledger_orders: 'gauge',
      giftgraph_ledger_oldest_order_created_timestamp_seconds: 'gauge',
      giftgraph_ledger_up: 'gauge',
      giftgraph_poller_watched_orders: 'gauge',
    });
    expect(s.value('giftgraph_ledger_up')).toBe(1);
    expect(s.family('process_cpu_user_seconds_total')?.type).toBe('counter');
    expect(s.family('nodejs_eventloop_lag_seconds')?.type).toBe('gauge');
    // Off the graph: no GraphQL operation was counted for it.
    const again = await scrape(h.url);
    expect(again.value('giftgraph_graphql_operations_total')).toBe(s.value('giftgraph_graphql_operations_total'));
  });

  it('count a send over HTTP by operation name, its provider call by route template, its events and the ledger', async () => {
    const before = await scrape(h.url);
    const sent = await send(guusto('metrics-send'));
    expect(sent.errors).toBeUndefined();
    await h.app.tail.flush();
    const after = await scrape(h.url);

    const op = { transport: 'http', operation_name: 'SendGifts', operation_type: 'mutation', outcome: 'ok' };
    expect(after.value('giftgraph_graphql_operations_total', op) - before.value('giftgraph_graphql_operations_total', op)).toBe(1);
    expect(after.count('giftgraph_graphql_operation_duration_seconds', op) - before.count('giftgraph_graphql_operation_duration_seconds', op)).toBe(1);
    const create = { provider: 'GUUSTO', method: 'POST', route: '/orders', outcome: 'accepted' };
    expect(after.value('giftgraph_provider_requests_total', create) - before.value('giftgraph_provider_requests_total', create)).toBe(1);
    expect(after.count('giftgraph_provider_request_duration_seconds', create) - before.count('giftgraph_provider_request_duration_seconds', create)).toBe(1);
    expect(after.value('giftgraph_events_appended_total', { source: 'MUTATION' })).toBeGreaterThan(before.value('giftgraph_events_appended_total', { source: 'MUTATION' }));
    expect(after.value('giftgraph_ledger_orders', { provider: 'GUUSTO' }) - before.value('giftgraph_ledger_orders', { provider: 'GUUSTO' })).toBe(1);
  });

  it('count errors by code, and failed operations as errors', async () => {
    const errors = (s: Scrape, code: string) => s.value('giftgraph_graphql_errors_total', { transport: 'http', code });
    const before = await scrape(h.url);
    const bad = await h.gql(OrderDocument, { id: 'not-an-order-id' }, token);
    const code = errorCode(bad) as string;
    expect(code).toBe('BAD_USER_INPUT');
    const refused = await h.gql(OrderDocument, { id: 'not-an-order-id' }, null);
    expect(errorCode(refused)).toBe('UNAUTHENTICATED');
    const after = await scrape(h.url);
    expect(errors(after, 'BAD_USER_INPUT') - errors(before, 'BAD_USER_INPUT')).toBe(1);
    expect(errors(after, 'UNAUTHENTICATED') - errors(before, 'UNAUTHENTICATED')).toBe(1);
    const op = { transport: 'http', operation_name: 'Order', operation_type: 'query', outcome: 'error' };
    expect(after.value('giftgraph_graphql_operations_total', op) - before.value('giftgraph_graphql_operations_total', op)).toBe(2);
  });

  it('count provider faults by outcome: rate limited, refused, unavailable; and an UNCONFIRMED order shows in the ledger gauges', async () => {
    const CREATE = { method: 'POST', path: '/api/v1/orders' } as const;
    const outcome = (s: Scrape, o: string) => s.value('giftgraph_provider_requests_total', { provider: 'GUUSTO', method: 'POST', route: '/orders', outcome: o });
    const before = await scrape(h.url);

    h.guusto.http.faults.add({ ...CREATE, times: 1, fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } });
    await send(guusto('metrics-429'));
    h.guusto.http.faults.add({ ...CREATE, times: 1, fault: { kind: 'status', status: 422, body: { message: 'no' } } });
    await send(guusto('metrics-422'));
    h.guusto.http.faults.add({ ...CREATE, times: 1, fault: { kind: 'status', status: 500 } });
    const unknown = await send(guusto('metrics-500'));
    expect(problemCode(unknown)).toBe('OUTCOME_UNKNOWN');

    const after = await scrape(h.url);
    expect(outcome(after, 'rate_limited') - outcome(before, 'rate_limited')).toBeGreaterThanOrEqual(1);
    expect(outcome(after, 'refused') - outcome(before, 'refused')).toBe(1);
    expect(outcome(after, 'unavailable') - outcome(before, 'unavailable')).toBe(1);
    const unconfirmed = { provider: 'GUUSTO', status: 'UNCONFIRMED' };
    expect(after.value('giftgraph_ledger_orders', unconfirmed) - before.value('giftgraph_ledger_orders', unconfirmed)).toBeGreaterThanOrEqual(1);
    const oldest = after.value('giftgraph_ledger_oldest_order_created_timestamp_seconds', unconfirmed);
    expect(oldest).toBeGreaterThan(Date.now() / 1000 - 3600);
    expect(oldest).toBeLessThanOrEqual(Date.now() / 1000 + 1);
  });

  it('count polls by provider and result, and events by source POLL', async () => {
    const before = await scrape(h.url);
    await send(guusto('metrics-poll'));
    await expect
      .poll(async () => (await scrape(h.url)).value('giftgraph_polls_total', { provider: 'GUUSTO' }), { timeout: 5_000 })
      .toBeGreaterThan(before.value('giftgraph_polls_total', { provider: 'GUUSTO' }));
    h.advance(1);
    await expect
      .poll(async () => (await scrape(h.url)).value('giftgraph_events_appended_total', { source: 'POLL' }), { timeout: 5_000 })
      .toBeGreaterThan(before.value('giftgraph_events_appended_total', { source: 'POLL' }));
    expect((await scrape(h.url)).value('giftgraph_poller_watched_orders')).toBeGreaterThanOrEqual(0);
  });

  it('count webhook deliveries by provider and result', async () => {
    const hook = (s: Scrape, result: string) => s.value('giftgraph_webhook_deliveries_total', { provider: 'GOODY', result });
    const before = await scrape(h.url);
    const sent = await send({
      provider: 'GOODY',
      idempotencyKey: 'metrics-hook',
      senderName: 'Acme',
      recipients: [{ email: EMAIL, firstName: 'Metrics' }],
      goody: { productId: catalog.GOODY },
    });
    expect(sent.errors).toBeUndefined();
    // Step the sandbox until a webhook has moved the order along.
    for (
      let step = 0;
      step < 6 && (await scrape(h.url)).value('giftgraph_events_appended_total', { source: 'WEBHOOK' }) === before.value('giftgraph_events_appended_total', { source: 'WEBHOOK' });
      step++
    ) {
      h.advance(1);
      await h.goody.webhooks.settle();
      await h.app.tail.flush();
    }
    const delivered = h.goody.webhooks.log.filter((d) => d.delivered).at(-1)!;
    const post = (body: string, headers: Record<string, string>) =>
      fetch(`${h.url}/webhooks/goody`, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });
    expect((await post(delivered.body, delivered.headers)).status).toBe(200); // a re-delivery
    expect((await post(delivered.body.replace('{', '{"forged":true,'), delivered.headers)).status).toBe(401); // a body its signature does not cover
    const after = await scrape(h.url);
    expect(hook(after, 'recorded') - hook(before, 'recorded')).toBeGreaterThanOrEqual(1);
    expect(hook(after, 'duplicate') - hook(before, 'duplicate')).toBe(1);
    expect(hook(after, 'refused') - hook(before, 'refused')).toBe(1);
    expect(after.value('giftgraph_events_appended_total', { source: 'WEBHOOK' })).toBeGreaterThan(before.value('giftgraph_events_appended_total', { source: 'WEBHOOK' }));
  });

  it('count operations over /ws, active sockets and subscriptions, and the delay of delivered events', async () => {
    const before = await scrape(h.url);
    const subscriber = new Subscriber(h.url, token);
    const sub = { transport: 'ws', operation_name: 'OrderStatusChanged', operation_type: 'subscription', outcome: 'ok' };
    await expect
      .poll(async () => (await scrape(h.url)).value('giftgraph_graphql_operations_total', sub), { timeout: 5_000 })
      .toBe(before.value('giftgraph_graphql_operations_total', sub) + 1);
    const open = await scrape(h.url);
    expect(open.value('giftgraph_subscriptions_active') - before.value('giftgraph_subscriptions_active')).toBe(1);
    expect(open.value('giftgraph_websocket_connections_active') - before.value('giftgraph_websocket_connections_active')).toBe(1);

    await send(guusto('metrics-live'));
    await expect.poll(() => subscriber.events.length, { timeout: 5_000 }).toBeGreaterThan(0);
    const delivered = await scrape(h.url);
    expect(delivered.count('giftgraph_event_delivery_delay_seconds')).toBeGreaterThan(before.count('giftgraph_event_delivery_delay_seconds'));

    // A query over the same transport, counted by its name.
    const client = createClient({ url: `${h.url.replace(/^http/, 'ws')}/ws`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0 });
    const query = client.iterate({ query: 'query Providers { providers { name } }' });
    for await (const result of query) expect(result.errors).toBeUndefined();
    await client.dispose();
    const q = { transport: 'ws', operation_name: 'Providers', operation_type: 'query', outcome: 'ok' };
    expect((await scrape(h.url)).value('giftgraph_graphql_operations_total', q) - before.value('giftgraph_graphql_operations_total', q)).toBe(1);

    await subscriber.close();
    await expect.poll(async () => (await scrape(h.url)).value('giftgraph_subscriptions_active'), { timeout: 5_000 }).toBe(before.value('giftgraph_subscriptions_active'));
    await expect
      .poll(async () => (await scrape(h.url)).value('giftgraph_websocket_connections_active'), { timeout: 5_000 })
      .toBe(before.value('giftgraph_websocket_connections_active'));
  });

  it('keep operation names bounded: anonymous, then at most 100 names, and none admitted from an unauthenticated caller', async () => {
    const names = (s: Scrape) => new Set((s.family('giftgraph_graphql_operations_total')?.samples ?? []).map((m) => m.labels.operation_name!));
    await h.gql('{ providers { name } }', undefined, token);
    await h.gql('query Unauthenticated { providers { name } }', undefined, null);
    const first = await scrape(h.url);
    expect(names(first).has('anonymous')).toBe(true);
    expect(names(first).has('Unauthenticated')).toBe(false);
    expect(names(first).has('other')).toBe(true);

    for (let i = 0; i < 110; i++) await h.gql(`query Dashboard${i} { providers { name } }`, undefined, token);
    const after = await scrape(h.url);
    const labelled = [...names(after)].filter((n) => n !== 'other' && n !== 'anonymous');
    expect(labelled.length).toBeLessThanOrEqual(100);
    expect(labelled).toContain('SendGifts');
    expect(labelled).not.toContain('Dashboard109');
  });

  it('carry no email, tenant, order id or provider reference in any label', async () => {
    const s = await scrape(h.url);
    const values = [...s.families.values()].flatMap((f) => f.samples.flatMap((m) => Object.values(m.labels)));
    expect(values.length).toBeGreaterThan(50);
    const ids = sentIds.flatMap((id) => [id, decodeId(id, 'Order')?.local ?? id]);
    const refs = (
      await h.store.getOrders(
        TENANT,
        ids.map((id) => decodeId(id, 'Order')?.local ?? id),
      )
    ).flatMap((o) => (o.providerRef ? [o.providerRef] : []));
    expect(ids.length).toBeGreaterThan(4);
    expect(refs.length).toBeGreaterThan(0);
    // Checked together: one expectation per label value and id made this the slowest test of the file.
    const uuid = /[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}/i;
    const leaking = values.filter((value) => value.includes('@') || value.includes(TENANT) || uuid.test(value) || [...ids, ...refs].some((id) => value.includes(id)));
    expect(leaking).toEqual([]);
    // A provider path with an id in it is counted under its template.
    const routes = new Set((s.family('giftgraph_provider_requests_total')?.samples ?? []).map((m) => `${m.labels.method} ${m.labels.route}`));
    expect(routes).toContain('GET /orders/status/:id');
    // And the text as a whole, comments included.
    expect(s.text).not.toContain(EMAIL);
    expect(s.text).not.toContain(TENANT);
  });
});

describe('the metrics token', () => {
  let app: App;
  let url: string;
  let dir: string;
  const metricsToken = randomBytes(24).toString('base64url');

  beforeAll(async () => {
    dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-metrics-'));
    app = await createApp({
      store: SqliteStore.open(path.join(dir, 'giftgraph.db')),
      providers: buildRegistry({}, 'SANDBOX', 1_000),
      jwt: { secret: randomBytes(32), issuer: 'giftgraph', audience: 'giftgraph' },
      log: pino({ level: 'silent' }),
      metricsToken,
    });
    url = await app.listen(0, '127.0.0.1');
  });
  afterAll(async () => {
    await app.stop();
    fs.rmSync(dir, { recursive: true, force: true });
  });

  it('is asked for when configured: 401 without it or with another, 200 with it', async () => {
    const without = await fetch(`${url}/metrics`);
    expect(without.status).toBe(401);
    expect(without.headers.get('www-authenticate')).toMatch(/^Bearer/);
    expect(await without.text()).not.toContain('giftgraph_');
    expect((await fetch(`${url}/metrics`, { headers: { authorization: `Bearer ${metricsToken}x` } })).status).toBe(401);
    expect((await fetch(`${url}/metrics`, { headers: { authorization: metricsToken } })).status).toBe(401);
    const s = await scrape(url, metricsToken);
    expect(s.value('giftgraph_ledger_up')).toBe(1);
  });

  it('is read from GIFTGRAPH_METRICS_TOKEN, and a weak one stops the start', () => {
    expect(loadConfig({ GIFTGRAPH_METRICS_TOKEN: metricsToken }).metricsToken).toBe(metricsToken);
    expect(loadConfig({}).metricsToken).toBeUndefined();
    expect(() => loadConfig({ GIFTGRAPH_METRICS_TOKEN: 'short' })).toThrow(ConfigError);
    expect(() => loadConfig({ GIFTGRAPH_METRICS_TOKEN: `${metricsToken} spaced` })).toThrow(/GIFTGRAPH_METRICS_TOKEN/);
  });
});
