import { describe, expect, it } from 'vitest';
import { matchOrders } from '../../src/providers/goody/map.js';

describe("Goody's orders of a batch", () => {
  it('give each gift link to the recipient it is for, whatever order Goody lists them in', () => {
    const order = (first: string, email: string | null) => ({ id: first, status: 'created', recipient_first_name: first, recipient_email: email });
    const listed = [order('Grace', 'grace@example.com'), order('Ada', null), order('Ada', null), order('Bob', 'bob@example.com')];
    const ours = [
      { position: 0, email: null, firstName: 'Ada', lastName: null },
      { position: 1, email: 'bob@example.com', firstName: 'Bob', lastName: null },
      { position: 2, email: 'GRACE@example.com', firstName: 'Grace', lastName: null },
      { position: 3, email: null, firstName: 'Ada', lastName: null },
    ];
    const matched = matchOrders(listed, ours);
    expect(listed.map((o) => matched.get(o))).toEqual([2, 0, 3, 1]);
    expect(matchOrders([order('Zed', 'zed@example.com')], ours).size).toBe(0);
  });
});
