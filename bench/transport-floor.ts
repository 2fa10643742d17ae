/**
 * The floor under bench/subscriptions.ts: a bare graphql-transport-ws server that does no GraphQL
 * at all. It acknowledges connections, remembers subscription ids, and on `publish` sends every
 * subscriber the two messages one change makes (the order's event, then its recipient's), each
 * serialized once. What it costs is what the WebSocket transport costs on this machine, with the
 * same clients; giftgraph's figures are read as a ratio to it. It writes as giftgraph does, both
 * messages corked into one write per subscriber.
 */
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';

export interface TransportFloor {
  url: string;
  /** Sends every subscriber one change of a new order, stamped now. */
  publish(): void;
  close(): Promise<void>;
}

export async function startTransportFloor(): Promise<TransportFloor> {
  const server = http.createServer();
  const wss = new WebSocketServer({ noServer: true, perMessageDeflate: false, handleProtocols: () => 'graphql-transport-ws' });
  const subscriptions = new Map<WebSocket, { socket: Duplex; ids: Set<string> }>();
  server.on('upgrade', (req, socket, head) => wss.handleUpgrade(req, socket, head, (ws) => wss.emit('connection', ws, socket)));
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  wss.on('connection', (ws: WebSocket, socket: Duplex) => {
    const ids = new Set<string>();
    subscriptions.set(ws, { socket, ids });
    ws.on('message', (data) => {
      const message = JSON.parse(String(data)) as { type: string; id?: string };
      if (message.type === 'connection_init') ws.send('{"type":"connection_ack"}');
      else if (message.type === 'ping') ws.send('{"type":"pong"}');
      else if (message.type === 'subscribe') ids.add(message.id!);
      else if (message.type === 'complete') ids.delete(message.id!);
    });
    ws.on('close', () => subscriptions.delete(ws));
  });
  let orders = 0;
  const event = (orderId: string, occurredAt: string, recipient: { id: string } | null) =>
    JSON.stringify({
      data: {
        orderStatusChanged: {
          cursor: `c2.${'x'.repeat(40)}.${'y'.repeat(43)}`,
          from: 'UNCONFIRMED',
          to: 'PENDING',
          occurredAt,
          order: { id: orderId, status: 'PENDING' },
          recipient,
        },
      },
    });
  return {
    url: `ws://127.0.0.1:${(server.address() as AddressInfo).port}`,
    publish() {
      const occurredAt = new Date().toISOString();
      const orderId = Buffer.from(`Order:GUUSTO:floor-${(orders += 1)}`).toString('base64url');
      const payloads = [event(orderId, occurredAt, null), event(orderId, occurredAt, { id: 'UmVjaXBpZW50OjAxSkFCQ0RFRkdISktNTlBRUlNUVldYWVow' })];
      for (const [ws, { socket, ids }] of subscriptions) {
        socket.cork();
        for (const id of ids) for (const payload of payloads) ws.send(`{"id":${JSON.stringify(id)},"type":"next","payload":${payload}}`);
        socket.uncork();
      }
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const ws of wss.clients) ws.terminate();
        wss.close(() => server.close(() => resolve()));
      }),
  };
}
