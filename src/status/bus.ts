import type { StatusEventRecord } from '../core/records.js';
import { QueueIterator } from './stream.js';

/**
 * Where committed status events go to reach subscribers. In-process by default; a shared broker
 * (Redis pub/sub, say) can take its place so several replicas deliver the same events, since
 * subscribers only rely on this interface and on the event log for replay.
 */
export interface StatusBus {
  /** Delivers events, in log order, to the current subscribers of their tenant. */
  publish(events: readonly StatusEventRecord[]): void;
  /** A live stream of one tenant's events from now on. */
  subscribe(tenant: string): LiveStream;
}

export interface LiveStream extends AsyncIterableIterator<StatusEventRecord> {
  close(): void;
  /** Cut off for falling too far behind, rather than closed by its reader. */
  readonly overflowed: boolean;
}

/** A subscriber this far behind is cut off rather than let it hold memory without bound; it resumes by cursor. */
const MAX_BUFFERED = 10_000;

export class InProcessStatusBus implements StatusBus {
  private readonly byTenant = new Map<string, Set<Subscriber>>();

  publish(events: readonly StatusEventRecord[]): void {
    for (const event of events) for (const subscriber of this.byTenant.get(event.tenant) ?? []) subscriber.offer(event);
  }

  subscribe(tenant: string): LiveStream {
    const subscribers = this.byTenant.get(tenant) ?? new Set<Subscriber>();
    this.byTenant.set(tenant, subscribers);
    const subscriber = new Subscriber(() => {
      subscribers.delete(subscriber);
      if (subscribers.size === 0) this.byTenant.delete(tenant);
    });
    subscribers.add(subscriber);
    return subscriber;
  }

  get subscriberCount(): number {
    let n = 0;
    for (const set of this.byTenant.values()) n += set.size;
    return n;
  }
}

class Subscriber extends QueueIterator<StatusEventRecord> implements LiveStream {
  overflowed = false;

  offer(event: StatusEventRecord): void {
    if (this.length >= MAX_BUFFERED) {
      this.overflowed = true;
      this.end();
      return;
    }
    this.push(event);
  }

  close(): void {
    this.end();
  }
}
