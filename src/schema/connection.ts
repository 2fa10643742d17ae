import type { Connection, Edge, PageInfoShape } from '../pagination/connection.js';
import { Directive, Field, ObjectType, type ClassType } from 'type-graphql';

// Every subgraph with a Relay connection defines the same PageInfo.
@Directive('@shareable')
@ObjectType({ simpleResolvers: true, description: 'Relay page information.' })
export class PageInfo implements PageInfoShape {
  @Field(() => Boolean)
  hasNextPage!: boolean;

  @Field(() => Boolean)
  hasPreviousPage!: boolean;

  @Field(() => String, { nullable: true })
  startCursor!: string | null;

  @Field(() => String, { nullable: true })
  endCursor!: string | null;
}

export type { Connection, Edge } from '../pagination/connection.js';

/** The Relay `<Name>Edge` and `<Name>Connection` types for a node type. */
export function connectionTypes<T extends object>(name: string, node: ClassType<T> | (abstract new () => T)) {
  @ObjectType(`${name}Edge`, { simpleResolvers: true })
  class EdgeType implements Edge<T> {
    @Field(() => String)
    cursor!: string;

    @Field(() => node)
    node!: T;
  }

  @ObjectType(`${name}Connection`, { simpleResolvers: true })
  class ConnectionType implements Connection<T> {
    @Field(() => [EdgeType])
    edges!: EdgeType[];

    @Field(() => PageInfo)
    pageInfo!: PageInfo;
  }

  return { EdgeType, ConnectionType };
}
