/**
 * Replicas on PostgreSQL, as they run in production: three giftgraph processes (`src/main.ts`, live
 * mode) on one ledger, in front of the four provider sandboxes in a process of their own
 * (`npm run sandboxes`), all over real HTTP and WebSocket (test/support/cluster.ts starts them, as
 * test/replicas.test.ts does). Prints, in one run:
 *
 * - Webhook to subscriber, across replicas beside within one. A Goody webhook (Svix-signed with
 *   the sandboxes' secret, as Goody signs them) is posted to one replica, naming an order that has
 *   moved on at the Goody sandbox; that replica records the delivery, answers 200, reads the order
 *   from Goody and appends its event; a subscriber on each of the three replicas receives it. The
 *   time runs from the webhook's answer to each subscriber's receipt, all measured in this
 *   process: the subscriber on the replica that took the webhook gives the "same replica" figure,
 *   the two on the others the "another replica" one (their replica learns of the event by
 *   PostgreSQL's NOTIFY). Webhooks go to each replica in turn, one at a time. The sandboxes post no
 *   webhooks of their own here, so each event comes from the webhook posted for it.
 * - Sends per second: a fixed number of clients, each sending one Goody gift after another for a
 *   fixed time, to the replicas in turn, with three replicas and then (two stopped with SIGTERM)
 *   with one, and the ratio. Each replica's provider limits are raised (GIFTGRAPH_PROVIDER_RATE_PER_SECOND
 *   and _CONCURRENCY) so that they, not giftgraph, would otherwise be what is measured.
 *
 * Asserts nothing. Needs the PostgreSQL of the tests (GIFTGRAPH_TEST_DATABASE_URL, else
 * postgres://postgres@127.0.0.1:5432/test); each run has a schema of its own, dropped at the end.
 *
 *   npm run bench:replicas [-- --orders 40 --step-ms 6000 --clients 12 --seconds 8]
 */
import { createHmac, randomBytes } from 'node:crypto';
import os from 'node:os';
import { parseArgs } from 'node:util';
import type { Client } from 'graphql-ws';
import { DEFAULT_INBOX } from '../src/status/inbox.js';
import { Cluster } from '../test/support/cluster.js';
import { postgresReachable, TEST_DATABASE_URL } from '../test/support/postgres.js';
import { graphqlClient, percentile } from './support.js';

const { values } = parseArgs({
  options: {
    orders: { type: 'string', default: '40' },
    'step-ms': { type: 'string', default: '6000' },
    clients: { type: 'string', default: '12' },
    seconds: { type: 'string', default: '8' },
  },
});
/** Orders followed through their three lifecycle steps after the send: a webhook for each step of each. */
const ORDERS = Number(values.orders);
/** How long each Goody step takes at the sandbox: every order's webhook of one step is posted within it. */
const STEP_MS = Number(values['step-ms']);
const CLIENTS = Number(values.clients);
const SECONDS = Number(values.seconds);
const REPLICAS = 3;

/** A Goody send: a digital card sent as a link (created, opened, accepted, delivered). */
const goodyGift = (productId: string, key: string) => ({
  provider: 'GOODY',
  idempotencyKey: key,
  senderName: 'Acme',
  amount: { amount: '10', currency: 'USD' },
  recipients: [{ email: `${key}@example.com`, firstName: 'Ada' }],
  goody: { productId, sendMethod: 'LINK_MULTIPLE_CUSTOM_LIST' },
});
const SEND = 'mutation Send($input: SendGiftsInput!) { sendGifts(input: $input) { created order { id ... on GoodyOrderBatch { goodyBatchId } } problems { code message } } }';

/** A webhook as Goody's Svix signs it: `{id}.{timestamp}.{body}` under the base64 key of the `whsec_` secret. */
function svixSigned(secret: string, eventType: string, data: unknown): { body: string; headers: Record<string, string> } {
  const id = `msg_${randomBytes(12).toString('hex')}`;
  const body = JSON.stringify({ event_type: eventType, id, data });
  const timestamp = String(Math.floor(Date.now() / 1000));
  const signature = createHmac('sha256', Buffer.from(secret.slice('whsec_'.length), 'base64'))
    .update(`${id}.${timestamp}.${body}`)
    .digest('base64');
  return { body, headers: { 'content-type': 'application/json', 'svix-id': id, 'svix-timestamp': timestamp, 'svix-signature': `v1,${signature}` } };
}

/** Goody's steps after the send, and the webhook event of each. */
const STEPS = [
  { goody: 'opened', event: 'order.gift_opened' },
  { goody: 'accepted', event: 'order.gift_accepted' },
  { goody: 'delivered', event: 'order.delivered' },
];

const stepOf = (goodyStatus: string) => STEPS.findIndex((s) => s.goody === goodyStatus);

/** A tenant-wide subscriber on one replica: when each order-level event arrived here, by order, in order. */
class Listener {
  private readonly arrivals = new Map<string, number[]>();
  private readonly waiting = new Map<string, () => void>();
  private constructor(private readonly client: Client) {}

  static async open(cluster: Cluster, replica: number, tenant: string): Promise<Listener> {
    const client = await cluster.wsClient(replica, tenant);
    const listener = new Listener(client);
    client.subscribe<{ orderStatusChanged: { order: { id: string }; recipient: { id: string } | null } }>(
      { query: 'subscription { orderStatusChanged { order { id } recipient { id } } }' },
      {
        next: ({ data }) => {
          const e = data?.orderStatusChanged;
          if (!e || e.recipient) return;
          const at = performance.now();
          listener.arrivals.set(e.order.id, [...(listener.arrivals.get(e.order.id) ?? []), at]);
          listener.waiting.get(e.order.id)?.();
        },
        error: (error) => console.error(`a subscriber at replica ${replica + 1} failed:`, error),
        complete: () => undefined,
      },
    );
    return listener;
  }

  /** How many events of `order` arrived here so far. */
  count(order: string): number {
    return this.arrivals.get(order)?.length ?? 0;
  }

  /** When the event of `order` after the first `seen` arrived: at once if it has, else once it does (undefined after `timeoutMs`). */
  arrival(order: string, seen: number, timeoutMs = 10_000): Promise<number | undefined> {
    const at = () => this.arrivals.get(order)?.[seen];
    if (at() !== undefined) return Promise.resolve(at());
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        this.waiting.delete(order);
        resolve(undefined);
      }, timeoutMs);
      this.waiting.set(order, () => {
        if (at() === undefined) return;
        clearTimeout(timer);
        this.waiting.delete(order);
        resolve(at());
      });
    });
  }

  close(): Promise<void> {
    return this.client.dispose() as Promise<void>;
  }
}

/** The status Goody's sandbox reports for the one gift of a batch. */
async function goodyStatus(cluster: Cluster, batchId: string): Promise<string> {
  const res = await fetch(`${cluster.sandboxEnv.GOODY_BASE_URL}/v1/order_batches/${batchId}/orders`, { headers: { authorization: `Bearer ${cluster.sandboxEnv.GOODY_API_KEY}` } });
  const body = (await res.json()) as { data: { status: string }[] };
  return body.data[0]?.status ?? 'none';
}

async function latencies(cluster: Cluster, productId: string): Promise<{ same: number[]; other: number[]; missed: number }> {
  const tenant = 'bench-latency';
  const listeners = await Promise.all([0, 1, 2].map((i) => Listener.open(cluster, i, tenant)));
  // Running once an order's creation reaches all three: a send until one does.
  for (let n = 0; ; n++) {
    const sent = await cluster.gql(n % REPLICAS, SEND, { input: goodyGift(productId, `warm-${n}`) }, tenant);
    const id = sent.data.sendGifts.order.id as string;
    const seen = await Promise.all(listeners.map((l) => l.arrival(id, 0, 2_000)));
    if (seen.every((at) => at !== undefined)) break;
  }
  const orders: { id: string; batch: string }[] = await Promise.all(
    Array.from({ length: ORDERS }, async (_, n) => {
      const sent = await cluster.gql(n % REPLICAS, SEND, { input: goodyGift(productId, `latency-${n}`) }, tenant);
      return { id: sent.data.sendGifts.order.id as string, batch: sent.data.sendGifts.order.goodyBatchId as string };
    }),
  );
  const same: number[] = [];
  const other: number[] = [];
  let missed = 0;
  let sample = 0;
  for (const step of STEPS) {
    for (const order of orders) {
      // Its webhook once it has moved on at Goody (then the read finds a change to record).
      while (stepOf(await goodyStatus(cluster, order.batch)) < STEPS.indexOf(step)) await new Promise((r) => setTimeout(r, 50));
      const replica = sample++ % REPLICAS;
      const seen = listeners.map((l) => l.count(order.id));
      const { body, headers } = svixSigned(cluster.sandboxEnv.GOODY_WEBHOOK_SECRET!, step.event, { order_batch_id: order.batch });
      const res = await fetch(`${cluster.url(replica)}/webhooks/goody`, { method: 'POST', headers, body });
      await res.arrayBuffer();
      const answered = performance.now();
      if (res.status !== 200) throw new Error(`replica ${replica + 1} answered the webhook ${res.status}`);
      const arrived = await Promise.all(listeners.map((l, i) => l.arrival(order.id, seen[i]!)));
      arrived.forEach((at, i) => {
        if (at === undefined) missed += 1;
        else (i === replica ? same : other).push(at - answered);
      });
    }
  }
  await Promise.all(listeners.map((l) => l.close()));
  return { same, other, missed };
}

/** CLIENTS clients sending one gift after another for SECONDS, each to `replicas` in turn. */
async function sendRate(cluster: Cluster, productId: string, replicas: number[], label: string) {
  const tenant = `bench-sends-${label}`;
  const token = await cluster.token(tenant);
  const clients = Array.from({ length: CLIENTS }, () => replicas.map((i) => graphqlClient(cluster.url(i), token)));
  const run = async (seconds: number, prefix: string) => {
    const times: number[] = [];
    let failed = 0;
    const started = performance.now();
    const until = started + seconds * 1_000;
    await Promise.all(
      clients.map(async (pools, c) => {
        for (let n = 0; performance.now() < until; n++) {
          const t = performance.now();
          try {
            const data = await pools[(c + n) % pools.length]!.query(SEND, { input: goodyGift(productId, `${prefix}-${c}-${n}`) });
            if (data.sendGifts.problems.length > 0 || !data.sendGifts.created) failed += 1;
            else times.push(performance.now() - t);
          } catch {
            failed += 1;
          }
        }
      }),
    );
    return { perSecond: times.length / ((performance.now() - started) / 1_000), p50: percentile(times, 50), p99: percentile(times, 99), sent: times.length, failed };
  };
  await run(1, 'warm');
  const measured = await run(SECONDS, 'measured');
  await Promise.all(clients.flat().map((c) => c.close()));
  return measured;
}

async function main(): Promise<void> {
  if (!(await postgresReachable())) process.exit(1);
  const cluster = await Cluster.start({
    replicas: REPLICAS,
    stepMs: STEP_MS,
    webhooks: false,
    env: { GIFTGRAPH_PROVIDER_RATE_PER_SECOND: '10000', GIFTGRAPH_PROVIDER_CONCURRENCY: '256' },
  });
  try {
    const catalog = await cluster.gql(0, '{ catalog(provider: GOODY, first: 50) { edges { node { id name } } } }');
    const productId = (catalog.data.catalog.edges as { node: { id: string; name: string } }[]).find((e) => e.node.name.includes('Digital'))!.node.id;
    const ms = (n: number) => `${n.toFixed(1)} ms`.padStart(9);

    console.log(
      `giftgraph replicas on PostgreSQL (${TEST_DATABASE_URL.replace(/\/\/([^:@/]+):[^@/]*@/, '//$1:***@')}): ${REPLICAS} processes and the sandboxes process, ` +
        `${os.cpus().length} cores, Node ${process.version}; clients in this process on the same cores`,
    );
    const { same, other, missed } = await latencies(cluster, productId);
    console.log(
      `\nwebhook answered -> its event at a subscriber (${ORDERS} Goody orders x ${STEPS.length} steps, webhooks to each replica in turn, one at a time; ` +
        `each time includes the inbox's ${DEFAULT_INBOX.gatherMs} ms gathering window before it reads the order from Goody):`,
    );
    console.log(`  ${'subscriber on'.padEnd(24)} ${'samples'.padStart(7)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'max'.padStart(9)}`);
    const row = (name: string, samples: number[]) =>
      console.log(`  ${name.padEnd(24)} ${String(samples.length).padStart(7)} ${ms(percentile(samples, 50))} ${ms(percentile(samples, 99))} ${ms(Math.max(...samples))}`);
    row('the same replica', same);
    row('another replica', other);
    console.log(
      `  another / same: p50 ${(percentile(other, 50) / percentile(same, 50)).toFixed(2)}x, p99 ${(percentile(other, 99) / percentile(same, 99)).toFixed(2)}x` +
        (missed > 0 ? `; ${missed} deliveries MISSED (not within 10 s)` : '; none missed'),
    );

    console.log(`\nsends per second: ${CLIENTS} clients, each sending Goody gifts one after another for ${SECONDS} s (after 1 s of warm-up), to the replicas in turn:`);
    console.log(`  ${'replicas'.padEnd(24)} ${'sends/s'.padStart(9)} ${'p50'.padStart(9)} ${'p99'.padStart(9)} ${'failed'.padStart(7)}`);
    const three = await sendRate(cluster, productId, [0, 1, 2], 'three');
    const line = (name: string, r: Awaited<ReturnType<typeof sendRate>>) =>
      console.log(`  ${name.padEnd(24)} ${r.perSecond.toFixed(1).padStart(9)} ${ms(r.p50)} ${ms(r.p99)} ${String(r.failed).padStart(7)}`);
    line('3', three);
    // Two stop as a rolling deploy stops them: the one left serves everything.
    await Promise.all([cluster.stopReplica(1), cluster.stopReplica(2)]);
    const one = await sendRate(cluster, productId, [0], 'one');
    line('1', one);
    console.log(`  3 / 1: ${(three.perSecond / one.perSecond).toFixed(2)}x the sends per second`);
  } finally {
    await cluster.close();
  }
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
