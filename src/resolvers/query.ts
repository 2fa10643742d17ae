import { Arg, Authorized, Ctx, ID, Int, Query, Resolver } from 'type-graphql';
import { badInput, notFound } from '../core/errors.js';
import { decodeId } from '../core/global-id.js';
import type { GiftStatus, Provider as ProviderName } from '../core/model.js';
import { clientCapabilities } from '../orders/held.js';
import { isOrderPosition, type OrderFilterValues } from '../orders/listing.js';
import { checkRecipientEmailFilter, type SendGiftsCommand } from '../orders/validate.js';
import { pageInfo, pageSize } from '../pagination/connection.js';
import { CatalogConnection, CatalogItem } from '../schema/catalog.js';
import { Provider } from '../schema/enums.js';
import { OrderFilter, SendGiftsInput } from '../schema/inputs.js';
import { Order, OrderConnection, orderView, ProviderCapabilities } from '../schema/order.js';
import { Problem } from '../schema/problem.js';
import { SendPreview } from '../schema/preview.js';
import { ProviderInfo } from '../schema/provider-info.js';
import { SpendingWindow } from '../schema/spending.js';
import { authorize, type GraphQLContext } from './context.js';

@Resolver()
export class QueryResolver {
  @Query(() => Order, {
    nullable: true,
    description: 'One order of your tenant, by its global id. An order still on its way is asked of its provider first.',
  })
  async order(@Arg('id', () => ID) id: string, @Ctx() ctx: GraphQLContext): Promise<Order> {
    const { viewer, loaders } = authorize(ctx, 'orders:read');
    const decoded = decodeId(id, 'Order');
    if (!decoded) throw badInput('id', 'is not an Order id');
    // One order asked for by id is read through: a still-moving order is asked of its provider first.
    const [record] = await ctx.services.orders.load(viewer.tenant, [decoded.local], { refresh: true });
    // Another tenant's order is NOT_FOUND, not FORBIDDEN: its existence is not revealed.
    if (!record || record.provider !== decoded.provider) throw notFound('Order');
    loaders.order.prime(record.id, record);
    return orderView(record);
  }

  @Query(() => OrderConnection, {
    description:
      "Your tenant's orders at every provider, newest first: those sent through giftgraph, and those placed in a provider's own app " +
      'where the provider lists them and your tenant owns that account. Served from the ledger alone, so a provider that is down ' +
      "leaves every page whole; orders placed in a provider's app appear once its list is synced (see `providers { ordersSync }`).",
  })
  async orders(
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
    @Arg('filter', () => OrderFilter, { nullable: true }) filter?: OrderFilter | null,
  ): Promise<OrderConnection> {
    const { viewer, loaders, cursors } = authorize(ctx, 'orders:read');
    const size = pageSize(first);
    const values = filterValues(filter);
    const scope = { list: 'orders', filter: values };
    const from = after ? cursors.decode(scope, after, 'after', isOrderPosition) : {};
    const page = await ctx.services.listing.page(viewer.tenant, values, from, size);
    const edges = page.edges.map(({ node, position }) => {
      loaders.order.prime(node.id, node);
      return { cursor: cursors.encode(scope, position), node: orderView(node) };
    });
    return { edges, pageInfo: pageInfo(edges, page.hasNextPage, Boolean(after)) };
  }

  @Query(() => SendPreview, {
    description:
      'What sendGifts would do with this input now, without sending: the same checks and problems, the totals per currency, where the send would wait, the balance and spending limits. Needs orders:write.',
  })
  async previewSend(@Arg('input', () => SendGiftsInput) input: SendGiftsInput, @Ctx() ctx: GraphQLContext): Promise<SendPreview> {
    const { viewer } = authorize(ctx, 'orders:write');
    return SendPreview.from(await ctx.services.previews.preview(viewer.tenant, input as SendGiftsCommand));
  }

  @Query(() => [SpendingWindow], {
    description: "Your tenant's spending per currency: each limit an operator set (setSpendingLimit), what your sends committed against it, and what remains.",
  })
  async spending(@Ctx() ctx: GraphQLContext): Promise<SpendingWindow[]> {
    const { viewer } = authorize(ctx, 'orders:read');
    return (await ctx.services.spending.spending(viewer.tenant)).map(SpendingWindow.from);
  }

  @Authorized('orders:read')
  @Query(() => [ProviderInfo], { description: 'The providers this server is configured for.' })
  providers(@Ctx() ctx: GraphQLContext): ProviderInfo[] {
    return ctx.services.providers.all().map(({ adapter, mode }) =>
      Object.assign(new ProviderInfo(), {
        name: adapter.provider,
        mode,
        capabilities: Object.assign(new ProviderCapabilities(), clientCapabilities(adapter)),
      }),
    );
  }

  @Authorized('orders:read')
  @Query(() => CatalogConnection, {
    description:
      'What a provider can send, with its prices or amount range. Goody and &Open page it live: a page the provider fails part of the way through says so in `complete` and `problems`.',
  })
  async catalog(
    @Arg('provider', () => Provider) provider: ProviderName,
    @Ctx() ctx: GraphQLContext,
    @Arg('first', () => Int, { nullable: true }) first?: number | null,
    @Arg('after', () => String, { nullable: true }) after?: string | null,
  ): Promise<CatalogConnection> {
    const page = await ctx.services.catalog.page(provider, { first, after }, ctx.cursors!, (entry) => CatalogItem.from(provider, entry));
    return Object.assign(new CatalogConnection(), page, { complete: page.problems.length === 0, problems: page.problems.map(Problem.from) });
  }
}

/** The filter in one canonical form: the same filter always hashes the same in a cursor. */
function filterValues(filter: OrderFilter | null | undefined): OrderFilterValues {
  const sorted = <T extends string>(values: readonly T[] | null | undefined) => (values?.length ? [...new Set(values)].sort() : undefined);
  return {
    providers: sorted(filter?.providers as ProviderName[] | undefined),
    statuses: sorted(filter?.statuses as GiftStatus[] | undefined),
    createdAfter: filter?.createdAfter?.toISOString(),
    createdBefore: filter?.createdBefore?.toISOString(),
    recipientEmail: checkRecipientEmailFilter(filter?.recipientEmail),
  };
}
