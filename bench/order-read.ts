/**
 * The subgraph tax: p50 and p99 of `order(id)` with its recipients and certificates through
 * giftgraph, against a direct undici GET of the same data from the Guusto sandbox, measured side
 * by side (interleaved) in one run. The goal is a ratio of 3x or less; this prints where it stands.
 *
 *   npm run bench [-- --iterations 3000 --recipients 10]
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
import { GuustoSandbox } from '../src/sandboxes/guusto/sandbox.js';
import { SCOPES, signToken } from '../src/server/auth.js';
import { SqliteStore } from '../src/store/sqlite.js';
import { graphqlClient, percentile } from './support.js';

const { values } = parseArgs({ options: { iterations: { type: 'string', default: '2000' }, recipients: { type: 'string', default: '10' } } });
const iterations = Number(values.iterations);
const recipientCount = Number(values.recipients);

const ORDER_QUERY = `query Order($id: ID!) {
  order(id: $id) {
    id status providerStatus total { amount currency }
    recipients(first: 50) { edges { node { id email status providerStatus
      gift { ... on Certificate { id amount { amount currency } shortToken longToken message senderName } } } } }
    ... on GuustoOrder { requestId guustoOrderId orderStep }
  }
}`;

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-bench-'));
  const clock = new ManualClock();
  const guustoToken = randomBytes(16).toString('hex');
  const guusto = new GuustoSandbox({ token: guustoToken, workspaceId: '444', clock, stepMs: 1_000 });
  const guustoUrl = await guusto.listen();
  const store = SqliteStore.open(path.join(dir, 'bench.db'));
  const jwt = { secret: randomBytes(32), issuer: 'giftgraph', audience: 'giftgraph' };
  const app = await createApp({
    store,
    providers: buildRegistry({ guusto: { baseUrl: guustoUrl, token: guustoToken, workspaceId: '444' } }, 'SANDBOX', 5_000),
    jwt,
    log: pino({ level: 'silent' }),
  });
  const url = await app.listen(0, '127.0.0.1');
  const token = await signToken(jwt, { subject: 'bench', tenant: 'bench', scope: SCOPES.join(' '), ttlSeconds: 3600 });

  const giftgraph = graphqlClient(url, token);
  const graphql = giftgraph.query;
  const direct = new Pool(guustoUrl, { connections: 1 });

  const sent = await graphql(`mutation Send($input: SendGiftsInput!) { sendGifts(input: $input) { order { id ... on GuustoOrder { requestId } } } }`, {
    input: {
      provider: 'GUUSTO',
      idempotencyKey: 'bench',
      message: 'Thank you!',
      amount: { amount: '25', currency: 'CAD' },
      recipients: Array.from({ length: recipientCount }, (_, i) => ({ email: `person${i}@example.com`, firstName: `P${i}` })),
    },
  });
  const { id, requestId } = sent.sendGifts.order;
  clock.advance(2_000);
  const settled = await graphql(ORDER_QUERY, { id });
  if (settled.order.status !== 'SENT') throw new Error(`order did not settle: ${settled.order.status}`);

  const viaGiftgraph = () => graphql(ORDER_QUERY, { id });
  const viaDirect = async () => {
    const res = await direct.request({
      path: `/api/v1/orders/${requestId}?page=1&size=20`,
      method: 'GET',
      headers: { authorization: `Bearer ${guustoToken}`, 'x-workspace-id': '444' },
    });
    await res.body.json();
  };

  for (let i = 0; i < 200; i++) {
    await viaGiftgraph();
    await viaDirect();
  }
  const a: number[] = [];
  const b: number[] = [];
  for (let i = 0; i < iterations; i++) {
    // Alternate which goes first so neither always runs on a warmer machine.
    const pair =
      i % 2 === 0
        ? ([
            [viaGiftgraph, a],
            [viaDirect, b],
          ] as const)
        : ([
            [viaDirect, b],
            [viaGiftgraph, a],
          ] as const);
    for (const [run, samples] of pair) {
      const started = performance.now();
      await run();
      samples.push(performance.now() - started);
    }
  }

  const pct = percentile;
  const row = (name: string, xs: number[]) => `${name.padEnd(34)} p50 ${pct(xs, 50).toFixed(3).padStart(8)} ms   p99 ${pct(xs, 99).toFixed(3).padStart(8)} ms`;
  const ratio50 = pct(a, 50) / pct(b, 50);
  const ratio99 = pct(a, 99) / pct(b, 99);
  console.log(`order(id) with ${recipientCount} recipients and certificates, ${iterations} interleaved iterations, one keep-alive connection each`);
  console.log(row('giftgraph order(id)', a));
  console.log(row('direct GET /api/v1/orders/{id}', b));
  console.log(`subgraph tax: p50 ${ratio50.toFixed(2)}x, p99 ${ratio99.toFixed(2)}x (goal: 3x or less; ${ratio50 <= 3 && ratio99 <= 3 ? 'met' : 'not met'})`);

  await giftgraph.close();
  await direct.close();
  await app.stop();
  await guusto.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
