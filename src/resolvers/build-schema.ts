import 'reflect-metadata';
import { buildSubgraphSchema } from '@apollo/subgraph';
import { printSchemaWithDirectives } from '@graphql-tools/utils';
import { parse, type GraphQLSchema } from 'graphql';
import { DateTimeResolver } from 'graphql-scalars';
import { buildSchema, createResolversMap } from 'type-graphql';
import { referenceResolvers } from './entities.js';
import { MutationResolver } from './mutation.js';
import { OrderFieldsResolver, RecipientFieldsResolver } from './order-fields.js';
import { PersonFieldsResolver } from './person.js';
import { ProviderInfoResolver } from './provider-info.js';
import { QueryResolver } from './query.js';
import { SubscriptionResolver } from './subscription.js';
import { authChecker } from './access.js';
import { ORDER_TYPES } from '../schema/order.js';

const FEDERATION_LINK = 'extend schema @link(url: "https://specs.apollo.dev/federation/v2.7", import: ["@key", "@shareable", "@tag", "@inaccessible"])';

let built: Promise<GraphQLSchema> | undefined;

/**
 * The federated subgraph schema: type-graphql builds the types and resolvers, then
 * `buildSubgraphSchema` adds `_service` and `_entities` with our reference resolvers.
 * Built once per process; the result is the same for HTTP and WebSocket.
 */
export function buildGiftgraphSchema(): Promise<GraphQLSchema> {
  built ??= (async () => {
    const schema = await buildSchema({
      resolvers: [QueryResolver, MutationResolver, SubscriptionResolver, OrderFieldsResolver, RecipientFieldsResolver, PersonFieldsResolver, ProviderInfoResolver],
      // type-graphql asks for a PubSub; our one subscription brings its own stream from the context
      // (the event log and the status bus), so topic-based subscriptions are refused outright.
      pubSub: {
        publish: () => {
          throw new Error('topic subscriptions are not used: publish status events through the StatusBus');
        },
        subscribe: () => {
          throw new Error('topic subscriptions are not used: orderStatusChanged streams from the event log');
        },
      },
      orphanedTypes: [...ORDER_TYPES],
      // Every object type declares `simpleResolvers`: a plain field is read by graphql's default
      // resolver rather than through type-graphql's per-field wrapper, which costs a call and an
      // allocation per field of every answer. None has middlewares or @Authorized; fields with a
      // @FieldResolver keep theirs.
      authChecker,
      scalarsMap: [{ type: Date, scalar: DateTimeResolver }],
      validate: false,
      skipCheck: true,
      emitSchemaFile: false,
    });
    const typeDefs = parse(`${FEDERATION_LINK}\n${printSchemaWithDirectives(schema)}`);
    const resolvers = createResolversMap(schema) as Record<string, object>;
    for (const [type, reference] of Object.entries(referenceResolvers())) {
      resolvers[type] = { ...(resolvers[type] ?? {}), ...reference };
    }
    return buildSubgraphSchema({ typeDefs, resolvers: resolvers as never });
  })();
  return built;
}
