import type { NativeRead } from './native.js';

/** One newest-first source of a merged list: the ledger, or a provider's own list. */
export interface MergeSource<T> {
  /** Names the source in cursors and in errors. */
  readonly name: string;
  /** Reads from a position this source issued (undefined: its head). */
  read(position: unknown, want: number): Promise<SourceRead<T>>;
}

export interface SourceRead<T> extends NativeRead<T, unknown> {
  /**
   * The time of the last item this read went through, returned or filtered out: nothing the source
   * has not read yet is newer. Undefined when unknown.
   */
  frontier?: string;
}

/** Where each source stands: the state a merged cursor carries. */
export type MergePositions = Record<string, unknown>;

export interface MergedPage<T> {
  edges: { node: T; positions: MergePositions }[];
  /** Where every source stands after this page (past items that were read and filtered out, too). */
  end: MergePositions;
  hasNextPage: boolean;
  /** Sources that could not be read: left where they stood, so a next page asks them again. */
  failures: { source: string; error: unknown }[];
}

/**
 * One page of a k-way merge: each source is read once, in parallel, and the newest head is taken
 * until the page is full. A source that ran dry but has more holds back only what is not newer
 * than its frontier (its next item may be as new as that), so the page may end short, but no item is
 * ever skipped or repeated. Each edge carries every source's position after it, so a page can end
 * on any edge.
 */
export async function mergePage<I>(
  sources: readonly MergeSource<I>[],
  from: MergePositions,
  want: number,
  /** Newest first by time (ISO-8601, UTC), then by a tiebreak unique across sources. */
  key: (item: I) => readonly [time: string, tiebreak: string],
): Promise<MergedPage<I>> {
  const reads = await Promise.allSettled(sources.map((s) => s.read(from[s.name], want)));
  const failures: MergedPage<I>['failures'] = [];
  const live: { name: string; read: SourceRead<I>; next: number }[] = [];
  reads.forEach((result, i) => {
    const name = sources[i]!.name;
    if (result.status === 'fulfilled') live.push({ name, read: result.value, next: 0 });
    else failures.push({ source: name, error: result.reason });
  });

  const positions: MergePositions = { ...from };
  // A source that returned nothing (everything it read was filtered out) still moved on.
  for (const source of live) if (source.read.entries.length === 0) positions[source.name] = source.read.end;
  const edges: MergedPage<I>['edges'] = [];
  const newer = (a: readonly [string, string], b: readonly [string, string]) => (a[0] !== b[0] ? a[0] > b[0] : a[1] > b[1]);
  while (edges.length < want) {
    let best: (typeof live)[number] | undefined;
    for (const source of live) {
      const head = source.read.entries[source.next];
      if (head && (!best || newer(key(head.item), key(best.read.entries[best.next]!.item)))) best = source;
    }
    if (!best) break;
    const time = key(best.read.entries[best.next]!.item)[0];
    const heldBack = live.some((s) => s.next >= s.read.entries.length && s.read.more && (s.read.frontier === undefined || !(time > s.read.frontier)));
    if (heldBack) break;
    const entry = best.read.entries[best.next++]!;
    positions[best.name] = best.next === best.read.entries.length ? best.read.end : entry.after;
    edges.push({ node: entry.item, positions: { ...positions } });
  }
  const end = { ...positions };
  for (const source of live) if (source.next >= source.read.entries.length) end[source.name] = source.read.end;
  // A failed source is not counted: a client paging to the end must not loop on a provider that is
  // down. Its position stays put, so a later page (or the same one again) asks it again.
  const hasNextPage = live.some((s) => s.next < s.read.entries.length || s.read.more);
  return { edges, end, hasNextPage, failures };
}
