import { Directive, Field, InputType, ObjectType } from 'type-graphql';
import { formatAmount } from '../core/money.js';
import type { MoneyRecord } from '../core/records.js';
import { CurrencyCodeScalar } from './scalars.js';

// A value type any subgraph may define the same way. Its fields keep the types other subgraphs
// declare (`currency: String!`): a shared field changes type only in step with every subgraph that
// defines it, or composition fails. The code is an upper-case ISO 4217 code all the same.
@Directive('@shareable')
@ObjectType({ simpleResolvers: true, description: 'An exact amount of money. The amount is a decimal string, never a float.' })
export class Money {
  @Field(() => String, { description: 'Decimal string with the currency\'s own number of decimals, e.g. "25.00" or "500" (JPY).' })
  amount!: string;

  @Field(() => String, { description: 'ISO 4217 currency code, in upper case.' })
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

  @Field(() => CurrencyCodeScalar, { description: 'In any letter case: `cad` is CAD.' })
  currency!: string;
}
