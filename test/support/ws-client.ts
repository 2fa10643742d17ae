import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';

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
    client.subscribe({ query, variables, operationName }, {
      next: (value) => (result = value as OperationResult),
      error: (error) => (Array.isArray(error) ? resolve({ errors: error }) : reject(error)),
      complete: () => resolve(result),
    });
  });
