import http, { type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { FaultPlan } from './faults.js';

export interface SandboxRequest {
  method: string;
  path: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingHttpHeaders;
  body: unknown;
  raw: Buffer;
}

export interface SandboxReply {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type SandboxHandler = (req: SandboxRequest) => SandboxReply | Promise<SandboxReply>;

/** How this provider shapes an error body, so even the kit's own errors look like the provider's. */
export type ErrorShape = (status: number, code: string, message: string) => unknown;

interface Route {
  method: string;
  segments: string[];
  handler: SandboxHandler;
}

const MAX_BODY = 1024 * 1024;

/**
 * The HTTP half every sandbox shares: routing, JSON bodies, a record of what it received, and the
 * fault plan. Each provider's sandbox adds its routes and state; it is a real server on loopback.
 */
export class SandboxHttpServer {
  readonly faults = new FaultPlan();
  /** Every request received, in order, for tests that count provider calls. */
  readonly received: { method: string; path: string }[] = [];
  /** How many of the latest requests `received` keeps: all unless lowered (a long-running process lowers it). */
  recordLimit = Number.POSITIVE_INFINITY;
  private readonly routes: Route[] = [];
  private readonly server: http.Server;

  constructor(private readonly errorShape: ErrorShape) {
    this.server = http.createServer((req, res) => void this.dispatch(req, res));
  }

  route(method: string, pattern: string, handler: SandboxHandler): this {
    this.routes.push({ method, segments: pattern.split('/').filter(Boolean), handler });
    return this;
  }

  /** How many requests matched this method and path pattern (`:name` matches one segment). */
  count(method: string, pattern: string): number {
    const segments = pattern.split('/').filter(Boolean);
    return this.received.filter((r) => r.method === method && matchPath(segments, r.path) !== undefined).length;
  }

  async listen(port = 0, host = '127.0.0.1'): Promise<string> {
    await new Promise<void>((resolve, reject) => {
      this.server.once('error', reject);
      this.server.listen(port, host, () => resolve());
    });
    const address = this.server.address() as AddressInfo;
    return `http://${host}:${address.port}`;
  }

  async close(): Promise<void> {
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server.close(() => resolve()));
  }

  private async dispatch(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://sandbox');
    const method = req.method ?? 'GET';
    this.received.push({ method, path: url.pathname });
    if (this.received.length > this.recordLimit) this.received.splice(0, this.received.length - this.recordLimit);
    try {
      const raw = await readBody(req);
      const faults = this.faults.take(method, url.pathname);
      for (const fault of faults) if (fault.kind === 'latency') await sleep(fault.ms);
      if (faults.some((f) => f.kind === 'drop-before')) return void req.socket.destroy();
      const status = faults.find((f) => f.kind === 'status');
      if (status && status.kind === 'status') {
        const headers: Record<string, string> = status.retryAfterSeconds !== undefined ? { 'retry-after': String(status.retryAfterSeconds) } : {};
        return send(res, { status: status.status, headers, body: status.body ?? this.errorShape(status.status, 'sandbox_fault', `injected HTTP ${status.status}`) });
      }

      const reply = await this.handle(method, url, req.headers, raw);
      if (faults.some((f) => f.kind === 'drop-after')) return void req.socket.destroy();
      send(res, reply);
    } catch (error) {
      if (error instanceof BodyTooLarge) return send(res, { status: 413, body: this.errorShape(413, 'payload_too_large', 'request body too large') });
      send(res, { status: 500, body: this.errorShape(500, 'internal_error', 'sandbox error') });
    }
  }

  private async handle(method: string, url: URL, headers: IncomingHttpHeaders, raw: Buffer): Promise<SandboxReply> {
    const segments = url.pathname.split('/').filter(Boolean);
    let pathMatched = false;
    for (const route of this.routes) {
      const params = matchPath(route.segments, url.pathname, segments);
      if (!params) continue;
      pathMatched = true;
      if (route.method !== method) continue;
      let body: unknown = null;
      // Form-encoded bodies (an OAuth token request) are left to the route, which reads `raw`.
      const isForm = /application\/x-www-form-urlencoded/i.test(headers['content-type'] ?? '');
      if (raw.length > 0 && !isForm) {
        try {
          body = JSON.parse(raw.toString('utf8'));
        } catch {
          return { status: 400, body: this.errorShape(400, 'invalid_format', 'request body is not valid JSON') };
        }
      }
      return route.handler({ method, path: url.pathname, params, query: url.searchParams, headers, body, raw });
    }
    return pathMatched
      ? { status: 405, body: this.errorShape(405, 'method_not_allowed', `${method} is not allowed here`) }
      : { status: 404, body: this.errorShape(404, 'not_found', 'no such resource') };
  }
}

class BodyTooLarge extends Error {}

async function readBody(req: http.IncomingMessage): Promise<Buffer> {
  const chunks: Buffer[] = [];
  let size = 0;
  for await (const chunk of req) {
    size += (chunk as Buffer).length;
    if (size > MAX_BODY) throw new BodyTooLarge();
    chunks.push(chunk as Buffer);
  }
  return Buffer.concat(chunks);
}

function matchPath(pattern: string[], pathname: string, given = pathname.split('/').filter(Boolean)): Record<string, string> | undefined {
  if (pattern.length !== given.length) return undefined;
  const params: Record<string, string> = {};
  for (let i = 0; i < pattern.length; i++) {
    const p = pattern[i]!;
    const g = given[i]!;
    if (p.startsWith(':')) params[p.slice(1)] = decodeURIComponent(g);
    else if (p !== g) return undefined;
  }
  return params;
}

function send(res: http.ServerResponse, reply: SandboxReply): void {
  const body = reply.body === undefined ? '' : JSON.stringify(reply.body);
  res.writeHead(reply.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), ...reply.headers });
  res.end(body);
}
