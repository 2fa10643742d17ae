import { Field, Int, ObjectType } from 'type-graphql';
import { Order } from './order.js';
import { Problem } from './problem.js';

const ORDER =
  'The order as this request left it, whatever its status, whenever the request got as far as its provider. ' +
  'Null only when the request was refused before (see problems): then nothing was recorded or sent.';
const PROBLEMS = 'What kept this request from doing all it asked; empty when it did. Every problem of an invalid input is listed, each naming its field.';

@ObjectType({ simpleResolvers: true })
export class SendGiftsPayload {
  @Field(() => Order, {
    nullable: true,
    description: `${ORDER} FAILED when the provider certainly did not take it (the same key sends it again); UNCONFIRMED when it may or may not have: it is not sent again.`,
  })
  order!: Order | null;

  @Field(() => Boolean, { description: 'False when the idempotency key returned an order sent before, or nothing was recorded: nothing new was sent.' })
  created!: boolean;

  @Field(() => [Problem], { description: PROBLEMS })
  problems!: Problem[];
}

@ObjectType({ simpleResolvers: true })
export class CancelOrderPayload {
  @Field(() => Order, { nullable: true, description: ORDER })
  order!: Order | null;

  @Field(() => [Problem], { description: PROBLEMS })
  problems!: Problem[];
}

@ObjectType({ simpleResolvers: true })
export class ResendGiftPayload {
  @Field(() => Order, { nullable: true, description: ORDER })
  order!: Order | null;

  @Field(() => Int, { description: 'How many recipients the provider queued for a resend.' })
  requeued!: number;

  @Field(() => [Problem], { description: PROBLEMS })
  problems!: Problem[];
}

@ObjectType({ simpleResolvers: true })
export class SettleOrderPayload {
  @Field(() => Order, { nullable: true, description: 'The order as settled; null when the settlement was refused (see problems).' })
  order!: Order | null;

  @Field(() => Boolean, { description: 'False when this settlement was recorded before, or was refused: nothing changed.' })
  settled!: boolean;

  @Field(() => [Problem], { description: PROBLEMS })
  problems!: Problem[];
}
