/**
 * Caps on every size a client chooses, and text that must never reach a provider. Each refusal is a
 * BAD_USER_INPUT naming its field, made before anything is written or any provider is called; input
 * just inside a cap is sent. A message is text: HTML in it reaches the provider as typed.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { CARDS } from '../src/sandboxes/goody/catalog.js';
import { CancelOrderDocument, CatalogDocument, OrdersDocument, ResendGiftDocument, type SendGiftsInput } from './generated/graphql.js';
import { errorCode, Harness, problemsOf, type GraphQLResult } from './support/harness.js';

let h: Harness;
const ids = { choiceCard: '', product: '', campaign: '' };

beforeAll(async () => {
  h = await Harness.start({ giftronaut: { balanceUsd: 1_000_000 } });
  const catalog = async (provider: 'GIFTRONAUT' | 'GOODY' | 'ANDOPEN') => (await h.gql(CatalogDocument, { provider, first: 100 })).data!.catalog.edges.map((e) => e.node);
  ids.choiceCard = (await catalog('GIFTRONAUT')).find((c) => c.kind === 'CHOICE_CARD' && c.currency === 'USD')!.id;
  ids.product = (await catalog('GOODY')).find((c) => c.name.includes('Caramels'))!.id;
  ids.campaign = (await catalog('ANDOPEN')).find((c) => c.kind === 'CAMPAIGN')!.id;
});
afterAll(() => h.close());

type Overrides = Partial<SendGiftsInput>;
const guusto = (o: Overrides = {}): SendGiftsInput => ({
  provider: 'GUUSTO',
  idempotencyKey: 'guusto',
  message: 'Thanks!',
  amount: { amount: '25', currency: 'CAD' },
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
  ...o,
});
const giftronaut = (o: Overrides = {}): SendGiftsInput => ({
  provider: 'GIFTRONAUT',
  idempotencyKey: 'giftronaut',
  senderName: 'Acme',
  message: 'Thanks!',
  amount: { amount: '20', currency: 'USD' },
  recipients: [{ email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace', company: 'Acme', department: 'Research' }],
  giftronaut: { productId: ids.choiceCard, subject: 'A gift for you' },
  ...o,
});
const goody = (o: Overrides = {}): SendGiftsInput => ({
  provider: 'GOODY',
  idempotencyKey: 'goody',
  senderName: 'Acme',
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
  goody: { productId: ids.product },
  ...o,
});
const andOpen = (o: Overrides = {}): SendGiftsInput => ({
  provider: 'ANDOPEN',
  idempotencyKey: 'andopen',
  recipients: [{ email: 'ada@example.com', firstName: 'Ada', lastName: 'Lovelace' }],
  andOpen: { campaignId: ids.campaign },
  ...o,
});
const inputs = { GUUSTO: guusto, GIFTRONAUT: giftronaut, GOODY: goody, ANDOPEN: andOpen };
/** The order's first recipient with some fields changed. */
const first = (make: (o?: Overrides) => SendGiftsInput, changes: Record<string, unknown>): Overrides => ({ recipients: [{ ...make().recipients[0]!, ...changes }] });
const people = (n: number, extra: Record<string, unknown> = {}) => Array.from({ length: n }, (_, i) => ({ email: `person${i}@example.com`, firstName: 'Ada', ...extra }));

const SEND = 'mutation ($input: SendGiftsInput!) { sendGifts(input: $input) { created order { id status } problems { code field message } } }';
const send = (input: SendGiftsInput) =>
  h.gql<
    { sendGifts: { created: boolean; order: { id: string; status: string } | null; problems: { code: string; field: string | null; message: string }[] } },
    { input: SendGiftsInput }
  >(SEND, { input });

let keys = 0;
/** Sends and expects a new order; the key gets a suffix unless `exactKey`. */
async function accepted(input: SendGiftsInput, { exactKey = false } = {}) {
  const result = await send({ ...input, idempotencyKey: exactKey ? input.idempotencyKey : `${input.idempotencyKey}-${++keys}` });
  expect(result.errors).toBeUndefined();
  expect(result.data!.sendGifts).toMatchObject({ created: true, problems: [] });
  return result.data!.sendGifts.order!;
}

const received = () => [h.guusto, h.giftronaut, h.goody, h.andOpen].map((s) => s.http.received.length);
type Problem = { field: string; message: string };

/**
 * Expects BAD_USER_INPUT naming `field`, with no row written and no request to any provider, and
 * `hidden` (an address or what followed a line break) neither in the answer nor in a log line. A
 * mutation answers it as problems in its payload, with no order; a query as a top-level error.
 */
async function refused(run: () => Promise<GraphQLResult<unknown>>, field: string, hidden?: string): Promise<Problem> {
  const rows = h.store.counts();
  const calls = received();
  const logged = h.logs.length;
  const result = await run();
  let problems: Problem[];
  if (problemsOf(result).length > 0) {
    expect(result.errors).toBeUndefined();
    expect(Object.values(result.data as Record<string, { order: unknown }>).map((payload) => payload.order)).toEqual([null]);
    for (const p of problemsOf(result)) expect(p).toMatchObject({ code: 'BAD_USER_INPUT', field: expect.any(String) });
    problems = problemsOf(result).map((p) => ({ field: p.field!, message: p.message }));
  } else {
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    const error = result.errors![0]!;
    expect(error.extensions!.field).toBeDefined();
    expect(error.message.startsWith(`${String(error.extensions!.field)}: `)).toBe(true);
    problems = (error.extensions!.problems as Problem[] | undefined) ?? [{ field: String(error.extensions!.field), message: error.message }];
  }
  expect(problems.map((p) => p.field)).toContain(field);
  expect(h.store.counts()).toEqual(rows);
  expect(received()).toEqual(calls);
  if (hidden) {
    expect(JSON.stringify(result)).not.toContain(hidden);
    expect(h.logs.slice(logged).join('')).not.toContain(hidden);
  }
  return problems.find((p) => p.field === field)!;
}
const refusedSend = (input: SendGiftsInput, field: string, hidden?: string) => refused(() => send(input), field, hidden);

const long = (n: number, c = 'x') => c.repeat(n);
const emailOf = (length: number) => `${long(length - '@example.com'.length, 'l')}@example.com`;
const inOneYear = (deltaMs: number) => new Date(Date.now() + 365 * 86_400_000 + deltaMs).toISOString();

describe('text lengths', () => {
  const cases: [string, () => SendGiftsInput, string][] = [
    ['an idempotency key of 65 characters', () => guusto({ idempotencyKey: long(65) }), 'input.idempotencyKey'],
    ['an email of 255 characters', () => guusto(first(guusto, { email: emailOf(255) })), 'input.recipients[0].email'],
    ['a first name of 256 characters', () => guusto(first(guusto, { firstName: long(256) })), 'input.recipients[0].firstName'],
    ['a last name of 256 characters', () => guusto(first(guusto, { lastName: long(256) })), 'input.recipients[0].lastName'],
    ['an employee number of 65 characters', () => guusto({ recipients: [{ employeeNumber: long(65) }] }), 'input.recipients[0].employeeNumber'],
    ['a message of 1,001 characters (gift emoji count once each)', () => guusto({ message: long(1_001, '🎁') }), 'input.message'],
    ['a sender name of 256 characters', () => giftronaut({ senderName: long(256) }), 'input.senderName'],
    ['a company of 256 characters', () => giftronaut(first(giftronaut, { company: long(256) })), 'input.recipients[0].company'],
    ['a department of 256 characters', () => giftronaut(first(giftronaut, { department: long(256) })), 'input.recipients[0].department'],
    ['a subject of 256 characters', () => giftronaut({ giftronaut: { productId: ids.choiceCard, subject: long(256) } }), 'input.giftronaut.subject'],
    ['a template id of 513 characters', () => giftronaut({ giftronaut: { productId: ids.choiceCard, templateId: long(513) } }), 'input.giftronaut.templateId'],
    ['a time zone of 65 characters', () => giftronaut({ sendAt: inOneYear(-86_400_000), timezone: long(65) }), 'input.timezone'],
    ['a product id of 513 characters', () => goody({ goody: { productId: long(513) } }), 'input.goody.productId'],
    ['a card id of 513 characters', () => goody({ goody: { productId: ids.product, cardId: long(513) } }), 'input.goody.cardId'],
    ['a campaign id of 513 characters', () => andOpen({ andOpen: { campaignId: long(513) } }), 'input.andOpen.campaignId'],
  ];

  it.each(cases)('refuses %s', async (_name, make, field) => {
    const problem = await refusedSend(make(), field, 'lllll@');
    expect(problem.message).toMatch(/^must be (at most|1 to) \d+/);
  });

  it('sends every text at its cap', async () => {
    await accepted(
      guusto({
        idempotencyKey: long(64, 'k'),
        message: long(1_000, '🎁'),
        recipients: [{ email: emailOf(254), firstName: long(255), lastName: long(255) }, { employeeNumber: long(64, '7') }],
      }),
      { exactKey: true },
    );
    await accepted(
      giftronaut({
        senderName: long(255),
        recipients: [{ email: emailOf(254), firstName: long(255), lastName: long(255), company: long(255), department: long(255) }],
        giftronaut: { productId: ids.choiceCard, subject: long(255), templateId: long(512, '1') },
      }),
    );
  });

  it('refuses an over-long id, filter or cursor in the other operations', async () => {
    await refused(() => h.gql(CancelOrderDocument, { id: long(513, 'A') }), 'id');
    await refused(() => h.gql(ResendGiftDocument, { input: { orderId: long(513, 'A'), recipients: [{ email: 'ada@example.com' }] } }), 'input.orderId');
    await refused(() => h.gql(OrdersDocument, { filter: { recipientEmail: emailOf(255) } }), 'filter.recipientEmail', 'lllll@');
    expect((await refused(() => h.gql(OrdersDocument, { after: long(4_097, 'c') }), 'after')).message).toBe('after: must be at most 4096 characters');
    await refused(() => h.gql(CatalogDocument, { provider: 'GOODY', after: long(4_097, 'c') }), 'after');
    const atCap = await h.gql(OrdersDocument, { filter: { recipientEmail: emailOf(254) } });
    expect(atCap.errors).toBeUndefined();
  });
});

describe('recipients per order', () => {
  it.each([
    ['GUUSTO', 20],
    ['GIFTRONAUT', 100],
    ['GOODY', 100],
    ['ANDOPEN', 100],
  ] as const)('%s takes at most %i', async (provider, max) => {
    const make = inputs[provider];
    const extra = provider === 'ANDOPEN' ? { lastName: 'Lovelace' } : {};
    const problem = await refusedSend(make({ recipients: people(max + 1, extra) }), 'input.recipients');
    expect(problem.message).toBe(`takes at most ${max} recipients per ${provider} order: send the rest as another order`);
    await accepted(make({ recipients: people(max, extra) }));
  });
});

describe('how far ahead sendAt may be', () => {
  it.each(['GIFTRONAUT', 'GOODY'] as const)('%s: at most 365 days ahead, and never in the past', async (provider) => {
    const make = inputs[provider];
    const at = (sendAt: string) => make({ sendAt, ...(provider === 'GIFTRONAUT' ? { timezone: 'UTC' } : {}) });
    expect((await refusedSend(at(inOneYear(3_600_000)), 'input.sendAt')).message).toBe('must be at most 365 days ahead');
    expect((await refusedSend(at(new Date(Date.now() - 3_600_000).toISOString()), 'input.sendAt')).message).toBe('must be in the future');
    expect((await accepted(at(inOneYear(-3_600_000)))).status).toBe('SCHEDULED');
  });
});

describe('control characters', () => {
  const cases: [string, () => SendGiftsInput, string][] = [
    ['a NUL in a first name', () => guusto(first(guusto, { firstName: 'Ada\u0000' })), 'input.recipients[0].firstName'],
    ['a DEL in a last name', () => guusto(first(guusto, { lastName: 'Love\u007flace' })), 'input.recipients[0].lastName'],
    ['a terminal escape in an employee number', () => guusto({ recipients: [{ employeeNumber: '\u001b[31mE-1' }] }), 'input.recipients[0].employeeNumber'],
    ['a C1 control in a sender name', () => giftronaut({ senderName: 'Acme\u009b' }), 'input.senderName'],
    ['a tab in a subject', () => giftronaut({ giftronaut: { productId: ids.choiceCard, subject: 'A\tgift' } }), 'input.giftronaut.subject'],
    ['a BEL in a template id', () => giftronaut({ giftronaut: { productId: ids.choiceCard, templateId: '12\u0007' } }), 'input.giftronaut.templateId'],
    ['a NUL in a card id', () => goody({ goody: { productId: ids.product, cardId: `${CARDS[0]!.id}\u0000` } }), 'input.goody.cardId'],
    ['a NUL in a message', () => guusto({ message: 'Thanks\u0000' }), 'input.message'],
    ['a terminal escape in a message', () => guusto({ message: '\u001b[2JThanks' }), 'input.message'],
    ['a carriage return not followed by a line feed in a message', () => guusto({ message: 'Thanks\rfor everything' }), 'input.message'],
  ];

  it.each(cases)('refuses %s', async (_name, make, field) => {
    const problem = await refusedSend(make(), field);
    expect(problem.message).toMatch(/control characters/);
  });
});

describe('line breaks in anything that can reach an email header', () => {
  const injected = 'Hi\r\nBcc: header.victim@example.net';
  const cases: [string, () => SendGiftsInput, string][] = [
    ['subject', () => giftronaut({ giftronaut: { productId: ids.choiceCard, subject: injected } }), 'input.giftronaut.subject'],
    ['senderName', () => giftronaut({ senderName: injected }), 'input.senderName'],
    ['email', () => giftronaut(first(giftronaut, { email: `ada@example.com\r\nBcc: header.victim@example.net` })), 'input.recipients[0].email'],
    ['firstName', () => giftronaut(first(giftronaut, { firstName: injected })), 'input.recipients[0].firstName'],
    ['lastName', () => giftronaut(first(giftronaut, { lastName: injected })), 'input.recipients[0].lastName'],
    ['company', () => giftronaut(first(giftronaut, { company: injected })), 'input.recipients[0].company'],
    ['department', () => giftronaut(first(giftronaut, { department: injected })), 'input.recipients[0].department'],
    ['subject (a bare line feed)', () => giftronaut({ giftronaut: { productId: ids.choiceCard, subject: 'Hi\nthere' } }), 'input.giftronaut.subject'],
    ['subject (a Unicode line separator)', () => giftronaut({ giftronaut: { productId: ids.choiceCard, subject: 'Hi\u2028there' } }), 'input.giftronaut.subject'],
  ];

  it.each(cases)('refuses one in %s', async (_name, make, field) => {
    const problem = await refusedSend(make(), field, 'header.victim');
    expect(problem.message).toBe('must be one line: it can end up in an email header');
  });
});

describe('surrounding whitespace', () => {
  const cases: [string, () => SendGiftsInput, string][] = [
    ['an email', () => guusto(first(guusto, { email: ' spaced.person@example.com' })), 'input.recipients[0].email'],
    ['a first name', () => guusto(first(guusto, { firstName: 'Ada ' })), 'input.recipients[0].firstName'],
    ['an employee number', () => guusto({ recipients: [{ employeeNumber: 'E-1 ' }] }), 'input.recipients[0].employeeNumber'],
    ['a sender name', () => giftronaut({ senderName: '\u00a0Acme' }), 'input.senderName'],
    ['a subject', () => giftronaut({ giftronaut: { productId: ids.choiceCard, subject: 'A gift ' } }), 'input.giftronaut.subject'],
    ['a time zone', () => giftronaut({ sendAt: inOneYear(-86_400_000), timezone: ' UTC' }), 'input.timezone'],
    ['an amount', () => guusto({ amount: { amount: ' 25', currency: 'CAD' } }), 'input.amount.amount'],
    ['a currency', () => guusto({ amount: { amount: '25', currency: 'CAD ' } }), 'input.amount.currency'],
  ];

  it.each(cases)('is refused around %s, not trimmed', async (_name, make, field) => {
    const problem = await refusedSend(make(), field, 'spaced.person');
    expect(problem.message).toBe('must not start or end with whitespace');
  });

  it('refuses a message of nothing but whitespace', async () => {
    expect((await refusedSend(guusto({ message: ' \n\t ' }), 'input.message')).message).toBe('is blank: write a message or leave it out');
  });

  it('reads an empty text as absent, and a currency code in any letter case', async () => {
    const order = await accepted(guusto({ amount: { amount: '25', currency: 'cad' }, recipients: [{ email: 'empty.name@example.com', firstName: '', lastName: '' }] }));
    const read = await h.gql<{ order: { total: { currency: string }; recipients: { edges: { node: { firstName: string | null } }[] } } }, { id: string }>(
      'query ($id: ID!) { order(id: $id) { total { currency } recipients(first: 1) { edges { node { firstName } } } } }',
      { id: order.id },
    );
    expect(read.data!.order.total.currency).toBe('CAD');
    expect(read.data!.order.recipients.edges[0]!.node.firstName).toBeNull();
  });
});

describe('duplicate recipients', () => {
  it('refuses the same email in another letter case, naming the later one', async () => {
    const recipients = [{ email: 'dupe.person@example.com' }, { email: 'b@example.com' }, { email: 'c@example.com' }, { email: 'DUPE.Person@Example.com' }];
    const problem = await refusedSend(guusto({ recipients }), 'input.recipients[3].email', 'dupe.person');
    expect(problem.message).toBe('repeats the address of input.recipients[0]: each recipient once per order');
  });

  it('refuses the same employee number', async () => {
    const recipients = [{ employeeNumber: 'E-1' }, { employeeNumber: 'E-2' }, { employeeNumber: 'E-1' }];
    const problem = await refusedSend(guusto({ recipients }), 'input.recipients[2].employeeNumber');
    expect(problem.message).toBe('repeats the employee number of input.recipients[0]: each recipient once per order');
  });

  it.each(['GIFTRONAUT', 'GOODY', 'ANDOPEN'] as const)('refuses a repeated email at %s', async (provider) => {
    const make = inputs[provider];
    const one = make().recipients[0]!;
    await refusedSend(make({ recipients: [one, { ...one, email: one.email!.toUpperCase() }] }), 'input.recipients[1].email');
  });
});

describe('resendGift', () => {
  let orderId = '';
  beforeAll(async () => {
    orderId = (await accepted(giftronaut({ recipients: [{ email: 'alice@example.com' }, { email: 'bob@example.com' }] }))).id;
  });
  const resend = (recipients: { email: string; updatedEmail?: string | null }[]) => () => h.gql(ResendGiftDocument, { input: { orderId, recipients } });

  it('refuses a recipient named twice, in any letter case', async () => {
    const problem = await refused(resend([{ email: 'alice@example.com' }, { email: 'ALICE@example.com' }]), 'input.recipients[1].email', 'alice@');
    expect(problem.message).toBe('repeats input.recipients[0].email');
  });

  it('refuses surrounding whitespace, line breaks and over-long addresses', async () => {
    await refused(resend([{ email: 'alice@example.com ' }]), 'input.recipients[0].email');
    await refused(resend([{ email: 'alice@example.com', updatedEmail: 'new@example.com\r\nBcc: header.victim@example.net' }]), 'input.recipients[0].updatedEmail', 'header.victim');
    await refused(resend([{ email: emailOf(255) }]), 'input.recipients[0].email', 'lllll@');
    await refused(resend([{ email: 'alice@example.com', updatedEmail: emailOf(255) }]), 'input.recipients[0].updatedEmail', 'lllll@');
  });

  it('takes at most 100 recipients per call', async () => {
    const problem = await refused(resend(people(101).map(({ email }) => ({ email }))), 'input.recipients');
    expect(problem.message).toBe('takes at most 100 recipients per call: resend the rest in another');
  });
});

describe('the orders filter', () => {
  it('refuses surrounding whitespace and control characters in recipientEmail, and matches it in any letter case', async () => {
    await refused(() => h.gql(OrdersDocument, { filter: { recipientEmail: ' filter.person@example.com' } }), 'filter.recipientEmail', 'filter.person');
    await refused(() => h.gql(OrdersDocument, { filter: { recipientEmail: 'filter.person@example.com\n' } }), 'filter.recipientEmail', 'filter.person');
    const token = await h.token({ tenant: 'filtering' });
    await h.gql(
      'mutation ($input: SendGiftsInput!) { sendGifts(input: $input) { created } }',
      { input: guusto({ idempotencyKey: 'filtered', recipients: [{ email: 'Filter.Person@example.com' }] }) },
      token,
    );
    const found = await h.gql(OrdersDocument, { filter: { recipientEmail: 'FILTER.PERSON@EXAMPLE.COM' } }, token);
    expect(found.data!.orders.edges).toHaveLength(1);
  });
});

describe('a message is text', () => {
  const html = '<b>Thanks</b> & "you"';

  it('reaches Guusto exactly as typed', async () => {
    const read = async (id: string) =>
      (await h.gql<{ order: { requestId: string } }, { id: string }>('query ($id: ID!) { order(id: $id) { ... on GuustoOrder { requestId } } }', { id })).data!.order;
    const { requestId } = await read((await accepted(guusto({ message: html }))).id);
    h.advance(2);
    const res = await fetch(`${h.urls.guusto}/api/v1/orders/${requestId}`, { headers: { authorization: `Bearer ${h.guustoToken}`, 'x-workspace-id': '444' } });
    const body = (await res.json()) as { certificates: { message: string }[] };
    expect(body.certificates.map((c) => c.message)).toEqual([html]);
  });

  it('reaches Goody exactly as typed, line breaks, tabs and surrounding spaces included', async () => {
    const message = `  Dear team,\r\n\t${html} <3\n`;
    const order = await accepted(goody({ message, goody: { productId: ids.product, cardId: CARDS[0]!.id } }));
    const batch = await h.gql<{ order: { goodyBatchId: string } }, { id: string }>('query ($id: ID!) { order(id: $id) { ... on GoodyOrderBatch { goodyBatchId } } }', {
      id: order.id,
    });
    const res = await fetch(`${h.urls.goody}/v1/order_batches/${batch.data!.order.goodyBatchId}`, { headers: { authorization: `Bearer ${h.goodyKey}` } });
    expect(((await res.json()) as { message: string }).message).toBe(message);
  });
});

it('reports every problem of one input at once', async () => {
  const input = giftronaut({
    sendAt: inOneYear(3_600_000),
    timezone: 'UTC',
    recipients: [
      { email: 'ada@example.com', firstName: 'Ada\u0000' },
      { email: 'ADA@example.com', company: long(256) },
    ],
    giftronaut: { productId: ids.choiceCard, subject: 'Hi\r\nBcc: header.victim@example.net' },
  });
  const result = await send(input);
  expect(result.data!.sendGifts.order).toBeNull();
  const problems = result.data!.sendGifts.problems;
  expect(problems.map((p) => p.field).sort()).toEqual(
    ['input.giftronaut.subject', 'input.recipients[0].firstName', 'input.recipients[1].company', 'input.recipients[1].email', 'input.sendAt'].sort(),
  );
});
