import { badInput } from '../core/errors.js';
import type { CursorScope, TenantCursors } from './cursor.js';
import type { NativeList } from './native.js';

export interface PageInfoShape {
  hasNextPage: boolean;
  hasPreviousPage: boolean;
  startCursor: string | null;
  endCursor: string | null;
}

export interface Edge<T> {
  cursor: string;
  node: T;
}

/** A Relay connection's data; the schema's generic connection types have this shape. */
export interface Connection<T> {
  edges: Edge<T>[];
  pageInfo: PageInfoShape;
}

export const DEFAULT_PAGE_SIZE = 20;
export const MAX_PAGE_SIZE = 100;
/** Provider requests one connection page may make: a page straddling native pages needs two. */
const MAX_NATIVE_READS = 3;

/** `first` as asked, or the default; out of 1..100 is a BAD_USER_INPUT rather than a silent clamp. */
export function pageSize(first: number | null | undefined, field = 'first'): number {
  if (first === null || first === undefined) return DEFAULT_PAGE_SIZE;
  if (!Number.isInteger(first) || first < 1 || first > MAX_PAGE_SIZE) throw badInput(field, `must be from 1 to ${MAX_PAGE_SIZE}`);
  return first;
}

const isIndex = (v: unknown): v is number => Number.isInteger(v) && (v as number) >= 0;

/** A connection over a list already in memory (an order's recipients), each item shown by `view`. */
export function offsetConnection<I, T = I>(
  items: readonly I[],
  args: { first?: number | null; after?: string | null },
  cursors: TenantCursors,
  scope: CursorScope,
  view: (item: I) => T = (item) => item as unknown as T,
): Connection<T> {
  const size = pageSize(args.first);
  const start = args.after ? cursors.decode(scope, args.after, 'after', isIndex) + 1 : 0;
  const page = items.slice(start, start + size);
  const edges = page.map((item, i) => ({ cursor: cursors.encode(scope, start + i), node: view(item) }));
  return {
    edges,
    pageInfo: pageInfo(edges, start + size < items.length, start > 0),
  };
}

/** A page that may end early: `interrupted` is why, when a read after the first failed. */
export interface PartialConnection<T> extends Connection<T> {
  /**
   * The failure of a read after the first: the edges are those read before it, the page says it
   * has a next one, and its `endCursor` resumes right after the last edge. Undefined when whole.
   */
  interrupted?: unknown;
}

/**
 * A connection over a provider's own list, read page by page as the provider pages it. Each edge's
 * cursor is the provider's position right after that item, so no item is skipped or repeated.
 * A failure before any edge is thrown; a later one ends the page where it was (`interrupted`).
 */
export async function nativeConnection<I, P, T>(
  list: NativeList<I, P>,
  isPosition: (value: unknown) => value is P,
  args: { first?: number | null; after?: string | null },
  cursors: TenantCursors,
  scope: CursorScope,
  view: (item: I) => T,
): Promise<PartialConnection<T>> {
  const size = pageSize(args.first);
  let position = args.after ? cursors.decode(scope, args.after, 'after', isPosition) : undefined;
  const edges: Connection<T>['edges'] = [];
  let more = true;
  for (let reads = 0; edges.length < size && more && reads < MAX_NATIVE_READS; reads++) {
    const room = size - edges.length;
    let read: Awaited<ReturnType<typeof list.read>>;
    try {
      read = await list.read(position, room);
    } catch (error) {
      // Nothing to show, or no cursor to resume from: the page fails whole.
      if (edges.length === 0) throw error;
      // A read is made only while the list goes on: the edges so far are a page, and more follows them.
      return { edges, pageInfo: pageInfo(edges, true, Boolean(args.after)), interrupted: error };
    }
    for (const entry of read.entries.slice(0, room)) {
      edges.push({ cursor: cursors.encode(scope, entry.after), node: view(entry.item) });
      position = entry.after;
    }
    if (read.entries.length > room) break;
    position = read.end;
    more = read.more;
  }
  return { edges, pageInfo: pageInfo(edges, more, Boolean(args.after)) };
}

export function pageInfo(edges: readonly { cursor: string }[], hasNextPage: boolean, hasPreviousPage: boolean): Connection<never>['pageInfo'] {
  return {
    hasNextPage,
    hasPreviousPage,
    startCursor: edges[0]?.cursor ?? null,
    endCursor: edges.at(-1)?.cursor ?? null,
  };
}
