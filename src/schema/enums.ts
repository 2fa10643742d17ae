import { registerEnumType } from 'type-graphql';
import { GIFT_STATUSES, PROVIDERS } from '../core/model.js';

const asEnum = <T extends string>(values: readonly T[]) => Object.fromEntries(values.map((v) => [v, v])) as { [K in T]: K };

export const Provider = asEnum(PROVIDERS);
export const GiftStatus = asEnum(GIFT_STATUSES);
export const CatalogKind = asEnum(['OPEN_AMOUNT', 'BRANDED_CARD', 'CHOICE_CARD', 'PRODUCT', 'CAMPAIGN'] as const);
export const ProviderMode = asEnum(['SANDBOX', 'LIVE'] as const);
export const StatusSource = asEnum(['WEBHOOK', 'POLL', 'MUTATION', 'OPERATOR'] as const);
export const SettlementOutcome = asEnum(['SENT', 'NOT_SENT'] as const);
export const OrderOrigin = asEnum(['GIFTGRAPH', 'PROVIDER'] as const);
export const GuustoLanguage = asEnum(['EN_CA', 'FR_CA', 'ES_MX'] as const);
export const GiftronautCardType = asEnum(['BRANDED_CARD', 'CHOICE_CARD'] as const);
export const GoodySendMethod = asEnum(['EMAIL_AND_LINK', 'LINK_MULTIPLE_CUSTOM_LIST', 'DIRECT_SEND'] as const);

registerEnumType(Provider, { name: 'Provider', description: 'A gift provider giftgraph sends through.' });
registerEnumType(GiftStatus, {
  name: 'GiftStatus',
  description: "One lifecycle for orders and for each recipient's gift. An order's status summarizes its recipients'.",
  valuesConfig: {
    SCHEDULED: { description: 'Accepted, to be sent later.' },
    PENDING: { description: 'Accepted, not yet processed.' },
    PROCESSING: { description: 'The provider is working on it.' },
    SENT: { description: 'The gift reached the recipient (email sent or link/certificate issued).' },
    OPENED: { description: 'The recipient opened it.' },
    REDEEMED: { description: 'The recipient claimed, accepted or redeemed it.' },
    SHIPPED: { description: 'A physical gift is on its way.' },
    DELIVERED: { description: 'A physical gift arrived.' },
    CANCELED: { description: 'Canceled before it was sent.' },
    FAILED: { description: 'The provider could not send it, or refused it; providerStatus says why.' },
    EXPIRED: { description: 'The recipient did not claim it in time.' },
    UNCONFIRMED: {
      description:
        'We do not know whether the provider accepted it (a create that timed out). It is never sent again automatically; do not resend it under a new idempotency key before checking with the provider.',
    },
    UNKNOWN: { description: 'A provider value we do not recognize yet; providerStatus has it.' },
  },
});
registerEnumType(CatalogKind, { name: 'CatalogKind', description: 'What kind of thing a catalog item sends.' });
registerEnumType(ProviderMode, { name: 'ProviderMode', description: 'Whether a provider is the built-in sandbox or the real API.' });
registerEnumType(StatusSource, {
  name: 'StatusSource',
  description: 'How giftgraph learned of a status change.',
  valuesConfig: { OPERATOR: { description: 'A person checked an UNCONFIRMED outcome with the provider and recorded it (settleOrder).' } },
});
registerEnumType(SettlementOutcome, {
  name: 'SettlementOutcome',
  description: 'What a person found at the provider about an UNCONFIRMED outcome.',
  valuesConfig: {
    SENT: { description: 'The provider has it: giftgraph tracks it from its reference on.' },
    NOT_SENT: { description: 'The provider does not have it: the same idempotency key may send it again.' },
  },
});
registerEnumType(OrderOrigin, {
  name: 'OrderOrigin',
  description: 'Where an order was placed.',
  valuesConfig: {
    GIFTGRAPH: { description: 'Sent through giftgraph.' },
    PROVIDER: { description: "Placed in the provider's own app; giftgraph found it in the provider's list of orders." },
  },
});
registerEnumType(GuustoLanguage, { name: 'GuustoLanguage', description: 'The language of the Guusto gift email.' });
registerEnumType(GoodySendMethod, {
  name: 'GoodySendMethod',
  description: 'How Goody delivers: it emails the gift link, or only makes links for you to share, or ships directly.',
  valuesConfig: {
    EMAIL_AND_LINK: { description: 'Goody emails each recipient, and each gift link is also returned. Needs every email.' },
    LINK_MULTIPLE_CUSTOM_LIST: { description: 'Gift links only; you share them. No email needed.' },
    DIRECT_SEND: { description: 'Ships to a mailing address, with no acceptance step. Not offered yet: giftgraph takes no addresses.' },
  },
});
registerEnumType(GiftronautCardType, {
  name: 'GiftronautCardType',
  description: 'A branded card of one merchant at fixed price points, or a choice card the recipient spends on a collection.',
});
