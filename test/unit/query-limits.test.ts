import { buildSchema, parse, specifiedRules, validate } from 'graphql';
import { describe, expect, it } from 'vitest';
import { DocumentMeasure, queryLimits } from '../../src/server/limits.js';

const schema = buildSchema('type Node { id: ID, next: Node } type Query { node: Node }');
/** Fragments that each spread the one before twice: 2^n paths through n short definitions. */
const doubling = (n: number, leaf = 'id') => {
  const fragments = [`fragment F0 on Node { ${leaf} }`];
  for (let i = 1; i <= n; i++) fragments.push(`fragment F${i} on Node { ...F${i - 1} ...F${i - 1} }`);
  return `{ node { ...F${n} } } ${fragments.join(' ')}`;
};
const work = (query: string) => {
  const document = parse(query);
  const measure = new DocumentMeasure(document);
  for (const def of document.definitions) if (def.kind === 'OperationDefinition') measure.operation(def);
  return measure.visited;
};

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

  it("leave fragment cycles to graphql's own rule without looping", () => {
    const errors = check('{ node { ...A } } fragment A on Node { next { ...B } } fragment B on Node { next { ...A } }');
    expect(errors.some((m) => /Cannot spread fragment/.test(m))).toBe(true);
  });

  it('visit each fragment once, so their work grows linearly with the document', () => {
    // The leaf spreads a fragment that does not exist: no field stops the walk early.
    const [n, twice, four] = [10, 20, 40].map((size) => work(doubling(size, '...Missing'))) as [number, number, number];
    expect(twice).toBeLessThanOrEqual(2 * n + 2);
    expect(four).toBeLessThanOrEqual(2 * twice + 2);
  });

  it('count every path of a doubling chain without walking it', () => {
    // 2^40 leaves and the `node` above them.
    expect(check(doubling(40), 5, 1000)[0]).toMatch(/selects 1099511627777 fields; the limit is 1000/);
    expect(check(doubling(60), 5, 1000)[0]).toMatch(/selects more than 2\^53 fields; the limit is 1000/);
  });
});

describe('operations per document', () => {
  const operations = (n: number) => Array.from({ length: n }, (_, i) => `query Q${i} { node { id } }`).join(' ');

  it('allow up to the limit', () => {
    expect(validate(schema, parse(operations(10)), [queryLimits()])).toEqual([]);
  });

  it('refuse a document with more, naming the count and the limit', () => {
    expect(validate(schema, parse(operations(11)), [queryLimits()]).map((e) => e.message)).toEqual(['The document defines 11 operations; the limit is 10']);
  });
});
