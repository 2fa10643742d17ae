/**
 * Scheduling for every provider. Giftronaut and Goody schedule a send themselves; Guusto and &Open
 * cannot, so giftgraph holds the send (SCHEDULED, nothing sent) and its scheduler sends it at its
 * time through the path every send takes. Time is the harness's manual clock, which giftgraph and
 * the sandboxes share; the scheduler runs when a test says so (`app.scheduler.sendDue()`), except
 * where a test turns it on to show what a start does.
 */
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import type { TypedDocumentNode } from '@graphql-typed-document-node/core';
import Database from 'better-sqlite3';
import { print } from 'graphql';
import pino from 'pino';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type App, createApp } from '../src/app.js';
import { buildRegistry } from '../src/providers/index.js';
import { SQLITE_MIGRATIONS } from '../src/store/migrations.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { CancelOrderDocument, CatalogDocument, OrderDocument, ScheduledOrderDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { type GraphQLResult, Harness, problemsOf } from './support/harness.js';
import { postgresReachable, type TestSchema, testSchema } from './support/postgres.js';

const HOUR = 3_600_000;
const DAY = 24 * HOUR;

let h: Harness;
const ids = { choiceCard: '', product: '', campaign: '' };

beforeAll(async () => {
  h = await Harness.start({ sharedClock: true, giftronaut: { balanceUsd: 1_000_000 } });
  const catalog = async (provider: 'GIFTRONAUT' | 'GOODY' | 'ANDOPEN') => (await h.gql(CatalogDocument, { provider, first: 100 })).data!.catalog.edges.map((e) => e.node);
  ids.choiceCard = (await catalog('GIFTRONAUT')).find((c) => c.kind === 'CHOICE_CARD' && c.currency === 'USD')!.id;
  ids.product = (await catalog('GOODY')).find((c) => c.name.includes('Caramels'))!.id;
  ids.campaign = (await catalog('ANDOPEN')).find((c) => c.kind === 'CAMPAIGN')!.id;
});
afterAll(() => h.close());

/** A time `ms` from now, on the clock giftgraph and the sandboxes share. */
const fromNow = (ms: number) => new Date(h.clock.now() + ms).toISOString();

const guusto = (key: string, sendAt: string | null): SendGiftsInput => ({
  provider: 'GUUSTO',
  idempotencyKey: key,
  message: 'Happy anniversary!',
  amount: { amount: '25', currency: 'CAD' },
  recipients: [
    { email: 'ada@example.com', firstName: 'Ada' },
    { email: 'grace@example.com', firstName: 'Grace' },
  ],
  guusto: { language: 'FR_CA' },
  sendAt,
  timezone: sendAt ? 'America/Toronto' : null,
});

const andOpen = (key: string, sendAt: string | null): SendGiftsInput => ({
  provider: 'ANDOPEN',
  idempotencyKey: key,
  recipients: [
    { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' },
    { firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.com' },
  ],
  andOpen: { campaignId: ids.campaign },
  sendAt,
});

const giftronaut = (key: string, sendAt: string | null): SendGiftsInput => ({
  provider: 'GIFTRONAUT',
  idempotencyKey: key,
  senderName: 'Acme',
  message: 'Thanks!',
  amount: { amount: '20', currency: 'USD' },
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
  giftronaut: { productId: ids.choiceCard, subject: 'A gift for you' },
  sendAt,
  timezone: 'UTC',
});

const goody = (key: string, sendAt: string | null): SendGiftsInput => ({
  provider: 'GOODY',
  idempotencyKey: key,
  senderName: 'Acme',
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
  goody: { productId: ids.product },
  sendAt,
});

const guustoPosts = () => h.guusto.http.count('POST', '/api/v1/orders');
const andOpenPosts = () => h.andOpen.http.count('POST', '/gift_requests');

async function read(id: string) {
  const result = await h.gql(ScheduledOrderDocument, { id });
  expect(result.errors).toBeUndefined();
  return result.data!.order!;
}

const history = (entries: readonly { from?: string | null; to: string; source: string }[]) => entries.map((e) => `${e.from ?? 'null'}>${e.to}:${e.source}`);

describe('a send held by giftgraph (Guusto)', () => {
  it('is SCHEDULED with nothing sent, is sent at its time and not before, and reaches SENT', async () => {
    const posts = guustoPosts();
    const sendAt = fromNow(HOUR);
    const sent = await h.gql(SendGiftsDocument, { input: guusto('held-guusto', sendAt) });
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.sendGifts).toMatchObject({ created: true, problems: [], order: { status: 'SCHEDULED', providerStatus: '', capabilities: { canCancel: true } } });
    const id = sent.data!.sendGifts.order!.id;

    const held = await read(id);
    expect(held).toMatchObject({
      status: 'SCHEDULED',
      scheduledFor: sendAt,
      capabilities: { canCancel: true, canSchedule: true, schedulesNatively: false },
    });
    // Created SCHEDULED: its creation, and each recipient's, is one event from no status.
    expect(history(held.statusHistory)).toEqual(['null>SCHEDULED:MUTATION']);
    expect(held.recipients.edges.map((e) => history(e.node.statusHistory))).toEqual([['null>SCHEDULED:MUTATION'], ['null>SCHEDULED:MUTATION']]);
    expect(guustoPosts()).toBe(posts);

    // A same-key retry before its time returns it, and sends nothing.
    const retry = await h.gql(SendGiftsDocument, { input: guusto('held-guusto', sendAt) });
    expect(retry.data!.sendGifts).toMatchObject({ created: false, problems: [], order: { id, status: 'SCHEDULED' } });

    // A second before its time: not yet.
    h.clock.advance(HOUR - 1_000);
    expect(await h.app.scheduler.sendDue()).toBe(0);
    expect(guustoPosts()).toBe(posts);
    expect((await read(id)).status).toBe('SCHEDULED');

    // Its time: sent once, as any send is.
    h.clock.advance(1_000);
    expect(await h.app.scheduler.sendDue()).toBe(1);
    expect(guustoPosts()).toBe(posts + 1);
    const accepted = await read(id);
    expect(accepted).toMatchObject({ status: 'PENDING', providerStatus: 'ACCEPTED', scheduledFor: sendAt, capabilities: { canCancel: false } });
    expect(history(accepted.statusHistory)).toEqual(['null>SCHEDULED:MUTATION', 'SCHEDULED>UNCONFIRMED:MUTATION', 'UNCONFIRMED>PENDING:MUTATION']);
    expect(await h.app.scheduler.sendDue()).toBe(0);

    h.advance(2);
    const done = (await h.gql(OrderDocument, { id })).data!.order!;
    expect(done).toMatchObject({ status: 'SENT', providerStatus: 'COMPLETED' });
    if (!('language' in done)) throw new Error('expected a GuustoOrder');
    // What was asked reached Guusto as asked, an hour later.
    expect(done.language).toBe('FR_CA');
    const gifts = done.recipients.edges.map((e) => e.node.gift);
    expect(gifts.map((g) => (g?.__typename === 'Certificate' ? [g.amount.amount, g.message] : null))).toEqual([
      ['25.00', 'Happy anniversary!'],
      ['25.00', 'Happy anniversary!'],
    ]);
    expect(guustoPosts()).toBe(posts + 1);

    // The same key after it was sent returns it, and sends nothing more.
    const after = await h.gql(SendGiftsDocument, { input: guusto('held-guusto', sendAt) });
    expect(after.data!.sendGifts).toMatchObject({ created: false, problems: [], order: { id, status: 'SENT' } });
    expect(guustoPosts()).toBe(posts + 1);
  });

  it('canceled before its time is never sent, also not by a retry with its key', async () => {
    const posts = guustoPosts();
    const sendAt = fromNow(HOUR);
    const id = (await h.gql(SendGiftsDocument, { input: guusto('held-canceled', sendAt) })).data!.sendGifts.order!.id;

    const canceled = await h.gql(CancelOrderDocument, { id });
    expect(canceled.errors).toBeUndefined();
    expect(canceled.data!.cancelOrder).toMatchObject({ order: { id, status: 'CANCELED' }, problems: [] });
    const after = await read(id);
    expect(after).toMatchObject({ status: 'CANCELED', capabilities: { canCancel: false } });
    expect(history(after.statusHistory)).toEqual(['null>SCHEDULED:MUTATION', 'SCHEDULED>CANCELED:MUTATION']);
    expect(after.recipients.edges.map((e) => e.node.status)).toEqual(['CANCELED', 'CANCELED']);
    // Canceling again finds it canceled.
    expect((await h.gql(CancelOrderDocument, { id })).data!.cancelOrder).toMatchObject({ order: { status: 'CANCELED' }, problems: [] });

    h.clock.advance(2 * HOUR);
    expect(await h.app.scheduler.sendDue()).toBe(0);
    const retry = await h.gql(SendGiftsDocument, { input: guusto('held-canceled', sendAt) });
    expect(retry.data!.sendGifts).toMatchObject({ created: false, problems: [], order: { id, status: 'CANCELED' } });
    expect(await h.app.scheduler.sendDue()).toBe(0);
    expect(guustoPosts()).toBe(posts);
  });

  it('once its time came and it was sent, cancelOrder goes to the provider, which says it cannot', async () => {
    const id = (await h.gql(SendGiftsDocument, { input: guusto('held-then-sent', fromNow(60_000)) })).data!.sendGifts.order!.id;
    h.clock.advance(60_000);
    expect(await h.app.scheduler.sendDue()).toBe(1);
    const refused = await h.gql(CancelOrderDocument, { id });
    expect(refused.data!.cancelOrder.order).toBeNull();
    expect(problemsOf(refused)).toEqual([expect.objectContaining({ code: 'UNSUPPORTED_BY_PROVIDER', provider: 'GUUSTO' })]);
    expect((await read(id)).status).toBe('PENDING');
  });
});

describe('a send held by giftgraph (&Open, one request per recipient)', () => {
  it('is SCHEDULED with nothing sent, and at its time sends one gift request per recipient, once', async () => {
    const posts = andOpenPosts();
    const sendAt = fromNow(DAY);
    const sent = await h.gql(SendGiftsDocument, { input: andOpen('held-andopen', sendAt) });
    expect(sent.data!.sendGifts).toMatchObject({ created: true, problems: [], order: { status: 'SCHEDULED', total: null } });
    const id = sent.data!.sendGifts.order!.id;
    expect(await read(id)).toMatchObject({ status: 'SCHEDULED', scheduledFor: sendAt, capabilities: { canCancel: true, schedulesNatively: false } });

    h.clock.advance(DAY - 1);
    expect(await h.app.scheduler.sendDue()).toBe(0);
    expect(andOpenPosts()).toBe(posts);

    h.clock.advance(1);
    expect(await h.app.scheduler.sendDue()).toBe(1);
    expect(andOpenPosts()).toBe(posts + 2);
    const done = (await h.gql(OrderDocument, { id })).data!.order!;
    expect(done.status).toBe('SENT');
    expect(done.recipients.edges.map((e) => [e.node.status, e.node.providerStatus, e.node.gift?.__typename])).toEqual([
      ['SENT', 'submitted', 'GiftLink'],
      ['SENT', 'submitted', 'GiftLink'],
    ]);
    expect(history(done.statusHistory)).toEqual(['null>SCHEDULED:MUTATION', 'SCHEDULED>UNCONFIRMED:MUTATION', 'UNCONFIRMED>SENT:MUTATION']);

    // Retried with its key: every recipient was sent, so nothing is sent again.
    const retry = await h.gql(SendGiftsDocument, { input: andOpen('held-andopen', sendAt) });
    expect(retry.data!.sendGifts).toMatchObject({ created: false, problems: [] });
    expect(await h.app.scheduler.sendDue()).toBe(0);
    expect(andOpenPosts()).toBe(posts + 2);
  });

  it('sent at its time with a recipient refused: that recipient FAILED, and a retry sends to it alone', async () => {
    const sendAt = fromNow(HOUR);
    const id = (await h.gql(SendGiftsDocument, { input: andOpen('held-andopen-partial', sendAt) })).data!.sendGifts.order!.id;
    h.clock.advance(HOUR);
    h.andOpen.http.faults.add({ method: 'POST', path: '/gift_requests', fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } });
    const posts = andOpenPosts();
    expect(await h.app.scheduler.sendDue()).toBe(1);
    expect(andOpenPosts()).toBe(posts + 2);
    const statuses = (await h.gql(OrderDocument, { id })).data!.order!.recipients.edges.map((e) => e.node.status);
    expect([...statuses].sort()).toEqual(['FAILED', 'SENT']);

    const retry = await h.gql(SendGiftsDocument, { input: andOpen('held-andopen-partial', sendAt) });
    expect(retry.data!.sendGifts).toMatchObject({ created: false, problems: [] });
    expect(retry.data!.sendGifts.order!.recipients.edges.map((e) => e.node.status)).toEqual(['SENT', 'SENT']);
    expect(andOpenPosts()).toBe(posts + 3);
  });
});

describe('held sends across a restart', () => {
  it('one whose time passed while giftgraph was stopped is sent once, at the next start', async () => {
    const fresh = await Harness.start({ sharedClock: true, only: ['GUUSTO'], scheduling: { tickMs: 60_000 } });
    try {
      const posts = () => fresh.guusto.http.count('POST', '/api/v1/orders');
      const input = { ...guusto('held-restart', new Date(fresh.clock.now() + HOUR).toISOString()) };
      const id = (await fresh.gql(SendGiftsDocument, { input })).data!.sendGifts.order!.id;
      expect(posts()).toBe(0);

      // Stopped, while its time comes and goes; started again, it is sent at once.
      await fresh.restart({}, () => fresh.clock.advance(3 * HOUR));
      expect(await fresh.app.scheduler.sendDue()).toBe(0);
      expect(posts()).toBe(1);
      expect((await fresh.gql(ScheduledOrderDocument, { id })).data!.order).toMatchObject({ status: 'PENDING' });

      // And never again, however often it restarts.
      await fresh.restart({}, () => fresh.clock.advance(HOUR));
      expect(await fresh.app.scheduler.sendDue()).toBe(0);
      expect(posts()).toBe(1);
    } finally {
      await fresh.close();
    }
  });

  it('one claimed by a process that stopped before its provider answered is UNCONFIRMED, never sent again by itself', async () => {
    const fresh = await Harness.start({ sharedClock: true, only: ['GUUSTO'] });
    try {
      const posts = () => fresh.guusto.http.count('POST', '/api/v1/orders');
      const input = guusto('held-interrupted', new Date(fresh.clock.now() + HOUR).toISOString());
      const id = (await fresh.gql(SendGiftsDocument, { input })).data!.sendGifts.order!.id;
      fresh.clock.advance(HOUR);
      // Claimed for sending, and then the process stops before the create's answer is recorded.
      expect(await fresh.app.orders.claimDueHeldSends(10)).toHaveLength(1);
      await fresh.restart();
      expect(await fresh.app.scheduler.sendDue()).toBe(0);
      expect(posts()).toBe(0);
      const order = (await fresh.gql(ScheduledOrderDocument, { id })).data!.order!;
      expect(order.status).toBe('UNCONFIRMED');
      expect(history(order.statusHistory)).toEqual(['null>SCHEDULED:MUTATION', 'SCHEDULED>UNCONFIRMED:MUTATION']);
      const retry = await fresh.gql(SendGiftsDocument, { input });
      expect(problemsOf(retry)).toEqual([expect.objectContaining({ code: 'OUTCOME_UNKNOWN', retryable: false })]);
      expect(posts()).toBe(0);
    } finally {
      await fresh.close();
    }
  });
});

describe('sendAt, the same for every provider', () => {
  const makers = { GUUSTO: guusto, GIFTRONAUT: giftronaut, GOODY: goody, ANDOPEN: andOpen };

  it.each(['GUUSTO', 'GIFTRONAUT', 'GOODY', 'ANDOPEN'] as const)('%s: refuses a time in the past and one more than a year ahead, naming input.sendAt', async (provider) => {
    const make = makers[provider];
    const received = h[provider === 'ANDOPEN' ? 'andOpen' : (provider.toLowerCase() as 'guusto' | 'giftronaut' | 'goody')].http.received.length;
    for (const [i, [sendAt, message]] of [
      [fromNow(-60_000), 'must be in the future'],
      [fromNow(366 * DAY), 'must be at most 365 days ahead'],
    ].entries()) {
      const result = await h.gql(SendGiftsDocument, { input: make(`refused-${provider}-${i}`, sendAt!) });
      expect(result.errors).toBeUndefined();
      expect(result.data!.sendGifts.order).toBeNull();
      expect(problemsOf(result)).toEqual([expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'input.sendAt', message })]);
    }
    expect(h[provider === 'ANDOPEN' ? 'andOpen' : (provider.toLowerCase() as 'guusto' | 'giftronaut' | 'goody')].http.received.length).toBe(received);
  });

  it.each(['GIFTRONAUT', 'GOODY'] as const)('%s schedules natively: nothing held, the provider has it', async (provider) => {
    const sendAt = fromNow(2 * DAY);
    const sent = await h.gql(SendGiftsDocument, { input: makers[provider](`native-${provider}`, sendAt) });
    expect(problemsOf(sent)).toEqual([]);
    const order = await read(sent.data!.sendGifts.order!.id);
    expect(order).toMatchObject({ status: 'SCHEDULED', scheduledFor: sendAt, capabilities: { canSchedule: true, schedulesNatively: true } });
    expect(order.providerStatus).not.toBe('');
    expect(await h.app.scheduler.sendDue()).toBe(0);
  });
});

describe('the ledger', () => {
  it('gains held sends in step 12: an existing SQLite ledger keeps its orders, their recipients, events and indexes', async () => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-v11-'));
    const file = path.join(dir, 'giftgraph.db');
    try {
      const raw = new Database(file);
      raw.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL)');
      for (const m of SQLITE_MIGRATIONS.filter((m) => m.version <= 11)) {
        raw.exec(m.sql);
        raw.prepare('INSERT INTO schema_migrations VALUES (?, ?, ?)').run(m.version, m.name, new Date().toISOString());
      }
      const at = new Date().toISOString();
      raw
        .prepare(
          `INSERT INTO orders (id, tenant, provider, idempotency_key, request_hash, submission, status, provider_status, created_at, updated_at, origin)
           VALUES ('o1', 'acme', 'GUUSTO', 'k1', 'h', 'ACCEPTED', 'PENDING', 'ACCEPTED', ?, ?, 'GIFTGRAPH')`,
        )
        .run(at, at);
      raw.prepare(`INSERT INTO recipients (id, order_id, position, status, provider_status) VALUES ('r1', 'o1', 0, 'PENDING', 'ACCEPTED')`).run();
      raw
        .prepare(`INSERT INTO status_events (order_id, from_status, to_status, provider_status, occurred_at, source) VALUES ('o1', NULL, 'PENDING', 'ACCEPTED', ?, 'MUTATION')`)
        .run(at);
      const indexes = (db: Database.Database) =>
        (db.prepare(`SELECT name FROM sqlite_master WHERE type = 'index' AND tbl_name = 'orders' AND sql IS NOT NULL ORDER BY name`).pluck().all() as string[]).join(',');
      const before = indexes(raw);
      raw.close();

      const store = SqliteStore.open(file);
      expect(store.schemaVersion()).toBeGreaterThanOrEqual(12);
      expect(store.pragma('foreign_keys')).toBe(1);
      expect(store.counts()).toEqual({ orders: 1, recipients: 1, statusEvents: 1 });
      expect(await store.getOrders('acme', ['o1'])).toEqual([expect.objectContaining({ id: 'o1', submission: 'ACCEPTED', status: 'PENDING' })]);
      await store.close();
      const after = new Database(file);
      expect(indexes(after)).toBe(before);
      expect(after.pragma('foreign_key_check')).toEqual([]);
      // The recipients still reference orders, and a held send fits the new check.
      after.pragma('foreign_keys = ON');
      expect(() => after.prepare(`INSERT INTO recipients (id, order_id, position, status, provider_status) VALUES ('r2', 'nowhere', 0, 'PENDING', '')`).run()).toThrow(
        /FOREIGN KEY/,
      );
      after.prepare(`UPDATE orders SET submission = 'HELD', held_request = '{}' WHERE id = 'o1'`).run();
      expect(() => after.prepare(`UPDATE orders SET submission = 'LOST' WHERE id = 'o1'`).run()).toThrow(/CHECK/);
      after.close();
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  });
});

const reachable = await postgresReachable();

describe.skipIf(!reachable)('replicas sharing PostgreSQL', () => {
  let schema: TestSchema;
  let apps: App[] = [];
  let urls: string[] = [];

  beforeAll(async () => {
    schema = await testSchema();
    apps = [];
    for (let i = 0; i < 2; i++) {
      const providers = buildRegistry(
        {
          guusto: { baseUrl: h.urls.guusto, token: h.guustoToken, workspaceId: '444' },
          andOpen: { baseUrl: h.urls.andOpen, apiKey: h.andOpenKey, version: '2026-05' },
        },
        'SANDBOX',
        2_000,
        {},
        undefined,
        { limits: { perSecond: Number.POSITIVE_INFINITY, failureThreshold: Number.POSITIVE_INFINITY } },
      );
      apps.push(await createApp({ store: await schema.open(), providers, jwt: h.jwt, log: pino({ level: 'silent' }), clock: () => new Date(h.clock.now()) }));
    }
    urls = await Promise.all(apps.map((app) => app.listen(0, '127.0.0.1')));
  });

  afterAll(async () => {
    for (const app of apps) await app.stop();
    await schema?.drop();
  });

  /** An operation over HTTP to one of the replicas, as a client behind a router would send it. */
  async function gqlAt<R, V>(url: string, document: TypedDocumentNode<R, V>, variables: V): Promise<GraphQLResult<R>> {
    const res = await fetch(`${url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await h.token()}` },
      body: JSON.stringify({ query: print(document), variables }),
    });
    return (await res.json()) as GraphQLResult<R>;
  }

  it('each due held send is sent by exactly one of them', async () => {
    const guustoBefore = guustoPosts();
    const andOpenBefore = andOpenPosts();
    const sendAt = fromNow(HOUR);
    const inputs = [
      ...Array.from({ length: 12 }, (_, i) => guusto(`replicas-guusto-${i}`, sendAt)),
      ...Array.from({ length: 4 }, (_, i) => andOpen(`replicas-andopen-${i}`, sendAt)),
    ];
    const ids: string[] = [];
    for (const [i, input] of inputs.entries()) {
      const sent = await gqlAt(urls[i % 2]!, SendGiftsDocument, { input });
      expect(sent.data!.sendGifts.order!.status).toBe('SCHEDULED');
      ids.push(sent.data!.sendGifts.order!.id);
    }
    h.clock.advance(HOUR);
    // Both look at once, again and again: every held send is claimed by one.
    const claimed = await Promise.all([apps[0]!.scheduler.sendDue(), apps[1]!.scheduler.sendDue(), apps[0]!.scheduler.sendDue(), apps[1]!.scheduler.sendDue()]);
    expect(claimed.reduce((a, b) => a + b, 0)).toBe(inputs.length);
    expect(guustoPosts()).toBe(guustoBefore + 12);
    expect(andOpenPosts()).toBe(andOpenBefore + 4 * 2);
    for (const [i, id] of ids.entries()) {
      const order = (await gqlAt(urls[(i + 1) % 2]!, ScheduledOrderDocument, { id })).data!.order!;
      expect(order.status).toBe(i < 12 ? 'PENDING' : 'SENT');
    }
    expect(await Promise.all(apps.map((app) => app.scheduler.sendDue()))).toEqual([0, 0]);
  });

  it('a cancel and the scheduler never both win: a canceled held send is never sent', async () => {
    const before = guustoPosts();
    const sendAt = fromNow(HOUR);
    const ids: string[] = [];
    for (let i = 0; i < 6; i++) ids.push((await gqlAt(urls[0]!, SendGiftsDocument, { input: guusto(`replicas-race-${i}`, sendAt) })).data!.sendGifts.order!.id);
    h.clock.advance(HOUR);
    const [cancels] = await Promise.all([Promise.all(ids.map((id) => gqlAt(urls[1]!, CancelOrderDocument, { id }))), apps[0]!.scheduler.sendDue()]);
    const canceled = cancels.filter((c) => c.data?.cancelOrder.order?.status === 'CANCELED').length;
    // Every one either canceled (and never sent) or sent (and cancelOrder said Guusto cannot cancel it).
    expect(cancels.filter((c) => problemsOf(c)[0]?.code === 'UNSUPPORTED_BY_PROVIDER').length).toBe(ids.length - canceled);
    expect(guustoPosts()).toBe(before + ids.length - canceled);
  });
});
