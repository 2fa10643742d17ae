import type { Logger } from 'pino';
import type { OrdersService } from './service.js';

export interface SchedulerOptions {
  /** How often held sends that are due are looked for. */
  tickMs: number;
  /** At most this many held sends claimed, and sent side by side, at a time. */
  batch: number;
}

export const DEFAULT_SCHEDULER: SchedulerOptions = { tickMs: 1_000, batch: 10 };

/**
 * Sends what giftgraph holds for providers that cannot schedule (src/orders/held.ts) when its time
 * comes, each through the path every send takes. The ledger is the truth, not this process: a held
 * send whose time passed while giftgraph was stopped is sent after the next start, and where
 * replicas share the ledger each is claimed, and so sent, by one of them. A replica that dies
 * mid-send leaves its claimed sends to the recovery of interrupted sends (they become UNCONFIRMED).
 */
export class HeldSendScheduler {
  private timer: NodeJS.Timeout | undefined;
  private running: Promise<number> | undefined;
  private stopped = false;

  constructor(
    private readonly orders: Pick<OrdersService, 'claimDueHeldSends' | 'sendHeld'>,
    private readonly log: Logger,
    private readonly options: SchedulerOptions = DEFAULT_SCHEDULER,
  ) {}

  /** Sends what is due now, then looks again every `tickMs`. */
  start(): void {
    const tick = () => {
      if (this.running || this.stopped) return;
      this.sendDue().catch((error: unknown) => this.log.warn({ err: error }, 'could not send the held sends that are due; the next tick tries again'));
    };
    tick();
    this.timer = setInterval(tick, this.options.tickMs);
    this.timer.unref();
  }

  /**
   * Sends every held send due now, after any run in flight; resolves with how many it claimed.
   * The timer calls it; tests call it to send what is due at once.
   */
  sendDue(): Promise<number> {
    const run = (this.running ?? Promise.resolve(0)).catch(() => 0).then(() => this.runOnce());
    this.running = run;
    const done = () => {
      if (this.running === run) this.running = undefined;
    };
    run.then(done, done);
    return run;
  }

  private async runOnce(): Promise<number> {
    let claimed = 0;
    while (!this.stopped) {
      const due = await this.orders.claimDueHeldSends(this.options.batch);
      if (due.length === 0) break;
      claimed += due.length;
      await Promise.all(
        due.map(async (order) => {
          try {
            const { order: sent, problems } = await this.orders.sendHeld(order);
            const details = { orderId: order.id, provider: order.provider, scheduledFor: order.scheduledFor, status: sent.status };
            if (problems.length === 0) this.log.info(details, 'held send sent at its time');
            else this.log.warn({ ...details, problems: problems.map((p) => p.code) }, 'held send sent at its time, with problems: see the order');
          } catch (error) {
            this.log.error({ err: error, orderId: order.id, provider: order.provider }, 'held send failed in an unexpected way; the order is UNCONFIRMED');
          }
        }),
      );
    }
    return claimed;
  }

  /** Stops looking; a run in flight finishes the sends it claimed. */
  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearInterval(this.timer);
    await this.running?.catch(() => undefined);
  }
}
