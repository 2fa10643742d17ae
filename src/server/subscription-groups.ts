import { Kind, print, subscribe, type ExecutionArgs, type ExecutionResult, type OperationDefinitionNode } from 'graphql';
import { QueueIterator } from '../status/stream.js';

type OperationResult = AsyncGenerator<ExecutionResult> | AsyncIterable<ExecutionResult> | ExecutionResult;

/**
 * Runs identical live subscriptions once. Subscribers with the same group key (tenant, document,
 * variables, operation) share one execution of the subscription per event, and every one of them
 * receives the same result object. With thousands of dashboards watching one tenant's orders, the
 * work per event no longer grows with the number of subscribers, only the sending does.
 */
export class SubscriptionGroups {
  private readonly groups = new Map<string, Group>();

  /**
   * `admit` checks a subscriber before it joins a group whose execution it did not start (its
   * authorization); it returns an error result to refuse. `key` is undefined for a subscription that
   * must run on its own (one that replays from a cursor).
   */
  async subscribe(args: ExecutionArgs, key: string | undefined, admit: () => ExecutionResult | undefined): Promise<OperationResult> {
    if (!key) return subscribe(args);
    const existing = this.groups.get(key);
    if (existing) {
      const refused = admit();
      return refused ?? existing.join();
    }
    const upstream = await subscribe(args);
    if (!isAsyncIterable(upstream)) return upstream; // errors: nothing to share
    // Another subscriber may have started the same group while this one awaited its execution.
    const raced = this.groups.get(key);
    if (raced) {
      await upstream.return?.(undefined);
      return raced.join();
    }
    const group: Group = new Group(upstream, () => {
      // Only this group's own entry: a newer group may hold the key by now.
      if (this.groups.get(key) === group) this.groups.delete(key);
    });
    this.groups.set(key, group);
    return group.join();
  }

  get size(): number {
    return this.groups.size;
  }
}

/** The group key of a live subscription, or undefined when it replays from a cursor and so runs alone. */
export function groupKey(args: ExecutionArgs, tenant: string | undefined): string | undefined {
  if (!tenant) return undefined;
  const operation = args.document.definitions.find(
    (d): d is OperationDefinitionNode => d.kind === Kind.OPERATION_DEFINITION && (!args.operationName || d.name?.value === args.operationName),
  );
  const field = operation?.selectionSet.selections[0];
  if (!operation || operation.operation !== 'subscription' || !field || field.kind !== Kind.FIELD) return undefined;
  const after = field.arguments?.find((a) => a.name.value === 'after')?.value;
  const replays =
    after !== undefined &&
    after.kind !== Kind.NULL &&
    !(after.kind === Kind.VARIABLE && (args.variableValues?.[after.name.value] === null || args.variableValues?.[after.name.value] === undefined));
  if (replays) return undefined;
  return JSON.stringify([tenant, print(args.document), args.variableValues ?? {}, args.operationName ?? null]);
}

class Group {
  private readonly members = new Set<QueueIterator<ExecutionResult>>();
  private closed = false;

  constructor(
    private readonly upstream: AsyncIterator<ExecutionResult>,
    private readonly onEmpty: () => void,
  ) {
    void this.pump();
  }

  join(): AsyncIterableIterator<ExecutionResult> {
    const member = new QueueIterator<ExecutionResult>(() => {
      this.members.delete(member);
      if (this.members.size === 0 && !this.closed) {
        this.closed = true;
        this.onEmpty();
        void this.upstream.return?.(undefined);
      }
    });
    this.members.add(member);
    return member;
  }

  private async pump(): Promise<void> {
    try {
      for (;;) {
        const next = await this.upstream.next();
        if (next.done) break;
        for (const member of this.members) member.push(next.value);
      }
      this.close((member) => member.end());
    } catch (error) {
      // Every member hears why (a lag, say, with where to resume), after what it already has.
      this.close((member) => member.fail(error));
    }
  }

  private close(how: (member: QueueIterator<ExecutionResult>) => void): void {
    if (this.closed) return;
    this.closed = true;
    this.onEmpty();
    for (const member of [...this.members]) how(member);
  }
}

const isAsyncIterable = (value: unknown): value is AsyncGenerator<ExecutionResult> =>
  typeof (value as AsyncIterable<unknown>)?.[Symbol.asyncIterator] === 'function';
