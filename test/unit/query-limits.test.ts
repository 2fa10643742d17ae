import { buildSchema, parse, specifiedRules, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { queryLimits } from '../../src/server/limits.js';

const schema = buildSchema('type Node { id: ID, next: Node } type Query { node: Node }');
const check = (query: string, depth = 3, fields = 10) => validate(schema, parse(query), [...specifiedRules, queryLimits(depth, fields)]).map((e) => e.message);

describe('query limits', () => {
  it('allow a query within both limits', () => {
    expect(check('{ node { next { id } } }')).toEqual([]);
  });

  it('count depth through fragments', () => {
    expect(check('{ node { ...F } } fragment F on Node { next { next { id } } }')[0]).toMatch(/4 levels deep; the limit is 3/);
  });

  it('count fields through fragments and aliases', () => {
    const aliases = Array.from({ length: 11 }, (_, i) => `a${i}: node { id }`).join(' ');
    expect(check(`{ ${aliases} }`, 5, 20)[0]).toMatch(/selects 22 fields; the limit is 20/);
  });

  it('leave fragment cycles to graphql\'s own rule without looping', () => {
    const errors = check('{ node { ...A } } fragment A on Node { next { ...B } } fragment B on Node { next { ...A } }');
    expect(errors.some((m) => /Cannot spread fragment/.test(m))).toBe(true);
  });
});
