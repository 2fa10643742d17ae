import { DateTimeResolver } from 'graphql-scalars';
import { Field, Int, ObjectType } from 'type-graphql';
import type { SendPreviewResult } from '../orders/preview.js';
import { Money } from './money.js';
import { Problem } from './problem.js';

@ObjectType({ simpleResolvers: true, description: 'One recipient of a previewed send.' })
export class RecipientPreview {
  @Field(() => Int, { description: 'Its position in the input, from 0.' })
  position!: number;

  @Field(() => Money, { nullable: true, description: "What it would be sent; null where the provider prices it (a product's price)." })
  amount!: Money | null;
}

@ObjectType({
  simpleResolvers: true,
  description:
    'What sendGifts would do with the same input now, found without sending: every check it makes, what it would cost, and where it would wait. Nothing is recorded and no provider is asked to send.',
})
export class SendPreview {
  @Field(() => [Money], { description: 'What the send asks per currency, of the recipients whose amount is known.' })
  totals!: Money[];

  @Field(() => [RecipientPreview], { description: "Each recipient's amount, in input order; empty when the input is refused." })
  recipients!: RecipientPreview[];

  @Field(() => Boolean, { description: 'giftgraph would hold the send until sendAt and send it then (its provider cannot schedule).' })
  heldByGiftgraph!: boolean;

  @Field(() => Boolean, { description: 'The provider would hold the send until sendAt itself.' })
  scheduledAtProvider!: boolean;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When it would be sent; null: now.' })
  sendAt!: Date | null;

  @Field(() => [Money], { nullable: true, description: "The provider's balance, where it reports one; null otherwise, or when it cannot be asked now." })
  balance!: Money[] | null;

  @Field(() => Boolean, { nullable: true, description: 'Whether that balance covers the totals; null when the balance is unknown.' })
  balanceCovers!: boolean | null;

  @Field(() => Boolean, { description: 'A spending limit of your tenant would refuse the send (its problem says which).' })
  overSpendingLimit!: boolean;

  @Field(() => [Problem], { description: 'Every problem sendGifts would report for this input now, the same list; empty when it would send.' })
  problems!: Problem[];

  static from(result: SendPreviewResult): SendPreview {
    return Object.assign(new SendPreview(), {
      ...result,
      totals: result.totals.map((m) => Money.from(m)!),
      recipients: result.recipients.map((r) => Object.assign(new RecipientPreview(), { position: r.position, amount: Money.from(r.amount) })),
      sendAt: result.sendAt ? new Date(result.sendAt) : null,
      balance: result.balance?.map((m) => Money.from(m)!) ?? null,
      problems: result.problems.map(Problem.from),
    });
  }
}
