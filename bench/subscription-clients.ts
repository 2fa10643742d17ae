/**
 * The client side of bench/subscriptions.ts, in its own process: opens N graphql-ws subscribers,
 * says when all are connected, then reports each one's time from ingest to delivery of one change,
 * and the CPU time it spent receiving it.
 *   node --import tsx bench/subscription-clients.ts <ws url> <token> <count>
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, countArg] = process.argv.slice(2) as [string, string, string];
const count = Number(countArg);
const SUBSCRIPTION = `subscription { orderStatusChanged { cursor from to occurredAt order { id status } recipient { id } } }`;

const latencies: number[] = [];
const clients: Client[] = [];
let connected = 0;
let cpuAtFirst: NodeJS.CpuUsage | undefined;
const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

for (let i = 0; i < count; i++) {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: 0,
    on: { connected: () => void (connected += 1) },
  });
  client.subscribe<{ orderStatusChanged: { to: string; occurredAt: string; recipient: unknown } }>(
    { query: SUBSCRIPTION },
    {
      next: ({ data }) => {
        const event = data?.orderStatusChanged;
        if (!event || event.recipient || event.to !== 'PROCESSING') return;
        if (latencies.length === 0) cpuAtFirst = process.cpuUsage();
        latencies.push(Date.now() - Date.parse(event.occurredAt));
        if (latencies.length === count) report();
      },
      error: () => undefined,
      complete: () => undefined,
    },
  );
  clients.push(client);
  // Open connections in waves, as a real fleet of dashboards would arrive, not all in one tick.
  if (i % 250 === 249) while (connected < i - 250) await sleep(5);
}
while (connected < count) await sleep(20);
say({ type: 'ready', connected });

function report(): void {
  const sorted = [...latencies].sort((a, b) => a - b);
  const pct = (p: number) => sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))]!;
  const cpu = process.cpuUsage(cpuAtFirst);
  // What receiving took this process from the first subscriber's event to the last: a share of the
  // machine the server did not have.
  const cpuMs = Math.round((cpu.user + cpu.system) / 1000);
  say({ type: 'done', received: latencies.length, p50: pct(50), p99: pct(99), max: sorted.at(-1), cpuMs });
}

process.on('SIGTERM', () => {
  for (const client of clients) void client.dispose();
  process.exit(0);
});
