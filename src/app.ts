import type { Logger } from 'pino';
import { CatalogService } from './orders/catalog.js';
import { Ingest } from './orders/ingest.js';
import { OrderListing } from './orders/listing.js';
import { DEFAULT_RECONCILER, UnconfirmedReconciler } from './orders/reconcile.js';
import { DEFAULT_FRESHNESS_MS, OrdersService } from './orders/service.js';
import { DEFAULT_PRESENCE, type PresenceOptions, ReplicaPresence } from './orders/presence.js';
import { DEFAULT_SCHEDULER, HeldSendScheduler, type SchedulerOptions } from './orders/scheduler.js';
import { SendPreviewer } from './orders/preview.js';
import { SpendingService } from './orders/spending.js';
import { ListingSync, type SyncRun } from './orders/sync.js';
import { CursorCodec } from './pagination/cursor.js';
import { InProcessStatusBus, type StatusBus } from './status/bus.js';
import { eventsAfter, EventTail } from './status/feed.js';
import { DEFAULT_INBOX, type InboxOptions, WebhookInboxWorker } from './status/inbox.js';
import { Poller, type PollerOptions } from './status/poller.js';
import { WebhookReceiver } from './status/webhooks.js';
import type { ProviderRegistry } from './providers/registry.js';
import { buildGiftgraphSchema } from './resolvers/build-schema.js';
import { onUnfitValue } from './schema/scalars.js';
import { TokenVerifier, type JwtSettings } from './server/auth.js';
import { withTraceIds } from './server/logger.js';
import { GiftgraphMetrics } from './server/metrics.js';
import { GiftgraphServer } from './server/server.js';
import type { Store } from './store/store.js';

export interface AppOptions {
  store: Store;
  providers: ProviderRegistry;
  jwt: JwtSettings;
  log: Logger;
  /** In-process unless given (a shared broker, for several replicas). */
  bus?: StatusBus;
  /** Poll open orders in the background (on in `npm start`); off unless given. */
  polling?: PollerOptions | false;
  /**
   * Send the sends giftgraph holds (for providers that cannot schedule) at their time, in the
   * background: on with `polling` unless given, `false` for off. `App.scheduler.sendDue()` sends
   * those due now either way.
   */
  scheduling?: Partial<SchedulerOptions> | false;
  /** What "now" is for the ledger (when orders are created, sends validated); the system clock unless given. */
  clock?: () => Date;
  /** How long idle keep-alive connections stay open; the server's default unless given. */
  keepAliveTimeoutMs?: number;
  /** When set, `/metrics` answers only `Authorization: Bearer <metricsToken>`; open unless given. */
  metricsToken?: string;
  /** How long a read of a moving order from its provider serves later reads of it (`order(id)`); 2 s unless given. */
  freshnessMs?: number;
  /** The webhook inbox's concurrency, gathering window and retry delay; DEFAULT_INBOX unless given. */
  inbox?: Partial<InboxOptions>;
  /** How often this replica beats, and how long a silent one counts as alive; DEFAULT_PRESENCE unless given. */
  presence?: Partial<PresenceOptions>;
}

export interface App {
  server: GiftgraphServer;
  orders: OrdersService;
  /** Publishes everything committed so far; tests wait on it instead of sleeping. */
  tail: EventTail;
  /** Reads the orders webhooks named; `inbox.idle()` resolves once all recorded so far were read. */
  inbox: WebhookInboxWorker;
  /** Sends the held sends that are due: by itself when scheduling is on; `sendDue()` does it now. */
  scheduler: HeldSendScheduler;
  /**
   * Syncs every listing provider's own list into the ledger now (the poller does it on its
   * schedule): the runs that succeeded; a provider whose list failed is logged and recorded as failing.
   */
  syncListings(): Promise<SyncRun[]>;
  listen(port: number, host: string): Promise<string>;
  /** Stops serving (gracefully), then releases provider connections and closes the store. */
  stop(): Promise<void>;
}

/** Wires the store, the providers and the server together. Knows nothing of sandboxes or the environment. */
export async function createApp({
  store,
  providers,
  jwt,
  log: given,
  bus = new InProcessStatusBus(),
  polling = false,
  scheduling,
  clock,
  keepAliveTimeoutMs,
  metricsToken,
  freshnessMs = DEFAULT_FRESHNESS_MS,
  inbox: inboxOptions,
  presence: presenceOptions,
}: AppOptions): Promise<App> {
  const log = withTraceIds(given);
  const ingest = new Ingest(store, clock);
  // Sends a stopped process (or a replica gone since) left in flight become UNCONFIRMED, before anything is served.
  const presence = new ReplicaPresence(store, ingest, log, { ...DEFAULT_PRESENCE, ...presenceOptions }, clock);
  await presence.start();
  const orders = new OrdersService(store, providers, ingest, log, clock, freshnessMs);
  // Before polling resumes, so each order is polled (and its events published) as its owner's.
  const listing = new OrderListing(store, providers);
  const sync = new ListingSync(store, providers, ingest, log, clock);
  for (const move of await listing.claimForOwners()) log.warn(move, "a provider account changed owner: its orders placed in the provider's app moved to the new owner");
  let poller: Poller | undefined;
  const metrics = new GiftgraphMetrics({ store, watching: () => poller?.watching ?? 0, waiting: () => poller?.waiting() ?? new Map() });
  providers.observeCalls(metrics.providerCall);
  const tail = new EventTail(store, bus, log);
  tail.onPublished(metrics.published);
  await tail.start();
  poller = polling ? new Poller({ orders, store, providers, log, sync, observe: metrics.poll, presence }, polling) : undefined;
  if (poller) {
    tail.onPublished((events) => void poller.onEvents(events).catch((error) => log.warn({ err: error }, 'poller could not watch new orders')));
    await poller.start();
  }
  // Background work runs with the poller: UNCONFIRMED orders a provider can look up are settled by themselves.
  const reconciler = polling ? new UnconfirmedReconciler(store, providers, orders, log, { ...DEFAULT_RECONCILER, clock }) : undefined;
  reconciler?.start();
  // Sends held until their time, the ones a stop made late first.
  const scheduler = new HeldSendScheduler(orders, log, { ...DEFAULT_SCHEDULER, ...(scheduling || {}) });
  if (scheduling ?? polling) scheduler.start();
  const live = {
    lastSeq: () => store.lastEventSeq(),
    events: (query: Parameters<typeof eventsAfter>[2]) => eventsAfter(store, bus, query, metrics.live),
  };
  const schema = await buildGiftgraphSchema();
  // A provider's value that does not fit its field's scalar is answered as null (src/schema/scalars.ts): say so, never with the value.
  const stopReportingUnfit = onUnfitValue((unfit) => log.warn(unfit, "a provider's value does not fit its GraphQL scalar: answered as null"));
  const inbox = new WebhookInboxWorker(store, orders, log, { ...DEFAULT_INBOX, ...inboxOptions }, clock ? () => clock().getTime() : Date.now);
  inbox.start();
  const webhooks = new WebhookReceiver(store, providers, inbox, log, metrics.webhook, clock);
  const cursors = CursorCodec.derivedFrom(jwt.secret);
  const catalog = new CatalogService(providers);
  const server = new GiftgraphServer({
    schema,
    services: {
      orders,
      listing,
      catalog,
      spending: new SpendingService(store, clock),
      previews: new SendPreviewer(store, providers, catalog, clock),
      cursors,
      providers,
      live,
      log,
    },
    store,
    verifier: new TokenVerifier(jwt),
    webhooks,
    log,
    keepAliveTimeoutMs,
    metrics,
    metricsToken,
  });
  return {
    server,
    orders,
    tail,
    inbox,
    scheduler,
    async syncListings() {
      const runs: SyncRun[] = [];
      for (const result of await Promise.allSettled(sync.listing().map((provider) => sync.run(provider)))) {
        if (result.status === 'fulfilled') runs.push(result.value);
        else log.warn({ err: result.reason }, "could not sync a provider's list of orders");
      }
      for (const order of runs.flatMap((run) => run.recorded)) poller?.track(order);
      return runs;
    },
    listen: (port, host) => server.listen(port, host),
    async stop() {
      await server.stop();
      stopReportingUnfit();
      await inbox.stop();
      await reconciler?.stop();
      await scheduler.stop();
      await poller?.stop();
      await presence.stop();
      await providers.close();
      await store.close();
    },
  };
}
