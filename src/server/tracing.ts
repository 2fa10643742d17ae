import { context, propagation, ROOT_CONTEXT, SpanKind, SpanStatusCode, trace, type Context, type Span } from '@opentelemetry/api';
import type { ApolloServerPlugin, BaseContext, GraphQLRequestListener, HTTPGraphQLRequest } from '@apollo/server';
import type { NodeSDKConfiguration } from '@opentelemetry/sdk-node';
import type { GraphQLFormattedError, OperationDefinitionNode } from 'graphql';

/** The API's no-op tracer until an SDK is registered; the same name as the other layers' spans. */
const tracer = trace.getTracer('giftgraph');

const TRUE = /^\s*true\s*$/i;

/**
 * Whether the environment asks for traces: an exporter other than `none` (OTEL_TRACES_EXPORTER), or
 * an OTLP endpoint, is named, and OTEL_SDK_DISABLED is not true. Anything else leaves the API's no-op
 * tracer in place, which costs next to nothing.
 */
export function tracingRequested(env: NodeJS.ProcessEnv = process.env): boolean {
  if (TRUE.test(env.OTEL_SDK_DISABLED ?? '')) return false;
  const exporters = (env.OTEL_TRACES_EXPORTER ?? '')
    .split(',')
    .map((e) => e.trim())
    .filter(Boolean);
  if (exporters.length > 0) return exporters.some((e) => e !== 'none');
  return Boolean(env.OTEL_EXPORTER_OTLP_ENDPOINT?.trim() || env.OTEL_EXPORTER_OTLP_TRACES_ENDPOINT?.trim());
}

export interface Tracing {
  /** Exports what is still buffered, then stops. */
  shutdown(): Promise<void>;
}

/**
 * Starts the OpenTelemetry SDK for traces only, configured by the standard OTEL_* variables
 * (exporter and protocol, endpoint and headers, sampler, propagators, resource), when they ask for
 * traces; undefined otherwise. Spans are made by hand where giftgraph does its work, so no
 * instrumentation is loaded. Metrics stay Prometheus and logs stay pino: the SDK exports neither.
 * `traceExporter` replaces the one the environment names (an in-process exporter for benchmarks).
 * The SDK is loaded only then: it takes about 0.4 s to load, which a process without traces never pays.
 */
export async function startTracing(options: { traceExporter?: NodeSDKConfiguration['traceExporter'] } = {}): Promise<Tracing | undefined> {
  // The SDK reads process.env itself, so the decision does too.
  const env = process.env;
  if (!options.traceExporter && !tracingRequested(env)) return undefined;
  const { NodeSDK } = await import('@opentelemetry/sdk-node');
  const named = env.OTEL_SERVICE_NAME?.trim() || /(^|,)\s*service\.name\s*=/.test(env.OTEL_RESOURCE_ATTRIBUTES ?? '');
  const sdk = new NodeSDK({
    // An explicit name would override the environment's.
    serviceName: named ? undefined : 'giftgraph',
    instrumentations: [],
    metricReaders: [],
    logRecordProcessors: [],
    ...(options.traceExporter ? { traceExporter: options.traceExporter } : {}),
  });
  sdk.start();
  return { shutdown: () => sdk.shutdown() };
}

/** The caller's trace context from W3C `traceparent`/`tracestate` headers (the Apollo Router sends them), or none. */
export function callerContext(headers: Record<string, string | string[] | undefined>): Context {
  return propagation.extract(ROOT_CONTEXT, headers);
}

/**
 * The span of one GraphQL operation, a child of the caller's span. Named `GraphQL Operation` until
 * the operation is known (nameOperation), as the GraphQL semantic conventions name one.
 */
export function startOperationSpan(parent: Context): Span {
  return tracer.startSpan('GraphQL Operation', { kind: SpanKind.SERVER }, parent);
}

/**
 * Names the span after its operation (`query OrderName`) with graphql.operation.type and
 * graphql.operation.name. Only the parsed operation's own name: never the document, which may hold
 * literal personal data, nor its variables.
 */
export function nameOperation(span: Span, operation: OperationDefinitionNode | null | undefined): void {
  if (!operation || !span.isRecording()) return;
  const name = operation.name?.value;
  span.updateName(name ? `${operation.operation} ${name}` : operation.operation);
  span.setAttribute('graphql.operation.type', operation.operation);
  if (name) span.setAttribute('graphql.operation.name', name);
}

/** Marks an answer with errors: error.type is the first error's code, never a message. */
export function operationFailed(span: Span, errors: readonly (GraphQLFormattedError | { extensions?: Record<string, unknown> })[] | undefined): void {
  if (!errors?.length || !span.isRecording()) return;
  const code = errors[0]?.extensions?.code;
  span.setAttribute('error.type', typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : '_OTHER');
  span.setStatus({ code: SpanStatusCode.ERROR });
}

/** Runs `work` with `span` active under `parent`, so the spans it starts (provider calls, ledger writes) are its children. */
export function withSpan<T>(parent: Context, span: Span, work: () => T): T {
  return context.with(trace.setSpan(parent, span), work);
}

/**
 * One HTTP request's operation in a span of its own, a child of the caller's (`traceparent`): ended
 * with the response's status, and marked as an internal error when the work fails unexpectedly.
 */
export async function inOperationSpan(
  req: { headers: Record<string, string | string[] | undefined> },
  res: { statusCode: number },
  work: (parent: Context, span: Span) => Promise<void>,
): Promise<void> {
  const parent = callerContext(req.headers);
  const span = startOperationSpan(parent);
  try {
    await work(parent, span);
  } catch (error) {
    // The server answers it as an internal error; the span says so, and no more.
    operationFailed(span, [{ extensions: { code: 'INTERNAL_SERVER_ERROR' } }]);
    throw error;
  } finally {
    span.setAttribute('http.response.status_code', res.statusCode);
    span.end();
  }
}

/** Where serveGraphQL hands an HTTP operation's span to the plugin, on the request object Apollo passes to plugins. */
export const OPERATION_SPAN = Symbol('operationSpan');

export type TracedRequest = HTTPGraphQLRequest & { [OPERATION_SPAN]?: Span };

const DONE = Promise.resolve();

/** Names each HTTP operation's span once Apollo has resolved the operation, and marks answers with errors. */
export function operationTracingPlugin<C extends BaseContext>(): ApolloServerPlugin<C> {
  const listener: GraphQLRequestListener<C> = {
    didResolveOperation({ request, operation }) {
      const span = (request.http as TracedRequest | undefined)?.[OPERATION_SPAN];
      if (span) nameOperation(span, operation);
      return DONE;
    },
    willSendResponse({ request, response }) {
      const span = (request.http as TracedRequest | undefined)?.[OPERATION_SPAN];
      if (span && response.body.kind === 'single') operationFailed(span, response.body.singleResult.errors);
      return DONE;
    },
  };
  const ready = Promise.resolve(listener);
  return { requestDidStart: () => ready };
}
