import { Directive, Field, InputType, ObjectType } from 'type-graphql';
import { formatAmount } from '../core/money.js';
import type { MoneyRecord } from '../core/records.js';

// A value type any subgraph may define the same way.
@Directive('@shareable')
@ObjectType({ simpleResolvers: true, description: 'An exact amount of money. The amount is a decimal string, never a float.' })
export class Money {
  @Field(() => String, { description: 'Decimal string with the currency\'s own number of decimals, e.g. "25.00" or "500" (JPY).' })
  amount!: string;

  @Field(() => String, { description: 'ISO 4217 currency code.' })
  currency!: string;

  static from(record: MoneyRecord | null | undefined): Money | null {
    if (!record) return null;
    return Object.assign(new Money(), { amount: formatAmount(record), currency: record.currency });
  }
}

@InputType({ description: 'An exact amount: a decimal string and an ISO 4217 currency code.' })
export class MoneyInput {
  @Field(() => String, { description: 'Decimal string, e.g. "25" or "25.50"; no more decimals than the currency has.' })
  amount!: string;

  @Field(() => String)
  currency!: string;
}
