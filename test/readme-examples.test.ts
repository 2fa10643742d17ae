/**
 * Every example operation in README.md is valid against the schema, so the README cannot drift
 * from it. Checked, each as its own test named by its README line:
 *
 * - every ```graphql block: parsed; its operations and fragments validated, as one document,
 *   against giftgraph's subgraph schema (buildGiftgraphSchema, as served: `_entities` and
 *   `_service` included); its type definitions, if it has any, checked as below;
 * - every gql`…` / graphql`…` template in a ```ts, ```js or ```tsx block (a frontend's documents);
 * - every `"query": "…"` JSON string in a ```sh block (a curl).
 *
 * SDL in a block: a block that only defines types giftgraph does not have is parsed and nothing
 * more (it describes something else, such as another subgraph). A block that defines or extends a
 * type of giftgraph's is checked as an extension of the schema (`extend type Person { … }`, with
 * federation's directives known), so it names existing types and adds no field giftgraph has
 * already; a second definition of a giftgraph type fails as such, and needs the skip marker.
 *
 * Markers, an HTML comment (invisible on GitHub) on the line right before the fence:
 * - `<!-- readme-examples: supergraph -->`: an operation sent through a gateway, validated against
 *   the API schema of giftgraph composed with the tests' people subgraph
 *   (test/support/people-subgraph.ts, which adds `Person.displayName` and `team`).
 * - `<!-- readme-examples: skip <why> -->`: parsed only, for a block no schema here can check (such
 *   as another subgraph's own definition of a shared type). Say why after `skip`.
 */
import fs from 'node:fs';
import { composeServices } from '@apollo/composition';
import { printSubgraphSchema } from '@apollo/subgraph';
import {
  type DefinitionNode,
  type DocumentNode,
  extendSchema,
  type GraphQLError,
  type GraphQLSchema,
  isTypeDefinitionNode,
  isTypeExtensionNode,
  Kind,
  parse,
  validate,
} from 'graphql';
import { validateSDL } from 'graphql/validation/validate.js';
import { beforeAll, describe, expect, it } from 'vitest';
import { buildGiftgraphSchema } from '../src/resolvers/build-schema.js';
import { PEOPLE_SDL } from './support/people-subgraph.js';

const README = new URL('../README.md', import.meta.url);

type Target = 'subgraph' | 'supergraph' | 'skip';

interface Example {
  /** README line of the example's first line. */
  line: number;
  /** Column (1-based) where the example's first line starts in the README. */
  column: number;
  source: string;
  target: Target;
  kind: string;
}

const MARKER = /^\s*<!--\s*readme-examples:\s*(supergraph|skip)\b(.*?)-->\s*$/;

/** Fenced code blocks (``` or ~~~, indented in a list item or not), with the marker before each. */
function codeBlocks(text: string): { lang: string; line: number; indent: number; body: string; target: Target; skipReason: string }[] {
  const lines = text.split('\n');
  const blocks = [];
  for (let i = 0; i < lines.length; i++) {
    // A fence opens a line (up to 3 spaces in, more inside a list item); a backtick fence's info
    // string has no backtick, else the line is inline code.
    const open = /^(\s*)(`{3,}|~{3,})\s*([\w-]*)(.*)$/.exec(lines[i]!);
    if (!open || (open[2]!.startsWith('`') && open[4]!.includes('`'))) continue;
    const [, indent, fence, lang] = open as unknown as [string, string, string, string, string];
    const body: string[] = [];
    let j = i + 1;
    for (; j < lines.length; j++) {
      const close = /^\s*(`{3,}|~{3,})\s*$/.exec(lines[j]!);
      if (close && close[1]![0] === fence[0] && close[1]!.length >= fence.length) break;
      body.push(lines[j]!.startsWith(indent) ? lines[j]!.slice(indent.length) : lines[j]!.trimStart());
    }
    const marker = i > 0 ? MARKER.exec(lines[i - 1]!) : null;
    blocks.push({
      lang: lang.toLowerCase(),
      line: i + 2,
      indent: indent.length,
      body: body.join('\n'),
      target: (marker?.[1] as Target | undefined) ?? 'subgraph',
      skipReason: marker?.[2]?.trim() ?? '',
    });
    i = j;
  }
  return blocks;
}

/** Line and column (1-based) of `offset` in `text`. */
function position(text: string, offset: number): { line: number; column: number } {
  const before = text.slice(0, offset).split('\n');
  return { line: before.length, column: before.at(-1)!.length + 1 };
}

function examples(text: string): Example[] {
  const found: Example[] = [];
  for (const block of codeBlocks(text)) {
    const at = (offset: number, source: string, kind: string) => {
      const p = position(block.body, offset);
      found.push({ line: block.line + p.line - 1, column: block.indent + p.column, source, target: block.target, kind });
    };
    if (block.lang === 'graphql' || block.lang === 'gql') {
      at(0, block.body, 'graphql block');
    } else if (['ts', 'tsx', 'js', 'jsx', 'typescript', 'javascript'].includes(block.lang)) {
      for (const m of block.body.matchAll(/\b(?:gql|graphql)\s*`([^`]*)`/g)) {
        if (m[1]!.includes('${')) throw new Error(`README.md:${block.line}: a gql template with \${…} cannot be checked; write the document out`);
        at(m.index! + m[0].indexOf('`') + 1, m[1]!, 'gql template');
      }
    } else if (block.lang === 'sh' || block.lang === 'bash' || block.lang === 'shell') {
      for (const m of block.body.matchAll(/"query"\s*:\s*("(?:[^"\\]|\\.)*")/g)) {
        at(m.index! + m[0].indexOf(m[1]!) + 1, JSON.parse(m[1]!) as string, 'curl query');
      }
    }
    if (block.target === 'skip' && block.skipReason === '') {
      throw new Error(`README.md:${block.line - 2}: readme-examples: skip needs a reason after it`);
    }
  }
  return found;
}

const readme = fs.readFileSync(README, 'utf8');
const all = examples(readme);

/** The README location of an error at `loc` inside an example. */
function where(example: Example, loc?: { line: number; column: number }): string {
  if (!loc) return `README.md:${example.line}`;
  const column = loc.line === 1 ? example.column + loc.column - 1 : loc.column;
  return `README.md:${example.line + loc.line - 1}:${column}`;
}

function report(example: Example, errors: readonly GraphQLError[]): string[] {
  return errors.map((e) => `${where(example, e.locations?.[0])} (${example.kind} at line ${example.line}): ${e.message}`);
}

const isExecutable = (d: DefinitionNode) => d.kind === Kind.OPERATION_DEFINITION || d.kind === Kind.FRAGMENT_DEFINITION;

let subgraph: GraphQLSchema;
/** The supergraph's API schema, or why giftgraph does not compose (failing only the supergraph examples). */
let supergraph: GraphQLSchema | string;

beforeAll(async () => {
  subgraph = await buildGiftgraphSchema();
  const composed = composeServices([
    { name: 'giftgraph', typeDefs: parse(printSubgraphSchema(subgraph)), url: 'http://giftgraph.invalid/graphql' },
    { name: 'people', typeDefs: parse(PEOPLE_SDL), url: 'http://people.invalid/graphql' },
  ]);
  supergraph = composed.errors
    ? `giftgraph does not compose with the people subgraph: ${composed.errors.map((e) => e.message).join('; ')}`
    : composed.schema.toAPISchema().toGraphQLJSSchema();
});

/** Problems of one example, each with its README line; none when it is valid. */
function check(example: Example): string[] {
  let document: DocumentNode;
  try {
    document = parse(example.source);
  } catch (error) {
    return report(example, [error as GraphQLError]);
  }
  if (example.target === 'skip') return [];
  const schema = example.target === 'supergraph' ? supergraph : subgraph;
  if (typeof schema === 'string') return [`${where(example)}: ${schema}`];
  const problems: string[] = [];
  const executable = document.definitions.filter(isExecutable);
  if (executable.length > 0) {
    problems.push(...report(example, validate(schema, { kind: Kind.DOCUMENT, definitions: executable })));
  }
  const sdl = document.definitions.filter((d) => !isExecutable(d));
  const touchesGiftgraph = sdl.some((d) => (isTypeDefinitionNode(d) || isTypeExtensionNode(d)) && schema.getType(d.name.value));
  if (touchesGiftgraph) {
    const extension: DocumentNode = { kind: Kind.DOCUMENT, definitions: sdl };
    const errors = validateSDL(extension, schema);
    problems.push(...report(example, errors));
    if (errors.length === 0) {
      try {
        extendSchema(schema, extension);
      } catch (error) {
        problems.push(...report(example, [error as GraphQLError]));
      }
    }
  }
  return problems;
}

describe('the README', () => {
  it('has its examples found: every GraphQL block, a frontend gql document, a curl', () => {
    const fences = readme.split('\n').filter((line) => /^\s*(```|~~~)\s*(graphql|gql)\s*$/i.test(line)).length;
    expect(fences).toBeGreaterThanOrEqual(7);
    expect(all.filter((e) => e.kind === 'graphql block').length).toBe(fences);
    expect(all.some((e) => e.kind === 'gql template')).toBe(true);
    expect(all.some((e) => e.kind === 'curl query')).toBe(true);
  });

  it.each(all.map((e) => [`${e.kind} at README.md:${e.line}${e.target === 'subgraph' ? '' : ` (${e.target})`}`, e] as const))('%s is valid against the schema', (_, example) => {
    expect(check(example)).toEqual([]);
  });

  it('reports an invalid example with its README line and the GraphQL error', () => {
    const bad = examples(['text', '', '```graphql', 'query Q {', '  orders(first: 1) { edges { node { nope } } }', '}', '```'].join('\n'));
    expect(bad).toHaveLength(1);
    expect(check(bad[0]!)).toEqual(['README.md:5:37 (graphql block at line 4): Cannot query field "nope" on type "Order".']);
    const sdl = examples(['```graphql', 'extend type Person { email: String! }', '```'].join('\n'));
    expect(check(sdl[0]!)).toEqual([
      'README.md:2:22 (graphql block at line 2): Field "Person.email" already exists in the schema. It cannot also be defined in this type extension.',
    ]);
  });
});
