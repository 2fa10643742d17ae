import { Arg, Ctx, FieldResolver, ID, Resolver, Root, Subscription, type SubscribeResolverData } from 'type-graphql';
import { badInput, notFound } from '../core/errors.js';
import { decodeId } from '../core/global-id.js';
import { Order, orderView, StatusChange } from '../schema/order.js';
import { Recipient } from '../schema/recipient.js';
import { OrderStatusEvent } from '../schema/status-event.js';
import { subscriptionLagged } from '../status/feed.js';
import type { StatusEventRecord } from '../core/records.js';
import { authorize, type GraphQLContext } from './context.js';

interface Args {
  orderId?: string | null;
  after?: string | null;
}

/**
 * Checks the subscriber and its arguments, then streams its tenant's events: first every event
 * after `after` from the log, then live ones, with nothing missed or repeated at the seam.
 */
async function subscribe({ args, context }: SubscribeResolverData<unknown, Args, GraphQLContext>): Promise<AsyncIterable<StatusEventRecord>> {
  const { viewer, cursors } = authorize(context, 'orders:read');
  let orderId: string | undefined;
  if (args.orderId) {
    const decoded = decodeId(args.orderId, 'Order');
    if (!decoded) throw badInput('orderId', 'is not an Order id');
    const [order] = await context.services.orders.peek(viewer.tenant, [decoded.local]);
    if (!order || order.provider !== decoded.provider) throw notFound('Order');
    orderId = order.id;
  }
  const end = await context.services.live.lastSeq();
  const afterSeq = args.after ? cursors.eventSeq(args.after, 'after') : end;
  // A position the log has not reached (a restored ledger, another environment) would skip events.
  if (afterSeq > end) throw badInput('after', 'is past the end of the event log: subscribe without it, or with a cursor this server issued');
  return context.services.live.events({ tenant: viewer.tenant, afterSeq, orderId, cursorOf: (seq) => cursors.event(seq) });
}

/** Cuts off a subscriber that stopped reading, telling it to resume after the last event it was sent. */
export const laggedAfter = (context: GraphQLContext, lastEvent: StatusEventRecord): Error => subscriptionLagged(context.cursors!.event(lastEvent.seq));

@Resolver(() => OrderStatusEvent)
export class SubscriptionResolver {
  @Subscription(() => OrderStatusEvent, {
    subscribe,
    description: "Every status change of your tenant's orders (or of one order) and of each recipient's gift. With `after`, first every change after that cursor, then live ones.",
  })
  orderStatusChanged(
    @Root() event: StatusEventRecord,
    @Ctx() ctx: GraphQLContext,
    @Arg('orderId', () => ID, { nullable: true }) _orderId?: string | null,
    @Arg('after', () => String, { nullable: true }) _after?: string | null,
  ): OrderStatusEvent {
    ctx.freshLoaders();
    return Object.assign(new OrderStatusEvent(), StatusChange.from(event, ctx.cursors!.event(event.seq)), { record: event });
  }

  @FieldResolver(() => Order)
  async order(@Root() event: OrderStatusEvent, @Ctx() ctx: GraphQLContext): Promise<Order> {
    const [order] = await ctx.services.orders.peek(event.record.tenant, [event.record.orderId]);
    return orderView(order!);
  }

  @FieldResolver(() => Recipient, { nullable: true })
  async recipient(@Root() event: OrderStatusEvent, @Ctx() ctx: GraphQLContext): Promise<Recipient | null> {
    if (!event.record.recipientId) return null;
    const recipients = await ctx.services.orders.recipients([event.record.orderId]);
    const recipient = recipients.find((r) => r.id === event.record.recipientId);
    const [order] = await ctx.services.orders.peek(event.record.tenant, [event.record.orderId]);
    return recipient && order ? Recipient.from(order.provider, recipient) : null;
  }
}
