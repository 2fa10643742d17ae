import { badInput } from '../core/errors.js';

const VERSION = 'c1';

/**
 * Opaque cursors: a version prefix and a base64url JSON position. Clients must treat them as
 * opaque; anything that does not decode to the expected shape is a BAD_USER_INPUT.
 */
export function encodeCursor(position: Record<string, unknown>): string {
  return `${VERSION}.${Buffer.from(JSON.stringify(position), 'utf8').toString('base64url')}`;
}

export function decodeCursor<T>(cursor: string, field: string, isValid: (value: unknown) => value is T): T {
  const [version, payload, ...rest] = cursor.split('.');
  if (version !== VERSION || !payload || rest.length > 0) throw badInput(field, 'is not a cursor this server issued');
  let value: unknown;
  try {
    value = JSON.parse(Buffer.from(payload, 'base64url').toString('utf8'));
  } catch {
    throw badInput(field, 'is not a cursor this server issued');
  }
  if (!isValid(value)) throw badInput(field, 'is not a cursor for this list');
  return value;
}

/** The cursor of a position in the event log, as subscription events carry it. */
export const eventCursor = (seq: number): string => encodeCursor({ e: seq });
