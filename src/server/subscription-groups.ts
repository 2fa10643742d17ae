import {
  createSourceEventStream,
  execute,
  GraphQLError,
  Kind,
  print,
  type DocumentNode,
  type ExecutionArgs,
  type ExecutionResult,
  type OperationDefinitionNode,
  type ValueNode,
} from 'graphql';
import { QueueIterator } from '../status/stream.js';

/** Where one grouped subscription's results go: its own connection. */
export interface Delivery {
  /** Sends serialized results as `next` messages, in order and in one write; false once the connection has gone. */
  send(payloads: readonly string[]): boolean;
  /** Bytes sent but not yet taken by the client. */
  readonly backlog: number;
}

export interface SubscriptionGroupsOptions {
  /** A result as the JSON `payload` of a `next` message (errors masked as on every other path). */
  serialize(result: ExecutionResult): string;
  /** The error that ends a member whose client stopped reading, given the last event it was sent. */
  lagged(args: ExecutionArgs, lastEvent: unknown): Error;
  /** A member whose client has this much unread is cut off (and told where to resume) rather than buffered without bound. */
  maxBacklogBytes: number;
}

type OperationResult = AsyncIterableIterator<never> | ExecutionResult;

/**
 * Runs identical live subscriptions once. Subscribers with the same group key (tenant, document,
 * variables, operation) share one source stream and one execution per event; the result is
 * serialized once and written to every member's connection, the results of one turn of the event
 * loop (an order's event and its recipients') together in one write. With thousands of dashboards
 * watching one tenant's orders, the work per event no longer grows with the number of subscribers,
 * only the writing does.
 */
export class SubscriptionGroups {
  private readonly groups = new Map<string, Group>();

  constructor(private readonly options: SubscriptionGroupsOptions) {}

  /**
   * Joins the group `key`, starting it with `start()` (the execution arguments the group runs
   * with, shared by every member) if there is none. The member must already be authorized. The
   * returned iterator yields nothing itself (results go to `delivery`): it ends when the group does,
   * fails with the group's error, and leaves the group when returned.
   */
  async join(key: string, delivery: Delivery, start: () => ExecutionArgs, again = false): Promise<OperationResult> {
    let group = this.groups.get(key);
    if (!group) {
      const created: Group = new Group(start(), this.options, () => {
        // Only this group's own entry: a newer group may hold the key by now.
        if (this.groups.get(key) === created) this.groups.delete(key);
      });
      this.groups.set(key, created);
      group = created;
    }
    const refused = await group.started;
    if (refused) return refused;
    if (group.closed) {
      // The group ended while this member waited for it to start: join (or start) the current one,
      // once; a source that keeps ending at once ends this subscription too.
      if (!again) return this.join(key, delivery, start, true);
      const ended = new QueueIterator<never>();
      ended.end();
      return ended;
    }
    return group.add(delivery);
  }

  get size(): number {
    return this.groups.size;
  }
}

const printed = new WeakMap<DocumentNode, string>();

/** The group key of a live subscription, or undefined when it replays from a cursor and so runs alone. */
export function groupKey(args: ExecutionArgs, tenant: string | undefined): string | undefined {
  if (!tenant) return undefined;
  const operation = args.document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!args.operationName || d.name?.value === args.operationName),
  );
  const field = operation?.selectionSet.selections[0];
  if (operation?.operation !== 'subscription' || !field || field.kind !== Kind.FIELD) return undefined;
  if (replays(field.arguments?.find((a) => a.name.value === 'after')?.value, operation, args.variableValues)) return undefined;
  let source = printed.get(args.document);
  if (source === undefined) printed.set(args.document, (source = print(args.document)));
  return JSON.stringify([tenant, source, args.variableValues ?? {}, args.operationName ?? null]);
}

/** Whether `after` names a position: a literal, a variable sent with a value, or one left to a non-null default. */
function replays(after: ValueNode | undefined, operation: OperationDefinitionNode, variables: ExecutionArgs['variableValues']): boolean {
  if (!after || after.kind === Kind.NULL) return false;
  if (after.kind !== Kind.VARIABLE) return true;
  const name = after.name.value;
  if (variables && name in variables) return variables[name] !== null && variables[name] !== undefined;
  const fallback = operation.variableDefinitions?.find((d) => d.variable.name.value === name)?.defaultValue;
  return fallback !== undefined && fallback.kind !== Kind.NULL;
}

interface Member {
  readonly delivery: Delivery;
  readonly stream: QueueIterator<never>;
  /** The last event written to this member: where it resumes if it is cut off. */
  last: unknown;
}

class Group {
  /** Resolves once the source stream is open: undefined, or the errors every member gets instead. */
  readonly started: Promise<ExecutionResult | undefined>;
  closed = false;
  private readonly members = new Set<Member>();
  private source: AsyncIterator<unknown> | undefined;
  /** Serialized results not yet written, with the event each answers. */
  private pending: { event: unknown; payload: string }[] = [];
  private flushing: NodeJS.Immediate | undefined;

  constructor(
    private readonly args: ExecutionArgs,
    private readonly options: SubscriptionGroupsOptions,
    private readonly onClosed: () => void,
  ) {
    this.started = this.start();
  }

  add(delivery: Delivery): AsyncIterableIterator<never> {
    const member: Member = {
      delivery,
      last: undefined,
      stream: new QueueIterator<never>(() => {
        this.members.delete(member);
        if (this.members.size === 0) this.close();
      }),
    };
    this.members.add(member);
    return member.stream;
  }

  private async start(): Promise<ExecutionResult | undefined> {
    try {
      const source = await createSourceEventStream(this.args);
      if (!isAsyncIterable(source)) {
        this.close();
        return source;
      }
      this.source = source[Symbol.asyncIterator]();
      void this.pump(this.source);
      return undefined;
    } catch (error) {
      // Every member waiting on this start gets it as a result (masked like any other error), not
      // its connection closed.
      this.close();
      return { errors: [error instanceof GraphQLError ? error : new GraphQLError((error as Error)?.message ?? String(error), { originalError: error as Error })] };
    }
  }

  private async pump(source: AsyncIterator<unknown>): Promise<void> {
    try {
      for (;;) {
        const next = await source.next();
        if (next.done || this.closed) break;
        // What graphql-js's subscribe does per event, done once for every member.
        const result = await execute({ ...this.args, rootValue: next.value });
        this.pending.push({ event: next.value, payload: this.options.serialize(result) });
        this.flushing ??= setImmediate(() => this.flush());
      }
      this.end((member) => member.stream.end());
    } catch (error) {
      // Every member hears why (a lag, say, with where to resume), after what it already has.
      this.end((member) => member.stream.fail(error));
    }
  }

  /** Writes what is pending to every member: one write each, however many events it holds. */
  private flush(): void {
    if (this.flushing) clearImmediate(this.flushing);
    this.flushing = undefined;
    const batch = this.pending;
    if (batch.length === 0) return;
    this.pending = [];
    const payloads = batch.map((b) => b.payload);
    const last = batch.at(-1)!.event;
    for (const member of this.members) {
      if (member.last !== undefined && member.delivery.backlog > this.options.maxBacklogBytes) {
        member.stream.fail(this.options.lagged(this.args, member.last));
        continue;
      }
      if (member.delivery.send(payloads)) member.last = last;
      // Its connection has gone (graphql-ws ends what it still knows of; this also covers what it lost track of).
      else member.stream.end();
    }
  }

  private end(how: (member: Member) => void): void {
    if (this.closed) return;
    this.flush();
    this.close();
    for (const member of [...this.members]) how(member);
  }

  private close(): void {
    if (this.closed) return;
    this.closed = true;
    this.onClosed();
    if (this.flushing) clearImmediate(this.flushing);
    void this.source?.return?.();
  }
}

const isAsyncIterable = (value: unknown): value is AsyncIterable<unknown> => typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === 'function';
