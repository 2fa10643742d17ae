import { DateTimeResolver } from 'graphql-scalars';
import { Field, ObjectType } from 'type-graphql';
import type { StatusEventRecord } from '../store/records.js';
import { GiftStatus, StatusSource } from './enums.js';
import { Order } from './order.js';
import { Recipient } from './recipient.js';

@ObjectType({ description: 'A change of an order\'s status, or of one recipient\'s gift, as recorded in the event log.' })
export class OrderStatusEvent {
  @Field(() => String, { description: 'Position in the event log: resubscribe with `after` set to it to resume after this event.' })
  cursor!: string;

  @Field(() => Order, { description: 'The order as the ledger holds it now.' })
  order!: Order;

  @Field(() => Recipient, { nullable: true, description: 'The recipient whose gift changed; null for a change of the order itself.' })
  recipient!: Recipient | null;

  @Field(() => GiftStatus)
  from!: string;

  @Field(() => GiftStatus)
  to!: string;

  @Field(() => String)
  providerStatus!: string;

  @Field(() => DateTimeResolver)
  occurredAt!: Date;

  @Field(() => StatusSource)
  source!: string;

  /** The log record behind this view. */
  record!: StatusEventRecord;
}
