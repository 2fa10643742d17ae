/**
 * Three giftgraph replicas, each a process of its own (`src/main.ts`, live mode), sharing one
 * PostgreSQL ledger, in front of the four provider sandboxes in a process of their own
 * (`npm run sandboxes`, webhooks to the three replicas in turn): everything over real HTTP and
 * WebSocket. What is sent is counted where it landed, at the sandboxes' own lists (Goody's order
 * batches, Giftronaut's orders) and lookups (Guusto), against what the ledger says.
 *
 * The scenarios share the cluster and run in order, each in a tenant of its own, so each sees only
 * its own orders and events: (a) one send per idempotency key under concurrency, (b) a subscriber
 * on one replica receiving what the others ingest, and resuming on another, (d) a rolling restart
 * under a client that sends and subscribes, and last (c) a SIGKILL, which leaves two replicas where
 * everything before it wants three. Some things no API shows (poll leases, heartbeats, sends in
 * flight) are read from the ledger's tables.
 */
import { setTimeout as pause } from 'node:timers/promises';
import type { Client } from 'graphql-ws';
import { afterAll, beforeAll, describe, expect, it, onTestFailed } from 'vitest';
import { decodeId } from '../src/core/global-id.js';
import { DEFAULT_PRESENCE } from '../src/orders/presence.js';
import { Cluster } from './support/cluster.js';
import { postgresReachable } from './support/postgres.js';

const reachable = await postgresReachable();

type Kind = 'GOODY' | 'GIFTRONAUT' | 'GUUSTO' | 'ANDOPEN';

interface Problem {
  code: string;
  field: string | null;
  message: string;
  retryable: boolean | null;
}
interface Payload {
  created: boolean;
  order: { id: string; status: string } | null;
  problems: Problem[];
}
interface LedgerOrder {
  id: string;
  provider: Kind;
  status: string;
  origin: string;
  idempotencyKey: string | null;
  goodyBatchId?: string | null;
  requestId?: string | null;
  giftronautOrderId?: string | null;
}
/** One status event, as a subscriber receives it or as a status history holds it. */
interface Seen {
  position: number;
  order: string;
  recipient: string | null;
  from: string | null;
  to: string;
  source: string;
}

const SEND = `mutation Send($input: SendGiftsInput!) {
  sendGifts(input: $input) { created order { id status } problems { code field message retryable } }
}`;
const PROVIDER_REFS = '... on GoodyOrderBatch { goodyBatchId } ... on GuustoOrder { requestId } ... on GiftronautOrder { giftronautOrderId }';
/** Read from the ledger alone: `orders` never asks a provider. */
const LEDGER = `query Ledger($after: String) {
  orders(first: 100, after: $after) { edges { node { id provider status origin idempotencyKey ${PROVIDER_REFS} } } pageInfo { hasNextPage endCursor } }
}`;
const HISTORIES = `query Histories($after: String) {
  orders(first: 50, after: $after) {
    edges { node { id provider status
      statusHistory { cursor from to source }
      recipients(first: 10) { edges { node { id statusHistory { cursor from to source } } } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;
const WATCH = `subscription Watch($after: String) {
  orderStatusChanged(after: $after) { cursor from to source order { id } recipient { id } }
}`;

/** Where each provider's gifts end in these sandboxes (a Guusto or Giftronaut send is done once its gifts are SENT). */
const LAST_STATUS: Record<Kind, string> = { GOODY: 'DELIVERED', ANDOPEN: 'DELIVERED', GUUSTO: 'SENT', GIFTRONAUT: 'SENT' };
const NOT_ACCEPTED = new Set(['UNCONFIRMED', 'FAILED']);
/**
 * One lifecycle step of a sandbox gift. A Guusto send is PROCESSING from 1 s to 2 s after it, when
 * its first poll (about 1 s after it) mostly comes: so polls hold the leases of open orders, which
 * the SIGKILL scenario needs. Goody's digital gifts are DELIVERED 3 s after their send.
 */
const STEP_MS = 1_000;

describe.skipIf(!reachable)('three replicas on one PostgreSQL ledger, as processes over HTTP and WebSocket', () => {
  let cluster: Cluster;
  const catalog = { goody: '', giftronaut: '', andOpen: '' };

  beforeAll(async () => {
    cluster = await Cluster.start({
      replicas: 3,
      stepMs: STEP_MS,
      // Giftronaut's sandbox allows 60 requests a minute to all replicas together, fewer than these sends.
      giftronautRateLimit: 100_000,
      // On a small machine busy with three replicas, a sandbox's answer may wait for a CPU: a
      // provider call that timed out would leave an outcome unknown where this file counts sends.
      env: { GIFTGRAPH_PROVIDER_TIMEOUT_MS: '30000' },
    });
    const items = async (provider: Kind) =>
      (await cluster.gql(0, 'query($p: Provider!) { catalog(provider: $p, first: 50) { edges { node { id kind name currency } } } }', { p: provider })).data.catalog.edges.map(
        (e: { node: { id: string; kind: string; name: string; currency: string | null } }) => e.node,
      ) as { id: string; kind: string; name: string; currency: string | null }[];
    const [goody, giftronaut, andOpen] = await Promise.all([items('GOODY'), items('GIFTRONAUT'), items('ANDOPEN')]);
    // A digital card sent as a link: the shortest of Goody's lifecycles, so the fewest webhooks.
    catalog.goody = goody.find((c) => c.kind === 'PRODUCT' && c.name.includes('Digital'))!.id;
    catalog.giftronaut = giftronaut.find((c) => c.kind === 'CHOICE_CARD' && c.currency === 'USD')!.id;
    catalog.andOpen = andOpen.find((c) => c.kind === 'CAMPAIGN')!.id;
  }, 90_000);

  afterAll(async () => {
    await cluster?.close();
  });

  /** Every process's output with a failure: what a replica logged is most of the story. */
  const withLogsOnFailure = () => onTestFailed(() => void process.stderr.write(`\n${cluster.logs()}\n`));

  /** A send of one gift per recipient; each recipient's address names the key, so a provider's list can be matched to it. */
  function gift(kind: Kind, key: string, recipients = 1): Record<string, unknown> {
    const people = Array.from({ length: recipients }, (_, n) => ({ email: `${key}.${n}@example.com`, firstName: 'Ada', lastName: 'Lovelace' }));
    switch (kind) {
      case 'GOODY':
        return {
          provider: kind,
          idempotencyKey: key,
          senderName: 'Acme',
          amount: { amount: '10', currency: 'USD' },
          recipients: people.map(({ email, firstName }) => ({ email, firstName })),
          goody: { productId: catalog.goody, sendMethod: 'LINK_MULTIPLE_CUSTOM_LIST' },
        };
      case 'GIFTRONAUT':
        return {
          provider: kind,
          idempotencyKey: key,
          senderName: 'Acme',
          amount: { amount: '5', currency: 'USD' },
          recipients: people.map(({ email }) => ({ email })),
          giftronaut: { productId: catalog.giftronaut },
        };
      case 'GUUSTO':
        return { provider: kind, idempotencyKey: key, message: 'Thank you!', amount: { amount: '5', currency: 'CAD' }, recipients: people.map(({ email }) => ({ email })) };
      case 'ANDOPEN':
        return { provider: kind, idempotencyKey: key, recipients: people, andOpen: { campaignId: catalog.andOpen } };
    }
  }

  /** One sendGifts at replica i: its payload, or `unavailable` when no replica answered there (connection refused or cut, 503 while it stops). */
  async function sendOnce(i: number, input: Record<string, unknown>, tenant: string): Promise<Payload | 'unavailable'> {
    let res;
    try {
      res = await cluster.gql(i, SEND, { input }, tenant);
    } catch {
      return 'unavailable';
    }
    if (res.status === 503) return 'unavailable';
    expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
    return res.data.sendGifts as Payload;
  }

  const stillSending = (p: Payload) => p.problems.some((x) => x.code === 'IDEMPOTENCY_CONFLICT' && x.retryable === true);

  /**
   * A client that retries as the README asks: a request no replica answered goes with the same key
   * to the next replica, and a key whose send is still under way (IDEMPOTENCY_CONFLICT, retryable)
   * is asked again shortly, until the send has its answer. The pauses pace the retries; nothing
   * waits on them.
   */
  async function sendUntilAnswered(first: number, input: Record<string, unknown>, tenant: string, tally = { unavailable: 0, stillSending: 0 }): Promise<Payload> {
    const deadline = Date.now() + 30_000;
    for (let i = first; Date.now() < deadline; ) {
      const answer = await sendOnce(i, input, tenant);
      if (answer === 'unavailable') {
        tally.unavailable += 1;
        i = (i + 1) % cluster.ports.length;
        await pause(50);
      } else if (stillSending(answer)) {
        tally.stillSending += 1;
        await pause(100);
      } else {
        return answer;
      }
    }
    throw new Error(`${String(input.idempotencyKey)} had no answer in 30 s`);
  }

  /** Every order of a tenant, as the ledger holds it (read through replica i). */
  async function ledger(i: number, tenant: string): Promise<LedgerOrder[]> {
    const orders: LedgerOrder[] = [];
    for (let after: string | undefined; ; ) {
      const res = await cluster.gql(i, LEDGER, { after }, tenant);
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      orders.push(...res.data.orders.edges.map((e: { node: LedgerOrder }) => e.node));
      if (!res.data.orders.pageInfo.hasNextPage) return orders;
      after = res.data.orders.pageInfo.endCursor;
    }
  }

  type HistoryEntry = { cursor: string; from: string | null; to: string; source: string };
  /** Every status event of a tenant's orders and of their recipients, from their status histories, in log order; and whether every order has reached its last status. */
  async function histories(i: number, tenant: string): Promise<{ events: Seen[]; settled: boolean }> {
    const events: Seen[] = [];
    let settled = true;
    for (let after: string | undefined; ; ) {
      const res = await cluster.gql(i, HISTORIES, { after }, tenant);
      expect(res.errors, JSON.stringify(res.errors)).toBeUndefined();
      for (const { node } of res.data.orders.edges as {
        node: { id: string; provider: Kind; status: string; statusHistory: HistoryEntry[]; recipients: { edges: { node: { id: string; statusHistory: HistoryEntry[] } }[] } };
      }[]) {
        if (node.status !== LAST_STATUS[node.provider]) settled = false;
        for (const h of node.statusHistory)
          events.push({ position: cluster.position(h.cursor, tenant), order: node.id, recipient: null, from: h.from, to: h.to, source: h.source });
        for (const { node: r } of node.recipients.edges) {
          for (const h of r.statusHistory) events.push({ position: cluster.position(h.cursor, tenant), order: node.id, recipient: r.id, from: h.from, to: h.to, source: h.source });
        }
      }
      if (!res.data.orders.pageInfo.hasNextPage) break;
      after = res.data.orders.pageInfo.endCursor;
    }
    return { events: events.sort((a, b) => a.position - b.position), settled };
  }

  /**
   * A subscriber of a tenant's `orderStatusChanged`, from a cursor on. With `resume`, a
   * subscription that ends (its replica stops or is gone) is made again at the next replica,
   * after the cursor of the last event received, as the README tells clients to.
   */
  class Watcher {
    readonly events: Seen[] = [];
    /** GraphQL errors of the subscription itself: none expected. */
    readonly errors: unknown[] = [];
    /** The replicas it subscribed at, in turn. */
    readonly replicas: number[] = [];
    private lastCursor: string;
    private closed = false;
    private current: { stop: () => void; client: Client } | undefined;

    constructor(
      private readonly tenant: string,
      after: string,
      private readonly resume: boolean,
    ) {
      this.lastCursor = after;
    }

    get last(): string {
      return this.lastCursor;
    }

    async subscribe(i: number): Promise<this> {
      if (this.closed) return this;
      this.replicas.push(i);
      const client = await cluster.wsClient(i, this.tenant);
      let ended = false;
      const end = (reason: unknown) => {
        if (ended) return;
        ended = true;
        void client.dispose();
        if (this.closed) return;
        if (!this.resume) {
          this.errors.push(reason ?? 'the subscription ended');
          return;
        }
        // Paces attempts at a replica that is down; the next one is asked first.
        void pause(100).then(() => this.subscribe((i + 1) % cluster.ports.length));
      };
      const stop = client.subscribe<{ orderStatusChanged: HistoryEntry & { order: { id: string }; recipient: { id: string } | null } }>(
        { query: WATCH, variables: { after: this.lastCursor } },
        {
          next: (value) => {
            if (value.errors) this.errors.push(...value.errors);
            const e = value.data?.orderStatusChanged;
            if (!e) return;
            this.lastCursor = e.cursor;
            this.events.push({
              position: cluster.position(e.cursor, this.tenant),
              order: e.order.id,
              recipient: e.recipient?.id ?? null,
              from: e.from,
              to: e.to,
              source: e.source,
            });
          },
          error: end,
          complete: () => end(undefined),
        },
      );
      this.current = { stop, client };
      return this;
    }

    async close(): Promise<void> {
      this.closed = true;
      this.current?.stop();
      await this.current?.client.dispose();
    }
  }

  /** A first order of a tenant, sent at replica 1: the cursor of its creation is where that tenant's subscribers start. */
  async function startingPoint(tenant: string): Promise<{ cursor: string; position: number }> {
    const res = await cluster.gql(
      0,
      `mutation($input: SendGiftsInput!) { sendGifts(input: $input) { order { statusHistory { cursor } } problems { code } } }`,
      {
        input: gift('GOODY', `${tenant}-first`),
      },
      tenant,
    );
    expect(res.data.sendGifts.problems).toEqual([]);
    const cursor = res.data.sendGifts.order.statusHistory[0].cursor as string;
    return { cursor, position: cluster.position(cursor, tenant) };
  }

  const ascending = (events: readonly Seen[]) => events.every((e, n) => n === 0 || e.position > events[n - 1]!.position);

  /** Goody's batches by our reference (the order's own id): at most one each, as Goody refuses a reference it has seen. */
  async function goodyByReference(): Promise<Map<string, string[]>> {
    const byReference = new Map<string, string[]>();
    for (const batch of await cluster.goodyBatches()) {
      const reference = batch.customer_reference_id ?? '(none)';
      byReference.set(reference, [...(byReference.get(reference) ?? []), batch.id]);
    }
    return byReference;
  }
  const local = (id: string) => decodeId(id, 'Order')!.local;

  /**
   * Nothing is at Goody that the ledger does not hold exactly once: every batch carries the id of
   * one order of giftgraph's, of one of these tenants, and the account's owner (default) holds no
   * order of giftgraph's batches as one placed in Goody's app besides.
   */
  async function everyGoodyBatchInLedgerOnce(tenants: string[], via = 0): Promise<void> {
    const ledgers = await Promise.all([...tenants, 'default'].map((t) => ledger(via, t)));
    const ids = ledgers
      .flat()
      .filter((o) => o.provider === 'GOODY' && o.origin === 'GIFTGRAPH')
      .map((o) => local(o.id));
    expect(new Set(ids).size).toBe(ids.length);
    const known = new Set(ids);
    const byReference = await goodyByReference();
    expect([...byReference.keys()].filter((r) => !known.has(r))).toEqual([]);
    expect([...byReference.values()].filter((batches) => batches.length !== 1)).toEqual([]);
    expect(ledgers.at(-1)!.filter((o) => o.provider === 'GOODY' && o.origin === 'PROVIDER')).toEqual([]);
  }

  it('a. 100 sends at once over the three replicas, 20 keys at two replicas at once: one provider order per key, and every answer of a key names it', async () => {
    withLogsOnFailure();
    const tenant = 'replicas-a';
    // 70 to Goody and 30 to Giftronaut: both list what they hold, so both can be counted. Each
    // fifth key goes to two replicas at the same moment (10 of Goody's, 10 of Giftronaut's).
    const keys = Array.from({ length: 100 }, (_, n) => ({ key: `a-${n}`, kind: (n % 10 < 7 ? 'GOODY' : 'GIFTRONAUT') as Kind, twice: n % 5 === 2 }));
    expect(keys.filter((k) => k.twice)).toHaveLength(20);
    const requests = keys.flatMap(({ key, kind, twice }, n) => {
      const input = gift(kind, key);
      return twice ? [0, 1].map((d) => ({ key, input, replica: (n + d) % 3 })) : [{ key, input, replica: n % 3 }];
    });
    const answers = await Promise.all(requests.map(async (r) => ({ ...r, payload: await sendOnce(r.replica, r.input, tenant) })));

    const byKey = new Map<string, Payload[]>();
    for (const a of answers) {
      expect(a.payload, `${a.key} at replica ${a.replica + 1}`).not.toBe('unavailable');
      byKey.set(a.key, [...(byKey.get(a.key) ?? []), a.payload as Payload]);
    }
    const raced: { key: string; replica: number; input: Record<string, unknown>; id: string }[] = [];
    for (const { key, twice } of keys) {
      const payloads = byKey.get(key)!;
      expect(payloads).toHaveLength(twice ? 2 : 1);
      // One send made it; every answer names its order: the same order, never a second one.
      expect(
        payloads.filter((p) => p.created),
        key,
      ).toHaveLength(1);
      expect(new Set(payloads.map((p) => p.order?.id)).size, key).toBe(1);
      for (const p of payloads) {
        expect(p.order, key).not.toBeNull();
        if (p.problems.length === 0) {
          expect(NOT_ACCEPTED.has(p.order!.status), `${key}: ${p.order!.status}`).toBe(false);
        } else {
          // The one that raced got the order as it was then, still being sent by the other replica
          // (UNCONFIRMED until its outcome is recorded), and is told to ask again.
          expect(p.created, key).toBe(false);
          expect(p.problems, key).toEqual([expect.objectContaining({ code: 'IDEMPOTENCY_CONFLICT', field: 'input.idempotencyKey', retryable: true })]);
        }
      }
      const conflicted = answers.find((a) => a.key === key && (a.payload as Payload).problems.length > 0);
      if (conflicted) raced.push({ key, replica: conflicted.replica, input: conflicted.input, id: (conflicted.payload as Payload).order!.id });
    }
    // Asked again with the same key where it raced, it answers the same order, sent once.
    const retried = await Promise.all(raced.map((r) => sendUntilAnswered(r.replica, r.input, tenant)));
    for (const [n, p] of retried.entries()) expect(p, raced[n]!.key).toMatchObject({ created: false, problems: [], order: { id: raced[n]!.id } });

    // The ledger holds each key once, as the order its answers named, accepted.
    const orders = await ledger(1, tenant);
    expect(orders).toHaveLength(100);
    expect(new Set(orders.map((o) => o.idempotencyKey))).toEqual(new Set(keys.map((k) => k.key)));
    for (const o of orders) {
      expect(o.id).toBe(byKey.get(o.idempotencyKey!)![0]!.order!.id);
      expect(NOT_ACCEPTED.has(o.status), `${o.idempotencyKey}: ${o.status}`).toBe(false);
    }

    // Goody holds one batch per Goody key: the one the ledger names, carrying the order's id.
    const byReference = await goodyByReference();
    const goodyOrders = orders.filter((o) => o.provider === 'GOODY');
    expect(goodyOrders).toHaveLength(70);
    for (const o of goodyOrders) expect(byReference.get(local(o.id)), o.idempotencyKey!).toEqual([o.goodyBatchId]);
    // Giftronaut holds one order per Giftronaut key (its recipient's address names the key): the one the ledger names.
    const giftronaut = (await cluster.giftronautOrders()).filter((g) => g.recipients.some((r) => r.email.startsWith('a-')));
    const giftronautOrders = orders.filter((o) => o.provider === 'GIFTRONAUT');
    expect(giftronautOrders).toHaveLength(30);
    expect(giftronaut).toHaveLength(30);
    for (const o of giftronautOrders) {
      expect(
        giftronaut.filter((g) => g.recipients.some((r) => r.email === `${o.idempotencyKey}.0@example.com`)).map((g) => g.orderId),
        o.idempotencyKey!,
      ).toEqual([o.giftronautOrderId]);
    }
    await everyGoodyBatchInLedgerOnce([tenant]);
  }, 45_000);

  it('b. a subscriber at replica 1 receives every event of sends made at replicas 2 and 3, in log order, once; resumed at replica 3 with its last cursor it goes on exactly there', async () => {
    withLogsOnFailure();
    const tenant = 'replicas-b';
    const start = await startingPoint(tenant);
    // From the cursor on: every event after it, whenever the subscription is running by.
    const atOne = await new Watcher(tenant, start.cursor, false).subscribe(0);

    // Every provider: Goody, Giftronaut and &Open move by webhooks (to any replica, in turn),
    // Guusto by polls (leased to one replica); each with two recipients, whose gifts have events too.
    const kinds: Kind[] = ['GOODY', 'GUUSTO', 'GIFTRONAUT', 'ANDOPEN'];
    const sendAll = (round: number) =>
      Promise.all(
        kinds.flatMap((kind, k) =>
          [0, 1].map(async (n) => {
            const payload = await sendOnce(1 + ((k + n) % 2), gift(kind, `b-${round}-${kind.toLowerCase()}-${n}`, 2), tenant);
            expect(payload).toMatchObject({ created: true, problems: [] });
            return (payload as Payload).order!.id;
          }),
        ),
      );
    const firstRound = await sendAll(1);
    // Stopped once it has had the creation of each of them; their later steps are still to come.
    await expect.poll(() => firstRound.every((id) => atOne.events.some((e) => e.order === id && e.from === null)), { timeout: 15_000 }).toBe(true);
    await atOne.close();
    const stoppedAt = atOne.last;
    const secondRound = await sendAll(2);
    const atThree = await new Watcher(tenant, stoppedAt, false).subscribe(2);

    // Once every order has reached its last status, the two subscriptions together have every event
    // of the status histories after the starting point: none missing, none twice, in log order.
    await expect
      .poll(
        async () => {
          const { events, settled } = await histories(1, tenant);
          return settled && atOne.events.length + atThree.events.length >= events.filter((e) => e.position > start.position).length;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(true);
    const expected = (await histories(1, tenant)).events.filter((e) => e.position > start.position);
    expect(atOne.errors).toEqual([]);
    expect(atThree.errors).toEqual([]);
    expect(ascending(atOne.events)).toBe(true);
    expect(ascending(atThree.events)).toBe(true);
    expect(atThree.events[0]!.position).toBeGreaterThan(cluster.position(stoppedAt, tenant));
    expect([...atOne.events, ...atThree.events]).toEqual(expected);
    // The events of orders sent at replicas 2 and 3, each order's from its creation (made there) to its last status, reached the subscriber at replica 1.
    const sentThere = new Set([...firstRound, ...secondRound]);
    expect(new Set(atOne.events.filter((e) => e.from === null && e.recipient === null).map((e) => e.order))).toEqual(new Set(firstRound));
    expect(atOne.events.filter((e) => sentThere.has(e.order)).length).toBeGreaterThan(firstRound.length);
    // Of both rounds, with every source: the mutation's own answer, webhooks and polls.
    expect(new Set(expected.map((e) => e.source))).toEqual(new Set(['MUTATION', 'WEBHOOK', 'POLL']));
    await atThree.close();
  }, 40_000);

  it('d. a rolling restart of all three under a client that keeps sending and subscribing: no order lost or doubled, no event missed or repeated', async () => {
    withLogsOnFailure();
    const tenant = 'replicas-d';
    const start = await startingPoint(tenant);
    const watcher = await new Watcher(tenant, start.cursor, true).subscribe(0);

    // The client: one send after another, each to the next replica, Goody and now and then Guusto;
    // a request that found no replica goes with the same key to the next one.
    const tally = { unavailable: 0, stillSending: 0 };
    const answers = new Map<string, Payload>();
    let sending = true;
    const client = (async () => {
      for (let n = 0; sending; n++) {
        const key = `d-${n}`;
        const payload = await sendUntilAnswered(n % 3, gift(n % 8 === 7 ? 'GUUSTO' : 'GOODY', key), tenant, tally);
        answers.set(key, payload);
        // A client's own pace, between one send and the next.
        await pause(200);
      }
    })();

    // Each replica in turn: SIGTERM, its exit, then again on the same port until it serves.
    try {
      for (let i = 0; i < 3; i++) {
        expect(await cluster.stopReplica(i)).toBe(0);
        await cluster.startReplica(i);
      }
    } finally {
      sending = false;
      await client;
    }

    // Every send was answered, some only at another replica than the one first asked.
    expect(tally.unavailable).toBeGreaterThan(0);
    const orders = await ledger(2, tenant);
    const sent = orders.filter((o) => o.idempotencyKey !== `${tenant}-first`);
    expect(sent).toHaveLength(answers.size);
    expect(new Set(sent.map((o) => o.idempotencyKey))).toEqual(new Set(answers.keys()));
    for (const o of sent) {
      const payload = answers.get(o.idempotencyKey!)!;
      expect(payload.order?.id, o.idempotencyKey!).toBe(o.id);
      expect(payload.problems, o.idempotencyKey!).toEqual([]);
      // Stopped gracefully, no replica left a send in flight: every one was accepted.
      expect(NOT_ACCEPTED.has(o.status), `${o.idempotencyKey}: ${o.status}`).toBe(false);
    }
    // Goody holds each Goody order once; Guusto holds each Guusto order.
    const byReference = await goodyByReference();
    for (const o of orders.filter((x) => x.provider === 'GOODY')) expect(byReference.get(local(o.id)), o.idempotencyKey!).toEqual([o.goodyBatchId]);
    for (const o of orders.filter((x) => x.provider === 'GUUSTO')) expect(await cluster.guustoHas(o.requestId!), o.idempotencyKey!).toBe(true);
    await everyGoodyBatchInLedgerOnce(['replicas-a', 'replicas-b', tenant]);

    // The subscriber moved on with each restart, and its events are the status histories after its starting point, exactly.
    await expect
      .poll(
        async () => {
          const { events, settled } = await histories(2, tenant);
          return settled && watcher.events.length >= events.filter((e) => e.position > start.position).length;
        },
        { timeout: 30_000, interval: 250 },
      )
      .toBe(true);
    const expected = (await histories(2, tenant)).events.filter((e) => e.position > start.position);
    expect(watcher.errors).toEqual([]);
    // Replica 1, then 2 when 1 stopped, then 3 when 2 stopped, then 1 again when 3 stopped (more where one was down when asked).
    expect(watcher.replicas.length).toBeGreaterThanOrEqual(4);
    expect(ascending(watcher.events)).toBe(true);
    expect(watcher.events).toEqual(expected);
    await watcher.close();
  }, 90_000);

  it('c. SIGKILL of a replica in a burst of sends and polls: the others go on serving and take its leases over once it is gone; what it had in flight is accounted for at Goody', async () => {
    withLogsOnFailure();
    const tenant = 'replicas-c';
    // Each replica's id in the ledger, known from when it started alone (the rolling restart left
    // them so); where two started together, one is restarted alone first.
    const ids: string[] = [];
    for (let i = 0; i < 3; i++) {
      if (!(await cluster.replicaId(i))) {
        expect(await cluster.stopReplica(i)).toBe(0);
        await cluster.startReplica(i);
      }
    }
    for (let i = 0; i < 3; i++) ids.push((await cluster.replicaId(i))!);
    expect(new Set(ids).size).toBe(3);
    // Open Guusto orders and the replica holding each one's lease: it polled it while PROCESSING, and polls it again until it settles.
    const openLeases = async () =>
      cluster.sql<{ id: string; poll_owner: string }>(
        `SELECT id, poll_owner FROM orders WHERE tenant = $1 AND provider = 'GUUSTO' AND submission = 'ACCEPTED' AND status IN ('PENDING', 'PROCESSING') AND poll_owner IS NOT NULL`,
        [tenant],
      );

    // The burst: one client sends Guusto gifts (about two a second: the cluster shares Guusto's
    // poll budget of 10 a second, and each replica's try at an order takes from it), three send
    // Goody gifts, each to the replicas in turn. A send no replica answered is kept aside (asked
    // again below, once what the killed replica left is accounted for).
    const answered = new Map<string, { payload: Payload; replica: number; at: number }>();
    const lost = new Map<string, { input: Record<string, unknown>; replica: number }>();
    let killedAt = Number.POSITIVE_INFINITY;
    let bursting = true;
    const clients = [0, 1, 2, 3].map(async (c) => {
      for (let n = 0; bursting; n++) {
        const key = `c-${c}-${n}`;
        const input = gift(c === 0 ? 'GUUSTO' : 'GOODY', key);
        const replica = (c + n) % 3;
        const payload = await sendOnce(replica, input, tenant);
        if (payload === 'unavailable') lost.set(key, { input, replica });
        else answered.set(key, { payload, replica, at: Date.now() });
        // Each client's own pace.
        await pause(c === 0 ? 400 : 100);
      }
    });

    // The victim: the first replica seen holding the lease of an open order. To look, it is paused
    // (SIGSTOP): what it holds then is what it dies holding, as nothing it sent after can commit.
    // Holding none then (it settled them in between), it goes on (SIGCONT), and the look goes on.
    let victim = -1;
    let held: string[] = [];
    try {
      const deadline = Date.now() + 20_000;
      while (victim < 0) {
        const owner = (await openLeases()).find((r) => ids.includes(r.poll_owner))?.poll_owner;
        if (owner) {
          const candidate = ids.indexOf(owner);
          cluster.pauseReplica(candidate);
          if ((await openLeases()).some((r) => r.poll_owner === owner)) victim = candidate;
          else cluster.resumeReplica(candidate);
        }
        if (victim < 0 && Date.now() > deadline) throw new Error('no replica held the lease of an open Guusto order in 20 s');
        if (victim < 0) await pause(25);
      }
      await cluster.killReplica(victim);
      killedAt = Date.now();
      // What it held at its death: only it could move these on, until its heartbeat is old enough.
      held = (await openLeases()).filter((r) => r.poll_owner === ids[victim]).map((r) => r.id);
      // The burst goes on at the other two, which answer everything sent to them.
      await expect.poll(() => [...answered.values()].filter((a) => a.at > killedAt).length, { timeout: 15_000 }).toBeGreaterThanOrEqual(20);
    } finally {
      bursting = false;
      await Promise.all(clients);
    }
    const victimId = ids[victim]!;
    const survivors = [0, 1, 2].filter((i) => i !== victim);
    expect(held.length).toBeGreaterThan(0);
    // Only sends to the killed replica went unanswered; the others answered every send, after the kill too.
    for (const [key, { replica }] of lost) expect(replica, `${key} had no answer at replica ${replica + 1}`).toBe(victim);
    for (const [key, a] of [...answered.entries()].filter(([, a]) => a.at > killedAt)) {
      expect(survivors, key).toContain(a.replica);
      expect(a.payload.problems, key).toEqual([]);
    }

    // Its leases are taken over by a survivor once its heartbeat is DEFAULT_PRESENCE.staleMs old,
    // and its orders polled on to their last status, read through the others.
    await expect
      .poll(
        async () => {
          const rows = await cluster.sql<{ poll_owner: string | null; status: string }>('SELECT poll_owner, status FROM orders WHERE id = ANY($1)', [held]);
          return rows.every((r) => r.status === 'SENT' && r.poll_owner !== victimId);
        },
        { timeout: DEFAULT_PRESENCE.staleMs + 25_000, interval: 100 },
      )
      .toBe(true);
    const lastBeat = Date.parse((await cluster.sql<{ heartbeat_at: string }>('SELECT heartbeat_at FROM replicas WHERE id = $1', [victimId]))[0]!.heartbeat_at);
    expect(lastBeat).toBeLessThanOrEqual(killedAt);
    const heldOrders = (await ledger(survivors[1]!, tenant)).filter((o) => held.includes(local(o.id)));
    expect(heldOrders).toHaveLength(held.length);
    for (const o of heldOrders) {
      const res = await cluster.gql(survivors[0]!, 'query($id: ID!) { order(id: $id) { status statusHistory { to source occurredAt } } }', { id: o.id }, tenant);
      const moved = (res.data.order.statusHistory as { to: string; source: string; occurredAt: string }[]).find((h) => h.to === 'SENT')!;
      expect(moved.source).toBe('POLL');
      // Not before its lease lapsed, and within a few of the poller's growing delays after.
      expect(Date.parse(moved.occurredAt)).toBeGreaterThanOrEqual(lastBeat + DEFAULT_PRESENCE.staleMs);
      expect(Date.parse(moved.occurredAt)).toBeLessThan(lastBeat + DEFAULT_PRESENCE.staleMs + 20_000);
    }

    // Its sends in flight: once it is gone, a survivor's heartbeat made them UNCONFIRMED; none is left being sent.
    await expect.poll(async () => (await cluster.sql("SELECT id FROM orders WHERE tenant = $1 AND submission = 'SENDING'", [tenant])).length, { timeout: 10_000 }).toBe(0);

    // The ledger against Goody, exactly. An accepted order is at Goody once, as the batch the ledger
    // names. An UNCONFIRMED one was in flight at the killed replica: its batch is at Goody when the
    // replica's call reached Goody before it died (the answer was lost), and is not when it died
    // before; either way at most once, carrying the order's id. A send it died on before writing
    // anything left no order and no batch. Nothing else is at Goody: Goody's count is the accepted
    // orders plus the UNCONFIRMED ones found there.
    const before = await ledger(survivors[0]!, tenant);
    const byReference = await goodyByReference();
    const goody = before.filter((o) => o.provider === 'GOODY');
    const accepted = goody.filter((o) => !NOT_ACCEPTED.has(o.status));
    const unconfirmed = goody.filter((o) => o.status === 'UNCONFIRMED');
    expect(goody.filter((o) => o.status === 'FAILED')).toEqual([]);
    for (const o of accepted) expect(byReference.get(local(o.id)), o.idempotencyKey!).toEqual([o.goodyBatchId]);
    const unconfirmedAtGoody = unconfirmed.filter((o) => byReference.has(local(o.id)));
    for (const o of unconfirmedAtGoody) expect(byReference.get(local(o.id))).toHaveLength(1);
    const ours = new Set(goody.map((o) => local(o.id)));
    expect([...byReference.keys()].filter((r) => ours.has(r))).toHaveLength(accepted.length + unconfirmedAtGoody.length);
    // Only sends the killed replica had were left without an outcome, and only the answers to those were lost.
    for (const o of before.filter((x) => x.status === 'UNCONFIRMED')) expect(lost.has(o.idempotencyKey!), o.idempotencyKey!).toBe(true);
    for (const o of before) expect(lost.has(o.idempotencyKey!) || answered.get(o.idempotencyKey!)?.payload.order?.id === o.id, o.idempotencyKey!).toBe(true);

    // The reconciler looks UNCONFIRMED Goody orders up by reference every minute, once they are a
    // minute old: later than this test lasts, so here they stay UNCONFIRMED until their client asks
    // again. Asked again with the same key at a survivor: Goody deduplicates on the reference, so
    // an UNCONFIRMED Goody order is sent again and found where it already was (no second batch), or
    // sent now where it was not; a key without an order is sent now. Guusto does not deduplicate:
    // its UNCONFIRMED order stays so, and the answer says a retry is not safe.
    const retried = await Promise.all([...lost].map(async ([key, { input }]) => ({ key, input, payload: await sendUntilAnswered(survivors[0]!, input, tenant) })));
    for (const { key, input, payload } of retried) {
      const had = before.find((o) => o.idempotencyKey === key);
      if (had) expect(payload.order?.id, key).toBe(had.id);
      if (input.provider === 'GOODY') expect(payload.order?.status, key).not.toBe('UNCONFIRMED');
      else if (had?.status === 'UNCONFIRMED') expect(payload.problems, key).toEqual([expect.objectContaining({ code: 'OUTCOME_UNKNOWN', retryable: false })]);
    }
    const after = await ledger(survivors[1]!, tenant);
    const goodyAfter = after.filter((o) => o.provider === 'GOODY');
    expect(goodyAfter.filter((o) => NOT_ACCEPTED.has(o.status))).toEqual([]);
    const byReferenceAfter = await goodyByReference();
    for (const o of goodyAfter) expect(byReferenceAfter.get(local(o.id)), o.idempotencyKey!).toEqual([o.goodyBatchId]);
    // The UNCONFIRMED ones already at Goody were found there, not sent twice: their batch is the one that was there.
    for (const o of unconfirmedAtGoody) expect(goodyAfter.find((x) => x.id === o.id)!.goodyBatchId).toBe(byReference.get(local(o.id))![0]);
    // Every accepted Guusto order is at Guusto.
    for (const o of after.filter((x) => x.provider === 'GUUSTO' && !NOT_ACCEPTED.has(x.status))) expect(await cluster.guustoHas(o.requestId!), o.idempotencyKey!).toBe(true);
    await everyGoodyBatchInLedgerOnce(['replicas-a', 'replicas-b', 'replicas-d', tenant], survivors[0]);
  }, 60_000);
});
