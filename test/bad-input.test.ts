import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { SendGiftsDocument, type SendGiftsInput } from './generated/graphql.js';
import { errorCode, Harness } from './support/harness.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start({ only: ['GUUSTO'] });
});
afterAll(() => h.close());

const valid: SendGiftsInput = {
  provider: 'GUUSTO',
  idempotencyKey: 'bad-input',
  message: 'Thanks!',
  amount: { amount: '25', currency: 'CAD' },
  recipients: [{ email: 'ada@example.com', firstName: 'Ada' }],
};

const cases: [name: string, input: SendGiftsInput, field: string][] = [
  ['no recipients', { ...valid, recipients: [] }, 'input.recipients'],
  ['too many recipients for Guusto', { ...valid, recipients: Array.from({ length: 21 }, (_, i) => ({ email: `p${i}@example.com` })) }, 'input.recipients'],
  ['too many recipients for anyone', { ...valid, recipients: Array.from({ length: 501 }, (_, i) => ({ email: `p${i}@example.com` })) }, 'input.recipients'],
  ['a recipient with neither email nor employee number', { ...valid, recipients: [{ firstName: 'Ada' }] }, 'input.recipients[0]'],
  ["an amount above Guusto's range", { ...valid, amount: { amount: '10001', currency: 'CAD' } }, 'input.recipients[0].amount.amount'],
  ['a zero amount', { ...valid, amount: { amount: '0', currency: 'CAD' } }, 'input.amount.amount'],
  ['a negative amount', { ...valid, amount: { amount: '-5', currency: 'CAD' } }, 'input.amount.amount'],
  ['more decimals than the currency has', { ...valid, amount: { amount: '10.505', currency: 'CAD' } }, 'input.amount.amount'],
  ["an amount below Guusto's range", { ...valid, amount: { amount: '0.99', currency: 'CAD' } }, 'input.recipients[0].amount.amount'],
  ['a float-looking amount', { ...valid, amount: { amount: '1e3', currency: 'CAD' } }, 'input.amount.amount'],
  ['a currency Guusto does not send', { ...valid, amount: { amount: '25', currency: 'EUR' } }, 'input.recipients[0].amount.currency'],
  ['no amount at all', { ...valid, amount: null }, 'input.recipients[0].amount'],
  ['no message (Guusto requires one)', { ...valid, message: null }, 'input.message'],
  ['a send time more than a year ahead', { ...valid, sendAt: '2099-01-01T09:00:00Z', timezone: 'America/Toronto' }, 'input.sendAt'],
  ['a send time in the past', { ...valid, sendAt: '2001-01-01T09:00:00Z' }, 'input.sendAt'],
  ['an idempotency key with spaces', { ...valid, idempotencyKey: 'two words' }, 'input.idempotencyKey'],
  ['an empty idempotency key', { ...valid, idempotencyKey: '' }, 'input.idempotencyKey'],
  ['an idempotency key over 64 characters', { ...valid, idempotencyKey: 'k'.repeat(65) }, 'input.idempotencyKey'],
  ['a provider that is not configured', { ...valid, provider: 'ANDOPEN' }, 'input.provider'],
  ['options for another provider', { ...valid, goody: { productId: 'x' } }, 'input.goody'],
  ['a message over 1000 characters', { ...valid, message: 'x'.repeat(1001) }, 'input.message'],
  [
    'two currencies in one Guusto order',
    { ...valid, recipients: [{ email: 'a@example.com' }, { email: 'b@example.com', amount: { amount: '5', currency: 'USD' } }] },
    'input.recipients',
  ],
];

/** Refused by the field's scalar, before the mutation runs (test/typed-scalars.test.ts has every scalar). */
const refusedByScalar: [name: string, input: SendGiftsInput, field: string, reason: string][] = [
  ['an invalid email', { ...valid, recipients: [{ email: 'ada-at-example.com' }] }, 'input.recipients[0].email', 'is not a valid email address'],
  ['an unknown currency', { ...valid, amount: { amount: '25', currency: 'XYZ' } }, 'input.amount.currency', 'is not an ISO 4217 currency code'],
  ['an unknown time zone', { ...valid, sendAt: '2099-01-01T09:00:00Z', timezone: 'Mars/Olympus' }, 'input.timezone', 'is not an IANA time zone such as America/New_York'],
];

describe('bad input to sendGifts', () => {
  it.each(refusedByScalar)('rejects %s by its scalar: a BAD_USER_INPUT error naming the field, before the mutation runs, nothing sent', async (_name, input, field, reason) => {
    const before = h.store.counts();
    const received = h.guusto.http.received.length;
    const result = await h.gql(SendGiftsDocument, { input });
    expect(result.data).toBeUndefined();
    expect(result.errors).toEqual([
      { message: `${field}: ${reason}`, locations: expect.any(Array), extensions: { code: 'BAD_USER_INPUT', field, problems: [{ field, message: reason }] } },
    ]);
    expect(h.store.counts()).toEqual(before);
    expect(h.guusto.http.received.length).toBe(received);
  });

  it.each(cases)('rejects %s as a BAD_USER_INPUT problem naming the field, with no order, no row and no provider call', async (_name, input, field) => {
    const before = h.store.counts();
    const received = h.guusto.http.received.length;
    const result = await h.gql(SendGiftsDocument, { input });
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts).toMatchObject({ order: null, created: false });
    const problems = result.data!.sendGifts.problems;
    expect(problems.map((p) => p.field)).toContain(field);
    for (const problem of problems) {
      expect(problem).toMatchObject({ code: 'BAD_USER_INPUT', retryable: false });
      expect(problem.field).toMatch(/^input\./);
      expect(problem.message).not.toBe('');
    }
    expect(h.store.counts()).toEqual(before);
    expect(h.guusto.http.received.length).toBe(received);
  });

  it('reports every problem at once, each naming its field, with no order and nothing sent', async () => {
    const before = h.store.counts();
    const received = h.guusto.http.received.length;
    const result = await h.gql(SendGiftsDocument, {
      input: {
        ...valid,
        idempotencyKey: 'two words',
        message: null,
        recipients: [{ firstName: 'Ada' }, { email: 'fine@example.com', amount: { amount: '0.5', currency: 'CAD' } }, { email: 'FINE@example.com' }],
      },
    });
    expect(result.errors).toBeUndefined();
    expect(result.data!.sendGifts).toMatchObject({ order: null, created: false });
    const problems = result.data!.sendGifts.problems;
    expect(problems.map((p) => p.field).sort()).toEqual(
      ['input.idempotencyKey', 'input.message', 'input.recipients[0]', 'input.recipients[1].amount.amount', 'input.recipients[2].email'].sort(),
    );
    for (const problem of problems) expect(problem).toMatchObject({ code: 'BAD_USER_INPUT', retryable: false, provider: null });
    expect(problems.find((p) => p.field === 'input.recipients[2].email')!.message).toBe('repeats the address of input.recipients[1]: each recipient once per order');
    expect(h.store.counts()).toEqual(before);
    expect(h.guusto.http.received.length).toBe(received);
  });

  it('rejects input the schema does not allow before any resolver runs', async () => {
    const received = h.guusto.http.received.length;
    const result = await h.gql('mutation { sendGifts(input: { provider: GUUSTO, recipients: [] }) { created } }');
    expect(errorCode(result)).toBe('GRAPHQL_VALIDATION_FAILED');
    expect(result.errors![0]!.message).toContain('idempotencyKey');
    expect(h.guusto.http.received.length).toBe(received);
  });

  it('does not echo a rejected email back, whether its scalar or the mutation refuses it', async () => {
    const byScalar = await h.gql(SendGiftsDocument, { input: { ...valid, recipients: [{ email: 'secret.person@example' }] } });
    expect(errorCode(byScalar)).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(byScalar)).not.toContain('secret.person');
    const byMutation = await h.gql(SendGiftsDocument, { input: { ...valid, recipients: [{ email: 'secret.person@example.com' }, { email: 'Secret.Person@example.com' }] } });
    expect(byMutation.data!.sendGifts.problems.map((p) => p.field)).toEqual(['input.recipients[1].email']);
    expect(JSON.stringify(byMutation).toLowerCase()).not.toContain('secret.person');
  });
});
