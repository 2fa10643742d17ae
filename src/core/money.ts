import { badInput } from './errors.js';

/** An exact amount: integer minor units of a currency (cents for USD, yen for JPY). */
export interface Money {
  minor: number;
  currency: string;
}

const KNOWN_CURRENCIES: ReadonlySet<string> = new Set(Intl.supportedValuesOf('currency'));
const exponents = new Map<string, number>();

export const isKnownCurrency = (code: string): boolean => KNOWN_CURRENCIES.has(code);

/** Digits after the decimal point for a currency, from ISO 4217 as the runtime knows it (JPY 0, USD 2, KWD 3). */
export function currencyExponent(currency: string): number {
  let exponent = exponents.get(currency);
  if (exponent === undefined) {
    exponent = new Intl.NumberFormat('en', { style: 'currency', currency }).resolvedOptions().maximumFractionDigits ?? 2;
    exponents.set(currency, exponent);
  }
  return exponent;
}

const DECIMAL = /^(0|[1-9]\d{0,14})(?:\.(\d+))?$/;

/**
 * Parses a client's `{amount, currency}` exactly, never through a float.
 * `field` names the input path for the error, e.g. `input.amount`.
 */
export function parseMoney(input: { amount: string; currency: string }, field: string): Money {
  const currency = input.currency.trim().toUpperCase();
  if (!isKnownCurrency(currency)) throw badInput(`${field}.currency`, 'is not an ISO 4217 currency code');
  const match = DECIMAL.exec(input.amount.trim());
  if (!match) throw badInput(`${field}.amount`, 'must be a non-negative decimal string such as "25" or "25.50"');
  const exponent = currencyExponent(currency);
  const fraction = match[2] ?? '';
  if (fraction.length > exponent) {
    throw badInput(`${field}.amount`, `${currency} allows at most ${exponent} decimal place${exponent === 1 ? '' : 's'}`);
  }
  const minor = Number(match[1]) * 10 ** exponent + Number(fraction.padEnd(exponent, '0') || '0');
  if (!Number.isSafeInteger(minor)) throw badInput(`${field}.amount`, 'is too large');
  return { minor, currency };
}

/** Minor units from a provider's decimal number (e.g. Giftronaut `50.00`, Guusto `10`), rounding away float noise. */
export function minorFromDecimal(value: number, currency: string): number {
  return Math.round(value * 10 ** currencyExponent(currency));
}

/** The exact decimal string of an amount, with the currency's own number of decimals ("10.00", "500" for JPY). */
export function formatAmount(money: Money): string {
  const exponent = currencyExponent(money.currency);
  if (exponent === 0) return String(money.minor);
  const sign = money.minor < 0 ? '-' : '';
  const digits = String(Math.abs(money.minor)).padStart(exponent + 1, '0');
  return `${sign}${digits.slice(0, -exponent)}.${digits.slice(-exponent)}`;
}

/** Whole currency units, for providers that take integers only (Guusto); undefined when there is a fraction. */
export function wholeUnits(money: Money): number | undefined {
  const factor = 10 ** currencyExponent(money.currency);
  return money.minor % factor === 0 ? money.minor / factor : undefined;
}
