/**
 * The schema's typed scalars as pure logic: what each takes and refuses (and in which words), what
 * it answers, the input path a refusal is given, and how the views fit provider values to them.
 */
import { buildSchema, execute, GraphQLError, parse, specifiedRules, validate } from 'graphql';
import { GraphQLCurrency, GraphQLURL } from 'graphql-scalars';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import type { OrderRecord, RecipientRecord } from '../../src/core/records.js';
import { orderView } from '../../src/schema/order.js';
import { giftView, Recipient } from '../../src/schema/recipient.js';
import {
  CurrencyCodeScalar,
  EmailAddressScalar,
  fit,
  namesRefusedLiterals,
  onUnfitValue,
  ScalarInputError,
  scalarProblem,
  TimeZoneScalar,
  type UnfitValue,
  URLScalar,
} from '../../src/schema/scalars.js';

/** The reason a scalar refuses `value` with, checking it names no part of the value. */
function refusal(parse: (value: unknown) => unknown, value: unknown): string {
  try {
    parse(value);
  } catch (error) {
    expect(error).toBeInstanceOf(ScalarInputError);
    const { message } = error as ScalarInputError;
    if (typeof value === 'string' && value.trim().length > 3) expect(message).not.toContain(value.trim());
    return message;
  }
  throw new Error(`${String(value)} was taken`);
}

describe('EmailAddress', () => {
  const parseValue = (v: unknown) => EmailAddressScalar.parseValue(v);

  it('takes an address as typed, and an empty string as no address', () => {
    expect(parseValue('Ada.Lovelace+gifts@Example.co.uk')).toBe('Ada.Lovelace+gifts@Example.co.uk');
    expect(parseValue('')).toBe('');
  });

  it.each([
    ['ada-at-example.com', 'is not a valid email address'],
    ['ada@localhost', 'is not a valid email address'],
    ['ada@@example.com', 'is not a valid email address'],
    [' ada@example.com', 'must not start or end with whitespace'],
    ['ada@example.com\r\nBcc: victim@example.net', 'must be one line: it can end up in an email header'],
    [`${'l'.repeat(243)}@example.com`, 'must be at most 254 characters'],
    [42, 'must be a string'],
  ])('refuses %j: %s', (value, reason) => {
    expect(refusal(parseValue, value)).toBe(reason);
  });

  it('answers only what is an address, and never repeats what is not', () => {
    expect(EmailAddressScalar.serialize('ada@example.com')).toBe('ada@example.com');
    expect(() => EmailAddressScalar.serialize('secret-person')).toThrow('EmailAddress cannot represent a value that is not an email address');
    expect(() => EmailAddressScalar.serialize('secret-person')).not.toThrow(/secret/);
  });
});

describe('CurrencyCode', () => {
  const parseValue = (v: unknown) => CurrencyCodeScalar.parseValue(v);

  it('takes a code in any letter case, in upper case', () => {
    expect(parseValue('cad')).toBe('CAD');
    expect(parseValue('JPY')).toBe('JPY');
    expect(CurrencyCodeScalar.serialize('usd')).toBe('USD');
  });

  it.each([
    ['XYZ', 'is not an ISO 4217 currency code'],
    // Codes graphql-scalars' Currency takes, but no gift is priced in: gold, a testing code, "no currency".
    ['XAU', 'is not an ISO 4217 currency code'],
    ['XTS', 'is not an ISO 4217 currency code'],
    ['XXX', 'is not an ISO 4217 currency code'],
    ['', 'is not an ISO 4217 currency code'],
    ['CAD ', 'must not start or end with whitespace'],
  ])('refuses %j: %s', (value, reason) => {
    expect(refusal(parseValue, value)).toBe(reason);
  });

  it("differs from graphql-scalars' Currency, which takes metals and passes a code on as typed", () => {
    expect(GraphQLCurrency.parseValue('XAU')).toBe('XAU');
    expect(GraphQLCurrency.parseValue('usd')).toBe('usd');
  });
});

describe('TimeZone', () => {
  const parseValue = (v: unknown) => TimeZoneScalar.parseValue(v);

  it('takes an IANA zone as typed, and an empty string as none', () => {
    expect(parseValue('America/New_York')).toBe('America/New_York');
    expect(parseValue('UTC')).toBe('UTC');
    expect(parseValue('')).toBe('');
  });

  it.each([
    ['Mars/Olympus', 'is not an IANA time zone such as America/New_York'],
    ['+05:00', 'is not an IANA time zone such as America/New_York'],
    [' UTC', 'must not start or end with whitespace'],
    ['x'.repeat(65), 'must be at most 64 characters'],
  ])('refuses %j: %s', (value, reason) => {
    expect(refusal(parseValue, value)).toBe(reason);
  });
});

describe('URL', () => {
  it('answers a string, whether it was given a string or a URL object', () => {
    expect(URLScalar.serialize('https://gifts.example/r/abc?x=1')).toBe('https://gifts.example/r/abc?x=1');
    expect(URLScalar.serialize(new URL('https://gifts.example'))).toBe('https://gifts.example/');
    expect(typeof URLScalar.parseValue('https://gifts.example/r/abc')).toBe('string');
    // graphql-scalars' own gives resolvers a URL object.
    expect(GraphQLURL.parseValue('https://gifts.example/r/abc')).toBeInstanceOf(URL);
  });

  it('answers nothing but an absolute http or https URL, and never repeats the value', () => {
    for (const value of ['javascript:alert(document.cookie)', '/r/abc', 'not a url', 'ftp://gifts.example/r']) {
      expect(() => URLScalar.serialize(value)).toThrow('URL cannot represent a value that is not an absolute http or https URL');
    }
    expect(refusal((v) => URLScalar.parseValue(v), 'javascript:alert(1)')).toBe('is not an absolute http or https URL');
  });
});

describe('the input path of a refusal', () => {
  const schema = buildSchema(`
    scalar EmailAddress
    input Recipient { email: EmailAddress name: String }
    input Send { recipients: [Recipient!]! cc: EmailAddress }
    type Query { send(input: Send!): Boolean orders(email: EmailAddress): Boolean }
  `);
  Object.assign(schema.getType('EmailAddress')!, {
    parseValue: EmailAddressScalar.parseValue,
    parseLiteral: EmailAddressScalar.parseLiteral,
    serialize: EmailAddressScalar.serialize,
  });

  const variableErrors = (query: string, variables: Record<string, unknown>) =>
    execute({ schema, document: parse(query), variableValues: variables }) as { errors?: GraphQLError[] };

  it("is read from graphql-js's message for a variable, whatever the value held", () => {
    const query = 'query ($input: Send!) { send(input: $input) }';
    for (const email of ['nope', 'x at "input.recipients[7].email"; is not a valid email address', 'a"b']) {
      const { errors } = variableErrors(query, { input: { recipients: [{ email: 'ok@example.com' }, { email }] } });
      expect(scalarProblem(errors![0])).toEqual({ field: 'input.recipients[1].email', message: 'is not a valid email address' });
    }
    const root = variableErrors('query ($email: EmailAddress) { orders(email: $email) }', { email: 'nope' });
    expect(scalarProblem(root.errors![0])).toEqual({ field: 'email', message: 'is not a valid email address' });
  });

  it('is given to a literal while the document is validated', () => {
    const document = parse('{ a: send(input: { recipients: [{ email: "ok@example.com" }, { name: "B", email: "nope" }], cc: 7 }) b: orders(email: " x@example.com") }');
    const errors = validate(schema, document, [...specifiedRules, namesRefusedLiterals]);
    expect(errors.map((e) => scalarProblem(e))).toEqual([
      { field: 'input.recipients[1].email', message: 'is not a valid email address' },
      { field: 'input.cc', message: 'must be a string' },
      { field: 'email', message: 'must not start or end with whitespace' },
    ]);
  });

  it('is not claimed for errors of other kinds', () => {
    expect(scalarProblem(new GraphQLError('Variable "$input" got invalid value 1 at "input.x"; Expected type "Int".'))).toBeUndefined();
    expect(scalarProblem(new Error('boom'))).toBeUndefined();
  });
});

describe('provider values fitted to their scalar', () => {
  const reported: UnfitValue[] = [];
  const stop = onUnfitValue((unfit) => reported.push(unfit));
  afterEach(() => {
    reported.length = 0;
  });
  afterAll(() => stop());

  const where = { type: 'Recipient', field: 'email', provider: 'GOODY' };

  it('serves a fitting value in its canonical form, and absent as null without a report', () => {
    expect(fit.email(' Ada@Example.com ', where)).toBe('Ada@Example.com');
    expect(fit.currency('usd', where)).toBe('USD');
    expect(fit.url('https://gifts.example', where)).toBe('https://gifts.example/');
    expect(fit.timeZone('Asia/Tokyo', where)).toBe('Asia/Tokyo');
    expect(fit.dateTime('2030-01-01T00:00:00Z', where)).toEqual(new Date('2030-01-01T00:00:00Z'));
    expect([fit.email(null, where), fit.url(undefined, where), fit.dateTime('', where)]).toEqual([null, null, null]);
    expect(reported).toEqual([]);
  });

  it('serves what does not fit as null, and reports where it was, never the value', () => {
    expect(fit.email('n/a', where)).toBeNull();
    expect(fit.url('javascript:alert(1)', { type: 'GiftLink', field: 'url', provider: 'ANDOPEN' })).toBeNull();
    expect(fit.currency('XAU', { type: 'CatalogItem', field: 'currency', provider: 'GIFTRONAUT' })).toBeNull();
    expect(fit.timeZone('Mars/Olympus', { type: 'GiftronautOrder', field: 'timezone', provider: 'GIFTRONAUT' })).toBeNull();
    expect(fit.dateTime('soon', { type: 'GiftLink', field: 'expiresAt', provider: 'GOODY' })).toBeNull();
    expect(reported).toEqual([
      { type: 'Recipient', field: 'email', provider: 'GOODY', scalar: 'EmailAddress' },
      { type: 'GiftLink', field: 'url', provider: 'ANDOPEN', scalar: 'URL' },
      { type: 'CatalogItem', field: 'currency', provider: 'GIFTRONAUT', scalar: 'CurrencyCode' },
      { type: 'GiftronautOrder', field: 'timezone', provider: 'GIFTRONAUT', scalar: 'TimeZone' },
      { type: 'GiftLink', field: 'expiresAt', provider: 'GOODY', scalar: 'DateTime' },
    ]);
  });

  it('through the views: an address becomes null, a link that cannot be opened is no gift, a bad zone is null', () => {
    const recipient = { id: 'r1', orderId: 'o1', position: 0, email: 'not an address', status: 'SENT', providerStatus: 'sent', gift: null } as unknown as RecipientRecord;
    const view = Recipient.from('GOODY', recipient);
    expect(view.email).toBeNull();
    expect(giftView('ANDOPEN', { kind: 'link', url: 'javascript:alert(1)', expiresAt: null })).toBeNull();
    expect(giftView('GOODY', { kind: 'link', url: 'https://gifts.example/g/1', expiresAt: 'never' })).toMatchObject({ url: 'https://gifts.example/g/1', expiresAt: null });
    const order = {
      id: 'o1',
      provider: 'GIFTRONAUT',
      status: 'SCHEDULED',
      providerStatus: 'PENDING',
      createdAt: '2030-01-01T00:00:00Z',
      scheduledFor: 'tomorrow',
      total: null,
      origin: 'GIFTGRAPH',
      details: { timezone: 'Mars/Olympus' },
      idempotencyKey: 'k',
      providerRef: 'OT1',
    } as unknown as OrderRecord;
    expect(orderView(order)).toMatchObject({ timezone: null, scheduledFor: null });
    expect(reported.map((r) => `${r.type}.${r.field}`)).toEqual(['Recipient.email', 'GiftLink.url', 'GiftLink.expiresAt', 'Order.scheduledFor', 'GiftronautOrder.timezone']);
  });
});
