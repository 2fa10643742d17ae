import { afterAll, beforeAll, describe, expect, it, vi } from 'vitest';
import WebSocket from 'ws';
import { MAX_TOKENS } from '../src/server/limits.js';
import { Harness } from './support/harness.js';
import { runOverSocket, wsClient, type OperationResult } from './support/ws-client.js';

let h: Harness;
beforeAll(async () => {
  h = await Harness.start();
});
afterAll(() => h.close());

type Result = OperationResult;

/**
 * About 1.5 KB: forty fragments that each spread the one before twice, ending at a fragment that
 * does not exist. A rule that walked every expanded path would visit 2^40 of them.
 */
const doublingChain = (() => {
  const fragments = ['fragment F0 on Query { ...Missing }'];
  for (let i = 1; i <= 40; i++) fragments.push(`fragment F${i} on Query { ...F${i - 1} ...F${i - 1} }`);
  return `{ ...F40 } ${fragments.join(' ')}`;
})();

/** Exactly MAX_TOKENS tokens: two braces and aliased fields of three tokens each (2 + 3 × 666). */
const atTheLimit = `{ ${Array.from({ length: (MAX_TOKENS - 2) / 3 }, (_, i) => `a${i}: __typename`).join(' ')} }`;
/** One token more. */
const oversized = atTheLimit.replace(/ \}$/, ' __typename }');

const postAnonymous = async (query: string): Promise<{ status: number; body: Result }> => {
  const res = await fetch(`${h.url}/graphql`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ query }) });
  return { status: res.status, body: (await res.json()) as Result };
};

const connect = async () => wsClient(h.url, await h.token());

describe('a document built to make validation exponential', () => {
  it('is refused over HTTP without a token, and the server keeps answering', async () => {
    const [refused, health] = await Promise.all([postAnonymous(doublingChain), fetch(`${h.url}/healthz`)]);
    expect(refused.status).toBe(400);
    expect(refused.body.errors!.map((e) => e.extensions?.code)).toContain('GRAPHQL_VALIDATION_FAILED');
    expect(refused.body.errors!.some((e) => /Unknown fragment "Missing"/.test(e.message))).toBe(true);
    expect(health.status).toBe(200);
  });

  it('is refused over /ws as an error of that operation, and the socket stays usable', async () => {
    const client = await connect();
    const refused = await runOverSocket(client, doublingChain);
    expect(refused.errors!.some((e) => /Unknown fragment "Missing"/.test(e.message))).toBe(true);
    expect(await runOverSocket(client, '{ providers { name } }')).toMatchObject({ data: { providers: expect.any(Array) } });
    await client.dispose();
  });
});

describe(`a document of more than ${MAX_TOKENS} tokens`, () => {
  it('is refused by the parser over HTTP', async () => {
    const refused = await postAnonymous(oversized);
    expect(refused.status).toBe(400);
    expect(refused.body.errors![0]!.extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(refused.body.errors![0]!.message).toMatch(/more that 2000 tokens/);
  });

  it('is refused by the parser over /ws, as an error of that operation', async () => {
    const client = await connect();
    const refused = await runOverSocket(client, oversized);
    expect(refused.errors![0]!.extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(refused.errors![0]!.message).toMatch(/more that 2000 tokens/);
    expect(await runOverSocket(client, '{ providers { name } }')).toMatchObject({ data: { providers: expect.any(Array) } });
    await client.dispose();
  });

  it('is accepted just under the limit', async () => {
    const accepted = await h.gql<Record<string, string>, never>(atTheLimit);
    expect(accepted.errors).toBeUndefined();
    expect(accepted.data!.a665).toBe('Query');
  });
});

describe('an operation nested deeper than the depth limit', () => {
  const deepQuery = (depth: number) => `{ orders { edges { node { ${'recipients { edges { node { '.repeat(depth)} id ${'} } }'.repeat(depth)} } } } }`;

  it('is refused over HTTP', async () => {
    const result = await h.gql(deepQuery(6));
    expect(result.errors![0]!.message).toMatch(/levels deep; the limit is 12/);
  });

  it('is refused the same way over /ws', async () => {
    const client = await connect();
    const refused = await runOverSocket(client, deepQuery(6));
    expect(refused.errors![0]!.message).toMatch(/levels deep/);
    await client.dispose();
  });
});

describe('absurd nesting', () => {
  // 20,000 levels: far past what the parser would recurse through, and refused by its token limit first.
  const absurd = `{ ${'node { '.repeat(20_000)}id${' }'.repeat(20_000)} }`;

  it('is a plain GRAPHQL_PARSE_FAILED over HTTP, with nothing of the engine in it', async () => {
    const refused = await postAnonymous(absurd);
    expect(refused.status).toBe(400);
    expect(refused.body.errors![0]!.extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(JSON.stringify(refused.body)).not.toMatch(/stack|RangeError|at .*\.(ts|js):\d+/);
  });

  it('is a plain GRAPHQL_PARSE_FAILED over /ws', async () => {
    const client = await connect();
    const refused = await runOverSocket(client, absurd);
    expect(refused.errors![0]!.extensions!.code).toBe('GRAPHQL_PARSE_FAILED');
    expect(JSON.stringify(refused)).not.toMatch(/stack|RangeError/);
    await client.dispose();
  });
});

describe('a document of more than 10 operations', () => {
  const eleven = Array.from({ length: 11 }, (_, i) => `query Q${i} { __typename }`).join(' ');

  it('is refused over HTTP, whichever operation is named', async () => {
    const res = await fetch(`${h.url}/graphql`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${await h.token()}` },
      body: JSON.stringify({ query: eleven, operationName: 'Q0' }),
    });
    const body = (await res.json()) as Result;
    expect(body.errors![0]!.message).toBe('The document defines 11 operations; the limit is 10');
  });

  it('is refused over /ws', async () => {
    const client = await connect();
    const refused = await runOverSocket(client, eleven, undefined, 'Q0');
    expect(refused.errors![0]!.message).toBe('The document defines 11 operations; the limit is 10');
    await client.dispose();
  });
});

describe('a WebSocket frame over the 1 MiB limit', () => {
  it('closes that socket with 1009 and is logged as JSON, not printed raw', async () => {
    const printed = vi.spyOn(console, 'error').mockImplementation(() => undefined);
    try {
      const socket = new WebSocket(`${h.url.replace('http', 'ws')}/ws`, 'graphql-transport-ws');
      await new Promise((resolve, reject) => socket.once('open', resolve).once('error', reject));
      const closed = new Promise<number>((resolve) => socket.once('close', (code) => resolve(code)));
      socket.send(JSON.stringify({ type: 'connection_init', payload: { padding: 'x'.repeat(1024 * 1024) } }));
      expect(await closed).toBe(1009);
      const logged = () => h.logs.map((line) => JSON.parse(line) as { msg: string; err?: { message: string } }).find((l) => l.msg === 'websocket closed on a protocol error');
      await expect.poll(() => logged()?.err?.message).toMatch(/Max payload size exceeded/);
      // Handled by then: nothing was printed instead.
      expect(printed).not.toHaveBeenCalled();
    } finally {
      printed.mockRestore();
    }
  });
});
