import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { InProcessStatusBus } from '../../src/status/bus.js';
import { eventsAfter } from '../../src/status/feed.js';
import type { StatusEventRecord } from '../../src/store/records.js';
import { SqliteStore } from '../../src/store/sqlite.js';

const event = (seq: number): StatusEventRecord => ({
  seq,
  tenant: 't',
  orderId: 'o',
  recipientId: null,
  from: 'PENDING',
  to: 'SENT',
  providerStatus: '',
  occurredAt: new Date().toISOString(),
  source: 'POLL',
});

describe('a live subscriber', () => {
  it('that falls too far behind is told where to resume, not ended as if done', async () => {
    const store = SqliteStore.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-feed-')), 'l.db'));
    const bus = new InProcessStatusBus();
    const feed = eventsAfter(store, bus, { tenant: 't', afterSeq: 0, cursorOf: (seq: number) => `at-${seq}` });
    const first = feed.next();
    await new Promise((r) => setTimeout(r, 10)); // past the (empty) replay, waiting live
    bus.publish([event(1)]);
    expect((await first).value.seq).toBe(1);
    bus.publish(Array.from({ length: 10_001 }, (_, i) => event(i + 2)));
    await expect(feed.next()).rejects.toMatchObject({ extensions: { code: 'SUBSCRIPTION_LAGGED', resumeAfter: 'at-1' } });
    expect(bus.subscriberCount).toBe(0);
    store.close();
  });

  it('that unsubscribes lets go of its live stream at once', async () => {
    const store = SqliteStore.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-feed-')), 'l.db'));
    const bus = new InProcessStatusBus();
    const feed = eventsAfter(store, bus, { tenant: 't', afterSeq: 0, cursorOf: (seq: number) => `at-${seq}` });
    const pending = feed.next();
    await new Promise((r) => setTimeout(r, 10));
    expect(bus.subscriberCount).toBe(1);
    await feed.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(bus.subscriberCount).toBe(0);
    store.close();
  });
});
