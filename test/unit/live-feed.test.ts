import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import pino from 'pino';
import { describe, expect, it, vi, type MockInstance } from 'vitest';
import { InProcessStatusBus } from '../../src/status/bus.js';
import { eventsAfter, EventTail } from '../../src/status/feed.js';
import type { GiftStatus } from '../../src/core/model.js';
import type { OrderRecord, StatusEventRecord } from '../../src/core/records.js';
import { Ingest } from '../../src/orders/ingest.js';
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

/**
 * Resolves once a feed's (empty) replay has read the log: the feed awaited that read first, so by
 * the time this resumes it has moved on and waits on its live stream.
 */
const pastReplay = async (replay: MockInstance<SqliteStore['getEventsAfter']>): Promise<void> => {
  expect(replay).toHaveBeenCalledTimes(1);
  await replay.mock.results[0]!.value;
};

describe('a live subscriber', () => {
  it('that falls too far behind is told where to resume, not ended as if done', async () => {
    const store = SqliteStore.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-feed-')), 'l.db'));
    const bus = new InProcessStatusBus();
    const replay = vi.spyOn(store, 'getEventsAfter');
    const feed = eventsAfter(store, bus, { tenant: 't', afterSeq: 0, cursorOf: (seq: number) => `at-${seq}` });
    const first = feed.next();
    await pastReplay(replay); // waiting live
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
    const replay = vi.spyOn(store, 'getEventsAfter');
    const feed = eventsAfter(store, bus, { tenant: 't', afterSeq: 0, cursorOf: (seq: number) => `at-${seq}` });
    const pending = feed.next();
    await pastReplay(replay);
    expect(bus.subscriberCount).toBe(1);
    await feed.return!();
    expect(await pending).toEqual({ value: undefined, done: true });
    expect(bus.subscriberCount).toBe(0);
    store.close();
  });

  it('that replays while changes are committed gets each of them once, in order, across the seam', async () => {
    const store = SqliteStore.open(path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-feed-')), 'l.db'));
    const bus = new InProcessStatusBus();
    const tail = new EventTail(store, bus, pino({ level: 'silent' }));
    await tail.start();
    const order: OrderRecord = {
      id: 'o1',
      tenant: 't',
      provider: 'GUUSTO',
      origin: 'GIFTGRAPH',
      idempotencyKey: 'k',
      requestHash: 'h',
      submission: 'ACCEPTED',
      providerRef: 'r',
      status: 'UNCONFIRMED',
      providerStatus: '',
      total: null,
      scheduledFor: null,
      details: {},
      lastError: null,
      createdAt: new Date().toISOString(),
      updatedAt: new Date().toISOString(),
    };
    await store.reserveOrder(order, []);
    const change = async (status: GiftStatus) => {
      await new Ingest(store).observe({ orderId: 'o1', source: 'POLL', occurredAt: new Date().toISOString(), status, providerStatus: status });
      await tail.flush(); // committed and published to the live stream
    };
    await change('PENDING');
    await change('PROCESSING');
    const feed = eventsAfter(store, bus, { tenant: 't', afterSeq: 0, cursorOf: String });
    const seen = [(await feed.next()).value.to];
    // Committed while the replay is under way: these are both in the log it reads and on the live stream.
    await change('SENT');
    await change('OPENED');
    for (let i = 0; i < 3; i++) seen.push((await feed.next()).value.to);
    await change('REDEEMED');
    seen.push((await feed.next()).value.to);
    expect(seen).toEqual(['PENDING', 'PROCESSING', 'SENT', 'OPENED', 'REDEEMED']);
    await feed.return!();
    expect(bus.subscriberCount).toBe(0);
    store.close();
  });
});
