import { createHash } from 'node:crypto';
import type { WebSocket } from 'ws';

/** Operations one WebSocket may run at once (live subscriptions and queries in flight). */
export const MAX_OPERATIONS_PER_SOCKET = 100;
/** WebSockets one token may hold open at once, on this replica. */
export const MAX_SOCKETS_PER_TOKEN = 20;
/** The close code of a socket refused for that: graphql-ws's codes are 44xx, 4429 mirrors HTTP 429. */
export const TOO_MANY_SOCKETS = 4429;

/**
 * Counts what each token holds open, by a hash of the token (the token itself is not kept), up to
 * `max` at once.
 */
export class OpenPerToken {
  private readonly open = new Map<string, number>();

  constructor(readonly max: number) {}

  /**
   * Takes a place for `token` (a bare token, or an Authorization value in any spelling the verifier
   * accepts): the function that gives it back (once), or undefined when the token holds `max` already.
   */
  take(token: string): (() => void) | undefined {
    // `Bearer X`, `bearer  X` and `X` are one token to the verifier, so they are one here.
    const bare = /^Bearer\s+(\S+)\s*$/i.exec(token.trim())?.[1] ?? token.trim();
    const key = createHash('sha256').update(bare).digest('base64url');
    const count = this.open.get(key) ?? 0;
    if (count >= this.max) return undefined;
    this.open.set(key, count + 1);
    let held = true;
    return () => {
      if (!held) return;
      held = false;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    };
  }
}

/** Counts each token's open sockets, and forgets a socket when it closes. */
export class SocketsPerToken {
  private readonly open: OpenPerToken;

  constructor(private readonly max = MAX_SOCKETS_PER_TOKEN) {
    this.open = new OpenPerToken(max);
  }

  /** Admits the socket, or closes it with TOO_MANY_SOCKETS and answers false. */
  admit(token: string, socket: WebSocket): boolean {
    const release = this.open.take(token);
    if (!release) {
      socket.close(TOO_MANY_SOCKETS, `At most ${this.max} connections per token`);
      return false;
    }
    socket.once('close', release);
    return true;
  }
}
