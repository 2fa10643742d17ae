import { decodeId } from '../core/global-id.js';
import { Order, orderView, ORDER_TYPES } from '../schema/order.js';
import { authorize, type GraphQLContext } from './context.js';

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

export function referenceResolvers(): Record<string, { __resolveReference: typeof resolveOrderReference }> {
  const resolvers: Record<string, { __resolveReference: typeof resolveOrderReference }> = {
    Order: { __resolveReference: resolveOrderReference },
  };
  for (const type of ORDER_TYPES) {
    resolvers[type.name] = {
      __resolveReference: async (reference, ctx) => {
        const order = await resolveOrderReference(reference, ctx);
        return order instanceof type ? order : null;
      },
    };
  }
  return resolvers;
}
