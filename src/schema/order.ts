import { DateTimeResolver, JSONObjectResolver } from 'graphql-scalars';
import { Directive, Field, ID, Int, InterfaceType, ObjectType } from 'type-graphql';
import { encodeId } from '../core/global-id.js';
import type { Provider as ProviderName } from '../core/model.js';
import type { OrderRecord, StatusEventRecord } from '../core/records.js';
import { GiftronautCardType, GiftStatus, GoodySendMethod, GuustoLanguage, OrderOrigin, Provider, StatusSource } from './enums.js';
import { Money } from './money.js';
import { connectionTypes } from './connection.js';
import { fit, TimeZoneScalar } from './scalars.js';

@ObjectType({ simpleResolvers: true, description: 'What can be done with an order now, at its provider.' })
export class ProviderCapabilities {
  @Field(() => Boolean)
  canCancel!: boolean;

  @Field(() => Boolean)
  canResend!: boolean;

  @Field(() => Boolean, { description: 'The provider lists its orders, including ones placed outside giftgraph.' })
  canListOrders!: boolean;

  @Field(() => Boolean, {
    description:
      'A send can be scheduled for a later time (sendAt): true for every provider, as giftgraph holds a send until its time where the provider cannot schedule (see schedulesNatively).',
  })
  canSchedule!: boolean;

  @Field(() => Boolean, {
    description:
      'The provider itself schedules a send for later. Where it does not, giftgraph holds the send, recorded SCHEDULED with nothing sent, and sends it at its time (cancelOrder cancels it until then).',
  })
  schedulesNatively!: boolean;

  @Field(() => Boolean, { description: 'The provider pushes status changes; otherwise giftgraph polls it.' })
  hasWebhooks!: boolean;

  @Field(() => Boolean, { description: 'A create whose outcome is unknown can be retried safely, because the provider deduplicates it.' })
  deduplicatesCreates!: boolean;
}

@ObjectType({ simpleResolvers: true, description: 'One status change, as recorded in the event log.' })
export class StatusChange {
  @Field(() => String, {
    description: 'Position in the event log: subscribe to `orderStatusChanged(after:)` with it to receive the changes that follow this one.',
  })
  cursor!: string;

  @Field(() => GiftStatus, {
    nullable: true,
    description: "The status before; null for the order's creation, the first outcome of a send (an order whose outcome is unknown shows UNCONFIRMED and has none).",
  })
  from!: string | null;

  @Field(() => GiftStatus)
  to!: string;

  @Field(() => String)
  providerStatus!: string;

  @Field(() => DateTimeResolver)
  occurredAt!: Date;

  @Field(() => StatusSource)
  source!: string;

  @Field(() => String, { nullable: true, description: 'Who recorded it, for an OPERATOR change: the subject of their token.' })
  actor!: string | null;

  static from(e: StatusEventRecord, cursor: string): StatusChange {
    return Object.assign(new StatusChange(), {
      cursor,
      from: e.from,
      to: e.to,
      providerStatus: e.providerStatus,
      occurredAt: new Date(e.occurredAt),
      source: e.source,
      actor: e.actor ?? null,
    });
  }
}

@Directive('@key(fields: "id")')
@InterfaceType({
  description: "An order of gifts at one provider. Each provider's order type adds that provider's own fields.",
  resolveType: (value: Order) => ORDER_TYPE_NAMES[value.provider as ProviderName],
})
export abstract class Order {
  @Field(() => ID, { description: 'Global and opaque; carries the provider.' })
  id!: string;

  @Field(() => Provider)
  provider!: string;

  @Field(() => GiftStatus, { description: "Summarizes the recipients' statuses." })
  status!: string;

  @Field(() => String, { description: "The provider's own status value, unchanged (empty before the provider answered)." })
  providerStatus!: string;

  @Field(() => DateTimeResolver)
  createdAt!: Date;

  @Field(() => DateTimeResolver, { nullable: true })
  scheduledFor!: Date | null;

  @Field(() => Money, { nullable: true, description: 'Null where the provider prices nothing (&Open), or not yet (Goody).' })
  total!: Money | null;

  @Field(() => OrderOrigin)
  origin!: string;

  @Field(() => String, { nullable: true, description: "The idempotency key the order was sent with; null for an order placed in the provider's app." })
  idempotencyKey!: string | null;

  // For operators and support tools that query the subgraph directly: a client of the public
  // graph builds on the typed fields of each order type, not on what a provider happens to send.
  @Directive('@tag(name: "internal")')
  @Directive('@inaccessible')
  @Field(() => JSONObjectResolver, { description: "The provider's own details of the order, as recorded. Not part of the public supergraph." })
  providerDetails!: Record<string, unknown>;

  /** The ledger row behind this view, for field resolvers. */
  record!: OrderRecord;
}

@Directive('@key(fields: "id")')
@ObjectType({ simpleResolvers: true, implements: Order, description: 'A Guusto order request: one request, one certificate per item.' })
export class GuustoOrder extends Order {
  @Field(() => String, { nullable: true, description: "Guusto's requestId, once Guusto accepted the request." })
  requestId!: string | null;

  @Field(() => String, { nullable: true, description: "Guusto's order id, assigned when processing finishes." })
  guustoOrderId!: string | null;

  @Field(() => String, { nullable: true, description: "Guusto's orderStep, e.g. PENDING, PRECHECK_ORDER, COMPLETED." })
  orderStep!: string | null;

  @Field(() => GuustoLanguage, { nullable: true })
  language!: string | null;
}

@Directive('@key(fields: "id")')
@ObjectType({ simpleResolvers: true, implements: Order, description: 'A Giftronaut order: one branded or choice card product, sent to many recipients.' })
export class GiftronautOrder extends Order {
  @Field(() => String, { nullable: true, description: "Giftronaut's order id (OT…), once Giftronaut accepted the order." })
  giftronautOrderId!: string | null;

  @Field(() => String, { nullable: true, description: 'ONE_TIME, SMART, LINK, ...' })
  orderType!: string | null;

  @Field(() => GiftronautCardType, { nullable: true })
  cardType!: string | null;

  @Field(() => ID, { nullable: true, description: 'The CatalogItem id of the product sent.' })
  productId!: string | null;

  @Field(() => String, { nullable: true })
  productName!: string | null;

  @Field(() => Boolean, { description: 'True: links expire after 30 days and 70% of unredeemed funds return. False: 180 days.' })
  refundOption!: boolean;

  @Field(() => TimeZoneScalar, { nullable: true, description: 'IANA time zone of a scheduled send.' })
  timezone!: string | null;
}

@Directive('@key(fields: "id")')
@ObjectType({ simpleResolvers: true, implements: Order, description: 'A Goody order batch: one Goody order, and one gift link, per recipient.' })
export class GoodyOrderBatch extends Order {
  @Field(() => String, { nullable: true, description: "Goody's batch id, once Goody accepted the batch." })
  goodyBatchId!: string | null;

  @Field(() => String, { nullable: true, description: "Goody's send_status: pending, complete, failed or canceled." })
  sendStatus!: string | null;

  @Field(() => GoodySendMethod, { nullable: true })
  sendMethod!: string | null;

  @Field(() => Int, { nullable: true, description: 'How many Goody orders the batch holds, once processed.' })
  ordersCount!: number | null;

  @Field(() => ID, { nullable: true, description: 'The CatalogItem id of the product sent.' })
  productId!: string | null;

  @Field(() => DateTimeResolver, { nullable: true, description: 'When the gift links stop working, where set.' })
  expiresAt!: Date | null;
}

@Directive('@key(fields: "id")')
@ObjectType({ simpleResolvers: true, implements: Order, description: 'An &Open order: one &Open gift request per recipient, from one campaign.' })
export class AndOpenOrder extends Order {
  @Field(() => ID, { nullable: true, description: 'The CatalogItem id of the campaign.' })
  campaignId!: string | null;
}

/** The GraphQL type of each provider's orders. */
const ORDER_TYPE_NAMES: Record<ProviderName, string> = {
  GUUSTO: 'GuustoOrder',
  GIFTRONAUT: 'GiftronautOrder',
  GOODY: 'GoodyOrderBatch',
  ANDOPEN: 'AndOpenOrder',
};

export const ORDER_TYPES = [GuustoOrder, GiftronautOrder, GoodyOrderBatch, AndOpenOrder];

/** The view of a ledger order as its provider's GraphQL type. */
export function orderView(record: OrderRecord): Order {
  const common = {
    id: encodeId('Order', record.provider, record.id),
    provider: record.provider,
    status: record.status,
    providerStatus: record.providerStatus,
    createdAt: new Date(record.createdAt),
    scheduledFor: fit.dateTime(record.scheduledFor, { type: 'Order', field: 'scheduledFor', provider: record.provider }),
    total: Money.from(record.total),
    origin: record.origin,
    providerDetails: record.details,
    idempotencyKey: record.origin === 'GIFTGRAPH' ? record.idempotencyKey : null,
    record,
  };
  const d = record.details;
  switch (record.provider) {
    case 'GUUSTO':
      return Object.assign(new GuustoOrder(), common, {
        requestId: record.providerRef,
        guustoOrderId: text(d.guustoOrderId),
        orderStep: text(d.orderStep),
        language: text(d.language),
      });
    case 'GIFTRONAUT':
      return Object.assign(new GiftronautOrder(), common, {
        giftronautOrderId: record.providerRef,
        orderType: text(d.orderType),
        cardType: text(d.cardType),
        productId: text(d.productId),
        productName: text(d.productName),
        refundOption: d.refundOption === true,
        timezone: fit.timeZone(text(d.timezone), { type: 'GiftronautOrder', field: 'timezone', provider: record.provider }),
      });
    case 'GOODY':
      return Object.assign(new GoodyOrderBatch(), common, {
        goodyBatchId: record.providerRef,
        sendStatus: text(d.sendStatus),
        sendMethod: text(d.sendMethod)?.toUpperCase() ?? null,
        ordersCount: typeof d.ordersCount === 'number' ? d.ordersCount : null,
        productId: text(d.productId),
        expiresAt: fit.dateTime(text(d.expiresAt), { type: 'GoodyOrderBatch', field: 'expiresAt', provider: record.provider }),
      });
    case 'ANDOPEN':
      return Object.assign(new AndOpenOrder(), common, { campaignId: text(d.campaignId) });
  }
}

/** A provider detail as text, or null when absent. */
const text = (value: unknown): string | null => (typeof value === 'string' ? value : null);

export const { EdgeType: OrderEdge, ConnectionType: OrderConnection } = connectionTypes('Order', Order);
export type OrderConnection = InstanceType<typeof OrderConnection>;
