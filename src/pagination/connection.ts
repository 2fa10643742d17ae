import { badInput } from '../core/errors.js';
import type { Connection } from '../schema/connection.js';
import { decodeCursor, encodeCursor } from './cursor.js';

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;

/** `first` as asked, or the default; out of 1..100 is a BAD_USER_INPUT rather than a silent clamp. */
export function pageSize(first: number | null | undefined, field = 'first'): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) throw badInput(field, `must be from 1 to ${MAX_PAGE_SIZE}`);
  return first;
}

interface OffsetPosition {
  o: number;
}

const isOffset = (v: unknown): v is OffsetPosition =>
  typeof v === 'object' && v !== null && Number.isInteger((v as OffsetPosition).o) && (v as OffsetPosition).o >= 0;

/** A connection over a list already in memory (an order's recipients, a small catalog). */
export function offsetConnection<T>(items: readonly T[], first: number | null | undefined, after: string | null | undefined): Connection<T> {
  const size = pageSize(first);
  const start = after ? decodeCursor(after, 'after', isOffset).o + 1 : 0;
  const page = items.slice(start, start + size);
  const edges = page.map((node, i) => ({ cursor: encodeCursor({ o: start + i }), node }));
  return {
    edges,
    pageInfo: {
      hasNextPage: start + size < items.length,
      hasPreviousPage: start > 0,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}

interface KeysetPosition {
  t: string;
  id: string;
}

const isKeyset = (v: unknown): v is KeysetPosition =>
  typeof v === 'object' && v !== null && typeof (v as KeysetPosition).t === 'string' && typeof (v as KeysetPosition).id === 'string';

export const decodeKeyset = (after: string): { createdAt: string; id: string } => {
  const { t, id } = decodeCursor(after, 'after', isKeyset);
  return { createdAt: t, id };
};

/**
 * A connection over a newest-first list read with one extra row, so `hasNextPage` is exact.
 * The cursor is the (createdAt, id) position, so rows added between pages never shift it.
 */
export function keysetConnection<R extends { createdAt: string; id: string }, T>(
  rows: readonly R[],
  size: number,
  hadCursor: boolean,
  view: (row: R) => T,
): Connection<T> {
  const page = rows.slice(0, size);
  const edges = page.map((row) => ({ cursor: encodeCursor({ t: row.createdAt, id: row.id }), node: view(row) }));
  return {
    edges,
    pageInfo: {
      hasNextPage: rows.length > size,
      hasPreviousPage: hadCursor,
      startCursor: edges[0]?.cursor ?? null,
      endCursor: edges.at(-1)?.cursor ?? null,
    },
  };
}
