import { describe, expect, it } from 'vitest';
import { currencyExponent, formatAmount, minorFromDecimal, parseMoney, wholeUnits } from '../../src/core/money.js';

describe('money', () => {
  it("knows each currency's minor unit", () => {
    expect([currencyExponent('USD'), currencyExponent('JPY'), currencyExponent('KWD')]).toEqual([2, 0, 3]);
  });

  it.each([
    ['25', 'USD', 2500],
    ['25.5', 'USD', 2550],
    ['0.07', 'USD', 7],
    ['500', 'JPY', 500],
    ['1.234', 'KWD', 1234],
    ['19.99', 'cad', 1999],
  ])('parses %s %s exactly into %i minor units', (amount, currency, minor) => {
    expect(parseMoney({ amount, currency }, 'input.amount').minor).toBe(minor);
  });

  it.each([
    ['1.001', 'USD', 'input.amount.amount'],
    ['5.5', 'JPY', 'input.amount.amount'],
    ['1e3', 'USD', 'input.amount.amount'],
    ['-1', 'USD', 'input.amount.amount'],
    ['01', 'USD', 'input.amount.amount'],
    ['10', 'ABC', 'input.amount.currency'],
  ])('refuses %s %s naming %s', (amount, currency, field) => {
    expect(() => parseMoney({ amount, currency }, 'input.amount')).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ field }) }));
  });

  it("formats with the currency's own decimals and never through a float", () => {
    expect(formatAmount({ minor: 2550, currency: 'USD' })).toBe('25.50');
    expect(formatAmount({ minor: 7, currency: 'USD' })).toBe('0.07');
    expect(formatAmount({ minor: 500, currency: 'JPY' })).toBe('500');
    expect(formatAmount({ minor: 1234, currency: 'KWD' })).toBe('1.234');
    expect(minorFromDecimal(0.1 + 0.2, 'USD')).toBe(30);
  });

  it('gives whole units only when there is no fraction', () => {
    expect(wholeUnits({ minor: 2500, currency: 'CAD' })).toBe(25);
    expect(wholeUnits({ minor: 2550, currency: 'CAD' })).toBeUndefined();
  });
});

describe('request fingerprints', () => {
  it('tell apart inputs that differ only in a date, and not inputs that differ only in key order', async () => {
    const { canonicalJson } = await import('../../src/orders/validate.js');
    expect(canonicalJson({ expiresAt: new Date('2099-01-01T00:00:00Z') })).not.toBe(canonicalJson({ expiresAt: new Date('2099-02-01T00:00:00Z') }));
    expect(canonicalJson({ a: 1, b: [2, { d: 3, c: 4 }] })).toBe(canonicalJson({ b: [2, { c: 4, d: 3 }], a: 1 }));
  });
});
