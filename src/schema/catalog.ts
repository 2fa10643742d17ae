import { Field, ID, ObjectType } from 'type-graphql';
import { encodeId } from '../core/global-id.js';
import type { Provider as ProviderName } from '../core/model.js';
import type { CatalogEntry } from '../providers/adapter.js';
import { CatalogKind, Provider } from './enums.js';
import { Money } from './money.js';
import { connectionTypes } from './connection.js';

@ObjectType({
  simpleResolvers: true,
  description:
    'Something a provider can send. Its id is what sendGifts options take (productId, campaignId). Priced either at fixed points (prices) or in a range (minAmount..maxAmount).',
})
export class CatalogItem {
  @Field(() => ID)
  id!: string;

  @Field(() => Provider)
  provider!: string;

  @Field(() => CatalogKind)
  kind!: string;

  @Field(() => String)
  name!: string;

  @Field(() => String, { nullable: true })
  currency!: string | null;

  @Field(() => [Money])
  prices!: Money[];

  @Field(() => Money, { nullable: true })
  minAmount!: Money | null;

  @Field(() => Money, { nullable: true })
  maxAmount!: Money | null;

  static from(provider: ProviderName, e: CatalogEntry): CatalogItem {
    return Object.assign(new CatalogItem(), {
      id: encodeId('CatalogItem', provider, e.localId),
      provider,
      kind: e.kind,
      name: e.name,
      currency: e.currency,
      prices: e.prices.map((p) => Money.from(p)!),
      minAmount: Money.from(e.minAmount),
      maxAmount: Money.from(e.maxAmount),
    });
  }
}

export const { EdgeType: CatalogEdge, ConnectionType: CatalogConnection } = connectionTypes('Catalog', CatalogItem);
export type CatalogConnection = InstanceType<typeof CatalogConnection>;
