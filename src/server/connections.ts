import type http from 'node:http';

/**
 * Idle keep-alive connections stay open this long by default: longer than the gateways in front of
 * a subgraph keep theirs (the Apollo Router 15 s, AWS load balancers 60 s), so a gateway never
 * sends a request on a connection giftgraph is closing at that moment.
 */
export const DEFAULT_KEEP_ALIVE_MS = 75_000;

/** How long a client has to send a whole request once it starts one (slow senders are cut off). */
const REQUEST_TIMEOUT_MS = 30_000;

/**
 * Sets the server's connection timeouts around `keepAliveMs`. Headers may take a little longer than
 * the keep-alive, as Node requires to avoid closing a connection a request is arriving on.
 */
export function applyConnectionTimeouts(server: http.Server, keepAliveMs: number): void {
  server.keepAliveTimeout = keepAliveMs;
  server.headersTimeout = keepAliveMs + 1_000;
  server.requestTimeout = keepAliveMs + 1_000 + REQUEST_TIMEOUT_MS;
}

/**
 * The request's body, or undefined once it is larger than `limit` bytes (declared or sent). A body
 * refused that way is not read further: the answer must close the connection (`refuse`), or its
 * unread rest would be parsed as the next request.
 */
export function readBody(req: http.IncomingMessage, limit: number): Promise<Buffer | undefined> {
  if (Number(req.headers['content-length'] ?? 0) > limit) return Promise.resolve(undefined);
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size <= limit) return void chunks.push(chunk);
      req.off('data', onData).off('end', onEnd).off('error', reject);
      req.pause();
      resolve(undefined);
    };
    const onEnd = () => resolve(Buffer.concat(chunks));
    req.on('data', onData).once('end', onEnd).once('error', reject);
  });
}

/** Answers a request whose body was not read whole, and closes its connection after the answer. */
export function refuse(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json', connection: 'close' });
  res.end(JSON.stringify(body));
}
