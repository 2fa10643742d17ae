import { createHash } from 'node:crypto';
import type { WebSocket } from 'ws';

/** Operations one WebSocket may run at once (live subscriptions and queries in flight). */
export const MAX_OPERATIONS_PER_SOCKET = 100;
/** WebSockets one token may hold open at once, on this replica. */
export const MAX_SOCKETS_PER_TOKEN = 20;
/** The close code of a socket refused for that: graphql-ws's codes are 44xx, 4429 mirrors HTTP 429. */
export const TOO_MANY_SOCKETS = 4429;

/**
 * Counts each token's open sockets, by a hash of the token (the token itself is not kept), and
 * forgets a socket when it closes.
 */
export class SocketsPerToken {
  private readonly open = new Map<string, number>();

  constructor(private readonly max = MAX_SOCKETS_PER_TOKEN) {}

  /** Admits the socket, or closes it with TOO_MANY_SOCKETS and answers false. */
  admit(token: string, socket: WebSocket): boolean {
    const key = createHash('sha256').update(token).digest('base64url');
    const count = this.open.get(key) ?? 0;
    if (count >= this.max) {
      socket.close(TOO_MANY_SOCKETS, `At most ${this.max} connections per token`);
      return false;
    }
    this.open.set(key, count + 1);
    socket.once('close', () => {
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    });
    return true;
  }
}
