import { Field, InputType, ObjectType } from 'type-graphql';
import { formatAmount } from '../core/money.js';
import type { SpendingState } from '../store/store.js';
import { Problem } from './problem.js';
import { CurrencyCodeScalar } from './scalars.js';

const amount = (minor: number | null, currency: string): string | null => (minor === null ? null : formatAmount({ minor, currency }));

@ObjectType({
  simpleResolvers: true,
  description:
    "One currency of your tenant's spending: its limits over a rolling day and 30 days, what your sends committed in each, and what remains. " +
    'A send counts from when it is recorded (a scheduled one from when it is scheduled) until it certainly was not spent: FAILED, NOT_SENT or CANCELED. ' +
    'An UNCONFIRMED send counts until it is settled. Amounts are decimal strings in the currency.',
})
export class SpendingWindow {
  @Field(() => CurrencyCodeScalar)
  currency!: string;

  @Field(() => String, { nullable: true, description: 'The limit over the last 24 hours; null: none.' })
  perDayLimit!: string | null;

  @Field(() => String, { description: 'Committed over the last 24 hours.' })
  perDaySpent!: string;

  @Field(() => String, { nullable: true, description: 'What the limit leaves over the last 24 hours; null without a limit.' })
  perDayRemaining!: string | null;

  @Field(() => String, { nullable: true, description: 'The limit over the last 30 days; null: none.' })
  per30DaysLimit!: string | null;

  @Field(() => String, { description: 'Committed over the last 30 days.' })
  per30DaysSpent!: string;

  @Field(() => String, { nullable: true, description: 'What the limit leaves over the last 30 days; null without a limit.' })
  per30DaysRemaining!: string | null;

  static from(state: SpendingState): SpendingWindow {
    const { currency } = state;
    const remaining = (limit: number | null, spent: number) => (limit === null ? null : amount(Math.max(0, limit - spent), currency));
    return Object.assign(new SpendingWindow(), {
      currency,
      perDayLimit: amount(state.perDayMinor, currency),
      perDaySpent: amount(state.perDaySpentMinor, currency),
      perDayRemaining: remaining(state.perDayMinor, state.perDaySpentMinor),
      per30DaysLimit: amount(state.per30DaysMinor, currency),
      per30DaysSpent: amount(state.per30DaysSpentMinor, currency),
      per30DaysRemaining: remaining(state.per30DaysMinor, state.per30DaysSpentMinor),
    });
  }
}

@InputType({ description: "A tenant's spending limits in one currency. Both null removes them." })
export class SpendingLimitInput {
  @Field(() => String, { description: 'The tenant the limits apply to.' })
  tenant!: string;

  @Field(() => CurrencyCodeScalar, { description: 'In any letter case: `usd` is USD.' })
  currency!: string;

  @Field(() => String, { nullable: true, description: 'Decimal string, like MoneyInput.amount: at most this over any 24 hours; null: no limit.' })
  perDay?: string | null;

  @Field(() => String, { nullable: true, description: 'Decimal string: at most this over any 30 days; null: no limit.' })
  per30Days?: string | null;
}

@ObjectType({ simpleResolvers: true, description: "What setSpendingLimit did: the tenant's spending under its new limits, or the problems of the input." })
export class SetSpendingLimitPayload {
  @Field(() => SpendingWindow, { nullable: true, description: "The tenant's spending in that currency under its new limits; null when the input was refused (see problems)." })
  spending!: SpendingWindow | null;

  @Field(() => [Problem], { description: 'What kept this request from doing all it asked; empty when it did. Every problem of an invalid input is listed, each naming its field.' })
  problems!: Problem[];
}
