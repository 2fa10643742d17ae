import { DateTimeResolver } from 'graphql-scalars';
import { Field, ID, InputType, Int } from 'type-graphql';
import { GiftronautCardType, GiftStatus, GoodySendMethod, GuustoLanguage, Provider, SettlementOutcome } from './enums.js';
import { MoneyInput } from './money.js';
import { EmailAddressScalar, TimeZoneScalar } from './scalars.js';

@InputType({ description: 'One person to send a gift to. Which fields a provider needs varies: see each provider in the README.' })
export class RecipientInput {
  @Field(() => EmailAddressScalar, { nullable: true })
  email?: string | null;

  @Field(() => String, { nullable: true, description: 'Guusto: identifies a workspace member when there is no email.' })
  employeeNumber?: string | null;

  @Field(() => String, { nullable: true })
  firstName?: string | null;

  @Field(() => String, { nullable: true })
  lastName?: string | null;

  @Field(() => String, { nullable: true })
  company?: string | null;

  @Field(() => String, { nullable: true })
  department?: string | null;

  @Field(() => MoneyInput, { nullable: true, description: "This recipient's amount, instead of the order's." })
  amount?: MoneyInput | null;
}

@InputType({ description: 'Options only Guusto understands.' })
export class GuustoOptions {
  @Field(() => GuustoLanguage, { nullable: true })
  language?: string | null;
}

@InputType({ description: 'Options only Giftronaut understands.' })
export class GiftronautOptions {
  @Field(() => ID, { description: 'The id of a BRANDED_CARD or CHOICE_CARD item from catalog(provider: GIFTRONAUT).' })
  productId!: string;

  @Field(() => GiftronautCardType, { nullable: true, description: 'Optional: the product already says which; when given it must agree.' })
  cardType?: string | null;

  @Field(() => String, { nullable: true, description: 'Subject of the gift email; "A gift from <senderName>" when absent.' })
  subject?: string | null;

  @Field(() => String, { nullable: true, description: "An email template id; the organization's default when absent." })
  templateId?: string | null;

  @Field(() => Boolean, { nullable: true, description: 'True: 30-day links and 70% of unredeemed funds back. False (default): 180-day links.' })
  refundOption?: boolean | null;
}

@InputType({ description: 'Options only Goody understands. Every recipient gets the same cart.' })
export class GoodyOptions {
  @Field(() => ID, { description: 'The id of a PRODUCT from catalog(provider: GOODY).' })
  productId!: string;

  @Field(() => Int, { nullable: true, description: 'How many of the product each recipient gets; 1 by default.' })
  quantity?: number | null;

  @Field(() => GoodySendMethod, { nullable: true, description: 'EMAIL_AND_LINK by default.' })
  sendMethod?: string | null;

  @Field(() => String, { nullable: true, description: 'A Goody greeting card id; Goody shows a message only on a card.' })
  cardId?: string | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the gift links stop working.' })
  expiresAt?: Date | null;
}

@InputType({ description: 'Options only &Open understands. The campaign defines the gift; each recipient gets one gift request.' })
export class AndOpenOptions {
  @Field(() => ID, { description: 'The id of a CAMPAIGN from catalog(provider: ANDOPEN).' })
  campaignId!: string;
}

@InputType()
export class SendGiftsInput {
  @Field(() => Provider)
  provider!: string;

  @Field(() => String, {
    description: 'Your unique key for this send (1..64 printable characters). The same key with the same input returns the same order and never sends twice.',
  })
  idempotencyKey!: string;

  @Field(() => [RecipientInput])
  recipients!: RecipientInput[];

  @Field(() => MoneyInput, { nullable: true, description: 'Per recipient, unless a recipient has its own.' })
  amount?: MoneyInput | null;

  @Field(() => String, { nullable: true })
  message?: string | null;

  @Field(() => String, { nullable: true, description: 'Shown as the sender where the provider shows one (Guusto shows the workspace name).' })
  senderName?: string | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'Send later, where the provider can schedule.' })
  sendAt?: Date | null;

  @Field(() => TimeZoneScalar, { nullable: true, description: 'IANA time zone of sendAt, e.g. America/New_York.' })
  timezone?: string | null;

  @Field(() => GuustoOptions, { nullable: true })
  guusto?: GuustoOptions | null;

  @Field(() => GiftronautOptions, { nullable: true })
  giftronaut?: GiftronautOptions | null;

  @Field(() => GoodyOptions, { nullable: true })
  goody?: GoodyOptions | null;

  @Field(() => AndOpenOptions, { nullable: true })
  andOpen?: AndOpenOptions | null;
}

@InputType()
export class OrderFilter {
  @Field(() => [Provider], { nullable: true })
  providers?: string[] | null;

  @Field(() => [GiftStatus], { nullable: true })
  statuses?: string[] | null;

  @Field(() => DateTimeResolver, { nullable: true })
  createdAfter?: Date | null;

  @Field(() => DateTimeResolver, { nullable: true })
  createdBefore?: Date | null;

  @Field(() => EmailAddressScalar, { nullable: true, description: 'Orders with a recipient of this email (case-insensitive).' })
  recipientEmail?: string | null;
}

@InputType()
export class ResendRecipientInput {
  @Field(() => EmailAddressScalar, { description: "The recipient's address, as the order has it (in any letter case)." })
  email!: string;

  @Field(() => EmailAddressScalar, { nullable: true, description: 'Send to this address instead.' })
  updatedEmail?: string | null;
}

@InputType()
export class ResendGiftInput {
  @Field(() => ID)
  orderId!: string;

  @Field(() => [ResendRecipientInput])
  recipients!: ResendRecipientInput[];
}

@InputType({ description: "One recipient's outcome, as a person found it at the provider." })
export class SettleRecipientInput {
  @Field(() => ID, { description: "The recipient's id, from the order's recipients." })
  recipientId!: string;

  @Field(() => SettlementOutcome)
  outcome!: 'SENT' | 'NOT_SENT';

  @Field(() => String, { nullable: true, description: "With SENT: the provider's reference for this recipient's gift (&Open's gift request id)." })
  providerRef?: string | null;
}

@InputType({
  description:
    'What a person found at the provider about an UNCONFIRMED order: the whole order (Guusto, Giftronaut, Goody), or each recipient where the provider takes one per request (&Open).',
})
export class SettleOrderInput {
  @Field(() => ID)
  orderId!: string;

  @Field(() => SettlementOutcome, { nullable: true, description: 'The whole order.' })
  outcome?: 'SENT' | 'NOT_SENT' | null;

  @Field(() => String, { nullable: true, description: "With SENT: the provider's reference for the order (Guusto requestId, Giftronaut orderId, Goody batch id)." })
  providerRef?: string | null;

  @Field(() => [SettleRecipientInput], { nullable: true, description: 'Each recipient, where the provider takes one recipient per request.' })
  recipients?: SettleRecipientInput[] | null;
}
