import { GraphQLBoolean, GraphQLError, GraphQLInt, GraphQLObjectType, GraphQLSchema, parse, type ExecutionArgs } from 'graphql';
import { describe, expect, it } from 'vitest';
import { groupKey, SubscriptionGroups, type Delivery } from '../../src/server/subscription-groups.js';
import { QueueIterator } from '../../src/status/stream.js';

/** A connection that records what it was sent, one entry per write. */
class Connection implements Delivery {
  readonly writes: string[][] = [];
  backlog = 0;
  open = true;
  send(payloads: readonly string[]): boolean {
    if (!this.open) return false;
    this.writes.push([...payloads]);
    return true;
  }
}

function setup() {
  const sources: QueueIterator<{ n: number }>[] = [];
  let resolved = 0;
  const schema = new GraphQLSchema({
    query: new GraphQLObjectType({ name: 'Query', fields: { ok: { type: GraphQLBoolean } } }),
    subscription: new GraphQLObjectType({
      name: 'Subscription',
      fields: {
        tick: {
          type: GraphQLInt,
          args: { refuse: { type: GraphQLBoolean } },
          subscribe: (_root, args: { refuse?: boolean }) => {
            if (args.refuse) throw new GraphQLError('refused');
            const source = new QueueIterator<{ n: number }>();
            sources.push(source);
            return source;
          },
          resolve: (event: { n: number }) => {
            resolved += 1;
            return event.n;
          },
        },
        // A resolver that answers no stream at all: graphql-js throws rather than returning errors.
        broken: { type: GraphQLInt, subscribe: () => 42 as never, resolve: () => 0 },
      },
    }),
  });
  const groups = new SubscriptionGroups({
    serialize: (result) => JSON.stringify(result),
    lagged: (_args, last) => new GraphQLError(`behind; resume after ${(last as { n: number }).n}`),
    maxBacklogBytes: 100,
  });
  const args =
    (query = 'subscription { tick }'): (() => ExecutionArgs) =>
    () => ({ schema, document: parse(query) });
  return { groups, sources, args, resolved: () => resolved };
}

/** Waits until the group has written to this connection `n` times in all. */
const written = (connection: Connection, n: number) => expect.poll(() => connection.writes.length, { interval: 1 }).toBe(n);

describe('subscription groups', () => {
  it('execute each event once for every member, and write the events of one turn together', async () => {
    const { groups, sources, args, resolved } = setup();
    const a = new Connection();
    const b = new Connection();
    await groups.join('k', a, args());
    await groups.join('k', b, args());
    expect(sources).toHaveLength(1);
    sources[0]!.push({ n: 1 });
    sources[0]!.push({ n: 2 });
    await written(a, 1);
    sources[0]!.push({ n: 3 });
    await written(a, 2);
    const expected = [['{"data":{"tick":1}}', '{"data":{"tick":2}}'], ['{"data":{"tick":3}}']];
    expect(a.writes).toEqual(expected);
    expect(b.writes).toEqual(expected);
    expect(resolved()).toBe(3);
  });

  it('cut off a member whose client stopped reading, telling it where to resume, and keep serving the rest', async () => {
    const { groups, sources, args } = setup();
    const slow = new Connection();
    const quick = new Connection();
    const slowStream = (await groups.join('k', slow, args())) as AsyncIterableIterator<never>;
    await groups.join('k', quick, args());
    const ended = expect(slowStream.next()).rejects.toThrow('behind; resume after 1');
    sources[0]!.push({ n: 1 });
    await written(quick, 1);
    slow.backlog = 101;
    sources[0]!.push({ n: 2 });
    await written(quick, 2);
    await ended;
    expect(slow.writes).toEqual([['{"data":{"tick":1}}']]);
    expect(quick.writes).toHaveLength(2);
    expect(groups.size).toBe(1);
  });

  it('close the source when the last member leaves, and start afresh for the next', async () => {
    const { groups, sources, args } = setup();
    const streams = [
      (await groups.join('k', new Connection(), args())) as AsyncIterableIterator<never>,
      (await groups.join('k', new Connection(), args())) as AsyncIterableIterator<never>,
    ];
    await streams[0]!.return!();
    expect(groups.size).toBe(1);
    await streams[1]!.return!();
    expect(groups.size).toBe(0);
    expect(await sources[0]!.next()).toEqual({ value: undefined, done: true });
    await groups.join('k', new Connection(), args());
    expect(sources).toHaveLength(2);
  });

  it('give every member the errors of a subscription that cannot start, and keep no group', async () => {
    const { groups, args } = setup();
    const refused = args('subscription { tick(refuse: true) }');
    const [first, second] = await Promise.all([groups.join('r', new Connection(), refused), groups.join('r', new Connection(), refused)]);
    for (const result of [first, second]) expect(result).toMatchObject({ errors: [{ message: 'refused' }] });
    expect(groups.size).toBe(0);
  });

  it('give every member a stream that fails to start as an error result, rather than throwing at its connection', async () => {
    const { groups, args } = setup();
    const broken = args('subscription { broken }');
    const [first, second] = await Promise.all([groups.join('b', new Connection(), broken), groups.join('b', new Connection(), broken)]);
    for (const result of [first, second]) expect(result).toMatchObject({ errors: [{ message: expect.stringMatching(/Async Iterable/) }] });
    expect(groups.size).toBe(0);
  });

  it('let go of a member whose connection has gone at the next write', async () => {
    const { groups, sources, args } = setup();
    const gone = new Connection();
    const kept = new Connection();
    await groups.join('k', gone, args());
    await groups.join('k', kept, args());
    gone.open = false;
    sources[0]!.push({ n: 1 });
    await written(kept, 1);
    sources[0]!.push({ n: 2 });
    await written(kept, 2);
    expect(gone.writes).toEqual([]);
    kept.open = false;
    sources[0]!.push({ n: 3 });
    await expect.poll(() => groups.size, { interval: 1 }).toBe(0);
  });

  it("end every member with the source's error, after what was already sent", async () => {
    const { groups, sources, args } = setup();
    const a = new Connection();
    const stream = (await groups.join('k', a, args())) as AsyncIterableIterator<never>;
    const ended = expect(stream.next()).rejects.toThrow('source lagged');
    sources[0]!.push({ n: 1 });
    sources[0]!.fail(new Error('source lagged'));
    await ended;
    expect(a.writes).toEqual([['{"data":{"tick":1}}']]);
    expect(groups.size).toBe(0);
  });
});

describe('a group key', () => {
  const schema = setup().args()().schema;
  const key = (query: string, variableValues?: Record<string, unknown>, tenant: string | undefined = 'acme') =>
    groupKey({ schema, document: parse(query), variableValues }, tenant);
  const live = 'subscription($a: String) { orderStatusChanged(after: $a) { cursor } }';

  it('is the same for the same tenant, document and variables, and differs by tenant', () => {
    expect(key(live)).toBeDefined();
    expect(key(live)).toBe(key(live));
    expect(key(live, {}, 'globex')).not.toBe(key(live));
    expect(groupKey({ schema, document: parse(live) }, undefined)).toBeUndefined();
  });

  it('is none for a subscription that replays from a cursor, however the cursor is given', () => {
    expect(key('subscription { orderStatusChanged(after: "c2.x") { cursor } }')).toBeUndefined();
    expect(key(live, { a: 'c2.x' })).toBeUndefined();
    expect(key('subscription($a: String = "c2.x") { orderStatusChanged(after: $a) { cursor } }')).toBeUndefined();
    // Live: no cursor, a null one, or a default overridden with null.
    expect(key('subscription { orderStatusChanged(after: null) { cursor } }')).toBeDefined();
    expect(key(live, { a: null })).toBeDefined();
    expect(key('subscription($a: String = "c2.x") { orderStatusChanged(after: $a) { cursor } }', { a: null })).toBeDefined();
  });
});
