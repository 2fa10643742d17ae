import type { Duplex } from 'node:stream';
import { WebSocket } from 'ws';
import type { Delivery } from './subscription-groups.js';

/**
 * Sends one graphql-ws subscription's `next` messages straight to its socket, around graphql-ws's
 * per-message path: the payload was serialized once for the whole group, so only the message's
 * envelope (its id) is written per subscriber. Several messages go out corked, in one write.
 */
export class SocketDelivery implements Delivery {
  private readonly head: string;

  constructor(
    private readonly ws: WebSocket,
    /** The socket under `ws`, to cork; the one the upgrade handed over. */
    private readonly socket: Duplex | undefined,
    id: string,
  ) {
    this.head = `{"id":${JSON.stringify(id)},"type":"next","payload":`;
  }

  get backlog(): number {
    return this.ws.bufferedAmount;
  }

  send(payloads: readonly string[]): boolean {
    if (this.ws.readyState !== WebSocket.OPEN) return false;
    const cork = payloads.length > 1 && this.socket !== undefined;
    if (cork) this.socket!.cork();
    for (const payload of payloads) this.ws.send(`${this.head}${payload}}`);
    if (cork) this.socket!.uncork();
    return true;
  }
}
