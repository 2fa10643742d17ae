import { decodeId } from '../core/global-id.js';
import { type Order, orderView, ORDER_TYPES } from '../schema/order.js';
import { authorize, type GraphQLContext } from './context.js';
import { resolvePersonReference } from './person.js';

/**
 * `_entities` lookups from a gateway. They pass through the same tenant check as `order(id)`:
 * an id of another tenant resolves to null, and a batch of representations is one store query.
 */
async function resolveOrderReference(reference: { id: string }, ctx: GraphQLContext): Promise<Order | null> {
  const { loaders } = authorize(ctx, 'orders:read');
  const decoded = decodeId(reference.id, 'Order');
  if (!decoded) return null;
  const record = await loaders.order.load(decoded.local);
  return record && record.provider === decoded.provider ? orderView(record) : null;
}

type ReferenceResolver = (reference: never, ctx: GraphQLContext) => unknown;

export function referenceResolvers(): Record<string, { __resolveReference: ReferenceResolver }> {
  const resolvers: Record<string, { __resolveReference: ReferenceResolver }> = {
    Order: { __resolveReference: resolveOrderReference },
    Person: { __resolveReference: resolvePersonReference },
  };
  for (const type of ORDER_TYPES) {
    resolvers[type.name] = {
      __resolveReference: async (reference: { id: string }, ctx: GraphQLContext) => {
        const order = await resolveOrderReference(reference, ctx);
        return order instanceof type ? order : null;
      },
    };
  }
  return resolvers;
}
