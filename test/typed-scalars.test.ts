/**
 * Typed scalars at the edge of the API. An email, currency code or time zone its scalar refuses
 * never reaches a resolver: in a variable or a literal, it is a BAD_USER_INPUT naming the input
 * path and the reason, without the value, with no row written and no request to any provider. On
 * the way out, a provider's value that does not fit its scalar is null and logged (without the
 * value), and the rest of the answer stands.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CatalogDocument } from './generated/graphql.js';
import { Harness, type GraphQLResult } from './support/harness.js';

let h: Harness;
let campaign = '';

beforeAll(async () => {
  h = await Harness.start({ andOpenVersion: '2026-05' });
  campaign = (await h.gql(CatalogDocument, { provider: 'ANDOPEN', first: 1 })).data!.catalog.edges[0]!.node.id;
});
afterAll(() => h.close());

const SEND = 'mutation ($input: SendGiftsInput!) { sendGifts(input: $input) { created } }';
const guusto = (o: Record<string, unknown> = {}) => ({
  provider: 'GUUSTO',
  idempotencyKey: 'typed',
  message: 'Thanks!',
  amount: { amount: '25', currency: 'CAD' },
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
  ...o,
});
const inAWeek = () => new Date(h.clock.now() + 7 * 86_400_000).toISOString();
const received = () => [h.guusto, h.giftronaut, h.goody, h.andOpen].map((s) => s.http.received.length);

/** Expects one BAD_USER_INPUT naming `field` with `reason`, no data, no row, no provider request, and `hidden` nowhere in the answer or the logs. */
async function refused(run: () => Promise<GraphQLResult<unknown>>, field: string, reason: string, hidden?: string): Promise<void> {
  const rows = h.store.counts();
  const calls = received();
  const logged = h.logs.length;
  const result = await run();
  expect(result.data ?? null).toBeNull();
  expect(result.errors).toHaveLength(1);
  expect(result.errors![0]).toMatchObject({
    message: `${field}: ${reason}`,
    extensions: { code: 'BAD_USER_INPUT', field, problems: [{ field, message: reason }] },
  });
  expect(h.store.counts()).toEqual(rows);
  expect(received()).toEqual(calls);
  if (hidden) {
    expect(JSON.stringify(result)).not.toContain(hidden);
    expect(h.logs.slice(logged).join('')).not.toContain(hidden);
  }
}

describe('a variable its scalar refuses', () => {
  const cases: [string, Record<string, unknown>, string, string, string?][] = [
    ['an email that is no address', guusto({ recipients: [{ email: 'ada-at-example.com' }] }), 'input.recipients[0].email', 'is not a valid email address', 'ada-at-example'],
    [
      "a second recipient's address without a domain",
      guusto({ recipients: [{ email: 'ada@example.com' }, { email: 'grace.hopper@localhost' }] }),
      'input.recipients[1].email',
      'is not a valid email address',
      'grace.hopper',
    ],
    ['an unknown currency', guusto({ amount: { amount: '25', currency: 'XYZ' } }), 'input.amount.currency', 'is not an ISO 4217 currency code'],
    [
      "gold as a recipient's currency",
      guusto({ recipients: [{ email: 'ada@example.com', amount: { amount: '25', currency: 'XAU' } }] }),
      'input.recipients[0].amount.currency',
      'is not an ISO 4217 currency code',
    ],
    [
      'an unknown time zone',
      guusto({ sendAt: '2099-01-01T09:00:00Z', timezone: 'Mars/Olympus' }),
      'input.timezone',
      'is not an IANA time zone such as America/New_York',
      'Olympus',
    ],
    ['a UTC offset for a time zone', guusto({ sendAt: '2099-01-01T09:00:00Z', timezone: '+05:00' }), 'input.timezone', 'is not an IANA time zone such as America/New_York'],
  ];

  it.each(cases)('sendGifts: %s is refused, naming its path, nothing sent', async (_name, input, field, reason, hidden) => {
    await refused(() => h.gql(SEND, { input }), field, reason, hidden);
  });

  it('resendGift and the orders filter: an address that is no address is refused, naming its path', async () => {
    const resend = 'mutation ($input: ResendGiftInput!) { resendGift(input: $input) { requeued } }';
    await refused(
      () => h.gql(resend, { input: { orderId: 'any', recipients: [{ email: 'ada@example.com', updatedEmail: 'ada at example' }] } }),
      'input.recipients[0].updatedEmail',
      'is not a valid email address',
      'ada at example',
    );
    const orders = 'query ($filter: OrderFilter) { orders(filter: $filter) { edges { cursor } } }';
    await refused(() => h.gql(orders, { filter: { recipientEmail: 'nobody' } }), 'filter.recipientEmail', 'is not a valid email address');
    // A variable of the scalar's own type is named by itself.
    const byEmail = 'query ($email: EmailAddress) { orders(filter: { recipientEmail: $email }) { edges { cursor } } }';
    await refused(() => h.gql(byEmail, { email: 'nobody' }), 'email', 'is not a valid email address');
  });

  it('is answered with status 400, as Apollo answers variables that fail to coerce', async () => {
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await h.token()}` },
      body: JSON.stringify({ query: SEND, variables: { input: guusto({ amount: { amount: '25', currency: 'XYZ' } }) } }),
    });
    expect(res.status).toBe(400);
  });

  it('takes what its scalar takes: a currency code in any letter case, an IANA zone, and an empty string as no value', async () => {
    const giftronaut = (await h.gql(CatalogDocument, { provider: 'GIFTRONAUT', first: 50 })).data!.catalog.edges.find(
      (e) => e.node.kind === 'CHOICE_CARD' && e.node.currency === 'USD',
    )!;
    const result = await h.gql<{ sendGifts: { created: boolean } }, unknown>(SEND, {
      input: {
        provider: 'GIFTRONAUT',
        idempotencyKey: 'typed-accepted',
        senderName: 'Acme',
        message: 'Thanks!',
        amount: { amount: '20', currency: 'usd' },
        sendAt: inAWeek(),
        timezone: 'America/New_York',
        recipients: [{ email: 'Ada.Lovelace@Example.com', firstName: 'Ada', lastName: 'Lovelace' }],
        giftronaut: { productId: giftronaut.node.id },
      },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts.created).toBe(true);
  });
});

describe('a literal its scalar refuses', () => {
  const literal = (recipients: string, extra = '') =>
    `mutation { sendGifts(input: { provider: GUUSTO, idempotencyKey: "literal", message: "Thanks!", amount: { amount: "25", currency: "CAD" }, recipients: ${recipients}${extra} }) { created } }`;

  it('is refused the same way, naming its path in the argument', async () => {
    await refused(
      () => h.gql(literal('[{ email: "ada@example.com" }, { email: "grace-at-example.com" }]')),
      'input.recipients[1].email',
      'is not a valid email address',
      'grace-at',
    );
    await refused(
      () => h.gql(literal('[{ email: "ada@example.com", amount: { amount: "5", currency: "XYZ" } }]')),
      'input.recipients[0].amount.currency',
      'is not an ISO 4217 currency code',
    );
    await refused(() => h.gql(literal('[{ email: "ada@example.com" }]', ', sendAt: "2099-01-01T09:00:00Z", timezone: 5')), 'input.timezone', 'must be a string');
  });
});

describe("a provider's value that does not fit its scalar", () => {
  const SEND_ANDOPEN = `mutation ($input: SendGiftsInput!) { sendGifts(input: $input) {
    created order { id status recipients { edges { node { email status gift { __typename ... on GiftLink { url } } } } } } } }`;
  type Sent = {
    sendGifts: { created: boolean; order: { id: string; status: string; recipients: { edges: { node: { email: string; status: string; gift: { url: string } | null } }[] } } };
  };
  const andOpen = (key: string) => ({
    provider: 'ANDOPEN',
    idempotencyKey: key,
    recipients: [{ firstName: 'Ada', lastName: 'Lovelace', email: 'ada@example.com' }],
    andOpen: { campaignId: campaign },
  });

  it('answers a URL as the string the provider gave', async () => {
    const sent = await h.gql<Sent, unknown>(SEND_ANDOPEN, { input: andOpen('fits') });
    expect(sent.errors).toBeUndefined();
    const { gift } = sent.data!.sendGifts.order.recipients.edges[0]!.node;
    expect(gift!.url).toMatch(/^https:\/\/from\.andopen\.invalid\/r\/\S+$/);
  });

  it('is null, logged without the value, and the rest of the answer stands', async () => {
    // &Open answers the create with a link no one can open safely.
    const now = new Date(h.clock.now()).toISOString();
    const body = { id: 'gr_unfit', status: 'submitted', campaign_id: 'c', redemption_url: 'javascript:alert(document.cookie)', created_at: now, updated_at: now };
    h.andOpen.http.faults.add({ method: 'POST', path: '/gift_requests', fault: { kind: 'status', status: 201, body } });
    const logged = h.logs.length;
    const sent = await h.gql<Sent, unknown>(SEND_ANDOPEN, { input: andOpen('unfit') });
    expect(sent.errors).toBeUndefined();
    expect(sent.data!.sendGifts.created).toBe(true);
    expect(sent.data!.sendGifts.order.recipients.edges[0]!.node).toEqual({ email: 'ada@example.com', status: 'SENT', gift: null });

    const lines = h.logs.slice(logged).map((line) => JSON.parse(line) as Record<string, unknown>);
    expect(lines.filter((l) => l.scalar)).toEqual([
      expect.objectContaining({
        level: 40,
        type: 'GiftLink',
        field: 'url',
        scalar: 'URL',
        provider: 'ANDOPEN',
        msg: "a provider's value does not fit its GraphQL scalar: answered as null",
      }),
    ]);
    expect(h.logs.slice(logged).join('')).not.toContain('javascript:');
  });
});
