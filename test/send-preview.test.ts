import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { errorCode, Harness, type ProblemShape, problemsOf } from './support/harness.js';

/**
 * previewSend runs every check sendGifts makes and reports the same problems, writing nothing and
 * asking no provider to send: a corpus of bad inputs across the four providers, each previewed and
 * then sent for real, over GraphQL with the sandboxes.
 */

const PREVIEW = `query Preview($input: SendGiftsInput!) {
  previewSend(input: $input) {
    totals { amount currency }
    recipients { position amount { amount currency } }
    heldByGiftgraph scheduledAtProvider sendAt
    balance { amount currency } balanceCovers overSpendingLimit
    problems { code field message retryable provider providerCode }
  }
}`;
const SEND = `mutation Send($input: SendGiftsInput!) {
  sendGifts(input: $input) { created order { id status } problems { code field message retryable provider providerCode } }
}`;
const SET = `mutation Set($input: SpendingLimitInput!) { setSpendingLimit(input: $input) { problems { code } } }`;

const DAY = 24 * 3_600_000;
let serial = 0;
const key = () => `preview-${(serial += 1)}`;

const guusto = (over: Record<string, unknown> = {}) => ({
  provider: 'GUUSTO',
  idempotencyKey: key(),
  message: 'Thank you!',
  amount: { amount: '25', currency: 'CAD' },
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
  ...over,
});
const giftronaut = (productId: string, over: Record<string, unknown> = {}) => ({
  provider: 'GIFTRONAUT',
  idempotencyKey: key(),
  senderName: 'Acme',
  amount: { amount: '25', currency: 'USD' },
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
  giftronaut: { productId },
  ...over,
});
const goody = (productId: string, over: Record<string, unknown> = {}) => ({
  provider: 'GOODY',
  idempotencyKey: key(),
  senderName: 'Acme',
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
  goody: { productId },
  ...over,
});
const andOpen = (campaignId: string, over: Record<string, unknown> = {}) => ({
  provider: 'ANDOPEN',
  idempotencyKey: key(),
  recipients: [{ email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' }],
  andOpen: { campaignId },
  ...over,
});

/** Requests that would change something at a provider (a token request only lets us in). */
function writes(h: Harness): number {
  return [h.guusto, h.giftronaut, h.goody, h.andOpen].flatMap((s) => s.http.received).filter((r) => r.method !== 'GET' && !r.path.startsWith('/oauth2/')).length;
}

const normalized = (problems: ProblemShape[]) => problems.map((p) => ({ ...p, retryAfter: undefined, retryBefore: undefined }));

describe('previewSend', () => {
  let h: Harness;
  let products: { giftronaut: string; goody: string; andOpen: string };

  beforeAll(async () => {
    h = await Harness.start();
    const first = async (provider: string) => {
      const result = await h.gql<any, unknown>(`{ catalog(provider: ${provider}, first: 5) { edges { node { id } } } }`);
      return result.data.catalog.edges[0].node.id as string;
    };
    products = { giftronaut: await first('GIFTRONAUT'), goody: await first('GOODY'), andOpen: await first('ANDOPEN') };
  });
  afterAll(() => h.close());

  it('answers what a valid send would cost and where it would wait, without sending it', async () => {
    const before = writes(h);
    const later = new Date(h.clock.now() + 3 * DAY).toISOString();
    const result = await h.gql<any, unknown>(PREVIEW, {
      input: guusto({ sendAt: later, recipients: [{ email: 'ada@example.com' }, { email: 'bob@example.com', amount: { amount: '40', currency: 'CAD' } }] }),
    });
    expect(result.errors).toBeUndefined();
    expect(result.data.previewSend).toMatchObject({
      totals: [{ amount: '65.00', currency: 'CAD' }],
      recipients: [
        { position: 0, amount: { amount: '25.00', currency: 'CAD' } },
        { position: 1, amount: { amount: '40.00', currency: 'CAD' } },
      ],
      heldByGiftgraph: true,
      scheduledAtProvider: false,
      sendAt: later,
      overSpendingLimit: false,
      problems: [],
    });
    const goodyLater = await h.gql<any, unknown>(PREVIEW, { input: goody(products.goody, { sendAt: later }) });
    expect(goodyLater.data.previewSend).toMatchObject({ heldByGiftgraph: false, scheduledAtProvider: true, problems: [] });
    expect(writes(h)).toBe(before);
  });

  it('says whether the balance a provider reports covers the send, and null where none is reported', async () => {
    const reported = (await h.gql<any, unknown>(PREVIEW, { input: giftronaut(products.giftronaut) })).data.previewSend;
    expect(reported.balance).toEqual([{ amount: '50000.00', currency: 'USD' }]);
    expect(reported.balanceCovers).toBe(true);
    const unreported = (await h.gql<any, unknown>(PREVIEW, { input: goody(products.goody) })).data.previewSend;
    expect(unreported).toMatchObject({ balance: null, balanceCovers: null });
  });

  it('needs orders:write', async () => {
    const reader = await h.token({ scope: 'orders:read' });
    expect(errorCode(await h.gql(PREVIEW, { input: guusto() }, reader))).toBe('FORBIDDEN');
  });

  it('reports exactly the problems sendGifts reports, for a corpus of bad inputs across the four providers, and sends nothing', async () => {
    const past = new Date(h.clock.now() - DAY).toISOString();
    const tooFar = new Date(h.clock.now() + 400 * DAY).toISOString();
    const reused = guusto();
    expect(problemsOf(await h.gql(SEND, { input: reused }))).toEqual([]);
    const limited = await h.token({ tenant: 'limited' });
    const admin = await h.token({ tenant: 'limited', scope: 'orders:admin' });
    expect(problemsOf(await h.gql(SET, { input: { tenant: 'limited', currency: 'CAD', perDay: '30' } }, admin))).toEqual([]);

    const corpus: { name: string; input: Record<string, unknown>; token?: string }[] = [
      { name: 'no recipients', input: guusto({ recipients: [] }) },
      { name: 'an idempotency key with a space', input: guusto({ idempotencyKey: 'not a key' }) },
      { name: 'a zero amount', input: guusto({ amount: { amount: '0', currency: 'CAD' } }) },
      { name: 'too many decimals', input: guusto({ amount: { amount: '1.234', currency: 'CAD' } }) },
      { name: 'no amount for Guusto', input: guusto({ amount: null }) },
      { name: 'a currency Guusto does not send', input: guusto({ amount: { amount: '25', currency: 'EUR' } }) },
      { name: 'above Guusto’s maximum', input: guusto({ amount: { amount: '100000', currency: 'CAD' } }) },
      { name: 'no message for Guusto', input: guusto({ message: null }) },
      { name: 'the same email twice', input: guusto({ recipients: [{ email: 'ada@example.com' }, { email: 'ADA@example.com' }] }) },
      { name: 'a name with a line break', input: guusto({ recipients: [{ email: 'ada@example.com', firstName: 'Ada\nLovelace' }] }) },
      { name: 'a send time in the past', input: guusto({ sendAt: past }) },
      { name: 'a send time beyond a year', input: guusto({ sendAt: tooFar }) },
      { name: 'a time zone without a send time', input: guusto({ timezone: 'America/Toronto' }) },
      { name: 'a key used for another request', input: { ...reused, message: 'Something else' } },
      { name: 'over a spending limit', input: guusto({ amount: { amount: '31', currency: 'CAD' } }), token: limited },
      { name: 'an unknown Giftronaut product', input: giftronaut('no-such-product') },
      { name: 'no sender name for Giftronaut', input: giftronaut(products.giftronaut, { senderName: null }) },
      { name: 'a Giftronaut send time without a time zone', input: giftronaut(products.giftronaut, { sendAt: new Date(h.clock.now() + DAY).toISOString() }) },
      { name: 'a Giftronaut recipient without an email', input: giftronaut(products.giftronaut, { recipients: [{ employeeNumber: 'E-1' }] }) },
      { name: 'an unknown Goody product', input: goody('no-such-product') },
      { name: 'a Goody quantity of zero', input: goody(products.goody, { goody: { productId: products.goody, quantity: 0 } }) },
      { name: 'a Goody message without a card', input: goody(products.goody, { message: 'Hello' }) },
      { name: 'a Goody recipient without a first name', input: goody(products.goody, { recipients: [{ email: 'ada@example.com' }] }) },
      { name: 'an unknown &Open campaign', input: andOpen('no-such-campaign') },
      { name: 'an &Open message', input: andOpen(products.andOpen, { message: 'Hello' }) },
      { name: 'an &Open recipient without a last name', input: andOpen(products.andOpen, { recipients: [{ email: 'ada@example.com', firstName: 'Ada' }] }) },
      { name: 'an amount for &Open', input: andOpen(products.andOpen, { amount: { amount: '25', currency: 'USD' } }) },
    ];
    expect(corpus.length).toBeGreaterThanOrEqual(20);

    const before = writes(h);
    const previews: ProblemShape[][] = [];
    for (const c of corpus) {
      const preview = await h.gql<any, unknown>(PREVIEW, { input: c.input }, c.token);
      expect(preview.errors, c.name).toBeUndefined();
      previews.push(preview.data.previewSend.problems);
    }
    // Previews ask providers nothing but their catalogs and balances.
    expect(writes(h)).toBe(before);

    for (const [i, c] of corpus.entries()) {
      expect(previews[i]!.length, c.name).toBeGreaterThan(0);
      const sent = await h.gql<any, unknown>(SEND, { input: c.input }, c.token);
      expect(sent.errors, c.name).toBeUndefined();
      expect(normalized(sent.data.sendGifts.problems), c.name).toEqual(normalized(previews[i]!));
      expect(sent.data.sendGifts.order, c.name).toBeNull();
    }
    // Refused before any provider call, each of them.
    expect(writes(h)).toBe(before);
  });
});
