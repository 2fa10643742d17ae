import type http from 'node:http';
import type { Context as TraceContext, Span } from '@opentelemetry/api';
import {
  execute,
  getOperationAST,
  GraphQLError,
  type ExecutionArgs,
  type ExecutionResult,
  type GraphQLFormattedError,
  type GraphQLSchema,
  type OperationDefinitionNode,
} from 'graphql';
import {
  createHandler,
  type ExecutionResult as StreamResult,
  type Handler,
  type OperationArgs,
  type OperationResult,
  type RequestParams,
  type Response as HandlerResponse,
} from 'graphql-sse';
import type { Logger } from 'pino';
import type { GraphQLContext } from '../resolvers/context.js';
import type { AuthContext } from '../resolvers/access.js';
import { readBody, refuse } from './connections.js';
import type { DocumentCache } from './document-cache.js';
import { formatError, MAX_BODY_BYTES, type OperationRecorder } from './graphql-http.js';
import { MAX_OPERATIONS_PER_SOCKET, OpenPerToken } from './socket-limits.js';
import type { Delivery } from './subscription-groups.js';
import { inOperationSpan, nameOperation, operationFailed, withSpan } from './tracing.js';

/** How long a stream's end may wait for its client to read what is left, before the connection is dropped. */
const UNREAD_END_GRACE_MS = 10_000;

/**
 * Event streams one token may hold open at once, on this replica: as many as the operations one
 * WebSocket may run, since each stream carries one operation.
 */
export const MAX_STREAMS_PER_TOKEN = MAX_OPERATIONS_PER_SOCKET;

const EVENT_STREAM = 'text/event-stream';
/** What Apollo Server answers with; a client that prefers one of these to an event stream gets Apollo. */
const APOLLO_TYPES: ReadonlySet<string> = new Set(['application/json', 'application/graphql-response+json', 'multipart/mixed']);

/**
 * Whether a request to `/graphql` asks for an event stream: its Accept header lists
 * `text/event-stream` and prefers it to every response type Apollo Server gives (by q-value; on a
 * tie, the type listed first). Wildcards prefer nothing.
 */
export function wantsEventStream(accept: string | undefined): boolean {
  if (!accept?.toLowerCase().includes(EVENT_STREAM)) return false;
  let stream = { q: 0, at: Infinity };
  let apollo = { q: 0, at: Infinity };
  accept.split(',').forEach((range, at) => {
    const [type = '', ...params] = range.split(';').map((part) => part.trim().toLowerCase());
    const weight = params.find((p) => /^q\s*=/.test(p));
    const q = weight === undefined ? 1 : Number(weight.slice(weight.indexOf('=') + 1));
    if (!(q > 0)) return;
    if (type === EVENT_STREAM && q > stream.q) stream = { q, at };
    else if (APOLLO_TYPES.has(type) && q > apollo.q) apollo = { q, at };
  });
  return stream.q > apollo.q || (stream.q > 0 && stream.q === apollo.q && stream.at < apollo.at);
}

/** Content types a browser sends without a CORS preflight (the three Apollo's CSRF prevention names). */
const SIMPLE_CONTENT_TYPES: ReadonlySet<string> = new Set(['application/x-www-form-urlencoded', 'multipart/form-data', 'text/plain']);
/**
 * Headers no browser sends cross-origin without a CORS preflight: Apollo's two, the event-stream
 * token of graphql-sse's single connection mode, and `Authorization`, which every operation here
 * needs (giftgraph reads no cookie, so a request without it cannot act as anyone).
 */
const PREFLIGHT_HEADERS = ['authorization', 'apollo-require-preflight', 'x-apollo-operation-name', 'x-graphql-event-stream-token'] as const;
const MEDIA_TYPE = /^[!#$%&'*+.^_`|~0-9a-z-]+\/[!#$%&'*+.^_`|~0-9a-z-]+$/;

/**
 * Apollo's CSRF rule, with `Authorization` among the preflight headers: a request a browser could
 * have sent cross-origin without asking first (no content type but a simple one, and none of the
 * headers) is not run. An `EventSource` is such a request; a gateway or a fetch-based client sends
 * its token or a JSON body, and passes.
 */
export function preflighted(headers: http.IncomingHttpHeaders): boolean {
  const type = headers['content-type'];
  if (type !== undefined) {
    const essence = type.split(';')[0]!.trim().toLowerCase();
    // A type a browser could not parse is not one it sends without asking.
    if (!MEDIA_TYPE.test(essence) || !SIMPLE_CONTENT_TYPES.has(essence)) return true;
  }
  return PREFLIGHT_HEADERS.some((name) => {
    const value = headers[name];
    return typeof value === 'string' ? value.length > 0 : Array.isArray(value) && value.length > 0;
  });
}

const CSRF_REFUSAL =
  'This operation has been blocked as a potential Cross-Site Request Forgery (CSRF). Please either specify a ' +
  `'content-type' header (with a type that is not one of ${[...SIMPLE_CONTENT_TYPES].join(', ')}) or provide a non-empty value ` +
  `for one of the following headers: ${PREFLIGHT_HEADERS.join(', ')}`;

/** What the server lends its event streams. */
export interface EventStreamDeps {
  schema: GraphQLSchema;
  /** Parses (up to the token limit) and validates (with the query limits) each distinct document once. */
  documents: DocumentCache;
  log: Logger;
  metrics?: OperationRecorder;
  authenticate(authorization: string | undefined): Promise<AuthContext>;
  context(auth: AuthContext): GraphQLContext;
  /**
   * Starts a subscription. `delivery` writes serialized results straight to its stream, for a
   * subscription that joins a group of identical ones; one that runs alone yields its results.
   */
  subscribe(args: ExecutionArgs, delivery: Delivery): Promise<AsyncIterable<unknown> | ExecutionResult> | AsyncIterable<unknown> | ExecutionResult;
}

type EndReason = 'expired' | 'shutdown' | 'gone';

/** One request on its way to being an event stream, and the stream it becomes. */
interface Stream {
  readonly res: http.ServerResponse;
  readonly auth: AuthContext;
  readonly parent: TraceContext;
  readonly span: Span;
  readonly started: number;
  readonly delivery: StreamDelivery;
  operation?: OperationDefinitionNode;
  /** The running subscription, once started: returned when the stream ends. */
  subscription?: AsyncIterator<unknown>;
  /** The handler's messages, once the response is a stream. */
  body?: AsyncGenerator<string, void, undefined>;
  ended?: EndReason;
}

/** The response headers of every event stream: never cached, never buffered by a proxy. */
const STREAM_HEADERS = {
  'content-type': 'text/event-stream; charset=utf-8',
  'cache-control': 'no-store',
  'x-accel-buffering': 'no',
};

/** An event of graphql-sse's distinct connections mode: the result itself is the data. */
const nextEvent = (payload: string) => `event: next\ndata: ${payload}\n\n`;
const COMPLETE_EVENT = 'event: complete\ndata:\n\n';

/**
 * Writes one grouped subscription's results straight to its stream: the payload was serialized
 * once for the whole group. Several events go out corked, in one write.
 */
export class StreamDelivery implements Delivery {
  closed = false;

  constructor(
    private readonly res: http.ServerResponse,
    /** Sends the stream's head, if it is not sent yet. */
    private readonly begin: () => void,
  ) {}

  get backlog(): number {
    return this.res.writableLength;
  }

  send(payloads: readonly string[]): boolean {
    if (this.closed || this.res.destroyed || this.res.writableEnded) return false;
    this.begin();
    const cork = payloads.length > 1;
    if (cork) this.res.cork();
    for (const payload of payloads) this.res.write(nextEvent(payload));
    if (cork) this.res.uncork();
    return true;
  }
}

/**
 * GraphQL over Server-Sent Events on `/graphql`, with graphql-sse's handler in its distinct
 * connections mode: one request, one operation, one stream of `next` events ending with `complete`.
 * This is how Hive Gateway subscribes to an HTTP subgraph by default (a GET with the operation in
 * the query string), and how graphql-sse's client does (a POST with a JSON body). Everything the
 * WebSocket path applies holds here too: the token, the tenant, the parser token limit, the query
 * limits and the cost limit, error masking, metrics (transport `sse`) and a span per operation that
 * continues the caller's `traceparent`. Single connection mode (reservations with PUT and
 * `X-GraphQL-Event-Stream-Token`) is not served.
 */
export class EventStreams {
  private readonly handler: Handler<http.IncomingMessage, Stream>;
  private readonly open = new Set<Stream>();
  private readonly perToken = new OpenPerToken(MAX_STREAMS_PER_TOKEN);
  private readonly streamOf = new WeakMap<GraphQLContext, Stream>();
  /** Refusals answered before anything ran: their errors are already formatted, and they carry no data. */
  private readonly refusals = new WeakSet<object>();
  private readonly validationError;
  private readonly executionError;
  private closed = false;

  constructor(private readonly deps: EventStreamDeps) {
    this.validationError = formatError(deps.log);
    this.executionError = formatError(deps.log, 'BAD_USER_INPUT');
    this.handler = createHandler<http.IncomingMessage, Stream, Record<PropertyKey, unknown>>({
      // No reservations: every stream is a distinct connection.
      authenticate: () => null,
      // Documents are validated (with the query limits) where they are prepared, once per document.
      validate: () => [],
      onSubscribe: (req, params) => this.prepare(req.context, params) as OperationResult | OperationArgs<Record<PropertyKey, unknown>>,
      subscribe: (args) => this.subscribe(args) as OperationResult,
      execute: (args) => this.execute(args) as OperationResult,
      onNext: (_ctx, _req, result) => this.mask(result),
    });
  }

  /** Subscriptions running now, for the metrics. */
  get subscriptions(): number {
    let running = 0;
    for (const stream of this.open) if (stream.subscription && !stream.ended) running += 1;
    return running;
  }

  /**
   * Ends every subscription stream, without `complete`: a client takes that as the connection
   * lost, reconnects (to another replica) and resumes with `after`. Queries and mutations in
   * flight finish; streams that start from now on end at once.
   */
  close(): void {
    this.closed = true;
    for (const stream of this.open) if (stream.subscription) this.end(stream, 'shutdown');
  }

  /** Answers one request to `/graphql` that asked for an event stream. */
  serve(req: http.IncomingMessage, res: http.ServerResponse, url: URL): Promise<void> {
    return inOperationSpan(req, res, (parent, span) => this.answer(req, res, url, parent, span));
  }

  private async answer(req: http.IncomingMessage, res: http.ServerResponse, url: URL, parent: TraceContext, span: Span): Promise<void> {
    const started = performance.now();
    if (!preflighted(req.headers)) return this.badRequest(res, span, 400, CSRF_REFUSAL, { unread: true });
    let body: Record<string, unknown> | null = null;
    if (req.method === 'POST') {
      const raw = await readBody(req, MAX_BODY_BYTES);
      if (!raw) {
        const errors = [{ message: `Request body is larger than ${MAX_BODY_BYTES} bytes`, extensions: { code: 'BAD_REQUEST' } }];
        this.deps.metrics?.refused('sse', 'BAD_REQUEST');
        operationFailed(span, errors);
        return refuse(res, 413, { errors });
      }
      // Parsed here so that no parser message (which quotes the body) reaches the client.
      if (/json/i.test(req.headers['content-type'] ?? '') && raw.toString('utf8').trim() !== '') {
        let parsed: unknown;
        try {
          parsed = JSON.parse(raw.toString('utf8'));
        } catch {
          return this.badRequest(res, span, 400, 'Request body is not valid JSON');
        }
        if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) return this.badRequest(res, span, 400, 'Request body must be a JSON object');
        body = parsed as Record<string, unknown>;
      }
    }

    const authorization = req.headers.authorization;
    const auth = await this.deps.authenticate(authorization);
    const release = auth.viewer && authorization ? this.perToken.take(authorization) : () => undefined;
    if (!release) {
      this.deps.metrics?.refused('sse', 'BAD_USER_INPUT');
      const errors = [{ message: `At most ${MAX_STREAMS_PER_TOKEN} event streams per token`, extensions: { code: 'BAD_USER_INPUT', limit: MAX_STREAMS_PER_TOKEN } }];
      operationFailed(span, errors);
      return json(res, 429, { errors });
    }

    const begin = () => {
      if (!res.headersSent) res.writeHead(200, STREAM_HEADERS);
    };
    const stream: Stream = { res, auth, parent, span, started, delivery: new StreamDelivery(res, begin) };
    let response: HandlerResponse;
    try {
      response = await this.handler({
        method: req.method ?? 'GET',
        url: `${url.pathname}${url.search}`,
        headers: {
          // graphql-sse streams only for exactly this Accept; the request was routed here because it prefers it.
          get: (name) => (name.toLowerCase() === 'accept' ? EVENT_STREAM : header(req, name)),
        },
        body,
        raw: req,
        context: stream,
      });
    } catch (error) {
      release();
      await stream.subscription?.return?.();
      throw error;
    }
    const [messages, init] = response;
    if (typeof messages === 'string' || messages === null) {
      release();
      return this.refusal(res, span, init, messages);
    }
    // No await between the handler's answer and this head: a group's first write can only come later.
    begin();
    stream.body = messages;
    this.open.add(stream);
    res.once('close', () => {
      if (!res.writableFinished) this.end(stream, 'gone');
    });
    if (res.destroyed) this.end(stream, 'gone');
    const expiry = auth.viewer ? setTimeout(() => this.end(stream, 'expired'), Math.max(Math.min(auth.viewer.expiresAt * 1000 - Date.now(), 2 ** 31 - 1), 0)) : undefined;
    expiry?.unref();
    if (this.closed && stream.subscription) this.end(stream, 'shutdown');
    // The place is the connection's: it comes back when the connection closes, not when the stream ends.
    res.once('close', release);
    void this.pump(stream, messages).finally(() => {
      clearTimeout(expiry);
      this.open.delete(stream);
    });
  }

  /** Writes the handler's messages to the response until the operation completes or the stream is ended. */
  private async pump(stream: Stream, messages: AsyncGenerator<string, void, undefined>): Promise<void> {
    const { res } = stream;
    let completed = false;
    try {
      for await (const message of messages) {
        // Ended from outside: nothing more of the operation goes out (a `complete` would stop a client reconnecting).
        if (stream.ended || res.destroyed || res.writableEnded) continue;
        res.write(message);
        if (message.startsWith('event: complete')) completed = true;
      }
    } catch (error) {
      // The subscription failed while it ran (a subscriber that fell behind is told where to resume).
      if (!stream.ended && !res.destroyed && !res.writableEnded && !completed) {
        const cause = error instanceof Error ? error : new Error(String(error));
        const wrapped = cause instanceof GraphQLError ? cause : new GraphQLError(cause.message, { originalError: cause });
        const errors = [this.executionError(wrapped.toJSON(), wrapped)];
        this.deps.metrics?.errors('sse', errors);
        res.write(nextEvent(JSON.stringify({ errors })));
        res.write(COMPLETE_EVENT);
        completed = true;
      }
    }
    if (res.destroyed || res.writableEnded) return;
    // Ended for an expired token: the client was told why (end), and the operation is over.
    if (stream.ended === 'expired' && !completed) res.write(COMPLETE_EVENT);
    res.end();
    // A client that stopped reading would hold the connection, and what is buffered for it, for good.
    if (!res.writableFinished) {
      const drop = setTimeout(() => res.destroy(), UNREAD_END_GRACE_MS);
      drop.unref();
      res.once('close', () => clearTimeout(drop));
    }
  }

  /** Ends a stream from outside: its token expired, the server is stopping, or its client left. */
  private end(stream: Stream, reason: EndReason): void {
    if (stream.ended) return;
    stream.ended = reason;
    stream.delivery.closed = true;
    const { res } = stream;
    if (reason === 'expired' && !res.destroyed && !res.writableEnded) {
      const errors = [{ message: 'The token has expired', extensions: { code: 'UNAUTHENTICATED' } }];
      this.deps.metrics?.errors('sse', errors);
      res.write(nextEvent(JSON.stringify({ errors })));
    }
    void stream.subscription?.return?.();
    void stream.body?.return();
  }

  /**
   * Parses (up to the token limit) and validates the document, and checks its cost, as on every
   * other path; a refused document is answered as one result with its errors, never run.
   */
  private prepare(stream: Stream, params: RequestParams): OperationResult | ExecutionArgs {
    const { schema, documents, metrics } = this.deps;
    const operationName = params.operationName ?? undefined;
    const variables = params.variables ?? undefined;
    const refused = (errors: readonly GraphQLError[]) => {
      const formatted = errors.map((e) => this.validationError(e.toJSON(), e));
      metrics?.operation('sse', operationName, 'unknown', false, false, (performance.now() - stream.started) / 1000);
      metrics?.errors('sse', formatted);
      operationFailed(stream.span, formatted);
      const result = { data: null, errors: formatted } as unknown as StreamResult;
      this.refusals.add(result);
      return result;
    };
    const prepared = documents.prepare(params.query, variables, operationName);
    if ('errors' in prepared) return refused(prepared.errors);
    const operation = getOperationAST(prepared.document, operationName);
    if (!operation) {
      const message = operationName ? `Unknown operation named "${operationName}".` : 'Must provide operation name if query contains multiple operations.';
      return refused([new GraphQLError(message, { extensions: { code: 'OPERATION_RESOLUTION_FAILURE' } })]);
    }
    stream.operation = operation;
    nameOperation(stream.span, operation);
    const contextValue = this.deps.context(stream.auth);
    this.streamOf.set(contextValue, stream);
    return { schema, document: prepared.document, operationName, variableValues: variables, contextValue };
  }

  /** A subscription's span covers its start; each event it delivers has a span of its own. */
  private async subscribe(args: ExecutionArgs): Promise<AsyncIterable<unknown> | ExecutionResult> {
    const stream = this.streamOf.get(args.contextValue as GraphQLContext)!;
    const result = await withSpan(stream.parent, stream.span, () => this.deps.subscribe(args, stream.delivery));
    const errors = 'errors' in result ? (result as ExecutionResult).errors : undefined;
    operationFailed(stream.span, errors);
    // Started is ok; refused (unauthorized, a bad argument) is an error, its codes counted as it is sent (onNext).
    this.count(stream, args, !errors);
    if (!isAsyncIterable(result)) return result as ExecutionResult;
    const subscription = paced(result, stream.res);
    stream.subscription = subscription;
    return subscription;
  }

  private async execute(args: ExecutionArgs): Promise<ExecutionResult> {
    const stream = this.streamOf.get(args.contextValue as GraphQLContext)!;
    const result = (await withSpan(stream.parent, stream.span, () => execute(args))) as ExecutionResult;
    operationFailed(stream.span, result.errors);
    this.count(stream, args, !result.errors?.length);
    return result;
  }

  /** The result with its errors masked as on every other path, and counted. */
  private mask(result: StreamResult | unknown): StreamResult | undefined {
    if (this.refusals.has(result as object)) return { errors: (result as StreamResult).errors } as StreamResult;
    const errors = (result as ExecutionResult).errors;
    if (!errors?.length) return;
    const masked = errors.map((e) => (e instanceof GraphQLError ? this.executionError(e.toJSON(), e) : (e as GraphQLFormattedError)));
    this.deps.metrics?.errors('sse', masked);
    return { ...(result as StreamResult), errors: masked } as unknown as StreamResult;
  }

  /** One operation that ran; its name becomes a label only for an authenticated caller. */
  private count(stream: Stream, args: ExecutionArgs, ok: boolean): void {
    const operation = stream.operation;
    const trusted = (args.contextValue as GraphQLContext).viewer !== null;
    this.deps.metrics?.operation(
      'sse',
      operation?.name?.value ?? args.operationName ?? undefined,
      operation?.operation ?? 'unknown',
      trusted,
      ok,
      (performance.now() - stream.started) / 1000,
    );
  }

  /** A request refused before it was an operation, as Apollo Server answers one (`BAD_REQUEST`). */
  /** `unread`: the body was not read, so the connection closes after the answer (see `refuse`). */
  private badRequest(res: http.ServerResponse, span: Span, status: number, message: string, { unread = false } = {}): void {
    const errors = [{ message, extensions: { code: 'BAD_REQUEST' } }];
    this.deps.metrics?.refused('sse', 'BAD_REQUEST');
    operationFailed(span, errors);
    if (unread) refuse(res, status, { errors });
    else json(res, status, { errors });
  }

  /** The handler's own refusal (a missing query, a mutation over GET), with the code every refusal carries. */
  private refusal(res: http.ServerResponse, span: Span, init: HandlerResponse[1], body: string | null): void {
    let said: { message?: unknown }[] = [];
    try {
      said = body ? ((JSON.parse(body) as { errors?: { message?: unknown }[] }).errors ?? []) : [];
    } catch {
      // Not JSON: said nothing a client can use.
    }
    const messages = said.map((e) => (typeof e.message === 'string' ? e.message : '')).filter(Boolean);
    const errors = (messages.length > 0 ? messages : [init.statusText || 'Bad Request']).map((message) => ({ message, extensions: { code: 'BAD_REQUEST' } }));
    this.deps.metrics?.refused('sse', 'BAD_REQUEST');
    operationFailed(span, errors);
    if (init.headers?.allow) res.setHeader('allow', init.headers.allow);
    json(res, init.status, { errors });
  }
}

/**
 * The subscription's results, pulled no faster than its client reads them: while the response
 * holds more than its buffer, the next event waits in the event log's own bounded backlog (which
 * cuts off a subscriber that falls too far behind), not in memory here.
 */
function paced(source: AsyncIterable<unknown>, res: http.ServerResponse): AsyncGenerator<unknown, void, undefined> {
  const inner = source[Symbol.asyncIterator]();
  let stopped = false;
  const done = { done: true, value: undefined } as const;
  const paced: AsyncGenerator<unknown, void, undefined> = {
    async next() {
      if (res.writableNeedDrain && !res.destroyed) await drained(res);
      if (stopped) return done;
      return (await inner.next()) as IteratorResult<unknown, void>;
    },
    async return() {
      stopped = true;
      await inner.return?.();
      return done;
    },
    async throw(error: unknown) {
      stopped = true;
      if (inner.throw) return (await inner.throw(error)) as IteratorResult<unknown, void>;
      await inner.return?.();
      throw error;
    },
    [Symbol.asyncIterator]() {
      return paced;
    },
  };
  return paced;
}

const drained = (res: http.ServerResponse) =>
  new Promise<void>((resolve) => {
    const settle = () => {
      res.off('drain', settle).off('close', settle);
      resolve();
    };
    res.once('drain', settle).once('close', settle);
  });

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> => typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === 'function';

function header(req: http.IncomingMessage, name: string): string | undefined {
  const value = req.headers[name.toLowerCase()];
  return Array.isArray(value) ? value.join(', ') : value;
}

function json(res: http.ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { 'content-type': 'application/json' });
  res.end(JSON.stringify(body));
}
