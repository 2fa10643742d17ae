import { type ASTNode, type ASTVisitor, GraphQLError, GraphQLScalarType, Kind, type ValidationRule, type ValueNode } from 'graphql';
import { GraphQLEmailAddress, GraphQLTimeZone, GraphQLURL } from 'graphql-scalars';
import { isEmailAddress } from '../core/email.js';
import { isKnownCurrency } from '../core/money.js';
import { isTimeZone } from '../core/zoned-time.js';
import { currencyProblem, emailProblem, timeZoneProblem } from '../orders/validate.js';

/**
 * The typed scalars of the schema: EmailAddress, TimeZone and URL under graphql-scalars' names and
 * descriptions (so a subgraph that takes them from graphql-scalars declares the same types), and a
 * CurrencyCode of our own (graphql-scalars' Currency also takes fund, metal and testing codes such
 * as XAU or XXX, which no gift is priced in and whose minor units money arithmetic cannot know,
 * and passes `usd` on as typed).
 *
 * Input: each scalar checks a value with the same rule, and the same words, as the service's own
 * validation (orders/validate.ts), so a client reads one message whichever refuses it. A refusal is
 * a ScalarInputError: its message is the reason alone, never the value, and the server turns it
 * into a BAD_USER_INPUT naming the input path (`input.recipients[0].email: is not a valid email
 * address`), for variables and literals alike. An empty string is the same as leaving a field out,
 * as for every text input (README, Limits), except for a currency code, which is always required.
 *
 * Output: values from the ledger and providers are fitted to their scalar by the views (`fit`): a
 * value that does not fit is served as null and reported (onUnfitValue), never an error that would
 * break a whole answer.
 */

/** A value a client gave that a scalar refuses, with why, in words that never repeat the value. */
export class ScalarInputError extends GraphQLError {
  /** The input path of a literal (`input.recipients[0].email`), set while the document is validated. */
  field: string | undefined;

  constructor(
    readonly scalar: string,
    readonly reason: string,
    node?: ValueNode,
  ) {
    super(reason, { nodes: node, extensions: { code: 'BAD_USER_INPUT' } });
    if (node) literalErrors.set(node, this);
  }
}

/** Refusals of literals by the node refused, until namesRefusedLiterals gives them their path. */
const literalErrors = new WeakMap<ASTNode, ScalarInputError>();

interface InputRule {
  name: string;
  /** What is wrong with a non-empty string, or null. */
  problem: (value: string) => string | null;
  /** The value as resolvers get it. */
  parse?: (value: string) => string;
  /** Whether an empty string passes (as an absent value, for the service to read so). */
  emptyIsAbsent: boolean;
}

function parser({ name, problem, parse = (value) => value, emptyIsAbsent }: InputRule) {
  const read = (value: unknown, node?: ValueNode): string => {
    if (typeof value !== 'string') throw new ScalarInputError(name, 'must be a string', node);
    if (value === '' && emptyIsAbsent) return value;
    const found = problem(value);
    if (found) throw new ScalarInputError(name, found, node);
    return parse(value);
  };
  return {
    parseValue: (value: unknown) => read(value),
    parseLiteral: (node: ValueNode) => read(node.kind === Kind.STRING ? node.value : undefined, node),
  };
}

/**
 * Thrown where a view let through a value that does not fit: a fault of ours, so not a GraphQLError.
 * The server logs it and answers INTERNAL_SERVER_ERROR for that field; neither says the value.
 */
const cannotRepresent = (name: string, what: string) => new Error(`${name} cannot represent a value that is not ${what}`);

export const EmailAddressScalar = new GraphQLScalarType<string, string>({
  name: GraphQLEmailAddress.name,
  description: GraphQLEmailAddress.description,
  specifiedByURL: GraphQLEmailAddress.specifiedByURL,
  extensions: GraphQLEmailAddress.extensions,
  serialize(value) {
    if (typeof value === 'string' && isEmailAddress(value)) return value;
    throw cannotRepresent('EmailAddress', 'an email address');
  },
  ...parser({ name: 'EmailAddress', problem: emailProblem, emptyIsAbsent: true }),
});

export const TimeZoneScalar = new GraphQLScalarType<string, string>({
  name: GraphQLTimeZone.name,
  description: GraphQLTimeZone.description,
  extensions: GraphQLTimeZone.extensions,
  serialize(value) {
    if (typeof value === 'string' && isTimeZone(value)) return value;
    throw cannotRepresent('TimeZone', 'an IANA time zone');
  },
  ...parser({ name: 'TimeZone', problem: timeZoneProblem, emptyIsAbsent: true }),
});

export const CurrencyCodeScalar = new GraphQLScalarType<string, string>({
  name: 'CurrencyCode',
  description:
    'An ISO 4217 code of a currency in circulation, in upper case (USD, EUR, JPY); given in any letter case. Fund, precious-metal and testing codes (XAU, XTS, XXX) are not currencies gifts are priced in.',
  specifiedByURL: 'https://www.iso.org/iso-4217-currency-codes.html',
  extensions: { codegenScalarType: 'string', jsonSchema: { type: 'string', pattern: '^[A-Za-z]{3}$' } },
  serialize(value) {
    if (typeof value === 'string' && isKnownCurrency(value.toUpperCase())) return value.toUpperCase();
    throw cannotRepresent('CurrencyCode', 'an ISO 4217 currency code');
  },
  ...parser({ name: 'CurrencyCode', problem: (value) => currencyProblem(value), parse: (value) => value.toUpperCase(), emptyIsAbsent: false }),
});

/** An absolute http(s) URL in its serialized form, or undefined: a link a recipient can open, never `javascript:` or a relative path. */
function httpUrl(value: string): string | undefined {
  if (!URL.canParse(value)) return undefined;
  const url = new URL(value);
  return url.protocol === 'https:' || url.protocol === 'http:' ? url.href : undefined;
}

const urlProblem = (value: string): string | null => (value.length <= MAX_URL_LENGTH && httpUrl(value) ? null : 'is not an absolute http or https URL');
const MAX_URL_LENGTH = 2048;

/** graphql-scalars' URL gives resolvers a URL object; this one a string, and answers with a string (the URL's serialized form). */
export const URLScalar = new GraphQLScalarType<string, string>({
  name: GraphQLURL.name,
  description: GraphQLURL.description,
  extensions: { ...GraphQLURL.extensions, codegenScalarType: 'string' },
  serialize(value) {
    const url = value instanceof URL ? value.href : typeof value === 'string' ? httpUrl(value) : undefined;
    if (url) return url;
    throw cannotRepresent('URL', 'an absolute http or https URL');
  },
  ...parser({ name: 'URL', problem: urlProblem, parse: (value) => httpUrl(value)!, emptyIsAbsent: false }),
});

/**
 * A validation rule that gives each literal a scalar refused its input path, as a variable's
 * refusal has: `sendGifts(input: { recipients: [{ email: "x" }] })` names
 * `input.recipients[0].email`. It must run after graphql's own rules (ValuesOfCorrectTypeRule
 * parses the literals): Apollo Server appends its validation rules to those.
 */
export const namesRefusedLiterals: ValidationRule = (): ASTVisitor => {
  const name = (node: ASTNode, _key: unknown, parent: unknown, _path: unknown, ancestors: readonly unknown[]) => {
    const refused = literalErrors.get(node);
    if (refused) refused.field = literalPath([...ancestors, parent], node);
  };
  return { StringValue: name, IntValue: name, FloatValue: name, BooleanValue: name, EnumValue: name, ListValue: name, ObjectValue: name };
};

function literalPath(chain: readonly unknown[], node: ASTNode): string | undefined {
  let path = '';
  chain.forEach((item, i) => {
    if (Array.isArray(item)) {
      const owner = chain[i - 1] as ASTNode | undefined;
      if (owner?.kind === Kind.LIST) path += `[${item.indexOf(chain[i + 1] ?? node)}]`;
      return;
    }
    const at = item as ASTNode | undefined;
    if (at?.kind === Kind.ARGUMENT) path = at.name.value;
    else if (at?.kind === Kind.VARIABLE_DEFINITION) path = at.variable.name.value;
    else if (at?.kind === Kind.OBJECT_FIELD) path += `.${at.name.value}`;
  });
  return path && !path.startsWith('.') && !path.startsWith('[') ? path : undefined;
}

/**
 * A refusal by a scalar as a problem like every other BAD_USER_INPUT's: its input path and reason.
 * `error` is what graphql reported: the ScalarInputError itself (a literal, on /ws), or an error
 * wrapping it (Apollo's validation error, or graphql's "Variable "$input" got invalid value … at
 * "input.recipients[0].email"; <reason>", whose path only its message holds).
 */
export function scalarProblem(error: unknown): { field: string; message: string } | undefined {
  let refused: unknown = error;
  while (refused instanceof GraphQLError && !(refused instanceof ScalarInputError)) refused = refused.originalError;
  if (!(refused instanceof ScalarInputError)) return undefined;
  const field = refused.field ?? variablePath(error as GraphQLError, refused.reason);
  return field ? { field, message: refused.reason } : undefined;
}

const PATH = /(?:^| at )"([A-Za-z_]\w*(?:\.[A-Za-z_]\w*|\[\d+\])*)"$/;

function variablePath(error: GraphQLError, reason: string): string | undefined {
  const node = error.nodes?.[0];
  if (node?.kind !== Kind.VARIABLE_DEFINITION || !error.message.endsWith(`; ${reason}`)) return undefined;
  const variable = node.variable.name.value;
  // The value graphql quotes before the path is JSON-escaped: a quote in it never ends the match.
  const path = PATH.exec(error.message.slice(0, -reason.length - 2))?.[1];
  if (path && (path === variable || path.startsWith(`${variable}.`) || path.startsWith(`${variable}[`))) return path;
  return error.message.startsWith(`Variable "$${variable}" got invalid value `) ? variable : undefined;
}

/** Where a value that did not fit its scalar was found, for the log. Never the value itself. */
export interface UnfitValue {
  type: string;
  field: string;
  scalar: string;
  provider?: string;
}

type Where = Omit<UnfitValue, 'scalar'>;

const unfitListeners = new Set<(unfit: UnfitValue) => void>();

/** Calls `listener` for each value served as null because it does not fit its scalar; returns the way to stop. */
export function onUnfitValue(listener: (unfit: UnfitValue) => void): () => void {
  unfitListeners.add(listener);
  return () => unfitListeners.delete(listener);
}

function unfit(where: Where, scalar: string): null {
  for (const listener of unfitListeners) listener({ ...where, scalar });
  return null;
}

/**
 * Values from the ledger (as providers gave them) fitted to the scalar of their field: each is
 * served as it is, or in its canonical form (an address trimmed, a currency code in upper case, a
 * URL serialized), or as null and reported when it cannot be (a malformed address or URL, a
 * `javascript:` link, an unknown zone or currency, a date that is no date). Absent stays null.
 */
export const fit = {
  email(value: string | null | undefined, where: Where): string | null {
    if (value === null || value === undefined || value === '') return null;
    const trimmed = value.trim();
    return isEmailAddress(trimmed) ? trimmed : unfit(where, 'EmailAddress');
  },
  url(value: string | null | undefined, where: Where): string | null {
    if (value === null || value === undefined || value === '') return null;
    return httpUrl(value.trim()) ?? unfit(where, 'URL');
  },
  timeZone(value: string | null | undefined, where: Where): string | null {
    if (value === null || value === undefined || value === '') return null;
    return isTimeZone(value) ? value : unfit(where, 'TimeZone');
  },
  currency(value: string | null | undefined, where: Where): string | null {
    if (value === null || value === undefined || value === '') return null;
    const code = value.trim().toUpperCase();
    return isKnownCurrency(code) ? code : unfit(where, 'CurrencyCode');
  },
  dateTime(value: string | null | undefined, where: Where): Date | null {
    if (value === null || value === undefined || value === '') return null;
    const date = new Date(value);
    return Number.isNaN(date.getTime()) ? unfit(where, 'DateTime') : date;
  },
};
