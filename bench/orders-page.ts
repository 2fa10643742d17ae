/**
 * The cost of the merged `orders` connection: for pages of 10, 50 and 100 orders (with recipients
 * and gifts) across all four providers, the provider requests per page (counted by the sandboxes)
 * and p50/p99 latency, beside a direct GET of one page of Giftronaut's own list, interleaved in one
 * run. Requests per page should not grow with the page size; latency should grow far slower than it.
 *
 *   npm run bench:orders [-- --iterations 300]
 */
import 'reflect-metadata';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { randomBytes } from 'node:crypto';
import { parseArgs } from 'node:util';
import pino from 'pino';
import { Pool } from 'undici';
import { createApp } from '../src/app.js';
import { buildRegistry } from '../src/providers/index.js';
import { ManualClock } from '../src/sandboxes/kit/clock.js';
import { startSandboxes } from '../src/sandboxes/index.js';
import { SCOPES, signToken } from '../src/server/auth.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { graphqlClient, percentile } from './support.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '300' } } });
const iterations = Number(values.iterations);
const SIZES = [10, 50, 100];

const PAGE_QUERY = `query Page($first: Int) {
  orders(first: $first) {
    edges { cursor node { id provider origin status createdAt total { amount currency }
      recipients(first: 20) { edges { node { email status gift { __typename ... on GiftLink { url } ... on Certificate { id shortToken } } } } } } }
    pageInfo { hasNextPage endCursor }
  }
}`;

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-bench-'));
  const clock = new ManualClock(Date.now());
  const sandboxes = await startSandboxes({ stepMs: 1_000, clock });
  const store = SqliteStore.open(path.join(dir, 'bench.db'));
  const jwt = { secret: randomBytes(32), issuer: 'giftgraph', audience: 'giftgraph' };
  const app = await createApp({
    store,
    providers: buildRegistry(sandboxes.connections, 'SANDBOX', 5_000, { defaultTenant: 'bench' }),
    jwt,
    log: pino({ level: 'silent' }),
    clock: () => new Date(clock.now()),
  });
  const url = await app.listen(0, '127.0.0.1');
  const token = await signToken(jwt, { subject: 'bench', tenant: 'bench', scope: SCOPES.join(' '), ttlSeconds: 3600 });
  const giftgraph = graphqlClient(url, token);
  const graphql = giftgraph.query;

  const catalog = async (provider: string) =>
    (await graphql(`query($p: Provider!) { catalog(provider: $p, first: 100) { edges { node { id kind name currency } } } }`, { p: provider })).catalog.edges.map(
      (e: any) => e.node,
    );
  const giftronautCard = (await catalog('GIFTRONAUT')).find((c: any) => c.kind === 'CHOICE_CARD' && c.currency === 'USD').id;
  const goodyProduct = (await catalog('GOODY')).find((c: any) => c.name.includes('Caramels')).id;
  const campaign = (await catalog('ANDOPEN')).find((c: any) => c.kind === 'CAMPAIGN').id;
  const recipients = (i: number) => [1, 2].map((n) => ({ email: `p${i}-${n}@example.com`, firstName: 'Ada', lastName: 'Lovelace' }));
  const inputs = [
    (i: number) => ({ provider: 'GUUSTO', message: 'Thanks!', amount: { amount: '20', currency: 'USD' }, recipients: recipients(i) }),
    (i: number) => ({
      provider: 'GIFTRONAUT',
      senderName: 'Acme',
      amount: { amount: '20', currency: 'USD' },
      recipients: recipients(i),
      giftronaut: { productId: giftronautCard },
    }),
    (i: number) => ({ provider: 'GOODY', senderName: 'Acme', recipients: recipients(i), goody: { productId: goodyProduct } }),
    (i: number) => ({ provider: 'ANDOPEN', recipients: recipients(i), andOpen: { campaignId: campaign } }),
  ];
  // 240 orders sent through giftgraph, interleaved in time across the four providers.
  for (let i = 0; i < 240; i++) {
    await graphql(`mutation($input: SendGiftsInput!) { sendGifts(input: $input) { order { id } } }`, {
      input: { idempotencyKey: `bench-${i}`, ...inputs[i % 4]!(i) },
    });
    // Past each sandbox's rate limit window, and past every gift's lifecycle by the end.
    clock.advance(1_100);
  }
  clock.advance(3_600_000);
  await graphql(PAGE_QUERY, { first: 100 });

  const giftronaut = sandboxes.connections.giftronaut!;
  const direct = new Pool(giftronaut.baseUrl, { connections: 1 });
  const tokenRes = await direct.request({
    path: '/oauth2/token',
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body: new URLSearchParams({ grant_type: 'client_credentials', client_id: giftronaut.clientId, client_secret: giftronaut.clientSecret, scope: 'orders.read' }).toString(),
  });
  const accessToken = ((await tokenRes.body.json()) as { access_token: string }).access_token;
  const directPage = async () => {
    const res = await direct.request({ path: '/api/v1/orders?page=1&pageSize=100', method: 'GET', headers: { authorization: `Bearer ${accessToken}` } });
    if (res.statusCode !== 200) throw new Error(`direct GET answered ${res.statusCode}`);
    await res.body.json();
  };

  const boxes = { GUUSTO: sandboxes.guusto, GIFTRONAUT: sandboxes.giftronaut, GOODY: sandboxes.goody, ANDOPEN: sandboxes.andOpen };
  const counts = () => Object.fromEntries(Object.entries(boxes).map(([name, box]) => [name, box.http.received.length]));
  const samples = new Map<string, number[]>(['direct', ...SIZES.map(String)].map((k) => [k, []]));
  const requests = new Map<number, Record<string, number>>(SIZES.map((s) => [s, {}]));

  const runs: [string, () => Promise<void>][] = [
    ['direct', directPage],
    ...SIZES.map((size): [string, () => Promise<void>] => [
      String(size),
      async () => {
        const before = counts();
        const data = await graphql(PAGE_QUERY, { first: size });
        if (data.orders.edges.length !== size) throw new Error(`a page of ${size} held ${data.orders.edges.length}`);
        const after = counts();
        const tally = requests.get(size)!;
        for (const name of Object.keys(after)) tally[name] = (tally[name] ?? 0) + after[name]! - before[name]!;
      },
    ]),
  ];
  for (let i = 0; i < iterations; i++) {
    // Rotate which runs first, so none always runs on a warmer machine.
    for (let j = 0; j < runs.length; j++) {
      const [name, run] = runs[(i + j) % runs.length]!;
      const started = performance.now();
      await run();
      samples.get(name)!.push(performance.now() - started);
    }
    clock.advance(5_000);
  }

  const pct = percentile;
  const base = pct(samples.get('direct')!, 50);
  const fmt = (ms: number) => `${ms.toFixed(2).padStart(7)} ms`;
  console.log(`orders(first: N) with recipients and gifts over 240 orders at 4 providers, ${iterations} interleaved iterations, one keep-alive connection`);
  console.log(`${'direct GET one Giftronaut page of 100'.padEnd(40)} p50 ${fmt(base)}  p99 ${fmt(pct(samples.get('direct')!, 99))}`);
  for (const size of SIZES) {
    const xs = samples.get(String(size))!;
    const perPage = Object.entries(requests.get(size)!)
      .map(([name, n]) => `${name} ${(n / iterations).toFixed(2)}`)
      .join(', ');
    console.log(
      `${`orders(first: ${size})`.padEnd(40)} p50 ${fmt(pct(xs, 50))}  p99 ${fmt(pct(xs, 99))}  ${(pct(xs, 50) / base).toFixed(1)}x direct   provider requests per page: ${perPage}`,
    );
  }
  const p10 = pct(samples.get('10')!, 50);
  const p100 = pct(samples.get('100')!, 50);
  console.log(`10x the page size costs ${(p100 / p10).toFixed(1)}x the latency (p50)`);

  await giftgraph.close();
  await direct.close();
  await app.stop();
  await sandboxes.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
