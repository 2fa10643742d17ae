import { Arg, Authorized, Ctx, ID, Int, Query, Resolver } from 'type-graphql';
import { badInput, notFound } from '../core/errors.js';
import { decodeId } from '../core/global-id.js';
import type { GiftStatus, Provider as ProviderName } from '../core/model.js';
import { decodeKeyset, keysetConnection, offsetConnection, pageSize } from '../pagination/connection.js';
import { CatalogConnection, CatalogItem } from '../schema/catalog.js';
import { Provider } from '../schema/enums.js';
import { OrderFilter } from '../schema/inputs.js';
import { Order, OrderConnection, orderView, ProviderCapabilities } from '../schema/order.js';
import { ProviderInfo } from '../schema/provider-info.js';
import { authorize, type GraphQLContext } from './context.js';

@Resolver()
export class QueryResolver {
  @Query(() => Order, { nullable: true, description: 'One order of your tenant, by its global id.' })
  async order(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Order> {
    const { loaders } = authorize(ctx, 'orders:read');
    const decoded = decodeId(id, 'Order');
    if (!decoded) throw badInput('id', 'is not an Order id');
    // Another tenant's order is NOT_FOUND, not FORBIDDEN: its existence is not revealed.
    const record = await loaders.order.load(decoded.local);
    if (!record || record.provider !== decoded.provider) throw notFound('Order');
    return orderView(record);
  }

  @Query(() => OrderConnection, { description: 'Your tenant\'s orders at every provider, newest first.' })
  async orders(
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('filter', () => OrderFilter, { nullable: true }) filter?: OrderFilter | null,
  ): Promise<OrderConnection> {
    const { viewer, loaders } = authorize(ctx, 'orders:read');
    const size = pageSize(first);
    const position = after ? decodeKeyset(after) : undefined;
    const rows = await ctx.services.orders.list({
      tenant: viewer.tenant,
      limit: size + 1,
      after: position,
      providers: filter?.providers as ProviderName[] | undefined,
      statuses: filter?.statuses as GiftStatus[] | undefined,
      createdAfter: filter?.createdAfter?.toISOString(),
      createdBefore: filter?.createdBefore?.toISOString(),
      recipientEmail: filter?.recipientEmail?.trim() || undefined,
    });
    for (const row of rows) loaders.order.prime(row.id, row);
    return keysetConnection(rows, size, Boolean(after), orderView);
  }

  @Authorized('orders:read')
  @Query(() => [ProviderInfo], { description: 'The providers this server is configured for.' })
  providers(@Ctx() ctx: GraphQLContext): ProviderInfo[] {
    return ctx.services.providers.all().map(({ adapter, mode }) =>
      Object.assign(new ProviderInfo(), {
        name: adapter.provider,
        mode,
        capabilities: Object.assign(new ProviderCapabilities(), adapter.capabilities),
      }),
    );
  }

  @Authorized('orders:read')
  @Query(() => CatalogConnection, { description: 'What a provider can send, with its prices or amount range.' })
  async catalog(
    @Arg('provider', () => Provider) provider: ProviderName,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<CatalogConnection> {
    const registered = ctx.services.providers.get(provider);
    if (!registered) throw badInput('provider', `${provider} is not configured on this server`);
    const entries = await registered.adapter.catalog();
    return offsetConnection(
      entries.map((e) => CatalogItem.from(provider, e)),
      first,
      after,
    );
  }
}
