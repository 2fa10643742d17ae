import { setTimeout as sleep } from 'node:timers/promises';

export interface WebhookDelivery {
  body: string;
  /** Fixed, or made again for each attempt (a provider that signs a fresh dispatch time on every try). */
  headers: Record<string, string> | (() => Record<string, string>);
}

export type WebhookTarget = string | (() => string | undefined);

export interface DeliveryRecord {
  body: string;
  /** The headers of the latest attempt. */
  headers: Record<string, string>;
  attempts: number;
  delivered: boolean;
}

/**
 * Delivers a sandbox's webhooks the way providers do: POST to the configured URL, at least once,
 * again with backoff until it is answered with a 2xx or the attempts run out.
 */
export class WebhookSender {
  readonly log: DeliveryRecord[] = [];
  /** How many of the latest deliveries `log` keeps: all unless lowered (a long-running process lowers it). */
  recordLimit = Number.POSITIVE_INFINITY;
  private readonly inFlight = new Set<Promise<void>>();
  private closed = false;

  /**
   * `target` may be known only later (the receiver's port), or change (a round-robin over several
   * receivers): it is asked at each attempt, so a retry may go to another receiver than the try before.
   */
  constructor(
    private readonly target: WebhookTarget | undefined,
    private readonly options: { attempts?: number; baseDelayMs?: number } = {},
  ) {}

  send(delivery: WebhookDelivery): void {
    const url = typeof this.target === 'function' ? this.target() : this.target;
    if (!url || this.closed) return;
    const record: DeliveryRecord = { body: delivery.body, headers: {}, attempts: 0, delivered: false };
    this.log.push(record);
    if (this.log.length > this.recordLimit) this.log.splice(0, this.log.length - this.recordLimit);
    const task = this.deliver(url, delivery, record).finally(() => this.inFlight.delete(task));
    this.inFlight.add(task);
  }

  /** Resolves once every delivery under way has succeeded or given up. */
  async settle(): Promise<void> {
    while (this.inFlight.size > 0) await Promise.all([...this.inFlight]);
  }

  async close(): Promise<void> {
    this.closed = true;
    await this.settle();
  }

  private async deliver(first: string, delivery: WebhookDelivery, record: DeliveryRecord): Promise<void> {
    const attempts = this.options.attempts ?? 5;
    const base = this.options.baseDelayMs ?? 200;
    let url = first;
    for (let attempt = 1; attempt <= attempts && !this.closed; attempt++) {
      // The first attempt goes where `send` was told; a retry asks again, keeping the last URL when there is none now.
      if (attempt > 1) url = (typeof this.target === 'function' ? this.target() : this.target) ?? url;
      record.attempts = attempt;
      record.headers = typeof delivery.headers === 'function' ? delivery.headers() : delivery.headers;
      try {
        const res = await fetch(url, {
          method: 'POST',
          headers: { 'content-type': 'application/json', ...record.headers },
          body: delivery.body,
          signal: AbortSignal.timeout(5_000),
        });
        await res.arrayBuffer();
        if (res.ok) {
          record.delivered = true;
          return;
        }
      } catch {
        // Unreachable or timed out: try again, like the provider would.
      }
      if (attempt < attempts) await sleep(base * 2 ** (attempt - 1));
    }
  }
}
