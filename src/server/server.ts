import http from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import type { ApolloServer } from '@apollo/server';
import { ROOT_CONTEXT, type Context as TraceContext, type Span } from '@opentelemetry/api';
import { execute, getOperationAST, GraphQLError, specifiedRules, subscribe, type ExecutionResult, type GraphQLSchema, type OperationDefinitionNode } from 'graphql';
import type { Context as SocketContext } from 'graphql-ws';
import { useServer } from 'graphql-ws/use/ws';
import type { Logger } from 'pino';
import { WebSocketServer, type WebSocket } from 'ws';
import { GiftgraphError } from '../core/errors.js';
import { createContext, type GraphQLContext, type Services } from '../resolvers/context.js';
import { laggedAfter } from '../resolvers/subscription.js';
import type { WebhookReceiver } from '../status/webhooks.js';
import type { StatusEventRecord } from '../core/records.js';
import type { Store } from '../store/store.js';
import type { TokenVerifier } from './auth.js';
import { requireScope, type AuthContext, type Viewer } from '../resolvers/access.js';
import { applyConnectionTimeouts, DEFAULT_KEEP_ALIVE_MS, readBody, refuse } from './connections.js';
import { createApollo, formatError, operationMetricsPlugin, serveGraphQL, type Transport } from './graphql-http.js';
import { DocumentCache } from './document-cache.js';
import { bearerMatches, tokenDigest, type GiftgraphMetrics } from './metrics.js';
import { queryLimits } from './limits.js';
import { namesRefusedLiterals } from '../schema/scalars.js';
import { SocketDelivery } from './socket-delivery.js';
import { MAX_OPERATIONS_PER_SOCKET, SocketsPerToken } from './socket-limits.js';
import { EventStreams, wantsEventStream } from './sse.js';
import { groupKey, SubscriptionGroups, type Delivery } from './subscription-groups.js';
import { callerContext, nameOperation, operationFailed, startOperationSpan, withSpan } from './tracing.js';

export interface ServerDeps {
  schema: GraphQLSchema;
  services: Services;
  store: Store;
  verifier: TokenVerifier;
  webhooks: WebhookReceiver;
  log: Logger;
  /** How long idle keep-alive connections stay open; DEFAULT_KEEP_ALIVE_MS unless given. */
  keepAliveTimeoutMs?: number;
  /** Served on `/metrics` and fed by both transports; no `/metrics` without it. */
  metrics?: GiftgraphMetrics;
  /** When set, `/metrics` answers only `Authorization: Bearer <metricsToken>`. */
  metricsToken?: string;
}

/** Webhook bodies are small JSON documents; anything larger is refused before it is read further. */
const MAX_WEBHOOK_BYTES = 256 * 1024;

/**
 * A subscriber whose client leaves this much unread is cut off, told where to resume, rather than
 * held in memory without bound (about 2,500 events).
 */
const MAX_SUBSCRIBER_BACKLOG = 1024 * 1024;

/** The WebSocket path: the Apollo Router's default subscription passthrough path. */
export const WS_PATH = '/ws';

/**
 * One http.Server for everything: `/graphql` (Apollo Server, and GraphQL over SSE for a request
 * that asks for `text/event-stream`), `/ws` (graphql-ws, same schema), `/healthz` (the process is
 * up), `/readyz` (the store is open and providers are configured) and `/metrics` (Prometheus).
 */
export class GiftgraphServer {
  private readonly http: http.Server;
  private readonly wss: WebSocketServer;
  private readonly apollo: ApolloServer<GraphQLContext>;
  private wsDisposer: { dispose: () => void | Promise<void> } | undefined;
  private inFlight = 0;
  private readonly groups: SubscriptionGroups;
  /** Groups of identical subscriptions over event streams: their results are serialized and counted as `sse`. */
  private readonly streamGroups: SubscriptionGroups;
  private readonly streams: EventStreams;
  /** Each distinct document parsed and validated once, for `/ws` and event streams alike. */
  private readonly documents: DocumentCache;
  /** Each upgraded socket under its WebSocket, and each operation's delivery under its context. */
  private readonly sockets = new WeakMap<WebSocket, Duplex>();
  private readonly deliveries = new WeakMap<GraphQLContext, SocketDelivery>();
  /** The trace each WebSocket operation continues: its connection's upgrade request's `traceparent`, if any. */
  private readonly traceParents = new WeakMap<GraphQLContext, TraceContext>();
  private readonly socketsPerToken = new SocketsPerToken();
  /** Every admitted graphql-ws connection, for counting running subscriptions at scrape time. */
  private readonly connections = new Set<SocketContext>();
  private readonly metricsToken: Buffer | undefined;
  private readonly validationError;
  private readonly executionError;
  private stopping: Promise<void> | undefined;
  url = '';

  constructor(private readonly deps: ServerDeps) {
    const { metrics } = deps;
    this.apollo = createApollo<GraphQLContext>(deps.schema, deps.log, metrics ? [operationMetricsPlugin<GraphQLContext>(metrics, (context) => context.viewer !== null)] : []);
    this.metricsToken = deps.metricsToken ? tokenDigest(deps.metricsToken) : undefined;
    metrics?.countSockets({
      connections: () => this.wss.clients.size,
      // graphql-ws holds a running subscription's stream under its id; queries and pending operations hold null.
      subscriptions: () => {
        let running = 0;
        for (const ctx of this.connections) for (const id in ctx.subscriptions) if (ctx.subscriptions[id]) running += 1;
        return running;
      },
    });
    this.http = http.createServer((req, res) => this.onRequest(req, res));
    applyConnectionTimeouts(this.http, deps.keepAliveTimeoutMs ?? DEFAULT_KEEP_ALIVE_MS);
    // No per-message compression: grouped subscribers are sent one serialized payload each.
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 1024 * 1024, perMessageDeflate: false });
    this.http.on('upgrade', (req, socket, head) => {
      const path = new URL(req.url ?? '/', 'http://localhost').pathname;
      if (path !== WS_PATH || this.stopping) return void socket.destroy();
      this.wss.handleUpgrade(req, socket, head, (ws) => {
        this.sockets.set(ws, socket);
        this.wss.emit('connection', ws, req);
        // graphql-ws prints a socket's errors (a frame over maxPayload, a reset) raw to stderr; they go
        // to the JSON log instead. ws itself closes the socket after any of them (1009 for a large frame).
        ws.removeAllListeners('error');
        ws.on('error', (error: Error & { code?: string }) => deps.log.warn({ err: { message: error.message, code: error.code } }, 'websocket closed on a protocol error'));
      });
    });
    this.validationError = formatError(deps.log);
    this.executionError = formatError(deps.log, 'BAD_USER_INPUT');
    const groups = (transport: Transport) =>
      new SubscriptionGroups({
        serialize: (result) => JSON.stringify(this.maskErrors(result, transport) ?? result),
        lagged: (args, last) => {
          metrics?.unreadSubscriber();
          return laggedAfter(args.contextValue as GraphQLContext, last as StatusEventRecord);
        },
        maxBacklogBytes: MAX_SUBSCRIBER_BACKLOG,
      });
    this.groups = groups('ws');
    this.streamGroups = groups('sse');
    this.documents = new DocumentCache(deps.schema, [...specifiedRules, queryLimits(), namesRefusedLiterals]);
    this.streams = new EventStreams({
      schema: deps.schema,
      documents: this.documents,
      log: deps.log,
      metrics,
      authenticate: (authorization) => this.authenticate(authorization),
      context: (auth) => createContext(deps.services, auth),
      subscribe: (args, delivery) => this.subscribe(args, delivery, this.streamGroups),
    });
    metrics?.countStreams(() => this.streams.subscriptions);
  }

  async listen(port: number, host: string): Promise<string> {
    await this.apollo.start();
    this.wsDisposer = this.serveWebSocket();
    await new Promise<void>((resolve, reject) => {
      this.http.once('error', reject);
      this.http.listen(port, host, () => resolve());
    });
    const address = this.http.address() as AddressInfo;
    const shownHost = host === '0.0.0.0' || host === '::' ? 'localhost' : host;
    this.url = `http://${shownHost}:${address.port}`;
    return this.url;
  }

  /**
   * Graceful stop: refuse new connections and requests, let requests and WebSocket operations in
   * flight finish (up to `graceMs`), close WebSockets, end subscription event streams, and close
   * idle keep-alive sockets. The caller closes the store after.
   */
  stop(graceMs = 10_000): Promise<void> {
    this.stopping ??= (async () => {
      const closed = new Promise<void>((resolve) => this.http.close(() => resolve()));
      this.http.closeIdleConnections();
      for (const client of this.wss.clients) client.close(1001, 'Server is shutting down');
      this.streams.close();
      await this.wsDisposer?.dispose();
      const deadline = Date.now() + graceMs;
      while (this.inFlight > 0 && Date.now() < deadline) await new Promise((r) => setTimeout(r, 25));
      this.http.closeAllConnections();
      await closed;
      await this.apollo.stop();
    })();
    return this.stopping;
  }

  private async authenticate(authorization: string | undefined): Promise<AuthContext> {
    if (!authorization) return { viewer: null, authError: null };
    try {
      return { viewer: await this.deps.verifier.verify(authorization), authError: null };
    } catch (error) {
      if (error instanceof GiftgraphError) return { viewer: null, authError: error };
      throw error;
    }
  }

  private onRequest(req: http.IncomingMessage, res: http.ServerResponse): void {
    this.inFlight += 1;
    const started = performance.now();
    res.once('close', () => {
      this.inFlight -= 1;
      this.deps.log.debug({ method: req.method, path: req.url?.split('?')[0], status: res.statusCode, ms: Math.round(performance.now() - started) }, 'request');
    });
    if (this.stopping) res.setHeader('connection', 'close');
    this.route(req, res).catch((error) => {
      this.deps.log.error({ err: error }, 'request failed');
      if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
      res.end(JSON.stringify({ errors: [{ message: 'Internal server error', extensions: { code: 'INTERNAL_SERVER_ERROR' } }] }));
    });
  }

  private async route(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://localhost');
    switch (url.pathname) {
      case '/graphql':
        // A request that reaches a keep-alive connection after shutdown began is not started.
        if (this.stopping) return json(res, 503, { errors: [{ message: 'Server is shutting down', extensions: { code: 'SERVICE_UNAVAILABLE' } }] });
        // GraphQL over SSE (graphql-sse, distinct connections mode): how Hive Gateway subscribes to a subgraph.
        if ((req.method === 'GET' || req.method === 'POST') && wantsEventStream(req.headers.accept)) return this.streams.serve(req, res, url);
        return serveGraphQL(this.apollo, req, res, url, async () => createContext(this.deps.services, await this.authenticate(req.headers.authorization)), this.deps.metrics);
      case '/metrics':
        return this.serveMetrics(req, res);
      case '/healthz':
        return json(res, 200, { status: 'ok' });
      case '/readyz': {
        const storeOpen = await this.deps.store.ping();
        const providers = this.deps.services.providers.all().map((p) => ({ name: p.adapter.provider, mode: p.mode }));
        const ready = storeOpen && providers.length > 0 && !this.stopping;
        return json(res, ready ? 200 : 503, { status: ready ? 'ready' : 'not ready', store: storeOpen ? 'open' : 'closed', providers });
      }
      default: {
        const hook = /^\/webhooks\/([a-z]+)$/.exec(url.pathname);
        if (!hook) return json(res, 404, { error: 'not found' });
        if (req.method !== 'POST') return json(res, 405, { error: 'webhooks are POSTed' });
        // The raw body, as signatures are computed over it.
        const raw = await readBody(req, MAX_WEBHOOK_BYTES);
        if (!raw) return refuse(res, 413, { error: `body larger than ${MAX_WEBHOOK_BYTES} bytes` });
        try {
          const reply = await this.deps.webhooks.receive(hook[1]!, raw, req.headers);
          return json(res, reply.status, reply.body);
        } catch (error) {
          // Not recorded: the provider retries, and the retry does the work.
          this.deps.log.warn({ err: error, provider: hook[1] }, 'webhook could not be recorded; asking the provider to retry');
          return json(res, 503, { error: 'could not record the event now; retry' });
        }
      }
    }
  }

  /** Prometheus text, off the graph; behind its own bearer token when one is configured. */
  private async serveMetrics(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const { metrics } = this.deps;
    if (!metrics) return json(res, 404, { error: 'not found' });
    if (req.method !== 'GET' && req.method !== 'HEAD') return json(res, 405, { error: 'metrics are read with GET' });
    if (this.metricsToken && !bearerMatches(req.headers.authorization, this.metricsToken)) {
      res.writeHead(401, { 'content-type': 'application/json', 'www-authenticate': 'Bearer realm="metrics"' });
      return void res.end(JSON.stringify({ error: 'metrics need Authorization: Bearer <GIFTGRAPH_METRICS_TOKEN>' }));
    }
    const { contentType, text } = await metrics.render();
    res.writeHead(200, { 'content-type': contentType, 'cache-control': 'no-store' });
    res.end(req.method === 'HEAD' ? undefined : text);
  }

  /** The result with its errors masked as on every other path (and counted), or undefined when it has none. */
  private maskErrors<R extends { errors?: readonly GraphQLError[] }>(result: R, transport?: Transport) {
    if (!result.errors) return undefined;
    const errors = result.errors.map((e) => this.executionError(e.toJSON(), e));
    if (transport) this.deps.metrics?.errors(transport, errors);
    return { ...result, errors };
  }

  private serveWebSocket() {
    const { schema, metrics } = this.deps;
    // An operation refused before it ran: counted here, its errors by code where they are formatted (onError).
    const refused = (name: string | null | undefined, started: number, errors: GraphQLError[]) => {
      metrics?.operation('ws', name ?? undefined, 'unknown', false, false, (performance.now() - started) / 1000);
      return errors;
    };
    return useServer<Record<string, unknown> | undefined, { auth: AuthContext; trace: TraceContext }>(
      {
        schema,
        // Apollo Server's parser limit, validation rules, error formatting and request tracking do not
        // run here, so the same limits, the same error masking and the same in-flight count are applied
        // explicitly. A document refused here is an error for that operation, never a closed socket.
        onSubscribe: (ctx, _id, payload) => {
          const started = performance.now();
          // graphql-ws lists this operation among the socket's own before asking.
          const running = Object.keys(ctx.subscriptions).length;
          if (running > MAX_OPERATIONS_PER_SOCKET) {
            return refused(payload.operationName, started, [
              new GraphQLError(`At most ${MAX_OPERATIONS_PER_SOCKET} operations run at once on one connection`, {
                extensions: { code: 'BAD_USER_INPUT', limit: MAX_OPERATIONS_PER_SOCKET },
              }),
            ]);
          }
          const prepared = this.documents.prepare(payload.query, payload.variables, payload.operationName);
          if ('errors' in prepared) return refused(payload.operationName, started, [...prepared.errors]);
          return { schema, document: prepared.document, operationName: payload.operationName, variableValues: payload.variables };
        },
        onError: (_ctx, _id, _payload, errors) => {
          const formatted = errors.map((e) => this.validationError(e.toJSON(), e));
          metrics?.errors('ws', formatted);
          return formatted;
        },
        onNext: (_ctx, _id, _payload, _args, result) => this.maskErrors(result, 'ws'),
        // A subscription's span covers its start; each event it delivers has a span of its own (eventsAfter).
        subscribe: async (args) => {
          const started = performance.now();
          const operation = getOperationAST(args.document, args.operationName);
          const [parent, span] = this.operationSpan(args, operation);
          try {
            const result = await withSpan(parent, span, () => this.subscribe(args, this.deliveries.get(args.contextValue as GraphQLContext), this.groups));
            const errors = 'errors' in result ? result.errors : undefined;
            operationFailed(span, errors);
            // Started is ok; refused (unauthorized, a bad argument) is an error, its codes counted as it is sent (onNext).
            this.countOperation(args, operation, !errors, started);
            return result;
          } finally {
            span.end();
          }
        },
        execute: async (args) => {
          this.inFlight += 1;
          const started = performance.now();
          const operation = getOperationAST(args.document, args.operationName);
          const [parent, span] = this.operationSpan(args, operation);
          try {
            const result = (await withSpan(parent, span, () => execute(args))) as ExecutionResult;
            operationFailed(span, result.errors);
            this.countOperation(args, operation, !result.errors, started);
            return result;
          } finally {
            span.end();
            this.inFlight -= 1;
          }
        },
        onConnect: async (ctx) => {
          const token = tokenFromConnectionParams(ctx.connectionParams);
          const auth = await this.authenticate(token);
          // Closed while the token was checked: its close has passed, and nothing may be counted for it.
          if (ctx.extra.socket.readyState !== ctx.extra.socket.OPEN) return false;
          ctx.extra.auth = auth;
          ctx.extra.trace = callerContext(ctx.extra.request.headers);
          // Only a token that was sent and failed is refused here; a missing one fails per operation.
          if (auth.authError) return false;
          if (token && auth.viewer && !this.socketsPerToken.admit(token, ctx.extra.socket)) return false;
          if (auth.viewer) closeWhenExpired(ctx.extra.socket, auth.viewer.expiresAt);
          this.connections.add(ctx);
          return true;
        },
        onClose: (ctx) => void this.connections.delete(ctx),
        context: (ctx, id) => {
          const context = createContext(this.deps.services, ctx.extra.auth ?? { viewer: null, authError: null });
          this.deliveries.set(context, new SocketDelivery(ctx.extra.socket, this.sockets.get(ctx.extra.socket), id));
          this.traceParents.set(context, ctx.extra.trace ?? ROOT_CONTEXT);
          return context;
        },
      },
      this.wss,
    );
  }

  /** The span of one WebSocket operation, named after it, and the trace it continues. */
  private operationSpan(args: Parameters<typeof execute>[0], operation: OperationDefinitionNode | null | undefined): [TraceContext, Span] {
    const parent = this.traceParents.get(args.contextValue as GraphQLContext) ?? ROOT_CONTEXT;
    const span = startOperationSpan(parent);
    nameOperation(span, operation);
    return [parent, span];
  }

  /** One operation over WebSocket that ran; its name becomes a label only for an authenticated caller. */
  private countOperation(args: Parameters<typeof execute>[0], operation: OperationDefinitionNode | null | undefined, ok: boolean, started: number): void {
    const { metrics } = this.deps;
    if (!metrics) return;
    const trusted = (args.contextValue as GraphQLContext).viewer !== null;
    metrics.operation('ws', operation?.name?.value ?? args.operationName ?? undefined, operation?.operation ?? 'unknown', trusted, ok, (performance.now() - started) / 1000);
  }

  /**
   * Identical live subscriptions of one tenant join one group of `groups`, which executes each
   * event once and writes the serialized result to every member's `delivery`; one that replays
   * from a cursor runs alone.
   */
  private subscribe(args: Parameters<typeof subscribe>[0], delivery: Delivery | undefined, groups: SubscriptionGroups) {
    const context = args.contextValue as GraphQLContext;
    const tenant = context.viewer?.tenant;
    const key = groupKey(args, tenant);
    if (!tenant || !key || !delivery) return subscribe(args);
    try {
      requireScope(context, 'orders:read');
    } catch (error) {
      return { errors: [error as GraphQLError] };
    }
    return groups.join(key, delivery, () => ({ ...args, contextValue: createContext(this.deps.services, { viewer: groupViewer(tenant), authError: null }) }));
  }
}

/**
 * Who a group runs as: it answers for every member, so as none of them. It has the tenant and the
 * one scope each member was admitted with, and does not expire: each member's own socket closes
 * when its token does, and the group lives on for the rest.
 */
function groupViewer(tenant: string): Viewer {
  return { subject: 'subscription-group', tenant, scopes: new Set(['orders:read']), expiresAt: Number.POSITIVE_INFINITY };
}

/**
 * The bearer token from graphql-ws connection params: flat (`authorization`, as a browser client
 * sends it) or nested as the Apollo Router forwards it (`connectionParams.connectionParams.token`).
 */
export function tokenFromConnectionParams(params: Record<string, unknown> | undefined): string | undefined {
  if (!params) return undefined;
  const flat = params.authorization ?? params.Authorization;
  if (typeof flat === 'string') return flat;
  const nested = (params.connectionParams as Record<string, unknown> | undefined)?.token;
  if (typeof nested === 'string') return /^Bearer\s/i.test(nested) ? nested : `Bearer ${nested}`;
  return undefined;
}

/** A subscription lives no longer than its token: the socket closes with 4401 when the token expires. */
function closeWhenExpired(socket: WebSocket, expiresAtSeconds: number): void {
  const ms = Math.min(expiresAtSeconds * 1000 - Date.now(), 2 ** 31 - 1);
  const timer = setTimeout(() => socket.close(4401, 'Token expired'), Math.max(ms, 0));
  timer.unref();
  socket.once('close', () => clearTimeout(timer));
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
