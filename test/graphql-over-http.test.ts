/**
 * GraphQL over HTTP on /graphql: the spec audit of the `graphql-http` package, run against
 * giftgraph's real endpoint, then what the audit does not cover. Apollo's CSRF prevention stays on:
 * the audit's requests carry the preflight header a browser client would send, as they carry a token.
 */
import { auditServer, type AuditResult } from 'graphql-http';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { OrdersDocument } from './generated/graphql.js';
import { errorCode, Harness } from './support/harness.js';

/** SHOULD and MAY results we accept, by audit id, and why. Anything else not "ok" fails. */
const ACCEPTED: Record<string, string> = {
  // Apollo Server answers a document that fails to parse or validate, and variables that fail coercion, with
  // 400 whatever the Accept header. The spec prefers 200 for the legacy application/json response
  // type (clients may not read a 4xx body); with application/graphql-response+json, 400 is what it
  // asks for. giftgraph keeps Apollo's behaviour, which gateways and Apollo clients expect.
  '572B': 'SHOULD use 200 on document parsing failure with Accept: application/json',
  FDE2: 'SHOULD use 200 on document validation failure with Accept: application/json',
  '7B9B': 'SHOULD use 200 on variable coercion failure with Accept: application/json',
};

let h: Harness;
let results: AuditResult[];

beforeAll(async () => {
  h = await Harness.start();
  const token = await h.token();
  results = await auditServer({
    url: `${h.url}/graphql`,
    fetchFn: (input: string | URL | Request, init: RequestInit = {}) => {
      const headers = new Headers(init.headers);
      headers.set('authorization', `Bearer ${token}`);
      headers.set('apollo-require-preflight', 'true');
      return fetch(input, { ...init, headers });
    },
  });
});
afterAll(() => h.close());

describe('the GraphQL-over-HTTP audit', () => {
  it('ran every audit', () => {
    expect(results.length).toBeGreaterThan(50);
  });

  it('finds no MUST failure', () => {
    const failed = results.filter((r) => r.status !== 'ok' && r.name.startsWith('MUST')).map((r) => `${r.id} ${r.name}`);
    expect(failed).toEqual([]);
  });

  it('finds no SHOULD or MAY result beyond the ones we accept', () => {
    const other = results.filter((r) => r.status !== 'ok' && !(r.id in ACCEPTED)).map((r) => `${r.id} ${r.name}`);
    expect(other).toEqual([]);
  });
});

describe('CSRF prevention', () => {
  it('stays on for simple requests', async () => {
    const res = await fetch(`${h.url}/graphql?query=${encodeURIComponent('{ providers { name } }')}`);
    expect(res.status).toBe(400);
    expect(await res.text()).toMatch(/CSRF/i);
  });
});

describe('errors', () => {
  it('carry a code and never a stack trace', async () => {
    const result = await h.gql(OrdersDocument, { first: 1000 });
    expect(errorCode(result)).toBe('BAD_USER_INPUT');
    expect(JSON.stringify(result)).not.toMatch(/stacktrace|at .*\.ts:\d+/);
  });
});
