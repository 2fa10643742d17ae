import { createHash } from 'node:crypto';
import { isEmailAddress } from '../core/email.js';
import { GiftgraphError, InputErrors } from '../core/errors.js';
import { isKnownCurrency, parseMoney, type Money } from '../core/money.js';
import { isTimeZone } from '../core/zoned-time.js';
import type { Provider } from '../core/model.js';
import type { ProviderAdapter, SendRecipient } from '../providers/adapter.js';
import type { Settlement, SettlementOutcome } from '../core/records.js';
import { LIMITS, SEND_AHEAD_DAYS } from './limits.js';

export interface MoneyInputValue {
  amount: string;
  currency: string;
}

export interface RecipientInputValue {
  email?: string | null;
  employeeNumber?: string | null;
  firstName?: string | null;
  lastName?: string | null;
  company?: string | null;
  department?: string | null;
  amount?: MoneyInputValue | null;
}

/** `SendGiftsInput` as the resolver hands it over. */
export interface SendGiftsCommand {
  provider: Provider;
  idempotencyKey: string;
  recipients: RecipientInputValue[];
  amount?: MoneyInputValue | null;
  message?: string | null;
  senderName?: string | null;
  sendAt?: Date | null;
  timezone?: string | null;
  guusto?: object | null;
  giftronaut?: object | null;
  goody?: object | null;
  andOpen?: object | null;
}

/** The input field holding each provider's own options. */
export const OPTION_FIELDS: Record<Provider, 'guusto' | 'giftronaut' | 'goody' | 'andOpen'> = {
  GUUSTO: 'guusto',
  GIFTRONAUT: 'giftronaut',
  GOODY: 'goody',
  ANDOPEN: 'andOpen',
};

export interface PreparedSend {
  provider: Provider;
  idempotencyKey: string;
  recipients: SendRecipient[];
  message: string | null;
  senderName: string | null;
  sendAt: string | null;
  timezone: string | null;
  options: Record<string, unknown>;
  /** Fingerprint of everything but the key: the same key must come with the same request. */
  hash: string;
}

const IDEMPOTENCY_KEY = new RegExp(`^[\\x21-\\x7e]{1,${LIMITS.idempotencyKey}}$`);

/**
 * Checks a send request completely before anything is written or sent: the rules every provider
 * shares, the chosen provider's own, then (when those pass) the rules that need the provider's
 * data, such as a product's price points. Every problem is reported, each naming its field.
 */
export async function prepareSend(cmd: SendGiftsCommand, adapter: ProviderAdapter | undefined, now: Date, { replay = false }: { replay?: boolean } = {}): Promise<PreparedSend> {
  const prepared = checkSend(cmd, adapter, now, replay);
  // A replay of a known key returns the order already sent: rules that depend on the moment (a
  // send time now past, a catalog since changed) were met when it was first sent.
  if (adapter?.validateRemote && !replay) {
    const errors = new InputErrors();
    await adapter.validateRemote(prepared, errors);
    errors.throwIfAny();
  }
  return prepared;
}

/** The checks that need no I/O. */
export function checkSend(cmd: SendGiftsCommand, adapter: ProviderAdapter | undefined, now: Date, replay = false): PreparedSend {
  const errors = new InputErrors();
  if (!IDEMPOTENCY_KEY.test(cmd.idempotencyKey)) {
    errors.add('input.idempotencyKey', `must be 1 to ${LIMITS.idempotencyKey} printable ASCII characters without spaces`);
  }
  if (!adapter) errors.add('input.provider', `${cmd.provider} is not configured on this server`);
  for (const [provider, field] of Object.entries(OPTION_FIELDS)) {
    if (provider !== cmd.provider && cmd[field] != null) errors.add(`input.${field}`, `options for ${provider} cannot be used with provider ${cmd.provider}`);
  }

  const defaultAmount = money(cmd.amount, 'input.amount', errors);
  const maxRecipients = adapter?.maxRecipients ?? LIMITS.recipients;
  if (cmd.recipients.length === 0) errors.add('input.recipients', 'needs at least one recipient');
  if (cmd.recipients.length > maxRecipients) {
    errors.add('input.recipients', `takes at most ${maxRecipients} recipients per ${cmd.provider} order: send the rest as another order`);
  }
  const recipients = cmd.recipients.slice(0, maxRecipients).map((r, position): SendRecipient => {
    const field = `input.recipients[${position}]`;
    const email = typed(r.email, `${field}.email`, emailProblem, errors);
    return {
      position,
      email,
      employeeNumber: text(r.employeeNumber, `${field}.employeeNumber`, LIMITS.employeeNumber, errors),
      firstName: text(r.firstName, `${field}.firstName`, LIMITS.name, errors, 'header'),
      lastName: text(r.lastName, `${field}.lastName`, LIMITS.name, errors, 'header'),
      company: text(r.company, `${field}.company`, LIMITS.name, errors, 'header'),
      department: text(r.department, `${field}.department`, LIMITS.name, errors, 'header'),
      amount: money(r.amount, `${field}.amount`, errors) ?? defaultAmount,
    };
  });
  refuseDuplicates(recipients, errors);

  const message = text(cmd.message, 'input.message', LIMITS.message, errors, 'message');
  const senderName = text(cmd.senderName, 'input.senderName', LIMITS.name, errors, 'header');
  const timezone = typed(cmd.timezone, 'input.timezone', timeZoneProblem, errors);
  let sendAt: string | null = null;
  if (cmd.sendAt) {
    if (Number.isNaN(cmd.sendAt.getTime())) errors.add('input.sendAt', 'is not a valid date-time');
    else {
      sendAt = cmd.sendAt.toISOString();
      if (!replay && cmd.sendAt.getTime() <= now.getTime()) errors.add('input.sendAt', 'must be in the future');
      // giftgraph's horizon, as no provider documents one: the same for a send the provider schedules
      // and one giftgraph holds until its time (see held.ts).
      if (!replay && cmd.sendAt.getTime() - now.getTime() > LIMITS.sendAheadMs) {
        errors.add('input.sendAt', `must be at most ${SEND_AHEAD_DAYS} days ahead`);
      }
    }
  }
  if (timezone && !sendAt) errors.add('input.timezone', 'only applies with sendAt');

  const options = { ...((cmd[OPTION_FIELDS[cmd.provider]] ?? {}) as Record<string, unknown>) };
  for (const [key, value] of Object.entries(options)) {
    // Option texts are ids, plus an email subject: all one line.
    if (typeof value !== 'string') continue;
    const subject = key === 'subject';
    text(value, `input.${OPTION_FIELDS[cmd.provider]}.${key}`, subject ? LIMITS.subject : LIMITS.id, errors, subject ? 'header' : 'line');
  }
  if (adapter) adapter.validate({ recipients, message, senderName, sendAt, timezone, options }, errors);
  errors.throwIfAny();

  const fingerprint = { provider: cmd.provider, recipients, message, senderName, sendAt, timezone, options };
  return {
    provider: cmd.provider,
    idempotencyKey: cmd.idempotencyKey,
    recipients,
    message,
    senderName,
    sendAt,
    timezone,
    options,
    hash: createHash('sha256').update(canonicalJson(fingerprint)).digest('hex'),
  };
}

/**
 * The rules of the values the schema types with a scalar (src/schema/scalars.ts): the scalar refuses
 * a value with these words before any resolver runs, and the checks here, for callers other than
 * GraphQL, say the same. Each returns what is wrong, or null.
 */
export const emailProblem = (value: string): string | null => textProblem(value, LIMITS.email, 'header') ?? (isEmailAddress(value) ? null : 'is not a valid email address');

export const timeZoneProblem = (value: string): string | null =>
  textProblem(value, LIMITS.timezone) ?? (isTimeZone(value) ? null : 'is not an IANA time zone such as America/New_York');

/** A currency code is read in any letter case (`cad` is CAD). */
export const currencyProblem = (value: string): string | null =>
  value !== value.trim() ? 'must not start or end with whitespace' : isKnownCurrency(value.toUpperCase()) ? null : 'is not an ISO 4217 currency code';

/** A typed text as given, or null when absent or empty; its problem, if any, is added. */
function typed(value: string | null | undefined, field: string, problem: (value: string) => string | null, errors: InputErrors): string | null {
  if (value === null || value === undefined || value === '') return null;
  const found = problem(value);
  if (found) errors.add(field, found);
  return value;
}

/**
 * `header`: text that may end up in an email header or subject (names, addresses). `line`: any other
 * one-line text (ids, employee numbers). `message`: a message body, which keeps line breaks and tabs.
 */
export type TextKind = 'header' | 'line' | 'message';

const CONTROL = /\p{Cc}/u;
const LINE_BREAK = /[\r\n\u0085\u2028\u2029]/u;
const MESSAGE_BREAKS = /\r\n|[\n\t]/g;

/**
 * A text input exactly as typed, or null when absent or empty. What would change it (surrounding
 * whitespace) or must never reach a provider (control characters, line breaks) is refused.
 */
function text(value: string | null | undefined, field: string, max: number, errors: InputErrors, kind: TextKind = 'line'): string | null {
  return typed(value, field, (v) => textProblem(v, max, kind), errors);
}

/** What is wrong with a non-empty text of this kind, or null. */
export function textProblem(value: string, max: number, kind: TextKind = 'line'): string | null {
  if (isLonger(value, max)) return `must be at most ${max} characters`;
  if (kind === 'message') {
    if (CONTROL.test(value.replace(MESSAGE_BREAKS, ''))) return 'may hold line breaks and tabs, but no other control characters';
    return value.trim() === '' ? 'is blank: write a message or leave it out' : null;
  }
  if (LINE_BREAK.test(value)) return kind === 'header' ? 'must be one line: it can end up in an email header' : 'must be one line';
  if (CONTROL.test(value)) return 'must not contain control characters';
  return value !== value.trim() ? 'must not start or end with whitespace' : null;
}

/** Longer than `max` code points; counted only when the UTF-16 length leaves a doubt. */
const isLonger = (value: string, max: number): boolean => value.length > max && (value.length > 2 * max || [...value].length > max);

/** One order names each person once: the same address in any letter case, or the same employee number, is a repeat. */
function refuseDuplicates(recipients: readonly SendRecipient[], errors: InputErrors): void {
  const emails = new Map<string, number>();
  const employees = new Map<string, number>();
  for (const r of recipients) {
    const field = `input.recipients[${r.position}]`;
    const email = r.email?.toLowerCase();
    if (email) {
      const first = emails.get(email);
      if (first === undefined) emails.set(email, r.position);
      else errors.add(`${field}.email`, `repeats the address of input.recipients[${first}]: each recipient once per order`);
    }
    if (r.employeeNumber) {
      const first = employees.get(r.employeeNumber);
      if (first === undefined) employees.set(r.employeeNumber, r.position);
      else errors.add(`${field}.employeeNumber`, `repeats the employee number of input.recipients[${first}]: each recipient once per order`);
    }
  }
}

export interface ResendRecipientValue {
  email: string;
  updatedEmail: string | null;
}

/** Checks a resend request against the order's recipients; returns it as typed, an empty updatedEmail as none. */
export function checkResend(asked: readonly ResendRecipientValue[], known: readonly { email: string | null }[]): ResendRecipientValue[] {
  const errors = new InputErrors();
  if (asked.length === 0) errors.add('input.recipients', 'needs at least one recipient');
  if (asked.length > LIMITS.resendRecipients) {
    errors.add('input.recipients', `takes at most ${LIMITS.resendRecipients} recipients per call: resend the rest in another`);
  }
  const emails = new Set(known.map((r) => r.email?.toLowerCase()).filter(Boolean));
  const seen = new Map<string, number>();
  const checked = asked.slice(0, LIMITS.resendRecipients).map((r, i) => {
    const field = `input.recipients[${i}]`;
    const email = text(r.email, `${field}.email`, LIMITS.email, errors, 'header');
    const updatedEmail = typed(r.updatedEmail, `${field}.updatedEmail`, emailProblem, errors);
    const key = email?.toLowerCase() ?? '';
    if (seen.has(key)) errors.add(`${field}.email`, `repeats input.recipients[${seen.get(key)}].email`);
    else if (!emails.has(key)) errors.add(`${field}.email`, 'is not a recipient of this order');
    seen.set(key, seen.get(key) ?? i);
    return { email: r.email, updatedEmail };
  });
  errors.throwIfAny();
  return checked;
}

export interface SettleCommand {
  /** Settles the whole order: providers that take an order in one request. */
  outcome?: SettlementOutcome | null;
  providerRef?: string | null;
  /** Settles recipients one by one: providers that take one recipient per request (&Open). */
  recipients?: readonly { recipientId: string; outcome: SettlementOutcome; providerRef?: string | null }[] | null;
}

/**
 * What a settlement may say, before anything is written: the whole order or its recipients, as the
 * provider sends them; SENT with the provider's reference, NOT_SENT without one; each recipient of
 * this order, once. `recipientIds`: the order's recipients' local ids by their global id.
 */
export function checkSettlement(cmd: SettleCommand, perRecipient: boolean, recipientIds: ReadonlyMap<string, string>): Omit<Settlement, 'orderId' | 'actor' | 'at'> {
  const errors = new InputErrors();
  const reference = (outcome: SettlementOutcome, value: string | null | undefined, field: string): string | null => {
    const ref = text(value, field, LIMITS.id, errors);
    if (outcome === 'SENT' && ref === null) errors.add(field, "is required with SENT: the provider's reference for what it has");
    if (outcome === 'NOT_SENT' && ref !== null) errors.add(field, 'must be left out with NOT_SENT: the provider has nothing');
    return ref;
  };
  if (!perRecipient) {
    if (cmd.recipients?.length) errors.add('input.recipients', 'settles recipients one by one, which only providers sending one recipient per request have: give outcome');
    if (!cmd.outcome) errors.add('input.outcome', 'is required: SENT or NOT_SENT');
    const providerRef = cmd.outcome ? reference(cmd.outcome, cmd.providerRef, 'input.providerRef') : null;
    errors.throwIfAny();
    return { order: { outcome: cmd.outcome!, providerRef } };
  }
  if (cmd.outcome || cmd.providerRef) errors.add('input.outcome', 'this provider takes one recipient per request: settle each in recipients');
  if (!cmd.recipients?.length) errors.add('input.recipients', 'is required: each recipient whose outcome was checked');
  const seen = new Set<string>();
  const recipients = (cmd.recipients ?? []).map((r, i) => {
    const field = `input.recipients[${i}]`;
    const recipientId = recipientIds.get(r.recipientId);
    if (!recipientId) errors.add(`${field}.recipientId`, 'is not a recipient of this order');
    else if (seen.has(recipientId)) errors.add(`${field}.recipientId`, 'is settled twice');
    if (recipientId) seen.add(recipientId);
    return { recipientId: recipientId ?? '', outcome: r.outcome, providerRef: reference(r.outcome, r.providerRef, `${field}.providerRef`) };
  });
  errors.throwIfAny();
  return { recipients };
}

/** The orders filter's recipient email, lower-cased for its case-insensitive match; undefined when absent or empty. */
export function checkRecipientEmailFilter(value: string | null | undefined): string | undefined {
  const errors = new InputErrors();
  const email = typed(value, 'filter.recipientEmail', emailProblem, errors);
  errors.throwIfAny();
  return email?.toLowerCase();
}

function money(value: MoneyInputValue | null | undefined, field: string, errors: InputErrors): Money | null {
  if (!value) return null;
  // Read as typed: a currency code in any letter case is that code, but surrounding whitespace is refused.
  for (const part of ['amount', 'currency'] as const) {
    if (value[part] !== value[part].trim()) {
      errors.add(`${field}.${part}`, 'must not start or end with whitespace');
      return null;
    }
  }
  try {
    const parsed = parseMoney(value, field);
    if (parsed.minor <= 0) errors.add(`${field}.amount`, 'must be greater than zero');
    return parsed;
  } catch (error) {
    if (!(error instanceof GiftgraphError) || !error.details.field) throw error;
    errors.add(error.details.field, error.message.slice(error.details.field.length + 2));
    return null;
  }
}

/** JSON with object keys sorted, so equal requests hash equally whatever order their fields came in. */
export function canonicalJson(value: unknown): string {
  // Dates and the like hash as their JSON form, never as an empty object.
  if (value && typeof (value as { toJSON?: unknown }).toJSON === 'function') return canonicalJson((value as { toJSON(): unknown }).toJSON());
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`;
  if (value && typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
      .filter(([, v]) => v !== undefined)
      .sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}:${canonicalJson(v)}`).join(',')}}`;
  }
  return JSON.stringify(value);
}
