/**
 * giftgraph under concurrent load, beside a bare Apollo Server answering the same documents with the
 * same bytes from memory, in one run. For each case, autocannon holds N keep-alive connections open
 * against each server: a warm-up, then a fixed time in all (default 8 s each) measured in slices
 * that alternate between the two servers (ABBA), so a machine that gets busier or quieter during
 * the run weighs on both alike. The table gives requests per second, p50/p99 latency, failed
 * requests (errors, timeouts, non-2xx, and any body other than the one captured), CPU time per
 * request of each process, and giftgraph's throughput as a ratio of the bare server's, beside its
 * target. Targets (printed, not asserted): order(id) >= 0.6, a page of orders >= 0.5, no errors.
 * Exits 1 if any request failed.
 *
 *   npm run bench:load [-- --duration 8 --warmup 2 --connections 16 --rounds 4]
 *   (or BENCH_LOAD_DURATION, BENCH_LOAD_WARMUP, BENCH_LOAD_CONNECTIONS, BENCH_LOAD_ROUNDS)
 *
 * Processes: this one only generates load and orchestrates. giftgraph runs in a child process of
 * its own, the four provider sandboxes (real HTTP servers) in another, and the bare server in a
 * third, so neither server shares its event loop with the load generator or the sandboxes; all of
 * them share the machine's cores. The sandboxes' clock is manual and stands still while measuring,
 * so every answer stays the same.
 *
 * The bare server is Apollo Server's standalone server (node:http with its JSON body parser) on
 * giftgraph's own federated SDL (read from giftgraph's `_service`), built with @apollo/subgraph,
 * with Apollo's per-field cache hints off as giftgraph has them. Its `order` and `orders` resolvers
 * return giftgraph's own answers, captured once with `__typename` on every object so interfaces
 * and unions resolve; every other field is a default resolver. So it parses, validates and
 * executes the same document over the same schema, and serializes the same data: what it lacks is
 * exactly what giftgraph adds (authentication, limits, the ledger, providers, metrics, tracing).
 * Before measuring, both servers' bodies are compared byte for byte; the run stops if they differ.
 *
 * Cases:
 * - order(id) settled: a Guusto order of 10 recipients with their certificates, in its final state,
 *   which giftgraph answers from its ledger.
 * - order(id) moving: the same, still on its way (its provider's clock stands still), so giftgraph
 *   asks Guusto on each read, as it does for any order not yet settled.
 * - orders(first: 50): a page of the newest 50 of 64 orders sent through giftgraph, 16 at each
 *   provider, each with its recipients' status and gift. Its tenant owns the provider accounts,
 *   so the page is whatever giftgraph reads for the account's owner (the ledger, and any provider
 *   list giftgraph merges in).
 *
 * --giftronaut-limit N raises the Giftronaut sandbox's rate limit (60 requests per minute, as
 * Giftronaut documents) to N per minute: for measuring what a page costs giftgraph itself when
 * each page asks Giftronaut's list, past what the real limit would allow.
 */
import 'reflect-metadata';
import { fork, type ChildProcess } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseArgs } from 'node:util';
// @ts-expect-error autocannon ships no type declarations; what this file uses is typed below.
import autocannonUntyped from 'autocannon';
import { Kind, parse, print, visit, type FieldNode, type SelectionSetNode } from 'graphql';
import { request } from 'undici';
import { graphqlClient } from './support.js';

interface LoadOptions {
  url: string;
  method: 'POST';
  headers: Record<string, string>;
  body: string;
  connections: number;
  duration: number;
  expectBody?: string;
  /** Keeps the raw histograms, so slices of one case can be added up. */
  skipAggregateResult?: boolean;
}
/** One slice of load, unaggregated. */
interface Slice {
  totalCompletedRequests: number;
  /** Seconds. */
  duration: number;
  errors: number;
  timeouts: number;
  non2xx: number;
  mismatches: number;
}
interface Aggregated {
  latency: { p50: number; p99: number };
}
const autocannon = autocannonUntyped as ((options: LoadOptions) => Promise<Slice>) & {
  aggregateResult(results: Slice[], options: { url: string; connections: number; duration: number }): Aggregated;
};

const ROLE = process.env.BENCH_LOAD_ROLE;
/** The tenant that owns every provider account, and so the orders in their own lists. */
const TENANT = 'bench';
/** A second tenant for the order kept moving, so it never shows in the first tenant's pages. */
const MOVING_TENANT = 'bench-moving';
/** Orders in the listing, 16 at each provider: more than the page holds. */
const LISTED_ORDERS = 64;

const ORDER_QUERY = `query Order($id: ID!) {
  order(id: $id) {
    __typename id provider status providerStatus createdAt idempotencyKey
    total { amount currency }
    capabilities { canCancel canResend deduplicatesCreates }
    statusHistory { from to providerStatus source }
    recipients(first: 50) {
      edges { cursor node {
        id email firstName lastName status providerStatus amount { amount currency }
        gift {
          __typename
          ... on Certificate { id amount { amount currency } shortToken longToken redemptionUrl message senderName }
          ... on GiftLink { url expiresAt }
        }
      } }
      pageInfo { hasNextPage endCursor }
    }
    ... on GuustoOrder { requestId guustoOrderId orderStep }
  }
}`;

const PAGE_QUERY = `query Page($first: Int) {
  orders(first: $first) {
    edges { cursor node { id provider origin status createdAt total { amount currency }
      recipients(first: 20) { edges { node { email status gift { __typename ... on GiftLink { url } ... on Certificate { id shortToken } } } } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

// ---------------------------------------------------------------------------------------------
// Child processes: each answers numbered requests from this file's main process over IPC.

type Message = { id: number; type: string; [key: string]: unknown };

const cpuMs = (): number => {
  const { user, system } = process.cpuUsage();
  return (user + system) / 1000;
};

function serve(handle: (message: Message) => Promise<unknown>): void {
  process.on('message', (message: Message) => {
    // This process's CPU time so far, in ms, whatever its role.
    const handled = message.type === 'cpu' ? Promise.resolve(cpuMs()) : handle(message);
    handled.then(
      (result) => process.send!({ id: message.id, ok: true, result }, () => message.type === 'stop' && process.exit(0)),
      (error: unknown) => process.send!({ id: message.id, ok: false, error: (error as Error).stack ?? String(error) }),
    );
  });
  // Orphaned by a main process that died: go too.
  process.on('disconnect', () => process.exit(0));
}

/** The four provider sandboxes on one manual clock, which moves only when the main process says. */
async function serveSandboxes(): Promise<void> {
  const { ManualClock } = await import('../src/sandboxes/kit/clock.js');
  const { startSandboxes } = await import('../src/sandboxes/index.js');
  let running: Awaited<ReturnType<typeof startSandboxes>> | undefined;
  let clock: InstanceType<typeof ManualClock> | undefined;
  serve(async (message) => {
    switch (message.type) {
      case 'init': {
        clock = new ManualClock(message.now as number);
        running = await startSandboxes({ stepMs: 1_000, clock });
        const limit = message.giftronautLimit as number | undefined;
        // The sandbox takes its limit only as a constructor option, which startSandboxes does not pass on.
        if (limit) (running.giftronaut as unknown as { options: { rateLimitPerMinute?: number } }).options.rateLimitPerMinute = limit;
        return { connections: running.connections };
      }
      case 'advance':
        clock!.advance(message.ms as number);
        return {};
      case 'received': {
        const r = running!;
        return {
          GUUSTO: r.guusto.http.received.length,
          GIFTRONAUT: r.giftronaut.http.received.length,
          GOODY: r.goody.http.received.length,
          ANDOPEN: r.andOpen.http.received.length,
        };
      }
      case 'stop':
        await running?.close();
        return {};
      default:
        throw new Error(`unknown message ${message.type}`);
    }
  });
}

/** giftgraph as the other benchmarks start it: its SQLite ledger, the sandboxes as its providers, logs off. */
async function serveGiftgraph(): Promise<void> {
  const { default: pino } = await import('pino');
  const { createApp } = await import('../src/app.js');
  const { buildRegistry } = await import('../src/providers/index.js');
  const { ManualClock } = await import('../src/sandboxes/kit/clock.js');
  const { SCOPES, signToken } = await import('../src/server/auth.js');
  const { SqliteStore } = await import('../src/store/sqlite.js');
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-bench-load-'));
  let app: Awaited<ReturnType<typeof createApp>> | undefined;
  let clock: InstanceType<typeof ManualClock> | undefined;
  serve(async (message) => {
    switch (message.type) {
      case 'init': {
        clock = new ManualClock(message.now as number);
        const jwt = { secret: randomBytes(32), issuer: 'giftgraph', audience: 'giftgraph' };
        const providers = buildRegistry(message.connections as Parameters<typeof buildRegistry>[0], 'SANDBOX', 5_000, { defaultTenant: TENANT });
        const ledgerClock = clock;
        app = await createApp({ store: SqliteStore.open(path.join(dir, 'bench.db')), providers, jwt, log: pino({ level: 'silent' }), clock: () => new Date(ledgerClock.now()) });
        const url = await app.listen(0, '127.0.0.1');
        const token = (tenant: string) => signToken(jwt, { subject: 'bench', tenant, scope: SCOPES.join(' '), ttlSeconds: 4 * 3600 });
        return { url, token: await token(TENANT), movingToken: await token(MOVING_TENANT) };
      }
      case 'advance':
        clock!.advance(message.ms as number);
        return {};
      case 'stop':
        await app?.stop();
        fs.rmSync(dir, { recursive: true, force: true });
        return {};
      default:
        throw new Error(`unknown message ${message.type}`);
    }
  });
}

/** The bare server: Apollo standalone on giftgraph's SDL, whose two root fields return captured answers. */
async function serveBare(): Promise<void> {
  const { ApolloServer } = await import('@apollo/server');
  const { startStandaloneServer } = await import('@apollo/server/standalone');
  const { ApolloServerPluginCacheControlDisabled } = await import('@apollo/server/plugin/disabled');
  const { buildSubgraphSchema } = await import('@apollo/subgraph');
  let server: InstanceType<typeof ApolloServer> | undefined;
  serve(async (message) => {
    switch (message.type) {
      case 'init': {
        const answers = message.answers as { order: Record<string, unknown>; orders: Record<string, unknown> };
        const schema = buildSubgraphSchema({
          typeDefs: parse(message.sdl as string),
          resolvers: {
            Query: {
              order: (_: unknown, { id }: { id: string }) => answers.order[id] ?? null,
              orders: (_: unknown, { first }: { first?: number }) => answers.orders[String(first)],
            },
          },
        });
        // Quiet as giftgraph's Apollo is in these benchmarks (its logger is silent), but for errors.
        const logger = { debug: () => undefined, info: () => undefined, warn: () => undefined, error: (m: unknown) => console.error(m) };
        server = new ApolloServer({ schema, logger, plugins: [ApolloServerPluginCacheControlDisabled()] });
        const { url } = await startStandaloneServer(server, { listen: { port: 0, host: '127.0.0.1' } });
        return { url: url.replace(/\/$/, '') };
      }
      case 'stop':
        await server?.stop();
        return {};
      default:
        throw new Error(`unknown message ${message.type}`);
    }
  });
}

// ---------------------------------------------------------------------------------------------
// The main process: seeds through giftgraph, captures, checks, then generates the load.

interface Child {
  name: string;
  process: ChildProcess;
  call<T = any>(type: string, fields?: Record<string, unknown>): Promise<T>;
}

function startChild(name: string, role: string): Child {
  const child = fork(import.meta.filename, [], {
    execArgv: ['--import', 'tsx'],
    env: { ...process.env, BENCH_LOAD_ROLE: role },
    stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
  });
  const pending = new Map<number, { resolve: (value: any) => void; reject: (error: Error) => void }>();
  let next = 0;
  child.on('message', (reply: { id: number; ok: boolean; result?: unknown; error?: string }) => {
    const waiting = pending.get(reply.id);
    pending.delete(reply.id);
    if (reply.ok) waiting?.resolve(reply.result);
    else waiting?.reject(new Error(`${name}: ${reply.error}`));
  });
  child.on('exit', (code, signal) => {
    for (const { reject } of pending.values()) reject(new Error(`${name} exited (${signal ?? code}) before answering`));
    pending.clear();
  });
  return {
    name,
    process: child,
    call: (type, fields = {}) =>
      new Promise((resolve, reject) => {
        const id = (next += 1);
        pending.set(id, { resolve, reject });
        child.send({ id, type, ...fields });
      }),
  };
}

/** Stops a child politely, or kills that one process when it does not stop in time. */
async function stopChild(child: Child): Promise<void> {
  if (child.process.exitCode !== null || child.process.signalCode !== null) return;
  const exited = new Promise((resolve) => child.process.once('exit', resolve));
  const timer = setTimeout(() => child.process.kill('SIGKILL'), 10_000);
  await child.call('stop').catch(() => child.process.kill('SIGKILL'));
  await exited;
  clearTimeout(timer);
}

/** The same document asking `__typename` of every object, so captured data names each object's type. */
function withTypenames(query: string): string {
  const typename: FieldNode = { kind: Kind.FIELD, name: { kind: Kind.NAME, value: '__typename' } };
  return print(
    visit(parse(query), {
      SelectionSet: {
        leave(node: SelectionSetNode) {
          const has = node.selections.some((s) => s.kind === Kind.FIELD && s.name.value === '__typename' && !s.alias);
          return has ? node : { ...node, selections: [typename, ...node.selections] };
        },
      },
    }),
  );
}

type Server = 'giftgraph' | 'bare';
const SERVERS: Server[] = ['giftgraph', 'bare'];

interface Case {
  name: string;
  target: number;
  query: string;
  variables: Record<string, unknown>;
  token: string;
  /** The request body both servers are sent, and the response body both must answer with. */
  body: string;
  expected: string;
}

async function post(url: string, token: string, body: string): Promise<{ status: number; text: string }> {
  const res = await request(`${url}/graphql`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` },
    body,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

function firstDifference(a: string, b: string): string {
  let i = 0;
  while (i < a.length && a[i] === b[i]) i++;
  return `at byte ${i}: giftgraph …${JSON.stringify(a.slice(Math.max(0, i - 40), i + 80))}, bare …${JSON.stringify(b.slice(Math.max(0, i - 40), i + 80))}`;
}

type Failures = Pick<Slice, 'errors' | 'timeouts' | 'non2xx' | 'mismatches'>;
const failed = (r: Failures) => r.errors + r.non2xx + r.mismatches; // timeouts are counted in errors
const int = (n: number) => Math.round(n).toLocaleString('en-US');

function failures(r: Failures): string {
  const parts = [
    r.timeouts && `${int(r.timeouts)} timed out`,
    r.errors - r.timeouts && `${int(r.errors - r.timeouts)} socket errors`,
    r.non2xx && `${int(r.non2xx)} non-2xx`,
    r.mismatches && `${int(r.mismatches)} other bodies`,
  ];
  return parts.filter(Boolean).join(', ');
}

async function main(): Promise<void> {
  const { values } = parseArgs({
    options: {
      duration: { type: 'string', default: process.env.BENCH_LOAD_DURATION ?? '8' },
      warmup: { type: 'string', default: process.env.BENCH_LOAD_WARMUP ?? '2' },
      connections: { type: 'string', default: process.env.BENCH_LOAD_CONNECTIONS ?? '16' },
      rounds: { type: 'string', default: process.env.BENCH_LOAD_ROUNDS ?? '4' },
      'giftronaut-limit': { type: 'string' },
    },
  });
  const duration = Number(values.duration);
  const warmup = Number(values.warmup);
  const connections = Number(values.connections);
  const rounds = Number(values.rounds);
  const giftronautLimit = values['giftronaut-limit'] ? Number(values['giftronaut-limit']) : undefined;
  if (!(duration > 0) || !(warmup >= 0) || !(connections >= 1) || !Number.isInteger(rounds) || rounds < 1) {
    throw new Error('--duration, --warmup, --connections and --rounds take positive numbers');
  }

  const children: Child[] = [];
  const stopAll = () => Promise.all(children.map(stopChild));
  try {
    const now = Math.floor(Date.now() / 1000) * 1000;
    const sandboxes = startChild('sandboxes', 'sandboxes');
    children.push(sandboxes);
    const { connections: providerConnections } = await sandboxes.call('init', { now, giftronautLimit });
    const giftgraph = startChild('giftgraph', 'giftgraph');
    children.push(giftgraph);
    const { url, token, movingToken } = await giftgraph.call<{ url: string; token: string; movingToken: string }>('init', { now, connections: providerConnections });
    const advance = (ms: number) => Promise.all([sandboxes.call('advance', { ms }), giftgraph.call('advance', { ms })]);
    const received = () => sandboxes.call<Record<string, number>>('received');
    /** `run`'s result, and the CPU time each process spent meanwhile (ms). */
    const cpuDuring = async <T>(watched: Child[], run: () => Promise<T>): Promise<[T, number[], number]> => {
      const before = await Promise.all(watched.map((c) => c.call<number>('cpu')));
      const ownBefore = cpuMs();
      const result = await run();
      const own = cpuMs() - ownBefore;
      const after = await Promise.all(watched.map((c) => c.call<number>('cpu')));
      return [result, after.map((ms, i) => ms - before[i]!), own];
    };
    const providerRequests = async <T>(run: () => Promise<T>): Promise<[T, number]> => {
      const before = await received();
      const result = await run();
      const after = await received();
      return [result, Object.keys(after).reduce((n, name) => n + after[name]! - before[name]!, 0)];
    };

    // Seeding, through giftgraph's own GraphQL as a client would.
    const client = graphqlClient(url, token);
    const moving = graphqlClient(url, movingToken);
    const graphql = client.query;
    const catalog = async (provider: string) =>
      (await graphql(`query($p: Provider!) { catalog(provider: $p, first: 100) { edges { node { id kind name currency } } } }`, { p: provider })).catalog.edges.map(
        (e: any) => e.node,
      );
    const giftronautCard = (await catalog('GIFTRONAUT')).find((c: any) => c.kind === 'CHOICE_CARD' && c.currency === 'USD').id;
    const goodyProduct = (await catalog('GOODY')).find((c: any) => c.name.includes('Caramels')).id;
    const campaign = (await catalog('ANDOPEN')).find((c: any) => c.kind === 'CAMPAIGN').id;
    const names = ['Ada', 'Grace', 'Alan', 'Edsger', 'Barbara', 'Donald', 'Frances', 'John', 'Margaret', 'Dennis'];
    const people = (key: string, n: number) =>
      Array.from({ length: n }, (_, i) => ({ email: `${key}-${i}@example.com`, firstName: names[i % names.length]!, lastName: 'Lovelace' }));
    const inputs = [
      (i: number) => ({ provider: 'GUUSTO', message: 'Thanks!', amount: { amount: '20', currency: 'USD' }, recipients: people(`p${i}`, 2) }),
      (i: number) => ({
        provider: 'GIFTRONAUT',
        senderName: 'Acme',
        amount: { amount: '20', currency: 'USD' },
        recipients: people(`p${i}`, 2),
        giftronaut: { productId: giftronautCard },
      }),
      (i: number) => ({ provider: 'GOODY', senderName: 'Acme', recipients: people(`p${i}`, 2), goody: { productId: goodyProduct } }),
      (i: number) => ({ provider: 'ANDOPEN', recipients: people(`p${i}`, 2), andOpen: { campaignId: campaign } }),
    ];
    const SEND = `mutation($input: SendGiftsInput!) { sendGifts(input: $input) { order { id } } }`;
    const tenRecipients = (key: string) => ({
      provider: 'GUUSTO',
      idempotencyKey: key,
      message: 'Thank you!',
      amount: { amount: '25', currency: 'CAD' },
      recipients: people(key, 10),
    });
    const settledId: string = (await graphql(SEND, { input: tenRecipients('bench-ten') })).sendGifts.order.id;
    const ids = [settledId];
    for (let i = 0; i < LISTED_ORDERS; i++) {
      // Interleaved across the providers, one second apart: within every sandbox's rate limit.
      ids.push((await graphql(SEND, { input: { idempotencyKey: `bench-${i}`, ...inputs[i % 4]!(i) } })).sendGifts.order.id);
      await advance(1_100);
    }
    // Past every gift's lifecycle; then each order read once by id, which brings a moving order up to date.
    await advance(3_600_000);
    for (const id of ids) await graphql(`query($id: ID!) { order(id: $id) { id status } }`, { id });
    // A fresh rate-limit window for what follows. The clock stands still from here on.
    await advance(61_000);
    const [, settledCalls] = await providerRequests(() => graphql(`query($id: ID!) { order(id: $id) { id status } }`, { id: settledId }));
    if (settledCalls !== 0) throw new Error(`the settled order still asks its provider (${settledCalls} requests per read)`);
    const movingId: string = (await moving.query(SEND, { input: tenRecipients('bench-moving') })).sendGifts.order.id;
    const [, movingCalls] = await providerRequests(() => moving.query(`query($id: ID!) { order(id: $id) { id status } }`, { id: movingId }));
    if (movingCalls === 0) throw new Error('the moving order is already settled');

    // Capture: giftgraph's answer to each case twice (it must not change), and with __typename everywhere for the bare server.
    const cases: Case[] = [];
    const answers = { order: {} as Record<string, unknown>, orders: {} as Record<string, unknown> };
    const capture = async (name: string, target: number, query: string, variables: Record<string, unknown>, bearer: string) => {
      const body = JSON.stringify({ query, variables });
      const first = await post(url, bearer, body);
      const again = await post(url, bearer, body);
      if (first.status !== 200 || JSON.parse(first.text).errors) throw new Error(`${name}: giftgraph answered ${first.status} ${first.text.slice(0, 500)}`);
      if (again.text !== first.text) throw new Error(`${name}: giftgraph's answer changed between two reads, ${firstDifference(first.text, again.text)}`);
      const annotated = await post(url, bearer, JSON.stringify({ query: withTypenames(query), variables }));
      const data = JSON.parse(annotated.text) as { data?: Record<string, unknown>; errors?: unknown };
      if (annotated.status !== 200 || data.errors || !data.data) throw new Error(`${name}: giftgraph answered ${annotated.status} ${annotated.text.slice(0, 500)}`);
      if ('id' in variables) answers.order[variables.id as string] = data.data.order;
      else answers.orders[String(variables.first)] = data.data.orders;
      cases.push({ name, target, query, variables, token: bearer, body, expected: first.text });
    };
    await capture('order(id) settled', 0.6, ORDER_QUERY, { id: settledId }, token);
    await capture('order(id) moving', 0.6, ORDER_QUERY, { id: movingId }, movingToken);
    await capture('orders(first: 50)', 0.5, PAGE_QUERY, { first: 50 }, token);
    const page = JSON.parse(cases[2]!.expected).data.orders.edges as { node: { provider: string; status: string } }[];
    const settled = JSON.parse(cases[0]!.expected).data.order;
    const shape = `${page.length} orders (${[...new Set(page.map((e) => e.node.provider))].join(', ')}; ${[...new Set(page.map((e) => e.node.status))].join(', ')})`;

    const sdlAnswer = await post(url, token, JSON.stringify({ query: '{ _service { sdl } }' }));
    const sdl = (JSON.parse(sdlAnswer.text) as { data?: { _service?: { sdl?: string } } }).data?._service?.sdl;
    if (!sdl) throw new Error(`giftgraph did not give its SDL: ${sdlAnswer.status} ${sdlAnswer.text.slice(0, 300)}`);

    const bare = startChild('bare', 'bare');
    children.push(bare);
    const { url: bareUrl } = await bare.call<{ url: string }>('init', { sdl, answers });
    const urls: Record<Server, string> = { giftgraph: url, bare: bareUrl };
    for (const c of cases) {
      const answer = await post(bareUrl, c.token, c.body);
      if (answer.status !== 200 || answer.text !== c.expected) {
        throw new Error(`${c.name}: the bare server does not answer giftgraph's bytes (${answer.status}), ${firstDifference(c.expected, answer.text)}`);
      }
    }
    await client.close();
    await moving.close();

    console.log(
      `giftgraph vs a bare Apollo Server under load: ${connections} connections, ${warmup} s warm-up then ${duration} s per server and case in ${rounds} alternating slices; ` +
        `${os.cpus().length} cores, Node ${process.version}; load generator, giftgraph, sandboxes and bare server in four processes`,
    );
    console.log(
      `order(id): Guusto, 10 recipients with certificates, ${settled.status} (${String(cases[0]!.expected.length)} bytes); page: ${shape}, ${cases[2]!.expected.length} bytes`,
    );
    if (giftronautLimit) console.log(`Giftronaut sandbox rate limit raised to ${giftronautLimit} requests per minute`);

    const run = (target: string, c: Case, seconds: number) =>
      autocannon({
        url: `${target}/graphql`,
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: `Bearer ${c.token}` },
        body: c.body,
        connections,
        duration: seconds,
        expectBody: c.expected,
        skipAggregateResult: true,
      });
    let anyFailed = false;
    console.log(
      `\n${'case'.padEnd(19)} ${'giftgraph'.padStart(13)} ${'bare'.padStart(13)}  ${'ratio'.padStart(5)} target        p50 ms gg / bare   p99 ms gg / bare   ` +
        'failed gg / bare   CPU ms per request: gg / bare (sandboxes, load generator)   provider requests per request',
    );
    for (const c of cases) {
      const slices: Record<Server, Slice[]> = { giftgraph: [], bare: [] };
      const cpu: Record<Server | 'sandboxes' | 'load', number> = { giftgraph: 0, bare: 0, sandboxes: 0, load: 0 };
      let calls = 0;
      for (const which of SERVERS) if (warmup > 0) await run(urls[which], c, warmup);
      for (let round = 0; round < rounds; round++) {
        // ABBA: each server goes first in every other round, so neither always runs on a warmer (or a busier) machine.
        for (const which of round % 2 === 0 ? SERVERS : [...SERVERS].reverse()) {
          const watched = which === 'giftgraph' ? [giftgraph, sandboxes] : [bare];
          const [[slice, requested], [server, providers], own] = await cpuDuring(watched, () => providerRequests(() => run(urls[which], c, duration / rounds)));
          slices[which].push(slice);
          cpu[which] += server!;
          if (which === 'giftgraph') {
            calls += requested;
            cpu.sandboxes += providers!;
            cpu.load += own;
          }
        }
      }
      const total = (which: Server) => {
        const list = slices[which];
        const sum = (pick: (s: Slice) => number) => list.reduce((n, s) => n + pick(s), 0);
        const completed = sum((s) => s.totalCompletedRequests);
        const { latency } = autocannon.aggregateResult(list, { url: urls[which], connections, duration });
        return {
          completed,
          perSecond: completed / sum((s) => s.duration),
          latency,
          errors: sum((s) => s.errors),
          timeouts: sum((s) => s.timeouts),
          non2xx: sum((s) => s.non2xx),
          mismatches: sum((s) => s.mismatches),
        };
      };
      const g = total('giftgraph');
      const b = total('bare');
      const ratio = g.perSecond / b.perSecond;
      anyFailed ||= failed(g) + failed(b) > 0;
      const per = (ms: number, n: number) => (ms / Math.max(1, n)).toFixed(2);
      const pair = (x: number, y: number) => `${x.toFixed(1)} / ${y.toFixed(1)}`.padStart(16);
      console.log(
        `${c.name.padEnd(19)} ${`${int(g.perSecond)} req/s`.padStart(13)} ${`${int(b.perSecond)} req/s`.padStart(13)}  ${ratio.toFixed(2).padStart(5)} ` +
          `${`>= ${c.target.toFixed(1)} ${ratio >= c.target ? 'met' : 'not met'}`.padEnd(13)} ${pair(g.latency.p50, b.latency.p50)}   ${pair(g.latency.p99, b.latency.p99)}   ` +
          `${`${int(failed(g))} / ${int(failed(b))}`.padStart(16)}   ` +
          `${`${per(cpu.giftgraph, g.completed)} / ${per(cpu.bare, b.completed)} (${per(cpu.sandboxes, g.completed)}, ${per(cpu.load, g.completed)})`.padEnd(56)}   ` +
          `${(calls / Math.max(1, g.completed)).toFixed(2)}`,
      );
      for (const [name, r] of [
        ['giftgraph', g],
        ['bare', b],
      ] as const) {
        if (failed(r) === 0) continue;
        console.log(`  ${name}: ${failures(r)} of ${int(r.completed + r.errors - r.timeouts)} requests`);
        // What an answer that is not the captured one says now, by its errors.
        const now = await post(urls[name], c.token, c.body);
        const errors = (JSON.parse(now.text) as { errors?: { message: string; extensions?: { code?: string } }[] }).errors ?? [];
        if (now.text !== c.expected) console.log(`  ${name} now answers ${now.status}: ${errors.map((e) => `${e.extensions?.code}: ${e.message}`).join('; ') || 'other data'}`);
      }
    }
    console.log(`\ntargets: order(id) ratio >= 0.6, orders page ratio >= 0.5, no failed request; ${anyFailed ? 'some requests FAILED' : 'no request failed'}`);
    await stopAll();
    if (anyFailed) process.exitCode = 1;
  } catch (error) {
    await stopAll().catch(() => undefined);
    throw error;
  }
}

const roles: Record<string, () => Promise<void>> = { sandboxes: serveSandboxes, giftgraph: serveGiftgraph, bare: serveBare };
(ROLE ? roles[ROLE]!() : main()).catch((error) => {
  console.error(error);
  process.exit(1);
});
