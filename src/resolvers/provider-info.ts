import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Provider } from '../core/model.js';
import { Money } from '../schema/money.js';
import { ProviderCircuit, ProviderInfo, ProviderOrdersSync } from '../schema/provider-info.js';
import type { GraphQLContext } from './context.js';

@Resolver(() => ProviderInfo)
export class ProviderInfoResolver {
  @FieldResolver(() => [Money], {
    nullable: true,
    description: 'Funds available to send with, per currency, asked of the provider now. Null where the provider reports none.',
  })
  async balances(@Root() info: ProviderInfo, @Ctx() ctx: GraphQLContext): Promise<Money[] | null> {
    // A provider's failure arrives as the catalog service's typed error.
    const balances = await ctx.loaders!.balances.load(info.name as Provider);
    return balances?.map((m) => Money.from(m)!) ?? null;
  }

  @FieldResolver(() => ProviderCircuit, {
    description: "Whether giftgraph is calling this provider now, or pausing calls because it keeps failing. Read from this server's own state; the provider is not asked.",
  })
  circuit(@Root() info: ProviderInfo, @Ctx() ctx: GraphQLContext): ProviderCircuit {
    const health = ctx.services.providers.health(info.name as Provider);
    return Object.assign(new ProviderCircuit(), {
      state: health.state,
      retryAt: health.retryAt === null ? null : new Date(health.retryAt),
      consecutiveFailures: health.failures,
    });
  }

  @FieldResolver(() => ProviderOrdersSync, {
    nullable: true,
    description: "How fresh the ledger's copy of this provider's own list of orders is (orders placed in its app); null for a provider without a list. Read from the ledger.",
  })
  async ordersSync(@Root() info: ProviderInfo, @Ctx() ctx: GraphQLContext): Promise<ProviderOrdersSync | null> {
    if (!ctx.services.providers.get(info.name as Provider)?.adapter.orderList) return null;
    const state = await ctx.services.listing.syncState(info.name as Provider);
    return Object.assign(new ProviderOrdersSync(), {
      syncedAt: state?.syncedAt ? new Date(state.syncedAt) : null,
      failedAt: state?.failedAt ? new Date(state.failedAt) : null,
      lastError: state?.lastError ?? null,
    });
  }
}
