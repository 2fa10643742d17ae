import { print } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import WebSocket from 'ws';
import { OrderStatusChangedDocument, type OrderStatusChangedSubscription, type OrderStatusChangedSubscriptionVariables } from '../generated/graphql.js';

export type StatusEvent = OrderStatusChangedSubscription['orderStatusChanged'];

/** A real graphql-ws client over a real WebSocket, collecting orderStatusChanged events. */
export class Subscriber {
  readonly events: StatusEvent[] = [];
  errors: unknown[] = [];
  closeCode: number | undefined;
  private readonly client: Client;
  private readonly stop: () => void;

  constructor(url: string, token: string, variables: OrderStatusChangedSubscriptionVariables = {}) {
    this.client = createClient({
      url: `${url.replace(/^http/, 'ws')}/ws`,
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

  /** `from→to` of each event, with `*` for an order-level change and the recipient's email otherwise. */
  transitions(): string[] {
    return this.events.map((e) => `${e.recipient?.email ?? '*'}:${e.from}>${e.to}`);
  }

  async close(): Promise<void> {
    this.stop();
    await this.client.dispose();
  }
}
