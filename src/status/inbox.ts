import { ROOT_CONTEXT, trace } from '@opentelemetry/api';
import { parseTraceParent } from '../core/trace-parent.js';
import type { Logger } from 'pino';
import type { OrdersService } from '../orders/service.js';
import type { Store, WebhookNudge } from '../store/store.js';

const tracer = trace.getTracer('giftgraph');

export interface InboxOptions {
  /** Orders read from their providers at once, across providers (each provider's own limits apply too). */
  concurrency: number;
  /** How long a wake gathers deliveries before reading: a burst about one order becomes one read. */
  gatherMs: number;
  /** A nudge whose read failed is tried again after this long. */
  retryMs: number;
}

export const DEFAULT_INBOX: InboxOptions = { concurrency: 8, gatherMs: 50, retryMs: 5_000 };

/** Nudges read from the ledger per round. */
const ROUND = 100;

/**
 * The other half of the webhook inbox: the receiver records a verified delivery and the orders it
 * names, and answers at once; this reads each named order from its provider (as a WEBHOOK
 * observation) and clears its nudges. A burst of deliveries about one order becomes one read;
 * nudges left by a stop are read after the next start; a read that fails is tried again later.
 */
export class WebhookInboxWorker {
  private draining: Promise<void> | undefined;
  private again = false;
  /** A drain gathering deliveries before it reads. */
  private gathering: { timer: NodeJS.Timeout; done: Promise<void>; run: () => void } | undefined;
  private timer: NodeJS.Timeout | undefined;
  /** Orders whose last read failed, with when to try again. */
  private readonly backoff = new Map<string, number>();

  constructor(
    private readonly store: Store,
    private readonly orders: OrdersService,
    private readonly log: Logger,
    private readonly options: InboxOptions = DEFAULT_INBOX,
    private readonly now: () => number = Date.now,
  ) {}

  /** Reads what a previous process left, then retries failed reads on a timer. */
  start(): void {
    this.wake();
    this.timer ??= setInterval(() => this.wake(), this.options.retryMs);
    this.timer.unref();
  }

  /** New nudges were recorded: read them shortly (a drain in progress runs once more). */
  wake(): void {
    if (this.draining) {
      this.again = true;
      return;
    }
    if (this.gathering) return;
    let run!: () => void;
    const done = new Promise<void>((resolve) => (run = resolve)).then(() => {
      this.gathering = undefined;
      this.startDrain();
    });
    const timer = setTimeout(run, this.options.gatherMs);
    timer.unref();
    this.gathering = { timer, done, run };
  }

  private startDrain(): void {
    this.draining = this.drain().finally(() => {
      this.draining = undefined;
      if (this.again) {
        this.again = false;
        this.wake();
      }
    });
  }

  /** Resolves once every nudge recorded so far was read (or failed and waits for its retry); reads a gathering drain at once. */
  async idle(): Promise<void> {
    while (this.gathering || this.draining) {
      if (this.gathering) {
        clearTimeout(this.gathering.timer);
        this.gathering.run();
        await this.gathering?.done;
      }
      if (this.draining) await this.draining;
    }
  }

  async stop(): Promise<void> {
    clearInterval(this.timer);
    this.timer = undefined;
    await this.idle();
  }

  private async drain(): Promise<void> {
    try {
      for (;;) {
        const now = this.now();
        const due = (await this.store.pendingNudges(ROUND)).filter((n) => (this.backoff.get(n.orderId) ?? 0) <= now);
        if (due.length === 0) return;
        for (let i = 0; i < due.length; i += this.options.concurrency) {
          await Promise.all(due.slice(i, i + this.options.concurrency).map((nudge) => this.read(nudge)));
        }
        if (due.length < ROUND) return;
      }
    } catch (error) {
      this.log.warn({ err: error }, 'could not read the webhook inbox; the next round tries again');
    }
  }

  private read(nudge: WebhookNudge): Promise<void> {
    // The read continues the trace of the delivery that named the order: its provider call and
    // ledger write are that delivery's children, as if the receiver had made them itself.
    const delivery = parseTraceParent(nudge.traceParent);
    const parent = delivery ? trace.setSpanContext(ROOT_CONTEXT, { ...delivery, isRemote: false }) : ROOT_CONTEXT;
    return tracer.startActiveSpan('webhook inbox', { attributes: { 'giftgraph.provider': nudge.provider } }, parent, async (span) => {
      // Nudges up to now are answered by this read; one recorded while it runs stays for the next.
      const upTo = new Date(this.now()).toISOString();
      try {
        const [order] = await this.store.getOrders(nudge.tenant, [nudge.orderId]);
        if (order) await this.orders.refresh(order, 'WEBHOOK');
        await this.store.clearNudges(nudge.orderId, upTo);
        this.backoff.delete(nudge.orderId);
      } catch (error) {
        this.backoff.set(nudge.orderId, this.now() + this.options.retryMs);
        this.log.warn({ err: error, orderId: nudge.orderId, provider: nudge.provider }, 'could not read an order a webhook named; trying again later');
      } finally {
        span.end();
      }
    });
  }
}
