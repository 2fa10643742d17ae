import { context, ROOT_CONTEXT, SpanKind, trace, type Link, type Span } from '@opentelemetry/api';
import type { Logger } from 'pino';
import type { Store } from '../store/store.js';
import type { StatusEventRecord } from '../core/records.js';
import { GiftgraphError } from '../core/errors.js';
import { parseTraceParent } from '../core/trace-parent.js';
import type { StatusBus } from './bus.js';

const PAGE = 500;

const tracer = trace.getTracer('giftgraph');

/**
 * The outbox tail: after every commit that appended to the event log, reads what was appended
 * since the last position and publishes it, in order. Every committed event is published, whatever
 * wrote it, and none twice.
 */
export class EventTail {
  private lastSeq = 0;
  private readonly listeners: ((events: readonly StatusEventRecord[]) => void)[] = [];
  private running: Promise<void> | undefined;
  private again = false;

  constructor(
    private readonly store: Store,
    private readonly bus: StatusBus,
    private readonly log: Logger,
  ) {}

  /** Starts from the end of the log: what came before is for replay, not for live delivery. */
  async start(): Promise<void> {
    this.lastSeq = await this.store.lastEventSeq();
    this.store.onAppend(() => this.wake());
  }

  /** Also tells `listener` of every batch published (the poller learns of new orders this way). */
  onPublished(listener: (events: readonly StatusEventRecord[]) => void): void {
    this.listeners.push(listener);
  }

  /** Resolves once everything committed so far has been published. */
  async flush(): Promise<void> {
    this.wake();
    while (this.running) await this.running;
  }

  private wake(): void {
    if (this.running) {
      this.again = true;
      return;
    }
    // Publishing belongs to no one change's trace: not to whichever commit happened to wake it.
    this.running = context
      .with(ROOT_CONTEXT, () => this.drain())
      .catch((error) => this.log.error({ err: error }, 'could not publish status events; the next commit retries'))
      .finally(() => {
        this.running = undefined;
        if (this.again) {
          this.again = false;
          this.wake();
        }
      });
  }

  private async drain(): Promise<void> {
    for (;;) {
      const events = await this.store.getEventsAfter({ afterSeq: this.lastSeq, limit: PAGE });
      if (events.length === 0) return;
      this.bus.publish(events);
      // Advanced only once published: a broker that failed gets the same events again.
      this.lastSeq = events.at(-1)!.seq;
      for (const listener of this.listeners) listener(events);
    }
  }
}

/** Told of a live stream's progress (metrics): each live event it hands on, and its being cut off for lag. */
export interface LiveObserver {
  delivered(event: StatusEventRecord): void;
  lagged(): void;
}

/**
 * One tenant's events after a cursor, then live ones, with no gap and no duplicate at the seam:
 * the live stream is opened first and buffers while the log is replayed, and live events at or
 * before the last replayed position are skipped. Returning it releases the live stream at once.
 */
export function eventsAfter(
  store: Store,
  bus: StatusBus,
  query: { tenant: string; afterSeq: number; orderId?: string; cursorOf: (seq: number) => string },
  observer?: LiveObserver,
): AsyncIterableIterator<StatusEventRecord> {
  const live = bus.subscribe(query.tenant);
  let last = query.afterSeq;
  let replaying = true;
  let page: StatusEventRecord[] = [];
  let ended = false;
  // The delivery of the event handed on last: it lasts until the consumer asks for the next one.
  let delivering: Span | undefined;
  const deliver = (event: StatusEventRecord, replayed: boolean): IteratorResult<StatusEventRecord> => {
    delivering = startDelivery(event, replayed);
    return { value: event, done: false };
  };
  const finish = (): IteratorResult<StatusEventRecord> => {
    ended = true;
    delivering?.end();
    delivering = undefined;
    live.close();
    return { value: undefined, done: true };
  };
  return {
    async next(): Promise<IteratorResult<StatusEventRecord>> {
      delivering?.end();
      delivering = undefined;
      while (!ended && replaying) {
        const replayed = page.shift();
        if (replayed) {
          last = replayed.seq;
          return deliver(replayed, true);
        }
        page = await store.getEventsAfter({ afterSeq: last, tenant: query.tenant, orderId: query.orderId, limit: PAGE });
        if (page.length === 0) replaying = false;
      }
      while (!ended) {
        const next = await live.next();
        if (next.done && live.overflowed && !ended) {
          finish();
          observer?.lagged();
          throw subscriptionLagged(query.cursorOf(last));
        }
        if (next.done) return finish();
        const event = next.value;
        if (event.seq <= last || (query.orderId && event.orderId !== query.orderId)) continue;
        last = event.seq;
        observer?.delivered(event);
        return deliver(event, false);
      }
      return { value: undefined, done: true };
    },
    async return(): Promise<IteratorResult<StatusEventRecord>> {
      return finish();
    },
    [Symbol.asyncIterator]() {
      return this;
    },
  };
}

/**
 * The span of one event's delivery to a subscription stream (a group of identical subscriptions is
 * one stream): a trace of its own, as a stream outlives any one operation, linked to the trace of
 * the change that appended the event (a webhook, a poll, a mutation), where that was traced.
 */
function startDelivery(event: StatusEventRecord, replayed: boolean): Span {
  const cause = parseTraceParent(event.traceParent);
  const links: Link[] | undefined = cause ? [{ context: { ...cause, isRemote: true } }] : undefined;
  return tracer.startSpan('deliver status event', {
    kind: SpanKind.CONSUMER,
    root: true,
    links,
    attributes: { 'giftgraph.status_event.source': event.source, 'giftgraph.status_event.replayed': replayed },
  });
}

/** A subscriber cut off for falling behind: the log still holds everything, so it is told where to resume rather than ended as if done. */
export function subscriptionLagged(resumeAfter: string): GiftgraphError {
  const lagged = new GiftgraphError('SUBSCRIPTION_LAGGED', 'This subscriber fell too far behind; subscribe again with after: extensions.resumeAfter', {
    retryable: true,
  });
  (lagged.extensions as Record<string, unknown>).resumeAfter = resumeAfter;
  return lagged;
}
