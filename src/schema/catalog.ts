import { Field, ID, ObjectType } from 'type-graphql';
import { encodeId } from '../core/global-id.js';
import type { Provider as ProviderName } from '../core/model.js';
import type { CatalogEntry } from '../providers/adapter.js';
import { CatalogKind, Provider } from './enums.js';
import { Money } from './money.js';
import { CurrencyCodeScalar, fit } from './scalars.js';
import { type Connection, type Edge, PageInfo } from './connection.js';
import { Problem } from './problem.js';

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

  @Field(() => CurrencyCodeScalar, { nullable: true })
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
      currency: fit.currency(e.currency, { type: 'CatalogItem', field: 'currency', provider }),
      prices: e.prices.map((p) => Money.from(p)!),
      minAmount: Money.from(e.minAmount),
      maxAmount: Money.from(e.maxAmount),
    });
  }
}

@ObjectType({ simpleResolvers: true })
export class CatalogEdge implements Edge<CatalogItem> {
  @Field(() => String)
  cursor!: string;

  @Field(() => CatalogItem)
  node!: CatalogItem;
}

/**
 * A Relay connection that also says whether its page is whole: a provider that fails part of the
 * way through a page it is read for leaves the items read before, and the failure as a problem.
 */
@ObjectType({ simpleResolvers: true })
export class CatalogConnection implements Connection<CatalogItem> {
  @Field(() => [CatalogEdge])
  edges!: CatalogEdge[];

  @Field(() => PageInfo)
  pageInfo!: PageInfo;

  @Field(() => Boolean, {
    description:
      'False when the provider failed part of the way through this page: the edges are the items read before, and `pageInfo.endCursor` resumes right after them. A page it failed before any item is an error.',
  })
  complete!: boolean;

  @Field(() => [Problem], { description: 'Why the page is not complete; empty when it is.' })
  problems!: Problem[];
}
