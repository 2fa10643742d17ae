import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendGiftsDocument } from './generated/graphql.js';
import { Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

describe('health', () => {
  it('says the process is up and ready with its store and providers', async () => {
    expect(await (await fetch(`${h.url}/healthz`)).json()).toEqual({ status: 'ok' });
    const ready = await fetch(`${h.url}/readyz`);
    expect(ready.status).toBe(200);
    expect(await ready.json()).toEqual({
      status: 'ready',
      store: 'open',
      providers: [
        { name: 'GUUSTO', mode: 'SANDBOX' },
        { name: 'GIFTRONAUT', mode: 'SANDBOX' },
        { name: 'GOODY', mode: 'SANDBOX' },
        { name: 'ANDOPEN', mode: 'SANDBOX' },
      ],
    });
  });
});

describe('graceful shutdown', () => {
  it('finishes a request in flight, then refuses new connections and closes the store', async () => {
    const local = await Harness.start();
    local.guusto.http.faults.add({ method: 'POST', path: '/api/v1/orders', fault: { kind: 'latency', ms: 300 } });
    const inFlight = local.gql(SendGiftsDocument, {
      input: { provider: 'GUUSTO', idempotencyKey: 'shutdown', message: 'Hi', amount: { amount: '10', currency: 'CAD' }, recipients: [{ email: 'a@example.com' }] },
    });
    // In flight: giftgraph's create has reached Guusto, which answers it late.
    await expect.poll(() => local.guusto.http.count('POST', '/api/v1/orders'), { interval: 5 }).toBe(1);
    const stopped = local.app.stop();
    const result = await inFlight;
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts.order!.status).toBe('PENDING');
    await stopped;
    await expect(fetch(`${local.url}/healthz`)).rejects.toThrow();
    expect(await local.store.ping()).toBe(false);
    await local.guusto.close();
  });
});
