import { DateTimeResolver } from 'graphql-scalars';
import { createUnionType, Field, ID, ObjectType } from 'type-graphql';
import { encodeId } from '../core/global-id.js';
import type { Provider } from '../core/model.js';
import type { GiftRecord, RecipientRecord } from '../core/records.js';
import { GiftStatus } from './enums.js';
import { Money } from './money.js';
import { EmailAddressScalar, fit, URLScalar } from './scalars.js';

@ObjectType({ simpleResolvers: true, description: 'A gift certificate with its redemption tokens (Guusto).' })
export class Certificate {
  @Field(() => ID)
  id!: string;

  @Field(() => Money)
  amount!: Money;

  @Field(() => String, { nullable: true, description: 'Short redemption code.' })
  shortToken!: string | null;

  @Field(() => String, { nullable: true, description: 'Long redemption token, where the provider gives a token rather than a URL.' })
  longToken!: string | null;

  @Field(() => URLScalar, { nullable: true, description: 'Where the recipient redeems it, where the provider gives a URL (http or https).' })
  redemptionUrl!: string | null;

  @Field(() => String, { nullable: true })
  message!: string | null;

  @Field(() => String, { nullable: true })
  senderName!: string | null;
}

@ObjectType({ simpleResolvers: true, description: 'A link the recipient opens to claim the gift.' })
export class GiftLink {
  @Field(() => URLScalar, { description: 'An http or https URL.' })
  url!: string;

  @Field(() => DateTimeResolver, { nullable: true })
  expiresAt!: Date | null;
}

export const Gift = createUnionType({
  name: 'Gift',
  description: 'What a recipient was given.',
  types: () => [Certificate, GiftLink] as const,
});

/** A recipient's gift; a link whose URL cannot be opened (malformed, or not http or https) is no gift the recipient can claim: null, and reported. */
export function giftView(provider: Provider, gift: GiftRecord | null): Certificate | GiftLink | null {
  if (!gift) return null;
  if (gift.kind === 'link') {
    const url = fit.url(gift.url, { type: 'GiftLink', field: 'url', provider });
    return url ? Object.assign(new GiftLink(), { url, expiresAt: fit.dateTime(gift.expiresAt, { type: 'GiftLink', field: 'expiresAt', provider }) }) : null;
  }
  return Object.assign(new Certificate(), {
    id: encodeId('Certificate', provider, gift.id),
    amount: Money.from(gift.amount)!,
    shortToken: gift.shortToken ?? null,
    longToken: gift.longToken ?? null,
    redemptionUrl: fit.url(gift.redemptionUrl, { type: 'Certificate', field: 'redemptionUrl', provider }),
    message: gift.message ?? null,
    senderName: gift.senderName ?? null,
  });
}

@ObjectType({ simpleResolvers: true, description: 'One person an order sends a gift to, with that gift and its own status.' })
export class Recipient {
  @Field(() => ID)
  id!: string;

  @Field(() => EmailAddressScalar, { nullable: true, description: 'As it was sent to; `person` has it normalized.' })
  email!: string | null;

  @Field(() => String, { nullable: true })
  employeeNumber!: string | null;

  @Field(() => String, { nullable: true })
  firstName!: string | null;

  @Field(() => String, { nullable: true })
  lastName!: string | null;

  @Field(() => Money, { nullable: true, description: 'What this recipient is sent, where the provider prices gifts.' })
  amount!: Money | null;

  @Field(() => GiftStatus)
  status!: string;

  @Field(() => String, { description: "The provider's own status value, unchanged." })
  providerStatus!: string;

  @Field(() => Gift, { nullable: true, description: 'Null until the provider has issued the gift.' })
  gift!: Certificate | GiftLink | null;

  /** The ledger row behind this view, for field resolvers. */
  record!: RecipientRecord;

  static from(provider: Provider, r: RecipientRecord): Recipient {
    return Object.assign(new Recipient(), {
      id: encodeId('Recipient', provider, r.id),
      email: fit.email(r.email, { type: 'Recipient', field: 'email', provider }),
      employeeNumber: r.employeeNumber,
      firstName: r.firstName,
      lastName: r.lastName,
      amount: Money.from(r.amount),
      status: r.status,
      providerStatus: r.providerStatus,
      gift: giftView(provider, r.gift),
      record: r,
    });
  }
}
