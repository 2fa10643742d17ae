/**
 * Live status at scale: opens 1,000 and then 10,000 subscribers (one tenant, in a separate client
 * process), changes an order's status (a warm-up, then five measured changes), and prints p50/p99
 * time from ingest to delivery at each subscriber, and the server's memory per idle subscriber.
 * Side by side, in the same run and with the same clients, the transport floor
 * (bench/transport-floor.ts: a bare graphql-transport-ws server that does no GraphQL) gives what
 * the WebSocket transport alone costs on this machine.
 * Targets: p99 <= 100 ms at 10,000, and <= 20 KB of RSS per subscriber. Prints where it stands;
 * asserts nothing.
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
import { graphqlClient, percentile } from './support.js';
import { startTransportFloor } from './transport-floor.js';

const counts = process.argv
  .slice(2)
  .map(Number)
  .filter((n) => n > 0);
const sizes = counts.length > 0 ? counts : [1_000, 10_000];
const gc = (globalThis as { gc?: () => void }).gc ?? (() => undefined);
const settle = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Changes measured per round, after one that warms the path up as any earlier change would have. */
const CHANGES = 5;

interface Measured {
  /** Over every subscriber of every measured change. */
  p50: number;
  p99: number;
  max: number;
  /** CPU time the client process spent receiving one change, first subscriber to last (the median change). */
  clientCpuMs: number;
  /** Bytes of this process's RSS per idle subscriber. */
  perSubscriber: number;
}

/**
 * Opens `size` subscribers in a child process, measures this process's memory once they are idle,
 * then makes `change(i)` happen 1 + CHANGES times, each once the last reached every subscriber.
 */
async function measure(wsUrl: string, token: string, size: number, change: (i: number) => Promise<void>): Promise<Measured> {
  gc();
  const baseline = process.memoryUsage().rss;
  const child = spawn(process.execPath, ['--import', 'tsx', path.join(import.meta.dirname, 'subscription-clients.ts'), wsUrl, token, String(size)], {
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  const lines = readline.createInterface({ input: child.stdout! });
  const next = () => new Promise<{ latencies: number[]; cpuMs: number }>((resolve) => lines.once('line', (line) => resolve(JSON.parse(line))));
  await next(); // ready: every subscriber connected
  await settle(1_500); // and every subscribe message handled
  gc();
  const perSubscriber = (process.memoryUsage().rss - baseline) / size;
  const latencies: number[] = [];
  const cpu: number[] = [];
  for (let i = 0; i <= CHANGES; i++) {
    const done = next();
    await change(i);
    const result = await done;
    if (i > 0) {
      latencies.push(...result.latencies);
      cpu.push(result.cpuMs);
    }
    await settle(300);
  }
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
  await settle(500);
  return { p50: percentile(latencies, 50), p99: percentile(latencies, 99), max: percentile(latencies, 100), clientCpuMs: percentile(cpu, 50), perSubscriber };
}

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
  const client = graphqlClient(url, token);
  const floor = await startTransportFloor();

  console.log(`live status at scale: ${os.cpus().length} cores, Node ${process.version}; clients in a second process on the same cores`);
  for (const size of sizes) {
    const bare = await measure(floor.url, token, size, async () => floor.publish());
    const ours = await measure(`${url.replace('http', 'ws')}/ws`, token, size, async (i) => {
      // Each send is a change: its order's event (to PENDING) and its recipient's.
      await client.query(
        `mutation { sendGifts(input: { provider: GUUSTO, idempotencyKey: "bench-${size}-${i}", message: "Hi", amount: { amount: "10", currency: "CAD" }, recipients: [{ email: "bench@example.com" }] }) { order { id } } }`,
      );
    });
    const kb = (bytes: number) => `${(bytes / 1024).toFixed(1)} KB`;
    const ratio = (a: number, b: number) => `${(a / Math.max(b, 1)).toFixed(2)}x`;
    console.log(`${String(size).padStart(6)} subscribers, ingest to delivery over ${CHANGES} changes (the order's event; its recipient's goes with it):`);
    const row = (name: string, m: Measured) =>
      `  ${name.padEnd(17)} p50 ${m.p50} ms, p99 ${m.p99} ms (max ${m.max}); ${kb(m.perSubscriber)} RSS per idle subscriber; ` +
      `the clients spent ${m.clientCpuMs} ms of CPU receiving each change`;
    console.log(row('transport floor', bare));
    console.log(row('giftgraph', ours));
    // RSS moves by more than a small round's whole footprint: a memory ratio only where it means something.
    const memory = bare.perSubscriber > 1024 ? `, memory ${ratio(ours.perSubscriber, bare.perSubscriber)}` : '';
    console.log(`  giftgraph / floor p99 ${ratio(ours.p99, bare.p99)}${memory}`);
    if (size >= 10_000) {
      const met = (ok: boolean) => (ok ? 'met' : 'not met');
      console.log(
        `  targets at ${size}: p99 <= 100 ms ${met(ours.p99 <= 100)} (the floor: ${met(bare.p99 <= 100)}); <= 20 KB per subscriber ${met(ours.perSubscriber <= 20 * 1024)}`,
      );
    }
  }
  await client.close();
  await floor.close();
  await app.stop();
  await guusto.close();
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((error) => {
  console.error(error);
  process.exit(1);
});
