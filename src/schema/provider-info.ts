import { Field, ObjectType } from 'type-graphql';
import { ProviderMode, Provider } from './enums.js';
import { ProviderCapabilities } from './order.js';

@ObjectType({ description: 'A provider this server is configured for.' })
export class ProviderInfo {
  @Field(() => Provider)
  name!: string;

  @Field(() => ProviderMode)
  mode!: string;

  @Field(() => ProviderCapabilities)
  capabilities!: ProviderCapabilities;

  // `balances` is resolved on demand (ProviderInfoResolver): it asks the provider.
}
