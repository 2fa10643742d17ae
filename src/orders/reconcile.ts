import type { Logger } from 'pino';
import type { ProviderRegistry } from '../providers/registry.js';
import type { Store } from '../store/store.js';
import type { OrdersService } from './service.js';

export interface ReconcilerOptions {
  /** How often UNCONFIRMED orders are looked up again. */
  intervalMs: number;
  /** An order is looked up only once it is this old: a send still in flight has its own answer coming. */
  graceMs: number;
  /** Orders looked up per round, oldest first, so a backlog never floods a provider. */
  perRound: number;
  clock?: () => Date;
}

export const DEFAULT_RECONCILER: ReconcilerOptions = { intervalMs: 60_000, graceMs: 60_000, perRound: 20 };

/**
 * Settles UNCONFIRMED orders by themselves where their provider can look one up by our reference
 * (Goody): each round looks up the oldest few, and one found is accepted as the provider has it.
 * One not found stays UNCONFIRMED for a person to settle: not finding it proves nothing.
 */
export class UnconfirmedReconciler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private resumeAfter: { createdAt: string; id: string } | undefined;

  constructor(
    private readonly store: Store,
    private readonly providers: ProviderRegistry,
    private readonly orders: OrdersService,
    private readonly log: Logger,
    private readonly options: ReconcilerOptions = DEFAULT_RECONCILER,
  ) {}

  start(): void {
    this.timer ??= setInterval(() => {
      this.runOnce().catch((error) => this.log.warn({ err: error }, 'could not look UNCONFIRMED orders up; the next round tries again'));
    }, this.options.intervalMs);
    this.timer.unref();
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.running;
  }

  /** One round; resolves with how many orders it settled. Rounds never overlap. */
  runOnce(): Promise<number> {
    this.running ??= this.round().finally(() => (this.running = undefined));
    return this.running;
  }

  private async round(): Promise<number> {
    const providers = this.providers
      .all()
      .filter((p) => p.adapter.lookUp)
      .map((p) => p.adapter.provider);
    const now = (this.options.clock ?? (() => new Date()))();
    const before = new Date(now.getTime() - this.options.graceMs).toISOString();
    // Each round goes on where the last stopped, and starts over at the end: orders that are never
    // found do not keep the newer ones from being looked up.
    let due = await this.store.listUnconfirmedOrders(providers, before, this.options.perRound, this.resumeAfter);
    if (due.length === 0 && this.resumeAfter) due = await this.store.listUnconfirmedOrders(providers, before, this.options.perRound);
    const last = due.at(-1);
    this.resumeAfter = due.length < this.options.perRound || !last ? undefined : { createdAt: last.createdAt, id: last.id };
    let settled = 0;
    for (const order of due) {
      try {
        if (await this.orders.settleByLookUp(order)) settled += 1;
      } catch (error) {
        // The provider is down or slow: the next round asks again.
        this.log.warn({ err: error, orderId: order.id, provider: order.provider }, 'could not look an UNCONFIRMED order up at its provider');
      }
    }
    return settled;
  }
}
