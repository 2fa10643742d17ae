import type http from 'node:http';
import { ApolloServer, HeaderMap, type ApolloServerPlugin, type BaseContext, type GraphQLRequestListener } from '@apollo/server';
import type { Span } from '@opentelemetry/api';
import { ApolloServerPluginCacheControlDisabled } from '@apollo/server/plugin/disabled';
import { unwrapResolverError } from '@apollo/server/errors';
import { GraphQLError, type GraphQLFormattedError, type GraphQLSchema } from 'graphql';
import type { Logger } from 'pino';
import { GiftgraphError } from '../core/errors.js';
import { redact } from '../core/redact.js';
import { namesRefusedLiterals, scalarProblem } from '../schema/scalars.js';
import { readBody, refuse } from './connections.js';
import { costLimitPlugin } from './cost.js';
import { MAX_TOKENS, queryLimits } from './limits.js';
import { inOperationSpan, OPERATION_SPAN, operationFailed, operationTracingPlugin, withSpan, type TracedRequest } from './tracing.js';

export const MAX_BODY_BYTES = 1024 * 1024;

/**
 * What reaches clients of an error, on HTTP and WebSocket alike: our own typed errors and GraphQL's
 * own (syntax, validation, variable) errors, with personal data and echoed values removed; anything
 * unexpected as a bare INTERNAL_SERVER_ERROR, logged here. `defaultCode` names GraphQL's own errors
 * where nothing gave them a code (graphql-ws does not). A value a typed scalar refused, in a
 * variable or a literal, is a BAD_USER_INPUT shaped as the service's own: `field` is its input path
 * and the message `<field>: <reason>`, with no trace of the value.
 */
export function formatError(log: Logger, defaultCode = 'GRAPHQL_VALIDATION_FAILED') {
  return (formatted: GraphQLFormattedError, error: unknown): GraphQLFormattedError => {
    const refused = scalarProblem(error);
    if (refused) {
      const extensions = { code: 'BAD_USER_INPUT', field: refused.field, problems: [refused] };
      return { message: `${refused.field}: ${refused.message}`, locations: formatted.locations, extensions };
    }
    const original = unwrapResolverError(error);
    const code = formatted.extensions?.code;
    // GraphQL's own errors carry no cause, or wrap another GraphQLError (variable coercion does).
    const graphqlOwn = error instanceof GraphQLError && (!error.originalError || error.originalError instanceof GraphQLError);
    const known = original instanceof GiftgraphError || graphqlOwn || (typeof code === 'string' && code !== 'INTERNAL_SERVER_ERROR');
    if (!known) {
      log.error({ err: original, path: formatted.path }, 'unexpected error in resolver');
      return { message: 'Internal server error', locations: formatted.locations, path: formatted.path, extensions: { code: 'INTERNAL_SERVER_ERROR' } };
    }
    const { stacktrace: _stacktrace, http: _http, ...extensions } = formatted.extensions ?? {};
    if (typeof extensions.code !== 'string') extensions.code = defaultCode;
    if (Array.isArray(extensions.problems)) {
      extensions.problems = (extensions.problems as { field: string; message: string }[]).map((p) => ({ ...p, message: redact(p.message) }));
    }
    return { ...formatted, message: redact(formatted.message), extensions };
  };
}

/** `plugins`: more plugins, run after giftgraph's own (so they see the final response). */
export function createApollo<C extends BaseContext>(schema: GraphQLSchema, log: Logger, plugins: ApolloServerPlugin<C>[] = []): ApolloServer<C> {
  return new ApolloServer<C>({
    schema,
    formatError: formatError(log),
    includeStacktraceInErrorResponses: false,
    // The process's own shutdown stops Apollo in order; Apollo must not race it on SIGTERM.
    stopOnTerminationSignals: false,
    parseOptions: { maxTokens: MAX_TOKENS },
    // After graphql's own rules, which parse literals: a refused literal is then given its path.
    validationRules: [queryLimits(), namesRefusedLiterals],
    // Every answer is per tenant and per token, so no response is cacheable: skip cache hints per field.
    plugins: [ApolloServerPluginCacheControlDisabled(), costLimitPlugin<C>(), operationTracingPlugin<C>(), ...plugins],
    // Apollo's CSRF prevention stays on: a browser cannot send a simple request that runs an operation.
    csrfPrevention: true,
    logger: {
      debug: (m) => log.debug(m),
      info: (m) => log.info(m),
      warn: (m) => log.warn(m),
      error: (m) => log.error(m),
    },
  });
}

/** `sse`: GraphQL over Server-Sent Events on `/graphql` (graphql-sse's distinct connections mode). */
export type Transport = 'http' | 'ws' | 'sse';
export type OperationType = 'query' | 'mutation' | 'subscription' | 'unknown';

/** Where operations are counted (metrics), on HTTP, WebSocket and event streams alike. */
export interface OperationRecorder {
  /**
   * One operation answered. `name` is as the client gave it; `trusted` says the document validated
   * and the caller is authenticated, the only callers whose new names may become labels.
   */
  operation(transport: Transport, name: string | undefined, type: OperationType, trusted: boolean, ok: boolean, seconds: number): void;
  /** The errors of an answer, as clients see them (after masking). */
  errors(transport: Transport, errors: readonly GraphQLFormattedError[]): void;
  /** A request refused before it was an operation (a body that is not JSON, a CSRF refusal), by its code. */
  refused(transport: Transport, code: string): void;
}

/** When serveGraphQL took the request, on the request object Apollo hands to plugins as `request.http`. */
const STARTED = Symbol('started');

type TimedRequest = TracedRequest & { [STARTED]?: number };

const DONE = Promise.resolve();

/**
 * Counts every HTTP operation once its response is final: by name, type and outcome, with its time
 * from when serveGraphQL took the request (authentication included), and its errors by code. One
 * listener serves every request, so nothing is allocated per request beyond what the recorder does.
 */
export function operationMetricsPlugin<C extends BaseContext>(recorder: OperationRecorder, authenticated: (context: C) => boolean): ApolloServerPlugin<C> {
  const listener: GraphQLRequestListener<C> = {
    willSendResponse({ request, response, operation, contextValue }) {
      const errors = response.body.kind === 'single' ? response.body.singleResult.errors : undefined;
      const started = (request.http as TimedRequest | undefined)?.[STARTED];
      const seconds = started === undefined ? 0 : (performance.now() - started) / 1000;
      const name = operation ? operation.name?.value : request.operationName;
      // No operation: the document did not parse, validate or name one.
      recorder.operation('http', name, operation?.operation ?? 'unknown', operation !== undefined && authenticated(contextValue), !errors?.length, seconds);
      if (errors?.length) recorder.errors('http', errors);
      return DONE;
    },
  };
  const ready = Promise.resolve(listener);
  return {
    requestDidStart: () => ready,
    invalidRequestWasReceived: () => {
      recorder.refused('http', 'BAD_REQUEST');
      return DONE;
    },
  };
}

class BadRequest extends Error {
  constructor(
    readonly status: number,
    message: string,
    /** Part of the body was left unread, so the connection must close after the answer. */
    readonly options: { unread?: boolean } = {},
  ) {
    super(message);
  }
}

/**
 * Serves one HTTP request with Apollo Server: the whole of the Node integration, no framework. The
 * request is one operation span, continuing the caller's trace (`traceparent`), and everything it
 * does runs under it.
 */
export async function serveGraphQL<C extends BaseContext>(
  apollo: ApolloServer<C>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  context: () => Promise<C>,
  recorder?: OperationRecorder,
): Promise<void> {
  await inOperationSpan(req, res, (parent, span) => withSpan(parent, span, () => serve(apollo, req, res, url, context, recorder, span)));
}

async function serve<C extends BaseContext>(
  apollo: ApolloServer<C>,
  req: http.IncomingMessage,
  res: http.ServerResponse,
  url: URL,
  context: () => Promise<C>,
  recorder: OperationRecorder | undefined,
  span: Span,
): Promise<void> {
  const started = performance.now();
  let body: unknown;
  try {
    body = await readJsonBody(req);
  } catch (error) {
    if (!(error instanceof BadRequest)) throw error;
    recorder?.refused('http', 'BAD_REQUEST');
    const body = { errors: [{ message: error.message, extensions: { code: 'BAD_REQUEST' } }] };
    operationFailed(span, body.errors);
    if (error.options.unread) return refuse(res, error.status, body);
    res.writeHead(error.status, { 'content-type': 'application/json' });
    res.end(JSON.stringify(body));
    return;
  }
  const headers = new HeaderMap();
  for (const [name, value] of Object.entries(req.headers)) {
    if (value !== undefined) headers.set(name, Array.isArray(value) ? value.join(', ') : value);
  }
  const httpGraphQLRequest: TimedRequest = { method: (req.method ?? 'GET').toUpperCase(), headers, search: url.search, body, [STARTED]: started, [OPERATION_SPAN]: span };
  const result = await apollo.executeHTTPGraphQLRequest({ httpGraphQLRequest, context });
  for (const [name, value] of result.headers) res.setHeader(name, value);
  res.statusCode = result.status ?? 200;
  if (result.body.kind === 'complete') {
    res.end(result.body.string);
    return;
  }
  for await (const chunk of result.body.asyncIterator) res.write(chunk);
  res.end();
}

async function readJsonBody(req: http.IncomingMessage): Promise<unknown> {
  if (req.method !== 'POST') return undefined;
  const raw = await readBody(req, MAX_BODY_BYTES);
  if (!raw) throw new BadRequest(413, `Request body is larger than ${MAX_BODY_BYTES} bytes`, { unread: true });
  const text = raw.toString('utf8');
  const type = req.headers['content-type'] ?? '';
  if (!/json/i.test(type)) return text;
  if (text.trim() === '') return undefined;
  try {
    return JSON.parse(text);
  } catch {
    throw new BadRequest(400, 'Request body is not valid JSON');
  }
}
