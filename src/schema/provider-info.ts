import { DateTimeResolver } from 'graphql-scalars';
import { Field, Int, ObjectType, registerEnumType } from 'type-graphql';
import { ProviderMode, Provider } from './enums.js';
import { ProviderCapabilities } from './order.js';

export const CircuitState = { CLOSED: 'CLOSED', OPEN: 'OPEN', HALF_OPEN: 'HALF_OPEN' } as const;

registerEnumType(CircuitState, {
  name: 'CircuitState',
  description: 'Whether giftgraph is calling a provider, or holding calls back because it keeps failing (its circuit breaker).',
  valuesConfig: {
    CLOSED: { description: 'Calls go through.' },
    OPEN: {
      description: 'The provider failed too often in a row (no answer, timeouts, 5xx, 429): calls to it fail at once with PROVIDER_UNAVAILABLE, nothing sent, until retryAt.',
    },
    HALF_OPEN: { description: 'The pause is over: the next call is let through to test the provider; an answer closes the circuit, a failure opens it for longer.' },
  },
});

@ObjectType({ simpleResolvers: true, description: "A provider's circuit breaker, as it stands now." })
export class ProviderCircuit {
  @Field(() => CircuitState, { description: 'Whether calls to the provider go through now.' })
  state!: string;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When calls are let through again (a single test call first); null while CLOSED.' })
  retryAt!: Date | null;

  @Field(() => Int, { description: 'Calls in a row that found the provider down; any answer from it sets this back to 0.' })
  consecutiveFailures!: number;
}

@ObjectType({
  simpleResolvers: true,
  description:
    "How fresh giftgraph's copy of a provider's own list of orders is: `orders` is served from the ledger, which a background sync keeps abreast of the orders placed in the provider's app.",
})
export class ProviderOrdersSync {
  @Field(() => DateTimeResolver, { nullable: true, description: 'When the last sync that reached the orders already recorded started; null before the first.' })
  syncedAt!: Date | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the last sync failed, if it did since the last success; null otherwise.' })
  failedAt!: Date | null;

  @Field(() => String, { nullable: true, description: 'Why the last sync failed, in client-safe words; null after a success.' })
  lastError!: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'A provider this server is configured for.' })
export class ProviderInfo {
  @Field(() => Provider)
  name!: string;

  @Field(() => ProviderMode)
  mode!: string;

  @Field(() => ProviderCapabilities)
  capabilities!: ProviderCapabilities;

  // `balances` is resolved on demand (ProviderInfoResolver): it asks the provider. So is `circuit`,
  // read from the registry when asked.
}
