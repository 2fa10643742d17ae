import { Field, ObjectType } from 'type-graphql';
import type { StatusEventRecord } from '../core/records.js';
import { Order, StatusChange } from './order.js';
import { Recipient } from './recipient.js';

@ObjectType({ simpleResolvers: true, description: "A change of an order's status, or of one recipient's gift, as recorded in the event log." })
export class OrderStatusEvent extends StatusChange {
  @Field(() => Order, { description: 'The order as the ledger holds it now.' })
  order!: Order;

  @Field(() => Recipient, { nullable: true, description: 'The recipient whose gift changed; null for a change of the order itself.' })
  recipient!: Recipient | null;

  /** The log record behind this view. */
  record!: StatusEventRecord;
}
