import { createHash } from 'node:crypto';
import { GiftgraphError, InputErrors } from '../core/errors.js';
import { parseMoney, type Money } from '../core/money.js';
import type { Provider } from '../core/model.js';
import type { ProviderAdapter, SendRecipient } from '../providers/adapter.js';

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

export const MAX_RECIPIENTS = 500;
const EMAIL = /^[A-Za-z0-9.!#$%&'*+/=?^_`{|}~-]+@[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?)+$/;
const IDEMPOTENCY_KEY = /^[\x21-\x7e]{1,64}$/;

/**
 * Checks a send request completely before anything is written or sent: the rules every provider
 * shares, the chosen provider's own, then (when those pass) the rules that need the provider's
 * data, such as a product's price points. Every problem is reported, each naming its field.
 */
export async function prepareSend(
  cmd: SendGiftsCommand,
  adapter: ProviderAdapter | undefined,
  now: Date,
  { replay = false }: { replay?: boolean } = {},
): Promise<PreparedSend> {
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
    errors.add('input.idempotencyKey', 'must be 1 to 64 printable ASCII characters without spaces');
  }
  if (!adapter) errors.add('input.provider', `${cmd.provider} is not configured on this server`);
  for (const [provider, field] of Object.entries(OPTION_FIELDS)) {
    if (provider !== cmd.provider && cmd[field] != null) errors.add(`input.${field}`, `options for ${provider} cannot be used with provider ${cmd.provider}`);
  }

  const defaultAmount = money(cmd.amount, 'input.amount', errors);
  if (cmd.recipients.length === 0) errors.add('input.recipients', 'needs at least one recipient');
  if (cmd.recipients.length > MAX_RECIPIENTS) errors.add('input.recipients', `takes at most ${MAX_RECIPIENTS} recipients`);
  const recipients = cmd.recipients.slice(0, MAX_RECIPIENTS).map((r, position): SendRecipient => {
    const field = `input.recipients[${position}]`;
    const email = text(r.email, `${field}.email`, 254, errors);
    if (email && !isEmail(email)) errors.add(`${field}.email`, 'is not a valid email address');
    return {
      position,
      email,
      employeeNumber: text(r.employeeNumber, `${field}.employeeNumber`, 64, errors),
      firstName: text(r.firstName, `${field}.firstName`, 255, errors),
      lastName: text(r.lastName, `${field}.lastName`, 255, errors),
      company: text(r.company, `${field}.company`, 255, errors),
      department: text(r.department, `${field}.department`, 255, errors),
      amount: money(r.amount, `${field}.amount`, errors) ?? defaultAmount,
    };
  });

  const message = text(cmd.message, 'input.message', 1000, errors);
  const senderName = text(cmd.senderName, 'input.senderName', 255, errors);
  const timezone = text(cmd.timezone, 'input.timezone', 64, errors);
  if (timezone && !isTimeZone(timezone)) errors.add('input.timezone', 'is not an IANA time zone such as America/New_York');
  let sendAt: string | null = null;
  if (cmd.sendAt) {
    if (Number.isNaN(cmd.sendAt.getTime())) errors.add('input.sendAt', 'is not a valid date-time');
    else {
      sendAt = cmd.sendAt.toISOString();
      if (!replay && cmd.sendAt.getTime() <= now.getTime()) errors.add('input.sendAt', 'must be in the future');
    }
  }
  if (timezone && !sendAt) errors.add('input.timezone', 'only applies with sendAt');

  const options = { ...((cmd[OPTION_FIELDS[cmd.provider]] ?? {}) as Record<string, unknown>) };
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

export const isEmail = (value: string): boolean => value.length <= 254 && EMAIL.test(value);

function text(value: string | null | undefined, field: string, max: number, errors: InputErrors): string | null {
  if (value === null || value === undefined) return null;
  const trimmed = value.trim();
  if (trimmed.length > max) errors.add(field, `must be at most ${max} characters`);
  return trimmed === '' ? null : trimmed;
}

function money(value: MoneyInputValue | null | undefined, field: string, errors: InputErrors): Money | null {
  if (!value) return null;
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

function isTimeZone(zone: string): boolean {
  try {
    new Intl.DateTimeFormat('en', { timeZone: zone });
    return true;
  } catch {
    return false;
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
