import { describe, expect, it } from 'vitest';
import { decodeId, encodeId } from '../../src/core/global-id.js';
import { decodeKeyset, keysetConnection, offsetConnection, pageSize } from '../../src/pagination/connection.js';

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

describe('connections', () => {
  const items = ['a', 'b', 'c', 'd', 'e'];

  it('page a list in memory with exact page info', () => {
    const first = offsetConnection(items, 2, null);
    expect(first.edges.map((e) => e.node)).toEqual(['a', 'b']);
    expect(first.pageInfo).toMatchObject({ hasNextPage: true, hasPreviousPage: false });
    const last = offsetConnection(items, 2, offsetConnection(items, 2, first.pageInfo.endCursor).pageInfo.endCursor);
    expect(last.edges.map((e) => e.node)).toEqual(['e']);
    expect(last.pageInfo.hasNextPage).toBe(false);
  });

  it('bound the page size', () => {
    expect(pageSize(undefined)).toBe(20);
    expect(() => pageSize(0)).toThrow(/first/);
    expect(() => pageSize(101)).toThrow(/first/);
  });

  it('refuse a cursor of another kind or a forged one', () => {
    const offsetCursor = offsetConnection(items, 1, null).pageInfo.endCursor!;
    expect(() => decodeKeyset(offsetCursor)).toThrow(/not a cursor for this list/);
    expect(() => offsetConnection(items, 1, 'c9.abc')).toThrow(/not a cursor this server issued/);
    expect(() => offsetConnection(items, 1, `c1.${Buffer.from('{"o":-4}').toString('base64url')}`)).toThrow(/not a cursor for this list/);
  });

  it('put the keyset position in the cursor', () => {
    const rows = [{ createdAt: '2026-01-02', id: 'b' }, { createdAt: '2026-01-01', id: 'a' }];
    const page = keysetConnection(rows, 1, false, (r) => r.id);
    expect(page.pageInfo.hasNextPage).toBe(true);
    expect(decodeKeyset(page.pageInfo.endCursor!)).toEqual({ createdAt: '2026-01-02', id: 'b' });
  });
});
