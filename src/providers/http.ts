import { setTimeout as sleep } from 'node:timers/promises';
import { SpanKind, SpanStatusCode, trace, type Span } from '@opentelemetry/api';
import { Agent, errors as undiciErrors, type Dispatcher } from 'undici';
import type { Provider } from '../core/model.js';
import { redact } from '../core/redact.js';
import { GuardRefusal, type ProviderGuard, type ProviderGuards } from './guard.js';

/**
 * What a failed provider call means for the money:
 * - `rejected`: the provider answered and refused (4xx); nothing was taken.
 * - `unavailable`: the provider did not process the request (unreachable, 429), or it was never sent
 *   (the provider's circuit is open, or the request waited too long for its turn); nothing was taken.
 * - `unknown`: the request may have been processed (timeout after sending, dropped connection, any 5xx,
 *   an unreadable success response). A 503 counts here too: a proxy in front of the provider may
 *   answer it after forwarding the request.
 */
export type FailureKind = 'rejected' | 'unavailable' | 'unknown';

/** One problem a provider named in its error, by the provider's own parameter name where it gave one. */
export interface ProviderProblem {
  param?: string;
  message: string;
}

export class ProviderCallError extends Error {
  /** Each problem the provider listed, where it lists several (&Open names every invalid field at once). */
  problems: ProviderProblem[] = [];
  /** An earlier attempt of this request may have been processed, whatever this last answer says. */
  afterAmbiguousAttempt = false;

  constructor(
    readonly provider: Provider,
    readonly kind: FailureKind,
    message: string,
    readonly status?: number,
    readonly providerCode?: string,
    readonly retryAfterMs?: number,
  ) {
    super(redact(message));
    this.name = 'ProviderCallError';
  }
}

export interface RetryPolicy {
  attempts: number;
  baseDelayMs: number;
  maxDelayMs: number;
}

/** The time the retries go by: how long since the first attempt, and the wait before the next. */
export interface RetryClock {
  /** Milliseconds on a monotonic scale (differences only). */
  now: () => number;
  sleep: (ms: number) => Promise<void>;
}

const REAL_TIME: RetryClock = { now: () => performance.now(), sleep: (ms) => sleep(ms) };

export interface ProviderHttpOptions {
  provider: Provider;
  baseUrl: string;
  timeoutMs: number;
  /** Headers sent with every request (auth); computed per request so tokens can rotate. */
  headers: () => Record<string, string> | Promise<Record<string, string>>;
  /** Reads the provider's error body into a code, a client-safe message and, where listed, each problem. */
  readError: (status: number, body: unknown) => { code?: string; message?: string; problems?: ProviderProblem[] };
  retry?: Partial<RetryPolicy>;
  connections?: number;
  /**
   * Called when the provider answers 401 to headers we sent: renew credentials and say whether a
   * second try makes sense. A 401 means the request was not processed, so even a create is retried
   * once.
   */
  onUnauthorized?: (rejectedHeaders: Record<string, string>) => Promise<boolean>;
  /** Where each attempt is reported (metrics); the registry's hub, shared by every client of its adapters. */
  observers?: CallObservers;
  /**
   * The registry's limiters and circuit breakers: every attempt waits for a slot of this provider's
   * and passes its circuit, with every other client of the provider. A client built without them
   * (a script, a test) is not limited.
   */
  guards?: ProviderGuards;
  /** The real clock unless given: a test moves its own instead of sleeping between retries. */
  clock?: RetryClock;
}

export interface ProviderRequest {
  method: 'GET' | 'POST' | 'PUT' | 'PATCH' | 'DELETE';
  path: string;
  query?: Record<string, string | number | undefined>;
  body?: unknown;
  headers?: Record<string, string>;
  /**
   * Whether sending this request twice has the effect of sending it once. Only such requests are
   * retried; a create is idempotent only where the provider deduplicates it.
   */
  idempotent: boolean;
  /**
   * No retry starts later than this many milliseconds after the first attempt: a create the
   * provider deduplicates only while it remembers the key.
   */
  retryWithinMs?: number;
}

export interface ProviderResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: unknown;
}

/** One attempt of a provider call, as observers hear of it: its route template, never its ids, query, body or headers. */
export interface ProviderCall {
  provider: Provider;
  method: string;
  /** `/orders/:id/cancel`, as `routeTemplate` makes it. */
  route: string;
  status: number | 'error';
  ms: number;
  attempt: number;
}

export type CallObserver = (call: ProviderCall) => void;

/**
 * The one place a registry's provider calls are reported to: buildRegistry makes it, every adapter
 * hands it to the HTTP clients it builds, and whoever observes (metrics) sets its target once, so
 * clients built before the observer exists are observed all the same.
 */
export class CallObservers {
  private target: CallObserver | undefined;

  /** Replaces the observer before. */
  observe(observer: CallObserver | undefined): void {
    this.target = observer;
  }

  get observing(): boolean {
    return this.target !== undefined;
  }

  notify(call: ProviderCall): void {
    this.target?.(call);
  }
}

/** A path segment kept in a route template: a lowercase word (`order_batches`, `branded-cards`, `v1`, `oauth2`). Anything else is an id. */
const ROUTE_WORD = /^[a-z][a-z_-]{0,31}\d?$/;

/**
 * A provider path as a route template: `/orders/3f2c…/cancel` → `/orders/:id/cancel`. Every segment
 * that is not a lowercase word (numbers, uuids, tokens, codes) becomes `:id`; the query is dropped.
 * Metrics label with it and spans are named by it, so neither carries an id.
 */
export function routeTemplate(path: string): string {
  const end = path.search(/[?#]/);
  const segments = (end === -1 ? path : path.slice(0, end)).split('/');
  let template = '';
  for (const segment of segments) {
    if (segment === '') continue;
    template += ROUTE_WORD.test(segment) ? `/${segment}` : '/:id';
  }
  return template || '/';
}

const tracer = trace.getTracer('giftgraph');

const DEFAULT_RETRY: RetryPolicy = { attempts: 3, baseDelayMs: 100, maxDelayMs: 5_000 };
/** A Retry-After beyond this is not waited out inside a request: the caller gets the error and the hint. */
const MAX_RETRY_AFTER_MS = 10_000;

const NOT_SENT_CODES = new Set(['ECONNREFUSED', 'ENOTFOUND', 'EAI_AGAIN', 'EHOSTUNREACH', 'ENETUNREACH', 'UND_ERR_CONNECT_TIMEOUT']);

/**
 * The one way adapters reach a provider: a pooled keep-alive undici Agent, connect/headers/body
 * timeouts, retries with exponential backoff and full jitter, only for idempotent requests, and
 * the provider's limiter and circuit breaker (ProviderGuards) around every attempt.
 */
export class ProviderHttpClient {
  private readonly agent: Agent;
  private readonly retry: RetryPolicy;
  private readonly origin: string;
  private readonly basePath: string;
  private readonly host: string;
  private readonly port: number;
  private readonly guard: ProviderGuard | undefined;
  private readonly clock: RetryClock;

  constructor(private readonly options: ProviderHttpOptions) {
    const url = new URL(options.baseUrl);
    this.origin = url.origin;
    this.host = url.hostname;
    this.port = Number(url.port) || (url.protocol === 'https:' ? 443 : 80);
    this.basePath = url.pathname.replace(/\/$/, '');
    this.retry = { ...DEFAULT_RETRY, ...options.retry };
    this.guard = options.guards?.for(options.provider);
    this.clock = options.clock ?? REAL_TIME;
    this.agent = new Agent({
      connections: options.connections ?? 32,
      keepAliveTimeout: 30_000,
      connect: { timeout: Math.min(options.timeoutMs, 5_000) },
      headersTimeout: options.timeoutMs,
      bodyTimeout: options.timeoutMs,
    });
  }

  async request(req: ProviderRequest): Promise<ProviderResponse> {
    const attempts = req.idempotent ? this.retry.attempts : 1;
    let reauthorized = false;
    let ambiguous = false;
    // The provider's deduplication window opens when it first gets the request, not while it waits its turn.
    let firstSent: number | undefined;
    const sent = () => {
      firstSent ??= this.clock.now();
    };
    for (let attempt = 1; ; attempt++) {
      // Outside the try: a failure to get credentials is its own error, and the request never left.
      // Outside the guard too: a token request takes its own slot, never one this request holds.
      const headers = await this.options.headers();
      try {
        return await this.attempt(req, attempt, headers, sent);
      } catch (error) {
        if (error instanceof GuardRefusal) {
          // Never sent, and not retried here: the circuit says wait, and a full queue will not empty in a backoff.
          const refused = new ProviderCallError(error.provider, 'unavailable', error.message, undefined, undefined, error.retryAfterMs);
          throw ambiguous ? afterAmbiguity(refused) : refused;
        }
        const failure = this.classify(error);
        if (failure.status === 401 && !reauthorized && this.options.onUnauthorized) {
          reauthorized = true;
          // New credentials that cannot be had explain the failure better than the stale 401 does.
          const renewed = await this.options.onUnauthorized(headers).catch((renewal: unknown) => {
            throw renewal instanceof ProviderCallError ? renewal : failure;
          });
          if (renewed) {
            attempt -= 1;
            continue;
          }
        }
        const delay = failure.retryAfterMs ?? this.backoff(attempt);
        const elapsed = firstSent === undefined ? 0 : this.clock.now() - firstSent;
        const inTime = delay <= MAX_RETRY_AFTER_MS && (req.retryWithinMs === undefined || elapsed + delay < req.retryWithinMs);
        if (failure.kind === 'rejected' || attempt >= attempts || !inTime) throw ambiguous ? afterAmbiguity(failure) : failure;
        if (failure.kind === 'unknown') ambiguous = true;
        await this.clock.sleep(delay);
      }
    }
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  /** One attempt, within the provider's limits and circuit where the client has them; `onSend` when it leaves. */
  private attempt(req: ProviderRequest, attempt: number, auth: Record<string, string>, onSend: () => void): Promise<ProviderResponse> {
    const send = () => {
      onSend();
      return this.once(req, attempt, auth);
    };
    if (!this.guard) return send();
    // The request timeout (undici's) runs from the send; the wait for a slot has its own bound, the same length.
    return this.guard.run(send, { maxWaitMs: this.options.timeoutMs, isOutage });
  }

  private backoff(attempt: number): number {
    const ceiling = Math.min(this.retry.maxDelayMs, this.retry.baseDelayMs * 2 ** (attempt - 1));
    return Math.random() * ceiling;
  }

  private async once(req: ProviderRequest, attempt: number, auth: Record<string, string>): Promise<ProviderResponse> {
    const started = performance.now();
    const observers = this.options.observers;
    // A child of whatever is active (an operation, a webhook, a poll); without a tracer it records nothing.
    const span = tracer.startSpan(req.method, { kind: SpanKind.CLIENT });
    const route = span.isRecording() || observers?.observing ? routeTemplate(req.path) : '';
    if (span.isRecording()) this.describe(span, req.method, route, attempt);
    const search = new URLSearchParams();
    for (const [k, v] of Object.entries(req.query ?? {})) if (v !== undefined) search.set(k, String(v));
    const qs = search.size > 0 ? `?${search}` : '';
    const headers: Record<string, string> = { accept: 'application/json', ...auth, ...req.headers };
    let payload: string | undefined;
    if (req.body !== undefined) {
      payload = typeof req.body === 'string' ? req.body : JSON.stringify(req.body);
      headers['content-type'] ??= 'application/json';
    }
    let status: number | 'error' = 'error';
    try {
      const res = await this.agent.request({
        origin: this.origin,
        path: `${this.basePath}${req.path}${qs}`,
        method: req.method as Dispatcher.HttpMethod,
        headers,
        body: payload,
      });
      status = res.statusCode;
      const text = await res.body.text();
      const body = parseBody(text);
      if (res.statusCode >= 400) throw this.httpError(res.statusCode, body, res.headers);
      if (text.length > 0 && body === undefined) {
        throw new ProviderCallError(this.options.provider, 'unknown', `${this.options.provider} answered ${res.statusCode} with a body that is not JSON`, res.statusCode);
      }
      return { status: res.statusCode, headers: res.headers, body };
    } catch (error) {
      if (span.isRecording()) {
        // The kind of failure only: a provider's message may quote what we sent.
        span.setAttribute('error.type', typeof status === 'number' && status >= 400 ? String(status) : failureType(error));
        span.setStatus({ code: SpanStatusCode.ERROR });
      }
      throw error;
    } finally {
      if (status !== 'error') span.setAttribute('http.response.status_code', status);
      span.end();
      observers?.notify({ provider: this.options.provider, method: req.method, route, status, ms: performance.now() - started, attempt });
    }
  }

  /** What a span says of a call: never its query string, body, headers or the ids in its path. */
  private describe(span: Span, method: string, route: string, attempt: number): void {
    span.updateName(`${method} ${route}`);
    span.setAttributes({
      'http.request.method': method,
      'url.template': route,
      'server.address': this.host,
      'server.port': this.port,
      'giftgraph.provider': this.options.provider,
    });
    if (attempt > 1) span.setAttribute('http.request.resend_count', attempt - 1);
  }

  private httpError(status: number, body: unknown, headers: Record<string, string | string[] | undefined>): ProviderCallError {
    const { code, message, problems } = this.options.readError(status, body);
    const provider = this.options.provider;
    const text = message ?? `${provider} answered HTTP ${status}`;
    const retryAfterMs = parseRetryAfter(headers['retry-after']);
    const kind: FailureKind = status === 429 ? 'unavailable' : status >= 500 ? 'unknown' : 'rejected';
    const error = new ProviderCallError(provider, kind, text, status, code, kind === 'rejected' ? undefined : retryAfterMs);
    error.problems = (problems ?? []).map((p) => ({ ...p, message: redact(p.message) }));
    return error;
  }

  private classify(error: unknown): ProviderCallError {
    if (error instanceof ProviderCallError) return error;
    const provider = this.options.provider;
    const code = (error as { code?: string }).code ?? (error as { cause?: { code?: string } }).cause?.code;
    if (code && NOT_SENT_CODES.has(code)) {
      return new ProviderCallError(provider, 'unavailable', `${provider} could not be reached`);
    }
    if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) {
      return new ProviderCallError(provider, 'unknown', `${provider} did not answer in time`);
    }
    if (error instanceof undiciErrors.SocketError || code === 'ECONNRESET' || code === 'EPIPE') {
      return new ProviderCallError(provider, 'unknown', `${provider} dropped the connection before answering`);
    }
    return new ProviderCallError(provider, 'unknown', `${provider} call failed: ${(error as Error).message ?? String(error)}`);
  }
}

/**
 * Whether a failed attempt says the provider is down, for its circuit: no answer (unreachable, a
 * timeout, a dropped connection), a 5xx or a 429. Any other answer, a refusal included, says it is up.
 */
function isOutage(error: unknown): boolean {
  if (!(error instanceof ProviderCallError)) return true;
  return error.status === undefined || error.status === 429 || error.status >= 500;
}

/**
 * The last failure of a request an earlier attempt of which may have been processed: "not processed
 * now" says nothing of that attempt, so it becomes unknown; a refusal keeps its words, marked.
 */
function afterAmbiguity(failure: ProviderCallError): ProviderCallError {
  const error =
    failure.kind === 'unavailable'
      ? new ProviderCallError(failure.provider, 'unknown', `${failure.message} (after an earlier attempt that may have been processed)`, failure.status, failure.providerCode)
      : failure;
  error.problems = failure.problems;
  error.afterAmbiguousAttempt = true;
  return error;
}

/** error.type of a call with no HTTP error status: a timeout, an unreadable answer, a reset or refused connection by its code. */
function failureType(error: unknown): string {
  if (error instanceof undiciErrors.HeadersTimeoutError || error instanceof undiciErrors.BodyTimeoutError) return 'timeout';
  if (error instanceof ProviderCallError) return 'invalid_response';
  const code = (error as { code?: unknown }).code ?? (error as { cause?: { code?: unknown } }).cause?.code;
  return typeof code === 'string' && /^[A-Z][A-Z0-9_]{0,63}$/.test(code) ? code : '_OTHER';
}

function parseBody(text: string): unknown {
  if (text.length === 0) return null;
  try {
    return JSON.parse(text);
  } catch {
    return undefined;
  }
}

/** Retry-After in seconds or as an HTTP date, in milliseconds from now. */
export function parseRetryAfter(value: string | string[] | undefined): number | undefined {
  const raw = Array.isArray(value) ? value[0] : value;
  if (!raw) return undefined;
  if (/^\d+$/.test(raw.trim())) return Number(raw.trim()) * 1000;
  const at = Date.parse(raw);
  return Number.isNaN(at) ? undefined : Math.max(0, at - Date.now());
}
