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

/**
 * A place in a numbered list: the offset of the next item, the key of the item before it (found
 * again wherever it moved), and the list's length when it was read, where the provider gives one.
 */
export interface OffsetPosition {
  o: number;
  n?: number;
  k?: string;
}

export const isOffsetPosition = (v: unknown): v is OffsetPosition => {
  if (typeof v !== 'object' || v === null) return false;
  const { o, n, k } = v as OffsetPosition;
  return Number.isInteger(o) && o >= 0 && (n === undefined || (Number.isInteger(n) && n >= 0)) && (k === undefined || typeof k === 'string');
};

/** One numbered page as the provider returns it: 1-based `page`, and the list's total length where it says. */
export type FetchNumberedPage<T> = (page: number, size: number) => Promise<{ items: T[]; total?: number }>;

/**
 * A newest-first list read by page number. Page numbers shift when orders arrive at the head, so a
 * read starts at the last item taken and finds it again by key: what follows it is next, however far
 * it moved within the page read. Where it moved further, the grown total says by how much (one more
 * read): providers add new orders at the head and do not delete them. A list in another order (a
 * catalog) is not `newestFirst`: there a grown total says nothing of where, and the read goes on
 * from the same offset, as it does without a total.
 */
export function numberedList<T>(
  fetch: FetchNumberedPage<T>,
  maxPageSize: number,
  keyOf: (item: T) => string,
  { newestFirst = true }: { newestFirst?: boolean } = {},
): NativeList<T, OffsetPosition> {
  /** `anchored`: `offset` is the last item taken; read it too if one page holds it and what follows, else from the next. */
  const readAt = async (offset: number, want: number, anchored = false) => {
    let plan = pageCovering(offset, Math.max(1, want + (anchored ? 1 : 0)), maxPageSize);
    if (anchored && !plan.fits) plan = pageCovering(offset + 1, Math.max(1, want), maxPageSize);
    const { page, size } = plan;
    const { items, total } = await fetch(page, size);
    return { items, total, size, firstIndex: (page - 1) * size };
  };
  return {
    async read(position, want) {
      let page = position && position.o > 0 ? await readAt(position.o - 1, want, true) : await readAt(position?.o ?? 0, want);
      let start = position?.o ?? 0;
      const anchor = position?.k === undefined ? -1 : page.items.findIndex((item) => keyOf(item) === position.k);
      if (anchor >= 0) {
        start = page.firstIndex + anchor + 1;
      } else if (newestFirst && position?.n !== undefined && page.total !== undefined && page.total > position.n) {
        start = position.o + (page.total - position.n);
        // So many arrived that the next item is past this page: one more read, where it now is.
        if (start >= page.firstIndex + page.items.length && start < page.total) page = await readAt(start, want);
      }
      const entries = page.items
        .map((item, i) => ({ item, index: page.firstIndex + i }))
        .filter((e) => e.index >= start)
        .map(({ item, index }) => ({ item, after: { o: index + 1, n: page.total, k: keyOf(item) } }));
      const last = page.items.at(-1);
      const lastIndex = page.firstIndex + page.items.length;
      const end: OffsetPosition = last !== undefined && lastIndex > start ? { o: lastIndex, n: page.total, k: keyOf(last) } : { o: start, n: page.total, k: position?.k };
      const more = page.items.length > 0 && (page.total !== undefined ? end.o < page.total : page.items.length === page.size);
      return { entries, end, more };
    },
  };
}

/**
 * The page size and number that reach from `offset` across `want` items in one request: the
 * largest size the provider allows if the window fits in one of its pages, else the largest that
 * fits, else the largest (the read then returns fewer, and the next read goes on from there).
 */
export function pageCovering(offset: number, want: number, maxPageSize: number): { page: number; size: number; fits: boolean } {
  const wanted = Math.min(want, maxPageSize);
  for (let size = maxPageSize; size >= wanted; size--) {
    if ((offset % size) + wanted <= size) return { page: Math.floor(offset / size) + 1, size, fits: true };
  }
  return { page: Math.floor(offset / maxPageSize) + 1, size: maxPageSize, fits: false };
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

/** The same list with each item mapped (a provider's records as our model's). */
export function mapList<T, U, P>(list: NativeList<T, P>, map: (item: T) => U): NativeList<U, P> {
  return {
    async read(position, want) {
      const read = await list.read(position, want);
      return { ...read, entries: read.entries.map((e) => ({ item: map(e.item), after: e.after })) };
    },
  };
}

/**
 * Every item of a list, read to its end (a catalog kept whole). Stops where a read ends somewhere it
 * ended before, and after `maxReads`, so a provider whose cursor stands still or goes round cannot
 * make it loop. Items may repeat where the list changed meanwhile: key them.
 */
export async function drain<T, P>(list: NativeList<T, P>, pageSize: number, maxReads = 1_000): Promise<T[]> {
  const items: T[] = [];
  const visited = new Set<string>();
  let position: P | undefined;
  for (let reads = 0; reads < maxReads; reads++) {
    const read = await list.read(position, pageSize);
    items.push(...read.entries.map((e) => e.item));
    const end = JSON.stringify(read.end);
    if (!read.more || read.entries.length === 0 || visited.has(end)) return items;
    visited.add(end);
    position = read.end;
  }
  return items;
}

/** A native list with the check its cursors' positions need, for a Relay connection over it. */
export interface PagedList<T, P = unknown> {
  list: NativeList<T, P>;
  isPosition: (value: unknown) => value is P;
}
