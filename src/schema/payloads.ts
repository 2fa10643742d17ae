import { Field, Int, ObjectType } from 'type-graphql';
import { Order } from './order.js';

@ObjectType({ simpleResolvers: true })
export class SendGiftsPayload {
  @Field(() => Order, { description: 'UNCONFIRMED when the provider may or may not have taken it: it is not sent again.' })
  order!: Order;

  @Field(() => Boolean, { description: 'False when the idempotency key returned an order sent before: nothing new was sent.' })
  created!: boolean;
}

@ObjectType({ simpleResolvers: true })
export class CancelOrderPayload {
  @Field(() => Order)
  order!: Order;
}

@ObjectType({ simpleResolvers: true })
export class ResendGiftPayload {
  @Field(() => Order)
  order!: Order;

  @Field(() => Int, { description: 'How many recipients the provider queued for a resend.' })
  requeued!: number;
}

@ObjectType({ simpleResolvers: true })
export class SettleOrderPayload {
  @Field(() => Order)
  order!: Order;

  @Field(() => Boolean, { description: 'False when this settlement was recorded before: nothing changed.' })
  settled!: boolean;
}
