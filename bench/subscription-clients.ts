/**
 * The client side of bench/subscriptions.ts, in its own process: opens N graphql-ws subscribers,
 * says when all are connected, then, for each change of an order that every subscriber received,
 * reports each one's time from ingest to delivery and the CPU time this process spent receiving it.
 *   node --import tsx bench/subscription-clients.ts <ws url> <token> <count>
 */
import { setTimeout as sleep } from 'node:timers/promises';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

const [url, token, countArg] = process.argv.slice(2) as [string, string, string];
const count = Number(countArg);
const SUBSCRIPTION = `subscription { orderStatusChanged { cursor from to occurredAt order { id status } recipient { id } } }`;

/** Changes under way, by order and status: each subscriber's latency, and the CPU time when the first arrived. */
const changes = new Map<string, { latencies: number[]; cpu: NodeJS.CpuUsage }>();
const clients: Client[] = [];
let connected = 0;
const say = (message: object) => process.stdout.write(`${JSON.stringify(message)}\n`);

type Event = { to: string; occurredAt: string; order: { id: string }; recipient: unknown };

for (let i = 0; i < count; i++) {
  const client = createClient({
    url,
    webSocketImpl: WebSocket,
    connectionParams: { authorization: `Bearer ${token}` },
    lazy: false,
    retryAttempts: 0,
    on: { connected: () => void (connected += 1) },
  });
  client.subscribe<{ orderStatusChanged: Event }>(
    { query: SUBSCRIPTION },
    {
      next: ({ data }) => {
        const event = data?.orderStatusChanged;
        if (!event || event.recipient) return; // the order's own event times the change
        const key = `${event.order.id}:${event.to}`;
        let change = changes.get(key);
        if (!change) changes.set(key, (change = { latencies: [], cpu: process.cpuUsage() }));
        change.latencies.push(Date.now() - Date.parse(event.occurredAt));
        if (change.latencies.length === count) {
          changes.delete(key);
          const cpu = process.cpuUsage(change.cpu);
          // From the first subscriber's event to the last: a share of the machine the server did not have.
          say({ type: 'change', latencies: change.latencies, cpuMs: Math.round((cpu.user + cpu.system) / 1000) });
        }
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

process.on('SIGTERM', () => {
  for (const client of clients) void client.dispose();
  process.exit(0);
});
