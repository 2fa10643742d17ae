import { trace } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Provider } from '../core/model.js';
import { DEFAULT_PRESENCE, type ReplicaPresence } from '../orders/presence.js';
import type { OrdersService } from '../orders/service.js';
import type { ListingSync } from '../orders/sync.js';
import type { OrderSnapshot } from '../providers/adapter.js';
import type { ProviderRegistry } from '../providers/registry.js';
import type { OrderRecord, StatusEventRecord } from '../core/records.js';
import type { Store } from '../store/store.js';

const tracer = trace.getTracer('giftgraph');

export interface PollerOptions {
  /** How often due orders are looked for. */
  tickMs: number;
  /** The first poll of an order comes this long after it was seen; each later wait half as long again... */
  firstDelayMs: number;
  /** ...up to this. */
  maxDelayMs: number;
  /** A provider whose webhooks reach us is polled only this often, as a safety net. */
  webhookDelayMs: number;
  /** At most this many polls in flight per provider... */
  concurrency: number;
  /** ...and at most this many started per provider per second. */
  perSecond: number;
  /** How often each listing provider's own list is synced into the ledger (orders placed in its app). */
  syncMs: number;
}

export const DEFAULT_POLLING: PollerOptions = {
  tickMs: 250,
  firstDelayMs: 1_000,
  maxDelayMs: 5 * 60_000,
  webhookDelayMs: 10 * 60_000,
  concurrency: 4,
  perSecond: 10,
  syncMs: 30_000,
};

/**
 * What one poll of one order came to: still `open` (polled again later), `settled` (no longer
 * polled), `failed` (the provider or the ledger could not be read; tried again later), or
 * `unlisted` (a batch read did not show it, or failed: it is polled on its own next).
 */
export type PollResult = 'open' | 'settled' | 'failed' | 'unlisted';

/** Told of every poll of an order (metrics). */
export type PollObserver = (provider: Provider, result: PollResult) => void;

/**
 * A slot in a provider's shared poll budget lapses this long after it was taken, should its replica
 * die mid-poll: longer than any poll lasts (a provider call times out well before).
 */
const SLOT_LEASE_MS = 30_000;

/** At most this many orders in one batch poll: one page of a provider's list. */
const BATCH = 100;

/** Open orders are read back from the ledger at start this many at a time. */
const RESUME_PAGE = 1_000;

interface Entry {
  order: OrderRecord;
  dueAt: number;
  polls: number;
  /** The provider's list did not show it (or could not be read): poll it on its own from now on. */
  alone?: boolean;
}

/**
 * Polls every order its provider may still move along, until it settles: fast at first, slower as
 * it ages (a gift usually moves within seconds; one that has not, rarely moves soon), with jitter,
 * a per-provider concurrency cap and rate (a batch read counts as one). Where a provider lists orders with
 * their recipients, the orders due together are read from one page of its list. Open orders are
 * picked up again from the ledger at start, so polling survives restarts; new ones are learned of
 * from the event log.
 */
export class Poller {
  private readonly schedule = new Map<string, Entry>();
  private readonly inFlight = new Map<Provider, number>();
  private readonly started = new Map<Provider, number[]>();
  private readonly running = new Set<Promise<void>>();
  private timer: NodeJS.Timeout | undefined;
  /** When each listing provider's list is synced next; absent while a sync runs. */
  private readonly nextSync = new Map<Provider, number>();
  private readonly orders: OrdersService;
  private readonly store: Store;
  private readonly providers: ProviderRegistry;
  private readonly log: Logger;
  private readonly sync: ListingSync | undefined;
  private readonly observe: PollObserver;
  private readonly now: () => number;
  private readonly presence: Pick<ReplicaPresence, 'staleBefore'>;

  constructor(
    deps: {
      orders: OrdersService;
      store: Store;
      providers: ProviderRegistry;
      log: Logger;
      /** Syncs listing providers' own lists on the poller's schedule and limits; none unless given. */
      sync?: ListingSync;
      observe?: PollObserver;
      /** The clock polls are scheduled by: the system's unless given. */
      now?: () => number;
      /** This replica among those sharing the ledger: which of them are alive. One replica alone unless given. */
      presence?: Pick<ReplicaPresence, 'staleBefore'>;
    },
    private readonly options: PollerOptions = DEFAULT_POLLING,
  ) {
    this.orders = deps.orders;
    this.store = deps.store;
    this.providers = deps.providers;
    this.log = deps.log;
    this.sync = deps.sync;
    this.observe = deps.observe ?? (() => undefined);
    this.now = deps.now ?? Date.now;
    this.presence = deps.presence ?? { staleBefore: () => new Date(this.now() - DEFAULT_PRESENCE.staleMs).toISOString() };
  }

  async start(): Promise<void> {
    // Every open order, page by page: orders that stay SENT once settled may be many, and must not
    // crowd out those still moving. Resumed orders are spread over the first delay.
    let resumed = 0;
    for (let after: OrderRecord | undefined; ; ) {
      const page = await this.store.listOpenOrders(RESUME_PAGE, after && { createdAt: after.createdAt, id: after.id });
      for (const order of page) if (this.track(order, Math.random() * this.options.firstDelayMs)) resumed += 1;
      if (page.length < RESUME_PAGE) break;
      after = page.at(-1);
    }
    if (resumed > 0) this.log.info({ orders: resumed }, 'resumed polling of open orders');
    // Each listing provider's list is synced at once, then every syncMs.
    for (const provider of this.sync?.listing() ?? []) this.nextSync.set(provider, this.now());
    this.timer = setInterval(() => void this.pollDue(), this.options.tickMs);
    this.timer.unref();
  }

  /** Events from the log: orders not watched yet are watched from now on. */
  async onEvents(events: readonly StatusEventRecord[]): Promise<void> {
    const unseen = new Map<string, string>();
    for (const e of events) if (!this.schedule.has(e.orderId)) unseen.set(e.orderId, e.tenant);
    for (const [orderId, tenant] of unseen) {
      const [order] = await this.store.getOrders(tenant, [orderId]);
      if (order) this.track(order);
    }
  }

  /** Watches an order if its provider may still move it; says whether it is watched now. */
  track(order: OrderRecord, delayMs = this.delay(order, 0)): boolean {
    if (!this.orders.isLive(order) || this.schedule.has(order.id)) return false;
    this.schedule.set(order.id, { order, dueAt: this.now() + delayMs, polls: 0 });
    return true;
  }

  get watching(): number {
    return this.schedule.size;
  }

  /** Orders due now but held back by their provider's concurrency cap and rate, per provider: the limiter's queue. */
  waiting(now = this.now()): Map<Provider, number> {
    const queued = new Map<Provider, number>();
    for (const entry of this.schedule.values()) {
      if (entry.dueAt <= now) queued.set(entry.order.provider, (queued.get(entry.order.provider) ?? 0) + 1);
    }
    return queued;
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    await Promise.all([...this.running]);
  }

  /**
   * One tick, which the timer makes every `tickMs`: starts the syncs and polls due by the clock
   * (`now`) that the provider's cap and rate allow now. Resolves once those it started have ended,
   * so a test that moves its own clock can tick by hand and wait for what the tick did.
   */
  pollDue(): Promise<void> {
    const now = this.now();
    const started: Promise<void>[] = [];
    for (const [provider, dueAt] of this.nextSync) {
      if (dueAt <= now && this.mayStart(provider, now)) started.push(this.launchSync(provider));
    }
    // The longest overdue first, so none starves when a provider's limits hold the rest back.
    const due = [...this.schedule.values()].filter((e) => e.dueAt <= now).sort((a, b) => a.dueAt - b.dueAt);
    const byProvider = new Map<Provider, Entry[]>();
    for (const entry of due) {
      const entries = byProvider.get(entry.order.provider);
      if (entries) entries.push(entry);
      else byProvider.set(entry.order.provider, [entry]);
    }
    for (const [provider, entries] of byProvider) {
      // A provider that lists its orders: the due ones, and those due within the first delay (they
      // cost nothing more), are read in one request for up to a page of them.
      const batchable = this.providers.get(provider)?.adapter.refreshMany && entries.some((e) => !e.alone) ? this.dueSoon(provider, now) : [];
      let singles = entries;
      if (batchable.length >= 2) {
        if (this.mayStart(provider, now)) started.push(this.launch(batchable.slice(0, BATCH), (batch) => this.pollMany(provider, batch)));
        singles = entries.filter((e) => e.alone);
      }
      for (const entry of singles) {
        if (this.mayStart(provider, now)) started.push(this.launch([entry], ([one]) => this.poll(one!)));
      }
    }
    return Promise.all(started).then(() => undefined);
  }

  /** A provider's orders not in flight and due by the end of the first delay, the longest overdue first. */
  private dueSoon(provider: Provider, now: number): Entry[] {
    const horizon = now + this.options.firstDelayMs;
    return [...this.schedule.values()].filter((e) => e.order.provider === provider && !e.alone && e.dueAt <= horizon).sort((a, b) => a.dueAt - b.dueAt);
  }

  /** Within the provider's concurrency cap and rate; counts the start when it is. */
  private mayStart(provider: Provider, now: number): boolean {
    if ((this.inFlight.get(provider) ?? 0) >= this.options.concurrency) return false;
    const recent = (this.started.get(provider) ?? []).filter((t) => t > now - 1_000);
    if (recent.length >= this.options.perSecond) return false;
    recent.push(now);
    this.started.set(provider, recent);
    return true;
  }

  /** One sync of a provider's list, counted like a poll against its cap; the orders it recorded are watched from then on. */
  private launchSync(provider: Provider): Promise<void> {
    this.nextSync.delete(provider);
    this.inFlight.set(provider, (this.inFlight.get(provider) ?? 0) + 1);
    let budgetSpent = false;
    const traced = tracer.startActiveSpan('sync', { root: true, attributes: { 'giftgraph.provider': provider } }, (span) =>
      this.withSlot(provider, () => this.sync!.run(provider))
        .then((run) => {
          if (!run) budgetSpent = true;
          for (const order of run?.recorded ?? []) this.track(order);
        })
        .catch((error: unknown) => this.log.warn({ err: error, provider }, "could not sync the provider's list of orders; the next sync tries again"))
        .finally(() => span.end()),
    );
    const run = traced
      .finally(() => {
        this.inFlight.set(provider, (this.inFlight.get(provider) ?? 1) - 1);
        this.nextSync.set(provider, this.now() + (budgetSpent ? this.options.tickMs : this.options.syncMs));
      })
      .finally(() => this.running.delete(run));
    this.running.add(run);
    return run;
  }

  private launch(entries: Entry[], poll: (entries: Entry[]) => Promise<void>): Promise<void> {
    for (const entry of entries) entry.dueAt = Number.POSITIVE_INFINITY; // in flight
    const provider = entries[0]!.order.provider;
    this.inFlight.set(provider, (this.inFlight.get(provider) ?? 0) + 1);
    // One trace per poll: its provider reads, the ledger write and the events it appends.
    const traced = tracer.startActiveSpan('poll', { root: true, attributes: { 'giftgraph.provider': provider, 'giftgraph.poll.orders': entries.length } }, (span) =>
      this.pollLeased(provider, entries, poll).finally(() => span.end()),
    );
    const run = traced.finally(() => this.inFlight.set(provider, (this.inFlight.get(provider) ?? 1) - 1)).finally(() => this.running.delete(run));
    this.running.add(run);
    return run;
  }

  /**
   * Runs `work` in a slot of the provider's poll budget, which every replica shares; undefined,
   * with nothing done, when the budget is spent now.
   */
  private async withSlot<T>(provider: Provider, work: () => Promise<T>): Promise<T | undefined> {
    const slot = await this.store.takePollSlot(provider, new Date(this.now()).toISOString(), {
      concurrency: this.options.concurrency,
      perSecond: this.options.perSecond,
      leaseMs: SLOT_LEASE_MS,
    });
    if (!slot) return undefined;
    try {
      return await work();
    } finally {
      await this.store
        .releasePollSlot(slot, new Date(this.now()).toISOString())
        .catch((error: unknown) => this.log.warn({ err: error, provider }, 'could not give back a poll slot; it lapses by itself'));
    }
  }

  /**
   * Polls those of `entries` this replica holds the lease of (taking it where no live replica
   * does), in a slot of the provider's shared budget. The others are polled by their replica: this
   * one looks again later, and takes them over once that replica is gone. The lease is taken
   * first, so a replica that polls nothing takes no slot from those that do; when the budget is
   * spent, its orders wait for the next tick.
   */
  private async pollLeased(provider: Provider, entries: Entry[], poll: (entries: Entry[]) => Promise<void>): Promise<void> {
    try {
      const mine = new Set(
        await this.store.leasePolls(
          entries.map((e) => e.order.id),
          this.presence.staleBefore(),
        ),
      );
      for (const entry of entries) {
        if (mine.has(entry.order.id)) continue;
        entry.polls += 1;
        entry.dueAt = this.now() + this.delay(entry.order, entry.polls);
      }
      const own = entries.filter((e) => mine.has(e.order.id));
      if (own.length === 0) return;
      const done = await this.withSlot(provider, () => poll(own).then(() => true));
      if (!done) for (const entry of own) entry.dueAt = this.now() + this.options.tickMs;
    } catch (error) {
      this.log.warn({ err: error, provider }, 'could not take the lease of a poll; will try again later');
      for (const entry of entries) if (entry.dueAt === Number.POSITIVE_INFINITY) entry.dueAt = this.now() + this.delay(entry.order, entry.polls);
    }
  }

  private async poll(entry: Entry): Promise<void> {
    try {
      const current = (await this.store.getOrders(entry.order.tenant, [entry.order.id]))[0];
      const updated = current && this.orders.isLive(current) ? await this.orders.refresh(current, 'POLL') : current;
      this.polled(entry, updated);
    } catch (error) {
      this.log.warn({ err: error, orderId: entry.order.id, provider: entry.order.provider }, 'poll failed; will try again later');
      this.polled(entry, entry.order, true);
    }
  }

  /**
   * Orders read together from the provider's list. Those it did not show (older than its first
   * page, too large for it) are polled on their own from then on, as are all of them when the list
   * itself fails: a list that cannot be read must not stop the polling of its orders.
   */
  private async pollMany(provider: Provider, entries: Entry[]): Promise<void> {
    let snapshots: Map<string, OrderSnapshot>;
    try {
      const recipients = await this.store.getRecipients(entries.map((e) => e.order.id));
      snapshots = await this.providers.get(provider)!.adapter.refreshMany!(
        entries.map((e) => ({ order: e.order, recipients: recipients.filter((r) => r.orderId === e.order.id) })),
      );
    } catch (error) {
      this.log.warn({ err: error, provider, orders: entries.length }, 'batch poll failed; its orders are polled one by one');
      snapshots = new Map();
    }
    for (const entry of entries) {
      const snapshot = snapshots.get(entry.order.id);
      if (!snapshot) {
        entry.alone = true;
        entry.dueAt = this.now();
        this.observe(provider, 'unlisted');
        continue;
      }
      try {
        this.polled(entry, await this.orders.recordPolled(entry.order, snapshot));
      } catch (error) {
        this.log.warn({ err: error, orderId: entry.order.id, provider }, 'poll failed; will try again later');
        this.polled(entry, entry.order, true);
      }
    }
  }

  /** Schedules the next poll of an order after one, or lets it go once it settled. */
  private polled(entry: Entry, updated: OrderRecord | undefined, failed = false): void {
    if (!updated || !this.orders.isLive(updated)) {
      this.schedule.delete(entry.order.id);
      this.observe(entry.order.provider, failed ? 'failed' : 'settled');
      return;
    }
    this.observe(entry.order.provider, failed ? 'failed' : 'open');
    entry.order = updated;
    entry.polls += 1;
    entry.dueAt = this.now() + this.delay(updated, entry.polls);
  }

  /** The wait before the next poll: growing by half each time from the first delay up to the cap, ±20% jitter. */
  private delay(order: OrderRecord, polls: number): number {
    const hooked = this.providers.get(order.provider)?.adapter.webhooks !== undefined;
    const base = hooked ? this.options.webhookDelayMs : Math.min(this.options.firstDelayMs * 1.5 ** polls, this.options.maxDelayMs);
    return base * (0.8 + Math.random() * 0.4);
  }
}
