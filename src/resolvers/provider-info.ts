import { Ctx, FieldResolver, Resolver, Root } from 'type-graphql';
import type { Provider } from '../core/model.js';
import { GiftgraphError } from '../core/errors.js';
import { ProviderCallError } from '../providers/http.js';
import { Money } from '../schema/money.js';
import { ProviderInfo } from '../schema/provider-info.js';
import type { GraphQLContext } from './context.js';

@Resolver(() => ProviderInfo)
export class ProviderInfoResolver {
  @FieldResolver(() => [Money], {
    nullable: true,
    description: 'Funds available to send with, per currency, asked of the provider now. Null where the provider reports none.',
  })
  async balances(@Root() info: ProviderInfo, @Ctx() ctx: GraphQLContext): Promise<Money[] | null> {
    try {
      const balances = await ctx.loaders!.balances.load(info.name as Provider);
      return balances?.map((m) => Money.from(m)!) ?? null;
    } catch (error) {
      if (!(error instanceof ProviderCallError)) throw error;
      throw new GiftgraphError('PROVIDER_UNAVAILABLE', `${error.provider} did not report its balance: ${error.message}`, {
        provider: error.provider,
        providerCode: error.providerCode,
        retryable: error.kind !== 'rejected',
      });
    }
  }
}
