import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { AndOpenVersion } from '../src/providers/andopen/config.js';
import { CatalogDocument, OrderDocument, SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { Harness, problemOf, problemsOf } from './support/harness.js';

const POST = { method: 'POST', path: '/gift_requests' } as const;

describe.each(['2026-05', '2025-09'] as AndOpenVersion[])('&Open, API version %s', (version) => {
  let h: Harness;
  let campaign: string;
  const posts = () => h.andOpen.http.count('POST', '/gift_requests');

  beforeAll(async () => {
    h = await Harness.start({ andOpenVersion: version });
    campaign = (await h.gql(CatalogDocument, { provider: 'ANDOPEN', first: 1 })).data!.catalog.edges[0]!.node.id;
  });
  afterAll(() => h.close());

  const order = (key: string, overrides: Partial<SendGiftsInput> = {}): SendGiftsInput => ({
    provider: 'ANDOPEN',
    idempotencyKey: key,
    recipients: [
      { firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' },
      { firstName: 'Grace', lastName: 'Hopper', email: 'grace@example.com' },
      { firstName: 'Katherine', lastName: 'Johnson' },
    ],
    andOpen: { campaignId: campaign },
    ...overrides,
  });

  it('sends one gift request per recipient and follows each to DELIVERED', async () => {
    const requests = h.andOpen.giftRequestCount;
    const sent = await h.gql(SendGiftsDocument, { input: order('three') });
    expect(sent.errors).toBeUndefined();
    expect(h.andOpen.giftRequestCount).toBe(requests + 3);
    const first = sent.data!.sendGifts.order!;
    expect(first).toMatchObject({ __typename: 'AndOpenOrder', status: 'SENT', total: null });
    expect(first.recipients.edges.map((e) => [e.node.status, e.node.providerStatus])).toEqual([
      ['SENT', 'submitted'],
      ['SENT', 'submitted'],
      ['SENT', 'submitted'],
    ]);
    expect(new Set(first.recipients.edges.map((e) => (e.node.gift as { url: string }).url)).size).toBe(3);

    const seen: string[] = [];
    for (let step = 0; step < 3; step++) {
      h.advance(1);
      seen.push((await h.gql(OrderDocument, { id: first.id })).data!.order!.status);
    }
    expect(seen).toEqual(['REDEEMED', 'SHIPPED', 'DELIVERED']);
    const reads = h.andOpen.http.count('GET', '/gift_requests/:id');
    await h.gql(OrderDocument, { id: first.id });
    expect(h.andOpen.http.count('GET', '/gift_requests/:id')).toBe(reads);
  });

  it('retries only the recipient whose request certainly failed, never the others', async () => {
    h.andOpen.http.faults.add({ ...POST, fault: { kind: 'status', status: 429, retryAfterSeconds: 1 } });
    const requests = h.andOpen.giftRequestCount;
    const before = posts();
    const first = await h.gql(SendGiftsDocument, { input: order('partial') });
    expect(first.errors).toBeUndefined();
    const statuses = first.data!.sendGifts.order!.recipients.edges.map((e) => e.node.status);
    expect(statuses.filter((s) => s === 'FAILED')).toHaveLength(1);
    expect(h.andOpen.giftRequestCount).toBe(requests + 2);
    // The one recipient not sent is the send's one problem, naming that recipient.
    const failed = statuses.indexOf('FAILED');
    expect(first.data!.sendGifts.problems).toEqual([
      expect.objectContaining({ code: 'PROVIDER_UNAVAILABLE', field: `input.recipients[${failed}]`, provider: 'ANDOPEN', retryable: true }),
    ]);

    const retry = await h.gql(SendGiftsDocument, { input: order('partial') });
    expect(retry.data!.sendGifts).toMatchObject({ created: false, problems: [] });
    expect(retry.data!.sendGifts.order!.recipients.edges.map((e) => e.node.status)).toEqual(['SENT', 'SENT', 'SENT']);
    expect(h.andOpen.giftRequestCount).toBe(requests + 3);
    expect(posts()).toBe(before + 4);

    await h.gql(SendGiftsDocument, { input: order('partial') });
    expect(posts()).toBe(before + 4);
  });

  /** Two or three recipients without email: one gift request each. */
  const andOpen = (key: string, n = 2): SendGiftsInput => ({
    provider: 'ANDOPEN',
    idempotencyKey: key,
    recipients: [
      { firstName: 'Ada', lastName: 'Lovelace' },
      { firstName: 'Grace', lastName: 'Hopper' },
      { firstName: 'Katherine', lastName: 'Johnson' },
    ].slice(0, n),
    andOpen: { campaignId: campaign },
  });

  it('follows a recipient sent by a retry after the rest of the order was delivered', async () => {
    h.andOpen.http.faults.add({ method: 'POST', path: '/gift_requests', fault: { kind: 'status', status: 429 } });
    const sent = await h.gql(SendGiftsDocument, { input: andOpen('late-recipient') });
    const id = sent.data!.sendGifts.order!.id;
    h.advance(3);
    await h.gql(OrderDocument, { id });
    const retry = await h.gql(SendGiftsDocument, { input: andOpen('late-recipient') });
    expect(retry.data!.sendGifts.order!.status).toBe('SENT');
    h.advance(3);
    const done = (await h.gql(OrderDocument, { id })).data!.order!;
    expect(done.recipients.edges.map((e) => e.node.status)).toEqual(['DELIVERED', 'DELIVERED']);
    expect(done.status).toBe('DELIVERED');
  });

  it('records a refused and an unknown recipient apart when all requests fail, and retries only the refused', async () => {
    h.andOpen.http.faults.add({ method: 'POST', path: '/gift_requests', fault: { kind: 'status', status: 429 } });
    h.andOpen.http.faults.add({ method: 'POST', path: '/gift_requests', fault: { kind: 'drop-after' } });
    const requests = h.andOpen.giftRequestCount;
    const first = await h.gql(SendGiftsDocument, { input: andOpen('refused-and-unknown') });
    const recipients = first.data!.sendGifts.order!.recipients.edges.map((e) => e.node.status);
    expect([...recipients].sort()).toEqual(['FAILED', 'UNCONFIRMED']);
    // Each recipient's own outcome is a problem naming it: only the one not sent may be retried.
    const problems = first.data!.sendGifts.problems.map(({ code, field, retryable }) => ({ code, field, retryable }));
    expect(problems).toEqual(
      expect.arrayContaining([
        { code: 'PROVIDER_UNAVAILABLE', field: `input.recipients[${recipients.indexOf('FAILED')}]`, retryable: true },
        { code: 'OUTCOME_UNKNOWN', field: `input.recipients[${recipients.indexOf('UNCONFIRMED')}]`, retryable: false },
      ]),
    );
    expect(problems).toHaveLength(2);
    expect(h.andOpen.giftRequestCount).toBe(requests + 1);
    const retry = await h.gql(SendGiftsDocument, { input: andOpen('refused-and-unknown') });
    expect(retry.data!.sendGifts.order!.recipients.edges.map((e) => e.node.status).sort()).toEqual(['SENT', 'UNCONFIRMED']);
    expect(h.andOpen.giftRequestCount).toBe(requests + 2);
  });

  it('leaves an ambiguous create UNCONFIRMED, and never sends it again', async () => {
    h.andOpen.http.faults.add({ ...POST, fault: { kind: 'drop-after' } });
    const requests = h.andOpen.giftRequestCount;
    const single = order('ambiguous', { recipients: [{ firstName: 'Ada', lastName: 'Lovelace' }] });
    const result = await h.gql(SendGiftsDocument, { input: single });
    expect(result.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
    expect(problemOf(result)).toMatchObject({ code: 'OUTCOME_UNKNOWN', provider: 'ANDOPEN', retryable: false });
    expect(h.andOpen.giftRequestCount).toBe(requests + 1);
    const before = posts();
    const replay = await h.gql(SendGiftsDocument, { input: single });
    expect(replay.data!.sendGifts.order!.status).toBe('UNCONFIRMED');
    expect(posts()).toBe(before);
  });

  it('refuses an unknown campaign and a one-letter name, naming the fields, before any request', async () => {
    const before = posts();
    const unknown = await h.gql(SendGiftsDocument, {
      input: order('no-campaign', { andOpen: { campaignId: Buffer.from('CatalogItem:ANDOPEN:campaign:00000000-0000-4000-8000-000000000000').toString('base64url') } }),
    });
    expect(problemOf(unknown)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.andOpen.campaignId' });
    const short = await h.gql(SendGiftsDocument, { input: order('short-name', { recipients: [{ firstName: 'A', lastName: 'Lovelace' }] }) });
    expect(problemOf(short)).toMatchObject({ code: 'BAD_USER_INPUT', field: 'input.recipients[0].firstName' });
    const amount = await h.gql(SendGiftsDocument, { input: order('amount', { amount: { amount: '10', currency: 'USD' } }) });
    expect(problemsOf(amount).map((p) => p.field)).toContain('input.recipients[0].amount');
    expect([unknown, short, amount].map((r) => r.data!.sendGifts.order)).toEqual([null, null, null]);
    expect(posts()).toBe(before);
  });

  it("names the field of &Open's own refusal when the campaign could not be checked first", async () => {
    h.andOpen.http.faults.add({ method: 'GET', path: /^\/campaigns\//, times: 3, fault: { kind: 'status', status: 503 } });
    const result = await h.gql(SendGiftsDocument, {
      input: order('provider-refuses', {
        recipients: [{ firstName: 'Ada', lastName: 'Lovelace' }],
        andOpen: { campaignId: Buffer.from('CatalogItem:ANDOPEN:campaign:00000000-0000-4000-8000-000000000000').toString('base64url') },
      }),
    });
    expect(result.data!.sendGifts.order!.status).toBe('FAILED');
    expect(problemOf(result)).toMatchObject({ code: 'PROVIDER_REJECTED', provider: 'ANDOPEN', field: 'input.andOpen.campaignId', retryable: false });
    expect(problemOf(result).message).toMatch(/campaign_id does not exist/);
  });

  it("pages every campaign, in this version's pagination style", async () => {
    const fresh = await Harness.start({ andOpenVersion: version, andOpen: { campaigns: 61 } });
    try {
      const items = (await fresh.gql(CatalogDocument, { provider: 'ANDOPEN', first: 100 })).data!.catalog.edges.map((e) => e.node);
      expect(items).toHaveLength(61);
      expect(new Set(items.map((i) => i.id)).size).toBe(61);
      expect(items.every((i) => i.kind === 'CAMPAIGN' && i.prices.length === 0)).toBe(true);
      expect(fresh.andOpen.http.count('GET', '/campaigns')).toBe(3);
    } finally {
      await fresh.close();
    }
  });
});

describe('the &Open sandbox', () => {
  it("requires a known API version, then a valid key, answering in that version's shape", async () => {
    const h = await Harness.start();
    try {
      const call = (headers: Record<string, string>) =>
        fetch(`${h.urls.andOpen}/campaigns`, { headers }).then(async (r) => ({ status: r.status, body: (await r.json()) as any, requestId: r.headers.get('request-id') }));
      const missing = await call({ authorization: `Bearer ${h.andOpenKey}` });
      expect(missing.status).toBe(400);
      expect(missing.body.errors[0].code).toBe('unsupported_api_version');
      expect((await call({ authorization: `Bearer ${h.andOpenKey}`, 'andopen-api-version': '2024-01' })).status).toBe(400);
      const badKey = await call({ authorization: 'Bearer ao-v1-staging-wrong', 'andopen-api-version': '2025-09' });
      expect(badKey.status).toBe(401);
      expect(badKey.body).toMatchObject({ errors: [{ status: '401' }], jsonapi: { version: '1.0' } });
      const zero = await fetch(`${h.urls.andOpen}/campaigns?limit=0`, { headers: { authorization: `Bearer ${h.andOpenKey}`, 'andopen-api-version': '2026-05' } });
      expect(zero.status).toBe(400);
      expect(missing.requestId).toMatch(/^req_/);
    } finally {
      await h.close();
    }
  });
});
