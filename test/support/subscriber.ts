import { randomUUID } from 'node:crypto';
import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import { expect } from 'vitest';
import WebSocket from 'ws';
import type { GiftgraphServer } from '../../src/server/server.js';
import { OrderStatusChangedDocument, type OrderStatusChangedSubscription, type OrderStatusChangedSubscriptionVariables } from '../generated/graphql.js';
import { runningOn, taggedSocketUrl } from './ws-client.js';

export type StatusEvent = OrderStatusChangedSubscription['orderStatusChanged'];

/** A real graphql-ws client over a real WebSocket, collecting orderStatusChanged events. */
export class Subscriber {
  readonly events: StatusEvent[] = [];
  errors: unknown[] = [];
  closeCode: number | undefined;
  /** Names this subscriber's connection to the server (see `started`). */
  private readonly tag = randomUUID();
  private readonly client: Client;
  private readonly stop: () => void;

  constructor(url: string, token: string, variables: OrderStatusChangedSubscriptionVariables = {}) {
    this.client = createClient({
      url: taggedSocketUrl(url, this.tag),
      webSocketImpl: WebSocket,
      connectionParams: { authorization: `Bearer ${token}` },
      retryAttempts: 0,
      on: { closed: (event) => (this.closeCode = (event as { code?: number }).code) },
    });
    this.stop = this.client.subscribe<OrderStatusChangedSubscription>(
      { query: print(OrderStatusChangedDocument), variables },
      {
        next: (value) => {
          if (value.errors) this.errors.push(...value.errors);
          if (value.data) this.events.push(value.data.orderStatusChanged);
        },
        error: (error) => this.errors.push(error),
        complete: () => undefined,
      },
    );
  }

  /**
   * Resolves once `server` runs this subscription, so every event committed from now on reaches it;
   * or once the subscription was refused, or its connection closed.
   */
  async started(server: GiftgraphServer): Promise<void> {
    await expect.poll(() => this.errors.length > 0 || this.closeCode !== undefined || runningOn(server, this.tag) > 0, { interval: 5 }).toBe(true);
  }

  /** `from→to` of each event, with `*` for an order-level change and the recipient's email otherwise. */
  transitions(): string[] {
    return this.events.map((e) => `${e.recipient?.email ?? '*'}:${e.from}>${e.to}`);
  }

  async close(): Promise<void> {
    this.stop();
    await this.client.dispose();
  }
}
