import { GiftgraphError } from './errors.js';
import type { Provider } from './model.js';

/**
 * What kept a request from doing all it asked, as its answer says it: an outcome of the request
 * (bad input, an unknown order, a provider's refusal, an unknown outcome), never a failure of
 * ours. The names are those of the error codes, plus OUTCOME_UNKNOWN for a send whose outcome
 * giftgraph could not learn.
 */
export const PROBLEM_CODES = [
  'BAD_USER_INPUT',
  'NOT_FOUND',
  'UNSUPPORTED_BY_PROVIDER',
  'IDEMPOTENCY_CONFLICT',
  'SPENDING_LIMIT_EXCEEDED',
  'PROVIDER_REJECTED',
  'PROVIDER_UNAVAILABLE',
  'OUTCOME_UNKNOWN',
] as const;
export type ProblemCode = (typeof PROBLEM_CODES)[number];

/**
 * One problem of a mutation, returned as data beside what the request recorded (the schema's
 * `Problem`). Its message is written for the client, like an error's: never a token, secret,
 * recipient email or stack trace.
 */
export interface Problem {
  code: ProblemCode;
  message: string;
  /** Input path of the offending value, e.g. `input.recipients[2].email`. */
  field?: string;
  provider?: Provider;
  /** The provider's own code, e.g. `insufficient_balance`. */
  providerCode?: string;
  /** Whether repeating the same request (same idempotency key) is safe and may succeed. */
  retryable?: boolean;
  /** Not before this time (ISO 8601): the provider asked us to wait, or its calls are paused. */
  retryAfter?: string;
  /** A same-key retry is safe only until this time (ISO 8601): the provider forgets the key after it. */
  retryBefore?: string;
}

const CODES: ReadonlySet<string> = new Set(PROBLEM_CODES);

/**
 * A refusal as the problems a payload reports: each problem a BAD_USER_INPUT lists, each naming its
 * field, or the one the error is. Undefined for an error that is no outcome of the request
 * (authentication, scopes, limits, a failure of ours): that one stays a top-level error.
 */
export function problemsOf(error: unknown): Problem[] | undefined {
  if (!(error instanceof GiftgraphError) || !CODES.has(error.code)) return undefined;
  const { field, provider, providerCode, retryable, retryAfter } = error.details;
  const common = {
    code: error.code as ProblemCode,
    ...(provider !== undefined ? { provider } : {}),
    ...(providerCode !== undefined ? { providerCode } : {}),
    ...(retryable !== undefined ? { retryable } : {}),
    ...(retryAfter !== undefined ? { retryAfter } : {}),
  };
  const listed = error.extensions.problems as readonly { field: string; message: string }[] | undefined;
  if (listed?.length) return listed.map((p) => ({ ...common, field: p.field, message: p.message }));
  if (field === undefined) return [{ ...common, message: error.message }];
  // The error's message starts with its field (`input.x: is ...`); the problem names it apart.
  const message = error.message.startsWith(`${field}: `) ? error.message.slice(field.length + 2) : error.message;
  return [{ ...common, field, message }];
}
