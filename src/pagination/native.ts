/**
 * A provider's own list behind one interface, whatever its paging: numbered pages with a total
 * (Guusto page/size, Giftronaut page/pageSize, Goody page/per_page with `list_meta`) or a chain of
 * provider cursors (&Open `after`/`has_more`, JSON:API `links.next`). A read is one provider request
 * and says where the list stands after each item, so any native list can back a Relay connection.
 */
export interface NativeList<T, P> {
  /** Items from `position` on (the head when undefined), about `want` of them, in one request. */
  read(position: P | undefined, want: number): Promise<NativeRead<T, P>>;
}

export interface NativeRead<T, P> {
  entries: { item: T; after: P }[];
  /** Where the list stands after everything this read returned. */
  end: P;
  /** The list goes on after `end`. */
  more: boolean;
}

/** A place in a numbered list: the offset of the next item, and the list's length when it was read. */
export interface OffsetPosition {
  o: number;
  n: number;
}

export const isOffsetPosition = (v: unknown): v is OffsetPosition =>
  typeof v === 'object' &&
  v !== null &&
  Number.isInteger((v as OffsetPosition).o) &&
  Number.isInteger((v as OffsetPosition).n) &&
  (v as OffsetPosition).o >= 0 &&
  (v as OffsetPosition).n >= 0;

/** One numbered page as the provider returns it: 1-based `page`, and the list's total length. */
export type FetchNumberedPage<T> = (page: number, size: number) => Promise<{ items: T[]; total: number }>;

/**
 * A newest-first list read by page number. Page numbers shift when orders arrive at the head, so a
 * position keeps the list's length from when it was issued: the items added since are counted and
 * stepped over, and nothing is repeated or skipped. (Providers append new orders at the head and do
 * not delete orders, so a grown total means that many new items in front.)
 */
export function numberedList<T>(fetch: FetchNumberedPage<T>, maxPageSize: number): NativeList<T, OffsetPosition> {
  const readAt = async (offset: number, want: number) => {
    const { page, size } = pageCovering(offset, Math.max(1, want), maxPageSize);
    const { items, total } = await fetch(page, size);
    return { items, total, firstIndex: (page - 1) * size };
  };
  // Items that arrived at the head since the position was issued push the next one back by as many.
  const startOf = (position: OffsetPosition | undefined, total: number) => (position ? position.o + Math.max(0, total - position.n) : 0);
  return {
    async read(position, want) {
      let page = await readAt(position?.o ?? 0, want);
      let start = startOf(position, page.total);
      if (start >= page.firstIndex + page.items.length && start < page.total && page.items.length > 0) {
        // So many arrived that the next item is past this page: one more read, where it now is.
        page = await readAt(start, want);
        start = startOf(position, page.total);
      }
      const entries = page.items
        .map((item, i) => ({ item, index: page.firstIndex + i }))
        .filter((e) => e.index >= start)
        .map(({ item, index }) => ({ item, after: { o: index + 1, n: page.total } }));
      const endOffset = Math.max(start, page.firstIndex + page.items.length);
      return { entries, end: { o: endOffset, n: page.total }, more: page.items.length > 0 && endOffset < page.total };
    },
  };
}

/**
 * The page size and number that reach from `offset` across `want` items in one request: the
 * largest size the provider allows if the window fits in one of its pages, else the largest that
 * fits, else the largest (the read then returns fewer, and the next read goes on from there).
 */
export function pageCovering(offset: number, want: number, maxPageSize: number): { page: number; size: number } {
  const wanted = Math.min(want, maxPageSize);
  for (let size = maxPageSize; size >= wanted; size--) {
    if ((offset % size) + wanted <= size) return { page: Math.floor(offset / size) + 1, size };
  }
  return { page: Math.floor(offset / maxPageSize) + 1, size: maxPageSize };
}

/** A place in a chained list: the provider's cursor of a page (null: the first page) and how many of its items were read. */
export interface ChainPosition {
  c: string | null;
  s: number;
}

export const isChainPosition = (v: unknown): v is ChainPosition =>
  typeof v === 'object' &&
  v !== null &&
  ((v as ChainPosition).c === null || typeof (v as ChainPosition).c === 'string') &&
  Number.isInteger((v as ChainPosition).s) &&
  (v as ChainPosition).s >= 0;

/**
 * A list read by the provider's own cursor. `fetch` returns a page and the cursor of the next one.
 * A position inside a page is the page's cursor and a count to step over; where the provider can
 * resume right after any item (&Open's `after=<id>`), `cursorAfter` gives that cursor instead.
 */
export function chainedList<T>(
  fetch: (cursor: string | null, want: number) => Promise<{ items: T[]; next: string | null }>,
  cursorAfter?: (item: T) => string,
): NativeList<T, ChainPosition> {
  return {
    async read(position, want) {
      const at = position ?? { c: null, s: 0 };
      const { items, next } = await fetch(at.c, want + at.s);
      const end: ChainPosition = next === null ? { c: at.c, s: items.length } : { c: next, s: 0 };
      const entries = items.slice(at.s).map((item, i) => {
        const read = at.s + i + 1;
        const after: ChainPosition = read === items.length ? end : cursorAfter ? { c: cursorAfter(item), s: 0 } : { c: at.c, s: read };
        return { item, after };
      });
      return { entries, end, more: next !== null };
    },
  };
}
