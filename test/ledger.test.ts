import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { SQLITE_MIGRATIONS as MIGRATIONS } from '../src/store/migrations.js';
import { SqliteStore } from '../src/store/sqlite.js';
import type { OrderRecord } from '../src/core/records.js';
import { Ingest } from '../src/orders/ingest.js';

const tempDb = () => path.join(fs.mkdtempSync(path.join(os.tmpdir(), 'giftgraph-store-')), 'ledger.db');

const order = (id: string, submission: OrderRecord['submission']): OrderRecord => ({
  id,
  tenant: 't',
  provider: 'GUUSTO',
  origin: 'GIFTGRAPH',
  idempotencyKey: `key-${id}`,
  requestHash: 'h',
  submission,
  providerRef: null,
  status: 'UNCONFIRMED',
  providerStatus: '',
  total: { minor: 1000, currency: 'CAD' },
  scheduledFor: null,
  details: {},
  lastError: null,
  createdAt: new Date().toISOString(),
  updatedAt: new Date().toISOString(),
});

describe('the SQLite ledger', () => {
  it('is durable: WAL with synchronous=FULL and foreign keys on, migrations applied once', () => {
    const file = tempDb();
    const store = SqliteStore.open(file);
    expect(store.pragma('journal_mode')).toBe('wal');
    expect(store.pragma('synchronous')).toBe(2);
    expect(store.pragma('foreign_keys')).toBe(1);
    const latest = Math.max(...MIGRATIONS.map((m) => m.version));
    expect(store.schemaVersion()).toBe(latest);
    store.close();
    const reopened = SqliteStore.open(file);
    expect(reopened.schemaVersion()).toBe(latest);
    reopened.close();
  });

  it('keeps an order that was mid-send when the process died, as UNCONFIRMED', async () => {
    const file = tempDb();
    const crashed = SqliteStore.open(file);
    await crashed.reserveOrder(order('o-mid-send', 'SENDING'), []);
    await crashed.reserveOrder(order('o-done', 'ACCEPTED'), []);
    crashed.close();

    const restarted = SqliteStore.open(file);
    expect(await new Ingest(restarted).recoverInterruptedSends(new Date().toISOString())).toBe(1);
    const [midSend] = await restarted.getOrders('t', ['o-mid-send']);
    expect(midSend).toMatchObject({ submission: 'UNCONFIRMED', status: 'UNCONFIRMED' });
    const [done] = await restarted.getOrders('t', ['o-done']);
    expect(done!.submission).toBe('ACCEPTED');
    restarted.close();
  });

  it('holds one order per tenant and idempotency key', async () => {
    const store = SqliteStore.open(tempDb());
    const first = await store.reserveOrder(order('a', 'SENDING'), []);
    const second = await store.reserveOrder({ ...order('b', 'SENDING'), idempotencyKey: 'key-a' }, []);
    expect(first.created).toBe(true);
    expect(second).toMatchObject({ created: false, order: { id: 'a' } });
    expect(store.counts().orders).toBe(1);
    store.close();
  });
});

describe('open orders', () => {
  it('are read back page by page, oldest first, whatever their number', async () => {
    const store = SqliteStore.open(tempDb());
    for (const id of ['a', 'b', 'c']) {
      await store.reserveOrder({ ...order(id, 'ACCEPTED'), status: 'SENT', createdAt: `2026-01-0${id.charCodeAt(0) - 96}T00:00:00Z` }, []);
    }
    const first = await store.listOpenOrders(2);
    const rest = await store.listOpenOrders(2, { createdAt: first[1]!.createdAt, id: first[1]!.id });
    expect([...first, ...rest].map((o) => o.id)).toEqual(['a', 'b', 'c']);
    store.close();
  });
});

describe('one process per ledger', () => {
  it('refuses a second store on the same file, clearly', () => {
    const file = tempDb();
    const first = SqliteStore.open(file);
    expect(() => SqliteStore.open(file)).toThrow(/in use by another giftgraph process/);
    first.close();
    SqliteStore.open(file).close();
  });

  it("records the provider's acceptance even after a restart marked the order UNCONFIRMED", async () => {
    const store = SqliteStore.open(tempDb());
    await store.reserveOrder(order('late-accept', 'SENDING'), []);
    const ingest = new Ingest(store);
    await ingest.recoverInterruptedSends(new Date().toISOString());
    await ingest.observe(
      { orderId: 'late-accept', source: 'MUTATION', occurredAt: new Date().toISOString(), status: 'PENDING', providerStatus: 'ACCEPTED', providerRef: 'req-1' },
      { accept: true },
    );
    const [accepted] = await store.getOrders('t', ['late-accept']);
    expect(accepted).toMatchObject({ submission: 'ACCEPTED', status: 'PENDING', providerRef: 'req-1' });
    store.close();
  });
});
