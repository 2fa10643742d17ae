/**
 * Live status at scale: opens 1,000 and then 10,000 subscribers (one tenant, in a separate client
 * process), changes one order's status, and prints p50/p99 time from ingest to delivery at each
 * subscriber, and the server's memory per idle subscriber. Targets: p99 <= 100 ms at 10,000, and
 * <= 20 KB of RSS per subscriber. Prints where it stands; asserts nothing.
 *   npm run bench:subscriptions [-- 1000 10000]
 */
import 'reflect-metadata';
import { spawn } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import readline from 'node:readline';
import { randomBytes } from 'node:crypto';
import pino from 'pino';
import { createApp } from '../src/app.js';
import { buildRegistry } from '../src/providers/index.js';
import { ManualClock } from '../src/sandboxes/kit/clock.js';
import { GuustoSandbox } from '../src/sandboxes/guusto/sandbox.js';
import { SCOPES, signToken } from '../src/server/auth.js';
import { SqliteStore } from '../src/store/sqlite.js';

const counts = process.argv.slice(2).map(Number).filter((n) => n > 0);
const sizes = counts.length > 0 ? counts : [1_000, 10_000];
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);

async function main(): Promise<void> {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-bench-subs-'));
  const clock = new ManualClock();
  const guustoToken = randomBytes(16).toString('hex');
  const guusto = new GuustoSandbox({ token: guustoToken, workspaceId: '444', clock, stepMs: 1_000 });
  const guustoUrl = await guusto.listen();
  const jwt = { secret: randomBytes(32), issuer: 'giftgraph', audience: 'giftgraph' };
  const app = await createApp({
    store: SqliteStore.open(path.join(dir, 'bench.db')),
    providers: buildRegistry({ guusto: { baseUrl: guustoUrl, token: guustoToken, workspaceId: '444' } }, 'SANDBOX', 5_000),
    jwt,
    log: pino({ level: 'silent' }),
  });
  const url = await app.listen(0, '127.0.0.1');
  const token = await signToken(jwt, { subject: 'bench', tenant: 'bench', scope: SCOPES.join(' '), ttlSeconds: 3600 });
  const graphql = async (query: string) => {
    const res = await fetch(`${url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json', authorization: `Bearer ${token}` }, body: JSON.stringify({ query }) });
    return ((await res.json()) as { data: any }).data;
  };

  console.log(`live status at scale: ${os.cpus().length} cores, Node ${process.version}`);
  for (const [round, size] of sizes.entries()) {
    gc();
    const baseline = process.memoryUsage().rss;
    const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'subscription-clients.ts'), `${url.replace('http', 'ws')}/ws`, token, String(size)], {
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    const lines = readline.createInterface({ input: child.stdout! });
    const next = () => new Promise<Record<string, number | string>>((resolve) => lines.once('line', (line) => resolve(JSON.parse(line))));

    await next(); // ready: every subscriber connected
    await new Promise((r) => setTimeout(r, 1_500)); // and every subscribe message handled
    gc();
    const perSubscriber = (process.memoryUsage().rss - baseline) / size;

    const sent = await graphql(
      `mutation { sendGifts(input: { provider: GUUSTO, idempotencyKey: "bench-${round}", message: "Hi", amount: { amount: "10", currency: "CAD" }, recipients: [{ email: "bench@example.com" }] }) { order { id } } }`,
    );
    clock.advance(1_000);
    const done = next();
    await graphql(`{ order(id: "${sent.sendGifts.order.id}") { status } }`); // ingests PENDING -> PROCESSING
    const result = await done;
    const kb = (perSubscriber / 1024).toFixed(1);
    console.log(
      `${String(size).padStart(6)} subscribers: ingest to delivery p50 ${result.p50} ms, p99 ${result.p99} ms (max ${result.max}); ` +
        `${kb} KB RSS per idle subscriber; received ${result.received}/${size}`,
    );
    if (size >= 10_000) {
      const met = Number(result.p99) <= 100 && perSubscriber <= 20 * 1024;
      console.log(`targets at ${size} (p99 <= 100 ms, <= 20 KB per subscriber): ${met ? 'met' : 'not met'}`);
    }
    child.kill('SIGTERM');
    await new Promise((r) => child.once('exit', r));
    await new Promise((r) => setTimeout(r, 500));
  }
  await app.stop();
  await guusto.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
