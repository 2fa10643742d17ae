import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { errorCode, Harness, problemCode, problemOf } from './support/harness.js';

/** The circuits' own clock: a test moves it past a cooldown instead of waiting it out. */
let now = Math.floor(Date.now() / 1000) * 1000;
const breakerClock = () => now;
const COOLDOWN_MS = 5_000;
const guarding = { limits: { failureThreshold: 3, cooldownMs: COOLDOWN_MS, maxCooldownMs: 60_000, jitter: 0 }, now: breakerClock };

const CIRCUITS = `{ providers { name circuit { state retryAt consecutiveFailures } } }`;
interface Circuits {
  providers: { name: string; circuit: { state: string; retryAt: string | null; consecutiveFailures: number } }[];
}

const input = (key: string): SendGiftsInput => ({
  provider: 'GUUSTO',
  idempotencyKey: key,
  message: 'Thanks!',
  amount: { amount: '10', currency: 'USD' },
  recipients: [{ email: 'ada@example.com' }],
});

describe('a provider that keeps failing', () => {
  let h: Harness;
  const CREATE = { method: 'POST', path: '/api/v1/orders' } as const;
  const creates = () => h.guusto.http.count('POST', '/api/v1/orders');
  const guustoRequests = () => h.guusto.http.received.length;
  const circuit = async (name: string) => (await h.gql<Circuits, never>(CIRCUITS)).data!.providers.find((p) => p.name === name)!.circuit;
  /** Three creates that Guusto answers with a 503: each may have been processed, each counts against the circuit. */
  const failThrice = async (prefix: string) => {
    h.guusto.http.faults.add({ ...CREATE, times: 3, fault: { kind: 'status', status: 503 } });
    for (let i = 0; i < 3; i++) {
      const result = await h.gql(SendGiftsDocument, { input: input(`${prefix}-${i}`) });
      expect(problemCode(result)).toBe('OUTCOME_UNKNOWN');
    }
  };

  beforeAll(async () => {
    h = await Harness.start({ only: ['GUUSTO', 'GIFTRONAUT'], guusto: { balances: { CAD: 100_000, USD: 100_000 } }, guarding });
  });
  afterAll(() => h.close());

  it('is shown CLOSED while it answers', async () => {
    expect(await circuit('GUUSTO')).toEqual({ state: 'CLOSED', retryAt: null, consecutiveFailures: 0 });
  });

  it('opens after three failures in a row, and `providers` shows until when', async () => {
    const before = creates();
    await failThrice('down');
    expect(creates()).toBe(before + 3);
    expect(await circuit('GUUSTO')).toEqual({ state: 'OPEN', retryAt: new Date(now + COOLDOWN_MS).toISOString(), consecutiveFailures: 3 });
    // Only Guusto's: another provider is called as usual.
    expect(await circuit('GIFTRONAUT')).toEqual({ state: 'CLOSED', retryAt: null, consecutiveFailures: 0 });
  });

  it('while open, refuses every call at once and sends nothing to the provider', async () => {
    const requests = guustoRequests();
    const paused = new RegExp(`GUUSTO is failing; calls are paused until ${new Date(now + COOLDOWN_MS).toISOString().replace(/\./g, '\\.')}`);

    const send = await h.gql(SendGiftsDocument, { input: input('while-open') });
    expect(send.data!.sendGifts.order!.status).toBe('FAILED');
    expect(problemOf(send)).toMatchObject({ code: 'PROVIDER_UNAVAILABLE', provider: 'GUUSTO', retryable: true, retryAfter: expect.any(String) });
    expect(problemOf(send).message).toMatch(paused);
    expect(problemOf(send).message).toMatch(/safe to retry/);

    const balances = await h.gql<{ providers: { name: string; balances: unknown }[] }, never>(`{ providers { name balances { amount currency } } }`);
    expect(errorCode(balances)).toBe('PROVIDER_UNAVAILABLE');
    expect(balances.errors![0]!.extensions).toMatchObject({ provider: 'GUUSTO', retryable: true });
    expect(balances.errors![0]!.message).toMatch(paused);
    expect(balances.data!.providers.find((p) => p.name === 'GIFTRONAUT')!.balances).not.toBeNull();

    expect(guustoRequests()).toBe(requests);
  });

  it('is HALF_OPEN once the cooldown is over, and one answered call closes it', async () => {
    now += COOLDOWN_MS;
    expect((await circuit('GUUSTO')).state).toBe('HALF_OPEN');
    const before = creates();
    const retried = await h.gql(SendGiftsDocument, { input: input('while-open') });
    expect(retried.errors).toBeUndefined();
    expect(retried.data!.sendGifts).toMatchObject({ created: true, order: { status: 'PENDING' }, problems: [] });
    // Refused unsent while the circuit was open, the order was FAILED, so the same key sent it now.
    expect(retried.data!.sendGifts.order!.statusHistory.map((c) => [c.from, c.to])).toEqual([
      [null, 'FAILED'],
      ['FAILED', 'UNCONFIRMED'],
      ['UNCONFIRMED', 'PENDING'],
    ]);
    expect(creates()).toBe(before + 1);
    expect(await circuit('GUUSTO')).toEqual({ state: 'CLOSED', retryAt: null, consecutiveFailures: 0 });
  });

  it('opens again for twice as long when the trial call fails too', async () => {
    await failThrice('down-again');
    expect((await circuit('GUUSTO')).retryAt).toBe(new Date(now + COOLDOWN_MS).toISOString());
    now += COOLDOWN_MS;
    h.guusto.http.faults.add({ ...CREATE, fault: { kind: 'status', status: 502 } });
    const before = creates();
    const probe = await h.gql(SendGiftsDocument, { input: input('probe') });
    expect(problemCode(probe)).toBe('OUTCOME_UNKNOWN');
    expect(creates()).toBe(before + 1);
    expect(await circuit('GUUSTO')).toEqual({ state: 'OPEN', retryAt: new Date(now + 2 * COOLDOWN_MS).toISOString(), consecutiveFailures: 4 });

    now += 2 * COOLDOWN_MS;
    const recovered = await h.gql(SendGiftsDocument, { input: input('recovered') });
    expect(recovered.errors).toBeUndefined();
    expect(recovered.data!.sendGifts.problems).toEqual([]);
    expect((await circuit('GUUSTO')).state).toBe('CLOSED');
  });

  it('does not open on refusals, which are answers', async () => {
    h.guusto.http.faults.add({ ...CREATE, times: 4, fault: { kind: 'status', status: 422, body: { code: 'invalid_field', message: 'no' } } });
    for (let i = 0; i < 4; i++) expect(problemCode(await h.gql(SendGiftsDocument, { input: input(`refused-${i}`) }))).toBe('PROVIDER_REJECTED');
    expect(await circuit('GUUSTO')).toEqual({ state: 'CLOSED', retryAt: null, consecutiveFailures: 0 });
  });
});

describe("Giftronaut's token endpoint", () => {
  let h: Harness;
  beforeAll(async () => {
    h = await Harness.start({ only: ['GIFTRONAUT'], guarding });
  });
  afterAll(() => h.close());

  const BALANCES = `{ providers { name balances { amount currency } } }`;
  // Asked apart: in one query with the balances it would be read before they fail.
  const circuit = async () => (await h.gql<Circuits, never>(CIRCUITS)).data!.providers[0]!.circuit;
  const TOKEN = '/oauth2/token';
  const requests = () => ({
    tokens: h.giftronaut.http.count('POST', TOKEN),
    api: h.giftronaut.http.received.filter((r) => r.path.startsWith('/api/')).length,
  });

  it("shares Giftronaut's circuit with its API: failing token requests open it, and then neither is called", async () => {
    h.giftronaut.http.faults.add({ method: 'POST', path: TOKEN, times: Number.POSITIVE_INFINITY, fault: { kind: 'status', status: 503 } });
    const before = requests();
    const failed = await h.gql(BALANCES);
    expect(errorCode(failed)).toBe('PROVIDER_UNAVAILABLE');
    // The token request, tried three times (a token request is safe to repeat); the API request never left.
    expect(requests()).toEqual({ tokens: before.tokens + 3, api: before.api });
    expect(await circuit()).toMatchObject({ state: 'OPEN', consecutiveFailures: 3 });

    const refused = await h.gql(BALANCES);
    expect(errorCode(refused)).toBe('PROVIDER_UNAVAILABLE');
    expect(refused.errors![0]!.message).toMatch(/GIFTRONAUT is failing; calls are paused until/);
    expect(requests()).toEqual({ tokens: before.tokens + 3, api: before.api });

    h.giftronaut.http.faults.clear();
    now += COOLDOWN_MS;
    expect((await circuit()).state).toBe('HALF_OPEN');
    const answered = await h.gql(BALANCES);
    expect(answered.errors).toBeUndefined();
    expect(await circuit()).toEqual({ state: 'CLOSED', retryAt: null, consecutiveFailures: 0 });
    expect(requests()).toEqual({ tokens: before.tokens + 4, api: before.api + 1 });
  });
});
