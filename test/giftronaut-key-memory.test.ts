import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { CatalogDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness, problemOf } from './support/harness.js';

/**
 * Giftronaut remembers an idempotency key for 24 hours. giftgraph repeats a create whose outcome
 * is unknown only within 18 of them (three quarters, counted from the order's reservation), and
 * never after: the HTTP client's own retries included.
 */
const HOUR = 3_600_000;
const CREATE = /^\/api\/v1\/orders\/(branded|choice)-cards$/;

let h: Harness;
let input: SendGiftsInput;
beforeEach(async () => {
  h = await Harness.start({ sharedClock: true, giftronaut: { balanceUsd: 100_000 } });
  const catalog = (await h.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 50 })).data!.catalog.edges.map((e) => e.node);
  input = {
    provider: 'GIFTRONAUT',
    idempotencyKey: 'key-memory',
    senderName: 'Acme Corp',
    amount: { amount: '25', currency: 'USD' },
    recipients: [{ email: 'alice@example.com', firstName: 'Alice' }],
    giftronaut: { productId: catalog.find((c) => c.name === 'Blue Bottle Coffee')!.id },
  };
});
afterEach(() => h.close());

const creates = () => h.giftronaut.http.received.filter((r) => r.method === 'POST' && CREATE.test(r.path)).length;

/** A send whose every attempt reached Giftronaut and lost its answer: recorded UNCONFIRMED. */
async function unconfirmedOrder(): Promise<string> {
  h.giftronaut.http.faults.add({ method: 'POST', path: CREATE, times: 3, fault: { kind: 'drop-after' } });
  const first = await h.gql(SendGiftsDocument, { input });
  expect(first.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
  const problem = problemOf(first);
  expect(problem).toMatchObject({ code: 'OUTCOME_UNKNOWN', provider: 'GIFTRONAUT', retryable: true });
  // Safe until three quarters of Giftronaut's 24 hours from the order, said in the message and as data.
  const until = /retry with the same idempotency key before (\d{4}-\d\d-\d\dT[^:]+:\d\d:[\d.]+Z)/.exec(problem.message)![1]!;
  expect(new Date(problem.retryBefore!).toISOString()).toBe(until);
  expect(Date.parse(until) - Date.parse(first.data!.sendGifts.order!.createdAt)).toBe(18 * HOUR);
  expect(h.giftronaut.orderCount).toBe(1);
  return first.data!.sendGifts.order!.id;
}

const readOrder = async (id: string) =>
  (
    await h.gql<{ order: { status: string; capabilities: { deduplicatesCreates: boolean } } }, { id: string }>(
      'query ($id: ID!) { order(id: $id) { status capabilities { deduplicatesCreates } } }',
      { id },
    )
  ).data!.order;

describe('a same-key replay of an UNCONFIRMED Giftronaut order', () => {
  it('is sent again while Giftronaut surely remembers the key, and Giftronaut holds one order', async () => {
    const id = await unconfirmedOrder();
    expect((await readOrder(id)).capabilities.deduplicatesCreates).toBe(true);
    h.clock.advance(17 * HOUR);
    const before = creates();
    const replay = await h.gql(SendGiftsDocument, { input });
    expect(replay.errors).toBeUndefined();
    // Giftronaut answers the key with the original order, sent long ago by now.
    expect(replay.data!.sendGifts).toMatchObject({ created: false, order: { id, status: 'SENT' }, problems: [] });
    expect(creates()).toBe(before + 1);
    expect(h.giftronaut.orderCount).toBe(1);
  });

  it('makes no provider call once the key may be forgotten, and the order stays UNCONFIRMED', async () => {
    const id = await unconfirmedOrder();
    h.clock.advance(19 * HOUR);
    const before = creates();
    const replay = await h.gql(SendGiftsDocument, { input });
    expect(replay.errors).toBeUndefined();
    expect(replay.data!.sendGifts).toMatchObject({ created: false, order: { id, status: 'UNCONFIRMED' } });
    // The replay says what the first answer said, but a same-key retry is no longer safe.
    expect(problemOf(replay)).toMatchObject({ code: 'OUTCOME_UNKNOWN', retryable: false, retryBefore: null });
    expect(creates()).toBe(before);
    expect(await readOrder(id)).toEqual({ status: 'UNCONFIRMED', capabilities: { deduplicatesCreates: false } });
  });
});

describe("the HTTP client's own retries of a Giftronaut create", () => {
  it('wait out a Retry-After well inside the key memory', async () => {
    await unconfirmedOrder();
    h.clock.advance(HOUR);
    h.giftronaut.http.faults.add({ method: 'POST', path: CREATE, fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } });
    const before = creates();
    const replay = await h.gql(SendGiftsDocument, { input });
    expect(replay.data!.sendGifts.order!.status).toBe('SENT');
    expect(creates()).toBe(before + 2);
  });

  it('do not start after the safe window ends, even within one request', async () => {
    const id = await unconfirmedOrder();
    // Half a second of the window left: the replay is made, its retry a second later is not.
    h.clock.advance(18 * HOUR - 500);
    h.giftronaut.http.faults.add({ method: 'POST', path: CREATE, fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } });
    const before = creates();
    const replay = await h.gql(SendGiftsDocument, { input });
    expect(replay.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
    expect(problemOf(replay)).toMatchObject({ code: 'OUTCOME_UNKNOWN', provider: 'GIFTRONAUT', retryable: true });
    expect(problemOf(replay).message).toMatch(/stays UNCONFIRMED/);
    expect(creates()).toBe(before + 1);
    expect((await readOrder(id)).status).toBe('UNCONFIRMED');
  });
});
