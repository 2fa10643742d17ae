import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import type { GiftgraphServer } from '../../src/server/server.js';

export interface OperationResult {
  data?: unknown;
  errors?: { message: string; extensions?: Record<string, unknown> }[];
}

/** A lazy graphql-ws client on the server's `/ws`, with the token as a browser sends it. */
export const wsClient = (httpUrl: string, token: string): Client =>
  createClient({ url: `${httpUrl.replace(/^http/, 'ws')}/ws`, webSocketImpl: WebSocket, connectionParams: { authorization: `Bearer ${token}` }, retryAttempts: 0, lazy: true });

/** One operation over graphql-ws to its end: its last result, or the errors it was refused with. */
export const runOverSocket = (client: Client, query: string, variables?: Record<string, unknown>, operationName?: string): Promise<OperationResult> =>
  new Promise((resolve, reject) => {
    let result: OperationResult = {};
    client.subscribe(
      { query, variables, operationName },
      {
        next: (value) => (result = value as OperationResult),
        error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)),
        complete: () => resolve(result),
      },
    );
  });

/** The server's side of a graphql-ws connection (graphql-ws's context, which the server keeps to itself). */
interface ServerSocket {
  extra: { request: { url?: string } };
  subscriptions: Record<string, unknown>;
}

/**
 * `/ws` on the server, tagged so the server's side of this one connection can be found: the tag
 * rides in the query string, which the server ignores.
 */
export const taggedSocketUrl = (httpUrl: string, tag: string): string => `${httpUrl.replace(/^http/, 'ws')}/ws?client=${encodeURIComponent(tag)}`;

/**
 * The operations the server runs on the connection tagged `tag`. graphql-ws lists a subscription
 * as running once its source stream is open, that is once an event committed from then on reaches
 * it: what a test waits for before it makes the events a subscriber must see.
 */
export function runningOn(server: GiftgraphServer, tag: string): number {
  const { connections } = server as unknown as { connections: Set<ServerSocket> };
  let running = 0;
  for (const socket of connections) {
    if (new URL(socket.extra.request.url ?? '/', 'http://localhost').searchParams.get('client') !== tag) continue;
    for (const id in socket.subscriptions) if (socket.subscriptions[id]) running += 1;
  }
  return running;
}
