import { createHash, timingSafeEqual } from 'node:crypto';
import type { GraphQLFormattedError } from 'graphql';
import { collectDefaultMetrics, Counter, Gauge, Histogram, Registry } from 'prom-client';
import { GIFT_STATUSES, PROVIDERS, type Provider } from '../core/model.js';
import type { ProviderCall } from '../providers/http.js';
import type { LiveObserver } from '../status/feed.js';
import type { PollResult } from '../status/poller.js';
import type { WebhookResult } from '../status/webhooks.js';
import type { StatusEventRecord } from '../core/records.js';
import type { OrderStatusCount, Store } from '../store/store.js';
import type { OperationRecorder, OperationType, Transport } from './graphql-http.js';

/** Operation names are chosen by clients: this many become labels, the rest are `other`. */
export const MAX_OPERATION_NAMES = 100;
/** Provider route templates and error codes are ours, but bounded all the same. */
const MAX_ROUTES = 200;
const MAX_CODES = 50;

const GRAPHQL_NAME = /^[_A-Za-z][_0-9A-Za-z]{0,99}$/;
const ERROR_CODE = /^[A-Z][A-Z0-9_]{0,63}$/;

const KNOWN_PROVIDERS: ReadonlySet<string> = new Set(PROVIDERS);
const KNOWN_STATUSES: ReadonlySet<string> = new Set(GIFT_STATUSES);

const OPERATION_TYPES: readonly OperationType[] = ['query', 'mutation', 'subscription', 'unknown'];

export interface MetricsSources {
  store: Store;
  /** Orders the poller watches now (0 without a poller). */
  watching: () => number;
  /** Orders due for a poll but held back by their provider's cap and rate, per provider. */
  waiting: () => ReadonlyMap<Provider, number>;
}

/** The counter and histogram of one operation name, type and outcome on one transport, bound once. */
interface OperationSlot {
  count: Counter.Internal;
  duration: Histogram.Internal<string>;
}

/**
 * Node's process metrics, once per process however many apps it runs: prom-client's event-loop
 * monitor and GC observer are never stopped, so one set per app would pile up (tests build many).
 * A registry of our own all the same, never prom-client's global one.
 */
let processRegistry: Registry | undefined;
function processMetrics(): Registry {
  if (!processRegistry) {
    processRegistry = new Registry();
    collectDefaultMetrics({ register: processRegistry });
  }
  return processRegistry;
}

/**
 * giftgraph's Prometheus metrics, on a registry of its own (so several apps can live in one
 * process), served with the process's. Lower layers get plain callbacks from here and never see
 * prom-client. Labels carry only bounded values: providers, statuses, codes, route templates and
 * at most MAX_OPERATION_NAMES operation names; never a tenant, an email or an id.
 */
export class GiftgraphMetrics implements OperationRecorder {
  readonly registry = new Registry();

  private readonly operations = new Counter({
    name: 'giftgraph_graphql_operations_total',
    help: 'GraphQL operations answered, by transport (http, ws, sse), operation name (at most 100, then other; anonymous), type and outcome (ok, error)',
    labelNames: ['transport', 'operation_name', 'operation_type', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly operationSeconds = new Histogram({
    name: 'giftgraph_graphql_operation_duration_seconds',
    help: 'Time to answer a GraphQL operation (over ws and sse: to execute it, or to start a subscription)',
    labelNames: ['transport', 'operation_name', 'operation_type', 'outcome'] as const,
    buckets: [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly graphqlErrors = new Counter({
    name: 'giftgraph_graphql_errors_total',
    help: 'GraphQL errors sent to clients, by transport and extensions.code',
    labelNames: ['transport', 'code'] as const,
    registers: [this.registry],
  });
  private readonly providerRequests = new Counter({
    name: 'giftgraph_provider_requests_total',
    help: 'HTTP requests to providers (each attempt), by provider, method, route template and outcome (accepted, refused, rate_limited, unavailable)',
    labelNames: ['provider', 'method', 'route', 'outcome'] as const,
    registers: [this.registry],
  });
  private readonly providerSeconds = new Histogram({
    name: 'giftgraph_provider_request_duration_seconds',
    help: 'Time of one HTTP request to a provider, until its body was read or it failed',
    labelNames: ['provider', 'method', 'route', 'outcome'] as const,
    buckets: [0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30],
    registers: [this.registry],
  });
  private readonly webhooks = new Counter({
    name: 'giftgraph_webhook_deliveries_total',
    help: 'Webhook deliveries received, by provider and result (recorded, duplicate, ignored, refused, malformed, error, challenge)',
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });
  private readonly polls = new Counter({
    name: 'giftgraph_polls_total',
    help: 'Polls of one order, by provider and result (open, settled, failed, unlisted)',
    labelNames: ['provider', 'result'] as const,
    registers: [this.registry],
  });
  private readonly eventsAppended = new Counter({
    name: 'giftgraph_events_appended_total',
    help: 'Status events appended to the event log, by source (MUTATION, WEBHOOK, POLL, OPERATOR), counted as this process publishes them',
    labelNames: ['source'] as const,
    registers: [this.registry],
  });
  private readonly deliveryDelay = new Histogram({
    name: 'giftgraph_event_delivery_delay_seconds',
    help: 'Time from the publication of a committed event to its delivery to a live subscription stream (a group of identical subscriptions counts once)',
    buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    registers: [this.registry],
  });
  private readonly lagged = new Counter({
    name: 'giftgraph_subscribers_lagged_total',
    help: 'Subscribers cut off for falling behind, by reason: unread (their client left 1 MiB unread) or backlog (10,000 events waited for them)',
    labelNames: ['reason'] as const,
    registers: [this.registry],
  });

  /** Admitted operation names, and per transport the bound series of each label. */
  private readonly names = new Set<string>();
  private readonly slots: Record<Transport, Map<string, (OperationSlot | undefined)[]>> = { http: new Map(), ws: new Map(), sse: new Map() };
  private readonly codes = new Set<string>();
  private readonly routes = new Set<string>();
  /** When each event was published, for the delivery delay: in-process only (a broker's copies are not found). */
  private readonly publishedAt = new WeakMap<StatusEventRecord, number>();
  /** What the server reports of its WebSockets, once it is built. */
  private sockets: SocketCounts | undefined;
  /** Subscriptions running over event streams (SSE), once the server is built. */
  private streams: (() => number) | undefined;
  /** One ledger read serves both ledger gauges of a scrape. */
  private ledgerRead: Promise<OrderStatusCount[]> | undefined;

  constructor(private readonly sources: MetricsSources) {
    processMetrics();
    const metrics = this;
    new Gauge({
      name: 'giftgraph_ledger_orders',
      help: 'Orders in the ledger by provider and status, read at scrape time',
      labelNames: ['provider', 'status'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await metrics.ledgerCounts();
        this.reset();
        for (const row of rows) this.set({ provider: row.provider, status: row.status }, row.orders);
      },
    });
    new Gauge({
      name: 'giftgraph_ledger_oldest_order_created_timestamp_seconds',
      help: 'Creation time (Unix seconds) of the oldest order in the ledger by provider and status; time() minus it is the age of the oldest UNCONFIRMED order',
      labelNames: ['provider', 'status'] as const,
      registers: [this.registry],
      async collect() {
        const rows = await metrics.ledgerCounts();
        this.reset();
        for (const row of rows) {
          const at = Date.parse(row.oldestCreatedAt);
          if (Number.isFinite(at)) this.set({ provider: row.provider, status: row.status }, at / 1000);
        }
      },
    });
    new Gauge({
      name: 'giftgraph_ledger_up',
      help: '1 when the ledger answers a query, else 0',
      registers: [this.registry],
      async collect() {
        this.set((await sources.store.ping()) ? 1 : 0);
      },
    });
    new Gauge({
      name: 'giftgraph_poller_watched_orders',
      help: 'Orders the poller watches until they settle',
      registers: [this.registry],
      collect() {
        this.set(sources.watching());
      },
    });
    new Gauge({
      name: 'giftgraph_poller_queued_orders',
      help: "Orders due for a poll but held back by their provider's concurrency cap and rate limit, by provider",
      labelNames: ['provider'] as const,
      registers: [this.registry],
      collect() {
        const waiting = sources.waiting();
        for (const provider of PROVIDERS) this.set({ provider }, waiting.get(provider) ?? 0);
      },
    });
    new Gauge({
      name: 'giftgraph_subscriptions_active',
      help: 'GraphQL subscriptions running, by transport (ws, sse)',
      labelNames: ['transport'] as const,
      registers: [this.registry],
      collect() {
        this.set({ transport: 'ws' }, metrics.sockets?.subscriptions() ?? 0);
        this.set({ transport: 'sse' }, metrics.streams?.() ?? 0);
      },
    });
    new Gauge({
      name: 'giftgraph_websocket_connections_active',
      help: 'Open WebSocket connections on /ws',
      registers: [this.registry],
      collect() {
        this.set(metrics.sockets?.connections() ?? 0);
      },
    });
  }

  /** The server's WebSocket counts, read at scrape time. */
  countSockets(counts: SocketCounts): void {
    this.sockets = counts;
  }

  /** The server's running event-stream subscriptions, read at scrape time. */
  countStreams(subscriptions: () => number): void {
    this.streams = subscriptions;
  }

  /** The Prometheus text of every metric, the app's then the process's, and its content type. */
  async render(): Promise<{ contentType: string; text: string }> {
    this.ledgerRead = undefined;
    const [app, node] = await Promise.all([this.registry.metrics(), processMetrics().metrics()]);
    return { contentType: this.registry.contentType, text: `${app}\n${node}` };
  }

  operation(transport: Transport, name: string | undefined, type: OperationType, trusted: boolean, ok: boolean, seconds: number): void {
    const label = this.operationLabel(name, trusted);
    let slots = this.slots[transport].get(label);
    if (!slots) this.slots[transport].set(label, (slots = []));
    const index = OPERATION_TYPES.indexOf(type) * 2 + (ok ? 0 : 1);
    let slot = slots[index];
    if (!slot) {
      const labels = { transport, operation_name: label, operation_type: type, outcome: ok ? 'ok' : 'error' };
      slot = slots[index] = { count: this.operations.labels(labels), duration: this.operationSeconds.labels(labels) };
    }
    slot.count.inc();
    slot.duration.observe(seconds);
  }

  errors(transport: Transport, errors: readonly GraphQLFormattedError[]): void {
    for (const error of errors) this.graphqlErrors.inc({ transport, code: this.codeLabel(error.extensions?.code) });
  }

  refused(transport: Transport, code: string): void {
    this.graphqlErrors.inc({ transport, code: this.codeLabel(code) });
  }

  /** For the registry's provider calls (`ProviderRegistry.observeCalls`). */
  readonly providerCall = (call: ProviderCall): void => {
    const labels = { provider: call.provider, method: call.method, route: this.routeLabel(call.provider, call.method, call.route), outcome: callOutcome(call.status) };
    this.providerRequests.inc(labels);
    this.providerSeconds.observe(labels, call.ms / 1000);
  };

  /** For the webhook receiver. */
  readonly webhook = (provider: Provider, result: WebhookResult): void => {
    this.webhooks.inc({ provider, result });
  };

  /** For the poller. */
  readonly poll = (provider: Provider, result: PollResult): void => {
    this.polls.inc({ provider, result });
  };

  /** For the event tail: every event it publishes, as it publishes it. */
  readonly published = (events: readonly StatusEventRecord[]): void => {
    const now = performance.now();
    for (const event of events) {
      this.eventsAppended.inc({ source: event.source });
      this.publishedAt.set(event, now);
    }
  };

  /** For every live event stream (`eventsAfter`). */
  readonly live: LiveObserver = {
    delivered: (event) => {
      const at = this.publishedAt.get(event);
      if (at !== undefined) this.deliveryDelay.observe((performance.now() - at) / 1000);
    },
    lagged: () => this.lagged.inc({ reason: 'backlog' }),
  };

  /** A subscriber cut off because its client left too much unread. */
  unreadSubscriber(): void {
    this.lagged.inc({ reason: 'unread' });
  }

  private operationLabel(name: string | undefined, trusted: boolean): string {
    if (!name) return 'anonymous';
    if (this.names.has(name)) return name;
    // A name becomes a label only from a valid, authenticated operation, and only while there is room.
    if (!trusted || this.names.size >= MAX_OPERATION_NAMES || !GRAPHQL_NAME.test(name)) return 'other';
    this.names.add(name);
    return name;
  }

  private codeLabel(code: unknown): string {
    if (typeof code !== 'string' || !ERROR_CODE.test(code)) return 'other';
    if (this.codes.has(code)) return code;
    if (this.codes.size >= MAX_CODES) return 'other';
    this.codes.add(code);
    return code;
  }

  private routeLabel(provider: string, method: string, route: string): string {
    const key = `${provider} ${method} ${route}`;
    if (this.routes.has(key)) return route;
    if (this.routes.size >= MAX_ROUTES) return 'other';
    this.routes.add(key);
    return route;
  }

  private ledgerCounts(): Promise<OrderStatusCount[]> {
    this.ledgerRead ??= this.sources.store
      .countOrdersByStatus()
      // Only known values become labels; an unreadable ledger shows as giftgraph_ledger_up 0 and no counts.
      .then((all) => all.filter((row) => KNOWN_PROVIDERS.has(row.provider) && KNOWN_STATUSES.has(row.status) && row.orders > 0))
      .catch(() => []);
    return this.ledgerRead;
  }
}

export interface SocketCounts {
  subscriptions(): number;
  connections(): number;
}

/** accepted (2xx), refused (4xx), rate_limited (429), unavailable (5xx, unreachable, timed out, dropped). */
function callOutcome(status: number | 'error'): string {
  if (status === 'error' || status >= 500) return 'unavailable';
  if (status === 429) return 'rate_limited';
  if (status >= 400) return 'refused';
  return 'accepted';
}

/**
 * Whether `authorization` carries the metrics token. Both sides are hashed first, so the comparison
 * takes the same time whatever was sent, and says nothing of the token's length.
 */
export function bearerMatches(authorization: string | undefined, tokenDigest: Buffer): boolean {
  const match = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(authorization ?? '');
  const given = createHash('sha256')
    .update(match?.[1] ?? '')
    .digest();
  return timingSafeEqual(given, tokenDigest) && match !== null;
}

/** The digest `bearerMatches` compares with. */
export function tokenDigest(token: string): Buffer {
  return createHash('sha256').update(token).digest();
}
