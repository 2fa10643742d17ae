import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { decodeId, encodeId } from '../../src/core/global-id.js';
import { nativeConnection, offsetConnection, pageSize } from '../../src/pagination/connection.js';
import { CursorCodec } from '../../src/pagination/cursor.js';
import { chainedList, isChainPosition, isOffsetPosition, numberedList, pageCovering } from '../../src/pagination/native.js';

describe('global ids', () => {
  it('round-trip and carry the provider', () => {
    const id = encodeId('Order', 'GUUSTO', 'abc-123');
    expect(decodeId(id, 'Order')).toEqual({ type: 'Order', provider: 'GUUSTO', local: 'abc-123' });
  });

  it('refuse another type, an unknown provider and garbage', () => {
    expect(decodeId(encodeId('Recipient', 'GUUSTO', 'x'), 'Order')).toBeUndefined();
    expect(decodeId(Buffer.from('Order:ACME:x').toString('base64url'), 'Order')).toBeUndefined();
    expect(decodeId('!!!', 'Order')).toBeUndefined();
    expect(decodeId('', 'Order')).toBeUndefined();
  });
});

const codec = new CursorCodec(randomBytes(32));
const acme = codec.forTenant('acme');
const isAny = (v: unknown): v is unknown => v !== undefined;

describe('the cursor codec', () => {
  const scope = { list: 'orders', filter: { providers: ['GOODY'] } };

  it('round-trips a position for the same tenant, list and filter', () => {
    const cursor = acme.encode(scope, { o: 7, n: 30 });
    expect(cursor).toMatch(/^c2\.[\w-]+\.[\w-]+$/);
    expect(acme.decode(scope, cursor, 'after', isOffsetPosition)).toEqual({ o: 7, n: 30 });
    // Filters are compared in canonical form: key order and absent values do not matter.
    expect(acme.decode({ list: 'orders', filter: { statuses: undefined, providers: ['GOODY'] } }, cursor, 'after', isOffsetPosition)).toEqual({ o: 7, n: 30 });
  });

  it('refuses another filter, another list, another tenant and another key', () => {
    const cursor = acme.encode(scope, { o: 7, n: 30 });
    expect(() => acme.decode({ list: 'orders', filter: { providers: ['GUUSTO'] } }, cursor, 'after', isAny)).toThrow(/after: was issued with other filter arguments/);
    expect(() => acme.decode({ list: 'catalog:GOODY', filter: scope.filter }, cursor, 'after', isAny)).toThrow(/after: is a cursor of another list/);
    expect(() => codec.forTenant('globex').decode(scope, cursor, 'after', isAny)).toThrow(/after: is not a cursor this server issued/);
    expect(() => new CursorCodec(randomBytes(32)).forTenant('acme').decode(scope, cursor, 'after', isAny)).toThrow(/not a cursor this server issued/);
  });

  it('refuses a tampered position, an unknown version and garbage, as BAD_USER_INPUT', () => {
    const [version, payload, mac] = acme.encode(scope, { o: 7, n: 30 }).split('.');
    const forged = Buffer.from(Buffer.from(payload!, 'base64url').toString().replace('"o":7', '"o":70')).toString('base64url');
    for (const bad of [`${version}.${forged}.${mac}`, `c1.${payload}`, `c9.${payload}.${mac}`, 'garbage', '']) {
      expect(() => acme.decode(scope, bad, 'after', isAny)).toThrow(expect.objectContaining({ extensions: expect.objectContaining({ code: 'BAD_USER_INPUT', field: 'after' }) }));
    }
    expect(() => acme.decode(scope, `c1.${payload}.${mac}`, 'after', isAny)).toThrow(/older version/);
  });

  it('checks the shape of what it signed', () => {
    const cursor = acme.encode(scope, { o: -1, n: 3 });
    expect(() => acme.decode(scope, cursor, 'after', isOffsetPosition)).toThrow(/not a cursor for this list/);
  });

  it('carries event log positions for subscriptions', () => {
    expect(acme.eventSeq(acme.event(42), 'after')).toBe(42);
    expect(() => codec.forTenant('globex').eventSeq(acme.event(42), 'after')).toThrow(/not a cursor this server issued/);
  });
});

describe('connections', () => {
  const items = ['a', 'b', 'c', 'd', 'e'];
  const scope = { list: 'letters' };

  it('page a list in memory with exact page info', () => {
    const first = offsetConnection(items, { first: 2 }, acme, scope);
    expect(first.edges.map((e) => e.node)).toEqual(['a', 'b']);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const second = offsetConnection(items, { first: 2, after: first.pageInfo.endCursor }, acme, scope);
    const last = offsetConnection(items, { first: 2, after: second.pageInfo.endCursor }, acme, scope);
    expect(last.edges.map((e) => e.node)).toEqual(['e']);
    expect(last.pageInfo.hasNextPage).toBe(false);
  });

  it('bound the page size', () => {
    expect(pageSize(undefined)).toBe(20);
    for (const bad of [0, -1, 101, 2.5]) expect(() => pageSize(bad)).toThrow(/first: must be from 1 to 100/);
  });
});

/** A newest-first list behind page/size paging, as a provider serves it; counts its requests. */
function pagedProvider(total: number) {
  const list = Array.from({ length: total }, (_, i) => `item-${String(total - i).padStart(4, '0')}`);
  const state = { list, requests: 0 };
  const fetch = async (page: number, size: number) => {
    state.requests++;
    return { items: state.list.slice((page - 1) * size, page * size), total: state.list.length };
  };
  return { state, fetch };
}

async function walk(read: (after: string | null) => Promise<{ edges: { node: string; cursor: string }[]; pageInfo: { hasNextPage: boolean; endCursor: string | null } }>) {
  const seen: string[] = [];
  let after: string | null = null;
  for (let pages = 0; pages < 1000; pages++) {
    const page = await read(after);
    seen.push(...page.edges.map((e) => e.node));
    if (!page.pageInfo.hasNextPage) return seen;
    after = page.pageInfo.endCursor;
  }
  throw new Error(`no end in sight after ${seen.length} items`);
}

describe('native paging', () => {
  it('finds one page request that covers a window wherever it starts', () => {
    expect(pageCovering(0, 7, 100)).toEqual({ page: 1, size: 100, fits: true });
    expect(pageCovering(98, 7, 100)).toEqual({ page: 2, size: 98, fits: true });
    expect(pageCovering(9, 11, 10)).toEqual({ page: 1, size: 10, fits: false });
    for (let offset = 0; offset < 500; offset++) {
      const { page, size } = pageCovering(offset, 7, 100);
      expect((page - 1) * size).toBeLessThanOrEqual(offset);
      expect(page * size).toBeGreaterThanOrEqual(offset + 7);
    }
  });

  it('turns page/size into a Relay connection: every item once, in order, one request a page', async () => {
    const provider = pagedProvider(53);
    const list = numberedList(provider.fetch, 20, (s) => s);
    const scope = { list: 'native' };
    const seen = await walk((after) => nativeConnection(list, isOffsetPosition, { first: 7, after }, acme, scope, (s) => s));
    expect(seen).toEqual(provider.state.list);
    expect(provider.state.requests).toBe(8);
  });

  it('neither repeats nor skips when items arrive at the head between pages', async () => {
    const provider = pagedProvider(40);
    const list = numberedList(provider.fetch, 20, (s) => s);
    const scope = { list: 'native' };
    const expected = [...provider.state.list];
    let arrivals = 0;
    const seen = await walk(async (after) => {
      // 25 new items at the head before a page: more than one native page's worth.
      if (after) provider.state.list.unshift(...Array.from({ length: arrivals++ === 1 ? 25 : 1 }, (_, i) => `new-${arrivals}-${i}`));
      return nativeConnection(list, isOffsetPosition, { first: 6, after }, acme, scope, (s) => s);
    });
    expect(seen).toEqual(expected);
  });

  it('finds its place by the last item taken when the provider gives no total', async () => {
    const provider = pagedProvider(60);
    const untotalled = async (page: number, size: number) => ({ items: (await provider.fetch(page, size)).items });
    const list = numberedList(untotalled, 20, (s) => s);
    const expected = [...provider.state.list];
    const seen = await walk(async (after) => {
      if (after) provider.state.list.unshift(`new-${provider.state.list.length}`, `new-${provider.state.list.length}b`);
      return nativeConnection(list, isOffsetPosition, { first: 7, after }, acme, { list: 'native' }, (s) => s);
    });
    expect(seen).toEqual(expected);
  });

  it('turns a chain of provider cursors into a Relay connection, with or without a cursor per item', async () => {
    const all = Array.from({ length: 23 }, (_, i) => `c${i}`);
    const pageOf = (cursor: string | null) => Number(cursor ?? 0);
    // links.next style: one opaque cursor per page of 5.
    const linked = chainedList(async (cursor) => {
      const start = pageOf(cursor);
      return { items: all.slice(start, start + 5), next: start + 5 < all.length ? String(start + 5) : null };
    });
    expect(await walk((after) => nativeConnection(linked, isChainPosition, { first: 3, after }, acme, { list: 'a' }, (s) => s))).toEqual(all);
    // after=<id> style: resume right after any item.
    const byId = chainedList(
      async (cursor, want) => {
        const start = cursor ? all.indexOf(cursor) + 1 : 0;
        const size = Math.min(want, 4);
        return { items: all.slice(start, start + size), next: start + size < all.length ? all[start + size - 1]! : null };
      },
      (item) => item,
    );
    expect(await walk((after) => nativeConnection(byId, isChainPosition, { first: 3, after }, acme, { list: 'b' }, (s) => s))).toEqual(all);
  });
});
