import { GraphQLError } from 'graphql';
import type { Provider } from './model.js';

/** The error codes clients can branch on (design.md, "Errors carry extensions.code"). */
export type ErrorCode =
  | 'BAD_USER_INPUT'
  | 'UNAUTHENTICATED'
  | 'FORBIDDEN'
  | 'NOT_FOUND'
  | 'UNSUPPORTED_BY_PROVIDER'
  | 'PROVIDER_UNAVAILABLE'
  | 'PROVIDER_REJECTED'
  | 'IDEMPOTENCY_CONFLICT'
  /** A send would take its tenant over a spending limit; nothing was recorded or sent. */
  | 'SPENDING_LIMIT_EXCEEDED'
  /** A subscriber fell too far behind and was cut off; resume with `extensions.resumeAfter`. */
  | 'SUBSCRIPTION_LAGGED';

export interface GiftgraphErrorDetails {
  /** Input path of the offending value, e.g. `input.recipients[2].email`. */
  field?: string;
  provider?: Provider;
  /** The provider's own error code, e.g. `insufficient_balance`. Never its raw message body. */
  providerCode?: string;
  /** Whether repeating the same request (same idempotency key) is safe and may succeed. */
  retryable?: boolean;
  /** Not before this time (ISO 8601): the provider asked us to wait (Retry-After), or its calls are paused. */
  retryAfter?: string;
  /** The order the error concerns, when one was recorded. */
  orderId?: string;
}

/**
 * The one error type that leaves giftgraph. Its message is written for the client and
 * must never carry a token, secret, recipient email or stack trace.
 */
export class GiftgraphError extends GraphQLError {
  readonly code: ErrorCode;
  readonly details: GiftgraphErrorDetails;

  /** `path`: where in the response the error belongs, for errors reported beside data rather than thrown. */
  constructor(code: ErrorCode, message: string, details: GiftgraphErrorDetails = {}, { path }: { path?: readonly (string | number)[] } = {}) {
    const extensions: Record<string, unknown> = { code };
    if (details.field !== undefined) extensions.field = details.field;
    if (details.provider !== undefined) extensions.provider = details.provider;
    if (details.providerCode !== undefined) extensions.providerCode = details.providerCode;
    if (details.retryable !== undefined) extensions.retryable = details.retryable;
    if (details.retryAfter !== undefined) extensions.retryAfter = details.retryAfter;
    if (details.orderId !== undefined) extensions.orderId = details.orderId;
    super(message, { extensions, path });
    this.name = 'GiftgraphError';
    this.code = code;
    this.details = details;
  }
}

export const badInput = (field: string, message: string): GiftgraphError => new GiftgraphError('BAD_USER_INPUT', `${field}: ${message}`, { field, retryable: false });

export const notFound = (what: string): GiftgraphError => new GiftgraphError('NOT_FOUND', `${what} not found`, { retryable: false });

export const unauthenticated = (message = 'A valid bearer token is required'): GiftgraphError => new GiftgraphError('UNAUTHENTICATED', message, { retryable: false });

export const forbidden = (scope: string): GiftgraphError => new GiftgraphError('FORBIDDEN', `This operation needs the scope ${scope}`, { retryable: false });

/** Several invalid fields reported at once, so a form can show them all. */
export class InputErrors {
  private readonly problems: { field: string; message: string }[] = [];

  /** Adds a problem unless one is already known for this field, or for a field inside or around it. */
  add(field: string, message: string): void {
    const overlaps = (known: string) => known === field || known.startsWith(`${field}.`) || field.startsWith(`${known}.`);
    if (this.problems.some((p) => overlaps(p.field))) return;
    this.problems.push({ field, message });
  }

  get size(): number {
    return this.problems.length;
  }

  /** Throws the first problem as a BAD_USER_INPUT carrying every problem in `extensions.problems`. */
  throwIfAny(): void {
    const first = this.problems[0];
    if (!first) return;
    const error = badInput(first.field, first.message);
    (error.extensions as Record<string, unknown>).problems = this.problems;
    throw error;
  }
}
